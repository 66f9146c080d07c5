/* jspi.h: block synchronous C code on host promises through JSPI, with the shadow
 * stack kept safe (guest/jspi). Link the module with libjspi.a; `cargo xtask` does.
 *
 * A promise is an `__externref_t` (compile with -mreference-types). Awaiting one
 * suspends the running *task*: an export the host started as a promising call
 * (WebAssembly.promising plus the jspi_task_* hooks, which the host libraries run:
 * the JS package's promising/spawn, the host crate's Instance::promising).
 * While it is suspended other tasks and synchronous calls may run; the library saves
 * and restores whatever of the task's shadow-stack frames they would overwrite.
 */
#ifndef JSPI_H
#define JSPI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Export a function under `name` (a plain or a promising export alike: the host
 * decides how it calls it). */
#define JSPI_EXPORT(name) __attribute__((export_name(name)))

/* Declare a host import `module.name`; use it for imports that return promises:
 *   JSPI_IMPORT("env", "fake_fetch") __externref_t fake_fetch(int x);            */
#define JSPI_IMPORT(module, name) \
    __attribute__((import_module(module), import_name(name)))

/* Outcome of a jspi_try_await_*. */
typedef enum jspi_status {
    JSPI_OK = 0,          /* fulfilled (with an int32, for the int variants) */
    JSPI_REJECTED = 1,    /* the promise rejected */
    JSPI_NOT_AN_INT = 2,  /* fulfilled, but not with an int32 */
    JSPI_NOT_BYTES = 3,   /* fulfilled, but not with bytes (jspi_try_await_bytes) */
    JSPI_TOO_LONG = 4,    /* fulfilled with more bytes than the buffer holds */
} jspi_status;

/* Suspend until `promise` settles and return the int32 it fulfilled with. A
 * rejection, or a value that is not an int32, fails the task with a message saying
 * so (it never returns a made-up value): use jspi_try_await_int to handle those. */
int32_t jspi_await_int(__externref_t promise);

/* Suspend until `promise` settles; return its value. A rejection fails the task. */
__externref_t jspi_await_externref(__externref_t promise);

/* Suspend until `promise` settles. On JSPI_OK stores the int32 in *out; otherwise
 * *out is left alone and the status says what happened. */
jspi_status jspi_try_await_int(__externref_t promise, int32_t *out);

/* Suspend until `promise` settles. Stores JSPI_OK or JSPI_REJECTED in *status and
 * returns the value, or the rejection reason. */
__externref_t jspi_try_await_externref(__externref_t promise, jspi_status *status);

/* Suspend until `promise` settles with bytes (a Uint8Array, an ArrayBuffer or another
 * typed-array view on JS hosts; a byte buffer on wasmtime), copy them to `dst` and
 * return how many there were. The copy happens inside wasm after the task's stack is
 * restored, so `dst` may be a buffer on the task's own stack: a host that wrote into
 * it while the task was suspended could hit a saved copy or another task's frame
 * (docs/abi.md, "What a host may touch"). More than `len` bytes, a value that is not
 * bytes, a rejection, or a buffer outside memory fail the task with a message saying
 * so; len 0 takes only an empty value. */
int32_t jspi_await_bytes(__externref_t promise, void *dst, uint32_t len);

/* As jspi_await_bytes, reporting instead of failing: JSPI_OK with the length in
 * *size; JSPI_TOO_LONG with the first `len` bytes copied and the whole length in
 * *size; JSPI_REJECTED or JSPI_NOT_BYTES with nothing copied and *size left alone.
 * A buffer outside memory still fails the task. */
jspi_status jspi_try_await_bytes(__externref_t promise, void *dst, uint32_t len,
                                 uint32_t *size);

