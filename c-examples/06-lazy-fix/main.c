/* 06-lazy-fix: copy only what is about to be overwritten.
 *
 * Built with the lazy strategy, a suspend copies nothing. Bytes of a suspended task
 * are saved only when another task (or a synchronous call) is about to write over
 * them, and only those bytes; a resume restores only what was saved. Two phases show
 * the difference from 05-eager-fix:
 *
 *   - last in, first out: the newer task (placed below the older one) resumes and
 *     finishes first, nobody overlaps anybody, and nothing is copied;
 *   - first in, first out: the older task resumes while the newer one is still
 *     suspended below it, so its deeper calls run over the newer task's frame: that
 *     part, and only that part, is saved and later put back. */
#include "jspi_host.h"

JSPI_EXPORT("holder")
void holder(int id, int ms) {
    char buffer[] = "holder ? keeps this buffer across its await";
    buffer[7] = (char)('0' + id);
    escape(buffer);
    jspi_sleep(ms);
    log_str_str("resumed:", buffer);
}

/* A task that, once resumed, calls deeper: 512 bytes of locals below its own frame. */
static void __attribute__((noinline)) deep_call(int id) {
    char scratch[512];
    for (unsigned i = 0; i < sizeof scratch; i++) scratch[i] = (char)('0' + id);
    escape(scratch);
}

JSPI_EXPORT("digger")
void digger(int id, int ms) {
    char buffer[] = "digger ? keeps this buffer across its await";
    buffer[7] = (char)('0' + id);
    escape(buffer);
    jspi_sleep(ms);
    deep_call(id);
    log_str_str("resumed:", buffer);
}

JSPI_EXPORT("report")
void report(void) {
    jspi_log_stats("stats:");
}
