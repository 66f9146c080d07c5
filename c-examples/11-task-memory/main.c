/* 11-task-memory: host I/O into a suspended task's stack buffers, done safely.
 *
 * A reader task puts a buffer on its shadow stack, asks the host for bytes, and
 * awaits. While it is suspended, other tasks and plain calls run over the addresses
 * of that buffer (the library saves the reader's bytes first), so a host that wrote
 * straight to the buffer's address would miss (12-naive-io shows it). Two safe paths:
 *
 *   - jspi_await_bytes: the promise fulfils with bytes, and the library copies them
 *     into the buffer inside wasm, after the reader's stack is restored;
 *   - read_into: the host writes through the host library's task memory
 *     (TaskMemory.write on JS), which asks the guest library where each byte of the
 *     suspended task is now, in place or in its saved block.
 *
 * Each reader checks every byte and its canaries around the buffer. */
#include "jspi_host.h"

/* "id: N bytes intact" when buf holds the pattern of seed, else the first bad byte. */
static void check(const char *path, int id, const uint8_t *buf, int n, int seed) {
    for (int i = 0; i < n; i++) {
        if (buf[i] != jspi_host_pattern(seed, i)) {
            log_str_str(path, "a byte is wrong");
            log_int(id);
            log_int(i);
            return;
        }
    }
    log_str_str(path, "intact");
    log_int(n);
}

/* Awaits `len` bytes both ways into buffers on its own stack; `len` at most 256. */
JSPI_EXPORT("reader")
void reader(int id, int len, int ms) {
    uint8_t first[256];
    uint8_t second[256];
    for (int i = 0; i < 256; i++) first[i] = second[i] = 0xAA;
    escape(first);
    escape(second);
    int n = jspi_await_bytes(bytes_after(len, id, ms), first, len);
    check("await_bytes:", id, first, n, id);
    n = jspi_await_int(read_into(second, len, id + 100, ms));
    check("read_into:", id, second, n, id + 100);
    int canaries = 0;
    for (int i = len; i < 256; i++) canaries += (first[i] == 0xAA) + (second[i] == 0xAA);
    log_str_str("canaries intact:", canaries == 2 * (256 - len) ? "yes" : "no");
}

/* A task that, once resumed, runs deep over the addresses of the readers' buffers. */
static void __attribute__((noinline)) trample(int size) {
    uint8_t junk[4096];
    for (int i = 0; i < size && i < 4096; i++) junk[i] = 0xEE;
    escape(junk);
}

JSPI_EXPORT("trampler")
void trampler(int size, int ms) {
    jspi_sleep(ms);
    trample(size);
    jspi_sleep(ms);
    trample(size);
}

/* Started before the readers, so above them: after `first` ms it holds a deep frame
 * of junk where their buffers are, for `second` more (lazy saves theirs first). */
JSPI_EXPORT("digger")
void digger(int first, int second) {
    jspi_sleep(first);
    uint8_t junk[1024];
    for (int i = 0; i < 1024; i++) junk[i] = 0xEE;
    escape(junk);
    jspi_sleep(second);
}

/* A plain call that runs over the same addresses. */
JSPI_EXPORT("scribble")
void scribble(int size) {
    trample(size);
}

/* What a too-small buffer, a value that is not bytes and an empty value do. */
JSPI_EXPORT("misuse")
void misuse(void) {
    uint8_t small[4];
    uint32_t size = 0;
    jspi_status status = jspi_try_await_bytes(bytes_after(10, 1, 1), small, sizeof small, &size);
    log_str_str("too long:", status == JSPI_TOO_LONG ? "JSPI_TOO_LONG" : "?");
    log_int((int)size);
    check("first part:", 0, small, 4, 1);
    status = jspi_try_await_bytes(delay(1), small, sizeof small, &size);
    log_str_str("not bytes:", status == JSPI_NOT_BYTES ? "JSPI_NOT_BYTES" : "?");
    log_int(jspi_await_bytes(bytes_after(0, 1, 1), small, 0));
    jspi_await_bytes(bytes_after(10, 1, 1), small, sizeof small); /* fails the task */
}

JSPI_EXPORT("notBytes")
void notBytes(void) {
    uint8_t buf[8];
    jspi_await_bytes(delay(1), buf, sizeof buf);
}

JSPI_EXPORT("outsideMemory")
void outsideMemory(void) {
    jspi_await_bytes(bytes_after(4, 1, 1), (void *)0x7ffffff0, 64);
}

JSPI_EXPORT("report")
void report(void) {
    jspi_log_stats("stats:");
}
