/* 14-wasi-errno: a C program built against wasi-libc, whose errno is a task-local.
 *
 * The module is a WASI reactor: libc's stdio, strtol, strerror and malloc come from
 * Debian's wasi-libc, the host gives it WASI preview 1 (node:wasi, wasmtime-wasi), and
 * what it prints on stdout and stderr becomes transcript lines. errno is one global
 * for the whole instance: a task that fails a libc call, awaits, and then reads errno
 * sees whatever the last task to fail a call left there. protect_errno registers it
 * with jspi_task_local, after which every task keeps its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jspi_host.h"

JSPI_EXPORT("protect_errno")
int protect_errno(void) {
    return jspi_task_local(&errno, sizeof errno);
}

/* Fails strtol its own way (`how` 1: a number too large, ERANGE; 2: base 99,
 * EINVAL), awaits `ms`, then says whether errno still holds its failure. */
JSPI_EXPORT("parse")
void parse(int how, int ms) {
    char *text = malloc(32);
    snprintf(text, 32, "%s", how == 1 ? "99999999999999999999" : "12");
    errno = 0;
    long value = strtol(text, NULL, how == 1 ? 10 : 99);
    int mine = errno;
    printf("parse %d: strtol(\"%s\") = %ld, errno: %s\n", how, text, value, strerror(mine));
    free(text);
    jspi_sleep(ms);
    printf("parse %d: after the await, errno: %s (%s)\n", how, strerror(errno),
           errno == mine ? "its own" : "another task's");
}

/* stderr is a transcript stream too. A line without its newline stays in libc's
 * buffer until a flush; what reaches the host unended is printed at the end of the
 * run. */
JSPI_EXPORT("complain")
void complain(void) {
    fprintf(stderr, "complain: to stderr\n");
    printf("an unended line, flushed");
    fflush(stdout);
    printf("an unended line, never flushed");
}
