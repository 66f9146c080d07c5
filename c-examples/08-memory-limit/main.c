/* 08-memory-limit: when there is no memory left for saved stack bytes.
 *
 * The guest library keeps the bytes it saves in memory it grows, or in a region the
 * guest hands it with jspi_configure. Here the region is 256 bytes: enough for small
 * frames, not for a 1 KiB one. A save that does not fit fails the task that needed
 * it, with a message saying so, and the library stays consistent: small tasks before
 * and after run normally. */
#include "jspi_host.h"

static char saved_bytes[256] __attribute__((aligned(16)));

JSPI_EXPORT("useSmallRegion")
int useSmallRegion(void) {
    return jspi_configure(0, 0, saved_bytes, sizeof saved_bytes);
}

/* Keeps `size` bytes on the shadow stack across an await of `ms`; returns `size`, or
 * -1 if they came back different. */
JSPI_EXPORT("keep")
int keep(int size, int ms) {
    char frame[size];
    for (int i = 0; i < size; i++) frame[i] = (char)('a' + i % 26);
    escape(frame);
    jspi_sleep(ms);
    for (int i = 0; i < size; i++) {
        if (frame[i] != (char)('a' + i % 26)) return -1; /* corrupted */
    }
    return size;
}

JSPI_EXPORT("report")
void report(void) {
    jspi_log_stats("stats:");
}
