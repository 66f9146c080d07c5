/* 07-faults: what happens when things go wrong, and that nothing stale stays behind.
 *
 * Each fault fails only the task (or call) it happens in, with a clear message, and
 * the guest library drops the task's stack state; the last task then keeps a string
 * on the shadow stack across an await, next to a suspended task, and gets it back
 * intact, and the counters show no task left alive. Same transcript on every host. */
#include "jspi_host.h"

/* At most three tasks alive at once (before any task starts). */
JSPI_EXPORT("limitTasks")
int limitTasks(void) {
    return jspi_configure(0, 3, 0, 0);
}

/* Waits, then holds the line until `ms` more have passed. */
JSPI_EXPORT("holder")
int holder(int ms) {
    char note[] = "holder keeps this";
    escape(note);
    jspi_sleep(ms);
    log_str_str("holder:", note);
    return ms;
}

/* A rejected promise awaited with jspi_await_int fails the task with its reason. */
JSPI_EXPORT("awaitRejection")
int awaitRejection(int code) {
    return jspi_await_int(rejecting(code, 10));
}

/* A host import that throws, after an await. */
JSPI_EXPORT("hostThrows")
int hostThrows(int code) {
    jspi_sleep(15);
    failing(code);
    return 0;
}

/* A trap after an await. */
JSPI_EXPORT("trapAfterAwait")
int trapAfterAwait(void) {
    jspi_sleep(20);
    __builtin_trap();
}

JSPI_EXPORT("divide")
int divide(int a, int b) {
    jspi_sleep(30);
    return a / b;
}

/* Recursion that runs off the bottom of the shadow stack (it starts at address 0
 * with --stack-first, so the overflow traps instead of overwriting data). */
static int __attribute__((noinline)) deep(int n) {
    volatile char frame[256];
    frame[0] = (char)n;
    escape((void *)frame);
    return n == 0 ? frame[0] : deep(n - 1) + frame[0];
}

JSPI_EXPORT("overflow")
int overflow(int n) {
    jspi_sleep(40);
    return deep(n);
}

/* After all of that: a string across an await, intact. */
JSPI_EXPORT("survivor")
void survivor(void) {
    char note[] = "the survivor's string is intact";
    escape(note);
    jspi_sleep(5);
    log_str_str("survivor:", note);
}

/* A task name that would forge a transcript line: env.start refuses it, and only
 * this call fails. */
JSPI_EXPORT("forgedName")
void forgedName(void) {
    jspi_host_start("S2\n[t=0] S2 fulfilled", "survivor", 0, 0);
}

JSPI_EXPORT("report")
void report(void) {
    jspi_log_stats("stats:");
}
