/* app.c: the freestanding program `cargo xtask test` builds against target/dist/ with
 * exactly the command line of docs/dist.md, for every strategy, and runs on Node
 * through the JS package's tarball (run.mjs). It needs nothing but jspi.h: no libc,
 * no builtins (its string copies are memory.copy under -mbulk-memory). */
#include "jspi.h"

/* The host's imports (run.mjs): a promise of `value` after a timer, and a line out. */
JSPI_IMPORT("app", "later") __externref_t later(int value);
JSPI_IMPORT("app", "print") void print(const char *text);
JSPI_IMPORT("app", "print_int") void print_int(const char *label, int value);

JSPI_EXPORT("twice") int twice(int x) {
    char note[] = "awaited on the shadow stack";   /* a local that lives in memory */
    print(jspi_strategy());
    int got = jspi_await_int(later(x));            /* suspends this task */
    print(note);                                   /* intact after the resume */
    print_int("got", got);
    print_int("suspends", (int)jspi_stat(JSPI_STAT_SUSPENDS));
    return 2 * got;
}
