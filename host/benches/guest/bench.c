/* The benchmark guest: tasks that hold `size` bytes of shadow stack across awaits.
 *
 * `task(size, awaits)` puts a `size`-byte array on the shadow stack (a VLA, kept in
 * linear memory by escape), then awaits `awaits` promises from the host's
 * `bench.next()`, whose resolution order the benchmark driver chooses. Nothing else
 * happens, so what is timed is the suspend/resume round trip: the engine's switch,
 * plus the guest library's save and restore for the strategy it was built with.
 * Built by `cargo xtask bench` into target/bench/<strategy>.wasm, with a 32 MiB
 * shadow stack (256 tasks x 64 KiB) and __stack_pointer exported. */
#include "jspi_host.h"

JSPI_IMPORT("bench", "next") __externref_t bench_next(void);

JSPI_EXPORT("task")
void task(int32_t size, int32_t awaits) {
    char frame[size];
    escape(frame);
    for (int32_t i = 0; i < awaits; i++) {
        (void)jspi_await_externref(bench_next());
    }
}

JSPI_IMPORT("bench", "ready") __externref_t bench_ready(void);
JSPI_IMPORT("bench", "ready_bytes") __externref_t bench_ready_bytes(int32_t len);

/* `n` awaits of promises that are already settled, in one task: with `len` < 0 a
 * plain await (jspi_await_externref), otherwise an await of `len` bytes into a buffer
 * on the task's stack (jspi_await_bytes); the driver divides by n. */
JSPI_EXPORT("awaitLoop")
void awaitLoop(int32_t n, int32_t len) {
    uint8_t buf[65536];
    escape(buf);
    for (int32_t i = 0; i < n; i++) {
        if (len < 0) {
            (void)jspi_await_externref(bench_ready());
        } else {
            (void)jspi_await_bytes(bench_ready_bytes(len), buf, (uint32_t)len);
        }
    }
}
