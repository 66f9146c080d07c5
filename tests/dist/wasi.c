/* wasi.c: the wasi-libc program `cargo xtask test` builds against target/dist/ with
 * exactly the wasi-libc command line of docs/dist.md (a reactor), for every strategy,
 * and runs on Node with node:wasi and the JS package's tarball (run.mjs). Its memcpy,
 * strlen and snprintf come from wasi-libc, not from libjspi.a. */
#include <stdio.h>
#include <string.h>

#include "jspi.h"

JSPI_IMPORT("app", "later") __externref_t later(int value);
JSPI_IMPORT("app", "print") void print(const char *text);
JSPI_IMPORT("app", "print_int") void print_int(const char *label, int value);

static char line[64];

JSPI_EXPORT("twice") int twice(int x) {
    char note[32];
    memcpy(note, "awaited on the shadow stack", strlen("awaited on the shadow stack") + 1);
    print(jspi_strategy());
    int got = jspi_await_int(later(x));
    print(note);
    snprintf(line, sizeof line, "got %d", got);
    print(line);
    print_int("suspends", (int)jspi_stat(JSPI_STAT_SUSPENDS));
    return 2 * got;
}
