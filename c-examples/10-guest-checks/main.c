/* 10-guest-checks: the guest library's own checks (issue 12). */
#include "jspi_host.h"

/* The room below each task, at link time: nearly the whole 1 MiB shadow stack, so
 * that the second task's suspend leaves less than that and the library flushes (the
 * counters show it). A real guest raises it for deep frames instead. */
JSPI_MIN_TASK_STACK(1048576 - 4096);

/* The host's hook, called here from guest code, which it must never be. */
void jspi_task_done(uint32_t id);

/* Keeps nothing on the shadow stack: its tasks have empty ranges at one address.
 * Before the fix, two of them ping-ponging crashed lazy after ~1,022 resumes. */
JSPI_EXPORT("pingPong")
int pingPong(int rounds) {
    int i;
    for (i = 0; i < rounds; i++) jspi_sleep(1);
    return i;
}

/* Keeps `bytes` of locals across an await. */
JSPI_EXPORT("hold")
void hold(int bytes, int ms) {
    char buffer[4096];
    for (int i = 0; i < bytes && i < (int)sizeof buffer; i++) buffer[i] = (char)i;
    escape(buffer);
    jspi_sleep(ms);
    for (int i = 0; i < bytes && i < (int)sizeof buffer; i++) {
        if (buffer[i] != (char)i) {
            log_str("hold: a byte changed");
            return;
        }
    }
    log_int(bytes);
}

/* A made-up id: fails with a message saying what happened, and changes nothing. */
JSPI_EXPORT("bogusDone")
void bogusDone(void) {
    jspi_task_done(0x30005);
}

JSPI_EXPORT("report")
void report(void) {
    jspi_log_stats("stats:");
}