/* Makes [ptr, ptr + len) task-local: every task has its own copy, saved when it
 * suspends and put back when it resumes, so what another task leaves there (libc's
 * errno, a strtok buffer) never shows across an await. Register before any task
 * starts, at most 8 regions of 4096 bytes in all, outside the shadow stack; returns 0,
 * or -1 when refused. A new task starts with what the region holds when it enters.
 * The none strategy swaps nothing. */
int jspi_task_local(void *ptr, uint32_t len);

/* 1 when the running code is inside a promising task and may await, 0 when it was
 * called synchronously (an await would fail with a message naming the fix). */
int jspi_can_suspend(void);

/* Counters of the stack state (see docs/abi.md). */
typedef enum jspi_stat_id {
    JSPI_STAT_BYTES_SAVED = 0,
    JSPI_STAT_BYTES_RESTORED = 1,
    JSPI_STAT_EVICTIONS = 2,
    JSPI_STAT_LIVE_TASKS = 3,
    JSPI_STAT_PEAK_SAVED_BYTES = 4,
    JSPI_STAT_SAVED_BYTES = 5,
    JSPI_STAT_SUSPENDS = 6,
    JSPI_STAT_RESUMES = 7,
    JSPI_STAT_TASKS_ENTERED = 8,
    JSPI_STAT_PEAK_LIVE_TASKS = 9,
    JSPI_STAT_HEAP_RESERVED_BYTES = 10,
} jspi_stat_id;

/* The counter `which`; (uint64_t)-1 for an unknown id. */
uint64_t jspi_stat(int which);

/* The room below. Under the lazy strategy a suspended task's frames stay where they
 * are, and the next task, or plain call, runs just below the lowest of them: what
 * it may rely on is `min_task_stack` bytes below where it starts (default 16 KiB, or
 * a quarter of a shadow stack smaller than 64 KiB). When less than that would be
 * left, the library first saves every suspended task's bytes and starts from the top
 * again. Code that goes deeper than the room only works while nothing happens to lie
 * below, and otherwise runs off the bottom of the shadow stack, which traps (with
 * --stack-first) as "out of bounds". The eager strategy starts every top-level task
 * and plain call at the top of the shadow stack, so there the whole stack is the
 * room. Give a guest with deep frames (a 60 KB local buffer, a 64 KiB recursion
 * before the first await) more room, either at link time, with one definition in
 * any of its C files:
 *     JSPI_MIN_TASK_STACK(96 * 1024);
 * (a Rust guest: `#[unsafe(no_mangle)] pub static jspi_min_task_stack: u32 = 98304;`;
 * wasm-ld has no --defsym, so a definition it is), or at run time with
 * jspi_configure. A task that suspends with its stack pointer past the bottom is
 * failed with a message naming this room; a room larger than the whole shadow stack
 * fails the first task with a message too. */
extern const uint32_t jspi_min_task_stack;
#ifdef __cplusplus
#define JSPI_MIN_TASK_STACK(bytes) extern "C" const uint32_t jspi_min_task_stack = (bytes)
#else
#define JSPI_MIN_TASK_STACK(bytes) const uint32_t jspi_min_task_stack = (bytes)
#endif

/* Change the stack state's limits; only before any task has started (returns 0), else
 * -1, as for a configuration that cannot work. 0 keeps a default:
 *   min_task_stack: the room below (above): a new task is placed only where this much
 *                   shadow stack is left below it (default 16 KiB, or what
 *                   JSPI_MIN_TASK_STACK linked in); a task nested in a synchronous
 *                   call that has less fails to start with a clear error;
 *   max_tasks:      tasks alive at once (default and most: 1024);
 *   heap, heap_len: a region for saved stack bytes; with heap_len 0 the library
 *                   grows memory instead (the default). */
int jspi_configure(uint32_t min_task_stack, uint32_t max_tasks, void *heap, uint32_t heap_len);

/* The strategy this module was built with: "none", "eager", "lazy" or
 * "adaptive". */
const char *jspi_strategy(void);

#ifdef __cplusplus
}
#endif

#endif /* JSPI_H */
