/* 12-naive-io: the hazard 11-task-memory avoids, shown (a documented hazard, not a
 * failing test: the transcripts record what happens).
 *
 * A reader passes a buffer on its stack to the host, which fills it when its promise
 * settles: before the task resumes, straight at the buffer's address. But while the
 * task is suspended its bytes may not be at their address:
 *
 *   - eager saved the whole range at the suspend and copies it back at the resume,
 *     over the host's write: none of the bytes arrive, even with one task;
 *   - lazy leaves the bytes in place until another task runs over them; once one has,
 *     the write lands in whatever is there now (another task's frame), and the
 *     reader gets its own old bytes back;
 *   - none keeps nothing: the write lands, and so do everyone else's. */
#include "jspi_host.h"

static int arrived(const uint8_t *buf, int n, int seed) {
    int good = 0;
    for (int i = 0; i < n; i++) good += buf[i] == jspi_host_pattern(seed, i);
    return good;
}

/* Reads `len` bytes (at most 256) the naive way and says how many arrived. */
JSPI_EXPORT("naiveReader")
void naiveReader(int id, int len, int ms) {
    uint8_t buf[256];
    for (int i = 0; i < 256; i++) buf[i] = 0xAA;
    escape(buf);
    jspi_await_int(read_naive(buf, len, id, ms));
    log_str_str("bytes that arrived, of", id == 1 ? "64:" : "256:");
    log_int(arrived(buf, len, id));
}

/* Counts the canaries of `frame` still intact. */
static int intact(const uint8_t *frame, int n) {
    int good = 0;
    for (int i = 0; i < n; i++) good += frame[i] == 0x5A;
    return good;
}

/* Below its own frame, a deeper one of canaries held across an await. */
static int __attribute__((noinline)) deep(int ms) {
    uint8_t canaries[512];
    for (int i = 0; i < 512; i++) canaries[i] = 0x5A;
    escape(canaries);
    jspi_sleep(ms);
    return intact(canaries, 512);
}

/* Started before the reader, so it sits above it; after `first` ms it resumes and,
 * for `second` more, holds canaries deeper down: where the reader's buffer is. */
JSPI_EXPORT("bystander")
void bystander(int first, int second) {
    uint8_t canaries[64];
    for (int i = 0; i < 64; i++) canaries[i] = 0x5A;
    escape(canaries);
    jspi_sleep(first);
    int below = deep(second);
    log_str_str("bystander's canaries intact, of 512:", "");
    log_int(below);
    log_str_str("and of its own 64:", "");
    log_int(intact(canaries, 64));
}
