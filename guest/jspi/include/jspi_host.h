/* jspi_host.h: the host environment every jspi host provides (module "env").
 * docs/abi.md describes each import and the transcript lines it prints. Time is
 * virtual: "after ms" means when the host's clock, which jumps from timer to timer,
 * gets there, so examples run in milliseconds whatever they wait for. */
#ifndef JSPI_HOST_H
#define JSPI_HOST_H

#include "jspi.h"

#define JSPI_ENV(name) JSPI_IMPORT("env", name)

/* Logging: "C: <value>" lines in the transcript. */
JSPI_ENV("log_int") void log_int(int32_t value);
JSPI_ENV("log_str") void log_str(const char *s);
JSPI_ENV("log_str_str") void log_str_str(const char *label, const char *s);
JSPI_ENV("log_ref") void log_ref(__externref_t value);

/* Does nothing; passing a local's address keeps the local in linear memory. */
JSPI_ENV("escape") void escape(void *p);

/* Promises. */
JSPI_ENV("delay") __externref_t delay(int32_t ms);                 /* null after ms */
JSPI_ENV("delayed_int") __externref_t delayed_int(int32_t value, int32_t ms);
JSPI_ENV("fake_fetch") __externref_t fake_fetch(int32_t x);        /* x + 1 after 500 ms */
JSPI_ENV("fake_db_query") __externref_t fake_db_query(int32_t x);  /* x * x after 1000 ms */
JSPI_ENV("rejecting") __externref_t rejecting(int32_t code, int32_t ms);

/* Bytes: byte i of each is (seed + 7 i) mod 256 (jspi_host_pattern below). */
/* A promise fulfilled with `len` such bytes after ms: for jspi_await_bytes. */
JSPI_ENV("bytes_after") __externref_t bytes_after(int32_t len, int32_t seed, int32_t ms);
/* After ms, writes `len` such bytes into the calling task's memory at `dst` through the
 * host library's task memory (wherever the buffer is then: in place or saved), then
 * fulfils with len. */
JSPI_ENV("read_into") __externref_t read_into(void *dst, int32_t len, int32_t seed, int32_t ms);
/* The same, written the naive way: straight to `dst`'s address while the task is
 * suspended (the hazard of docs/abi.md: the bytes can be lost or land in another
 * task's frame). */
JSPI_ENV("read_naive") __externref_t read_naive(void *dst, int32_t len, int32_t seed, int32_t ms);

/* Byte i of the host's byte patterns. */
static inline uint8_t jspi_host_pattern(int32_t seed, int32_t i) {
    return (uint8_t)(seed + 7 * i);
}

/* Fails at once: the host throws "host import failed with code <code>". */
JSPI_ENV("failing") void failing(int32_t code);

/* Starts export `export_name` with `count` int arguments as a promising task named
 * `name`, as a scenario's "start" step would, from inside the calling (synchronous)
 * export: the task runs now, on top of the caller's frames, until it first suspends or
 * ends; then this returns. The transcript shows it like any task. */
JSPI_ENV("start") void jspi_host_start(const char *name, const char *export_name,
                                       const int32_t *args, int32_t count);

/* Calls export `export_name(arg)` plainly `times` times from inside the calling
 * export, as a host function may call back into its instance (with the host
 * library's call hooks, like a "call" step); returns how many of those calls failed.
 * Prints nothing. */
JSPI_ENV("call_plain") int32_t jspi_host_call_plain(const char *export_name, int32_t arg,
                                                    int32_t times);

/* Block the running task for `ms` of virtual time. */
static inline void jspi_sleep(int32_t ms) {
    (void)jspi_await_externref(delay(ms));
}

/* Append the decimal digits of `value` at `out`; returns the end. */
static inline char *jspi_format_u64(char *out, uint64_t value) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) *out++ = digits[--n];
    return out;
}

/* One "C: <label> saved=.. restored=.. evictions=.. peak_saved=.. live=.." line with
 * the stack state's counters (docs/abi.md lists them). */
static inline void jspi_log_stats(const char *label) {
    static const struct { const char *name; int which; } shown[] = {
        {"saved=", JSPI_STAT_BYTES_SAVED},
        {" restored=", JSPI_STAT_BYTES_RESTORED},
        {" evictions=", JSPI_STAT_EVICTIONS},
        {" peak_saved=", JSPI_STAT_PEAK_SAVED_BYTES},
        {" live=", JSPI_STAT_LIVE_TASKS},
    };
    char line[160];
    char *out = line;
    for (unsigned i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        for (const char *c = shown[i].name; *c; c++) *out++ = *c;
        out = jspi_format_u64(out, jspi_stat(shown[i].which));
    }
    *out = 0;
    log_str_str(label, line);
}

#endif /* JSPI_HOST_H */
