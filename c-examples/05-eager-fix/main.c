/* 05-eager-fix: the simplest fix, as in the seed's fifth example.
 *
 * Built with the eager strategy, the guest library copies a task's whole shadow-stack
 * range out at every suspend and back at every resume. Here three workers keep a note
 * on the shadow stack across two awaits each, resuming in an order unlike the one
 * they started in, while synchronous calls scribble over the free stack in between.
 * Every note survives; the counters show what it cost: every suspend saved the whole
 * range, and every resume restored it, needed or not. */
#include "jspi_host.h"

JSPI_EXPORT("worker")
void worker(int id, int first_ms, int second_ms) {
    char note[] = "worker ? keeps this note on the shadow stack";
    note[7] = (char)('0' + id);
    escape(note);
    log_str_str("before:", note);
    jspi_sleep(first_ms);
    log_str_str("middle:", note);
    jspi_sleep(second_ms);
    log_str_str("after: ", note);
}

/* A synchronous call that fills 256 bytes of free shadow stack with junk. */
JSPI_EXPORT("scribble")
void scribble(void) {
    char junk[256];
    for (unsigned i = 0; i < sizeof junk; i++) junk[i] = (char)('a' + i % 26);
    escape(junk);
}

JSPI_EXPORT("report")
void report(void) {
    jspi_log_stats("stats:");
}
