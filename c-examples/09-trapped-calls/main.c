/* 09-trapped-calls: a plain call that traps deep inside leaves nothing behind.
 *
 * A trap unwinds the engine's stack, but nothing unwinds the shadow stack: the global
 * __stack_pointer stays where the trap found it, 1,000 frames down. The host libraries
 * bracket every plain call with the guest library's jspi_call_enter/jspi_call_leave,
 * which put it back, so the next call and the next task start where they always do.
 * Without them, the second call below would run out of stack and the task after it
 * would not find room to start. Same transcript on every host. */
#include <stdint.h>

#include "jspi_host.h"

extern char __stack_high; /* one past the top of the shadow stack (wasm-ld) */

/* Recursion with a local array in every frame (indexed at run time, so it lives on
 * the shadow stack), then a trap at the bottom. */
static int __attribute__((noinline)) dig(int n, int size) {
    volatile char frame[512];
    frame[n & 511] = (char)n;
    if (n == 0) __builtin_trap();
    return dig(n - 1, size) + frame[size & 511];
}

/* Traps `n` frames down, each holding 512 bytes. */
JSPI_EXPORT("trapDeep")
int trapDeep(int n) {
    return dig(n, n);
}

/* How far below the top of the shadow stack this call's frame is. */
JSPI_EXPORT("stackDepth")
int stackDepth(void) {
    volatile char here = 0;
    escape((void *)&here);
    return (int)((uintptr_t)&__stack_high - (uintptr_t)&here);
}

/* Has the host call trapDeep(1000) `times` times, from inside this call as a host
 * function may; returns how many of those calls failed. */
JSPI_EXPORT("trapMany")
int trapMany(int times) {
    return jspi_host_call_plain("trapDeep", 1000, times);
}

/* A task after the traps: a string across an await, intact. */
JSPI_EXPORT("afterwards")
void afterwards(void) {
    char note[] = "a task after the traps keeps its string";
    escape(note);
    jspi_sleep(10);
    log_str_str("afterwards:", note);
}

JSPI_EXPORT("report")
void report(void) {
    jspi_log_stats("stats:");
}
