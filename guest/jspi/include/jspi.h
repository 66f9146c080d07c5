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

/* Change the stack state's limits; only before any task has started (returns 0), else
 * -1, as for a configuration that cannot work. 0 keeps a default:
 *   min_task_stack: a new task is placed only where this much shadow stack is left
 *                   below it (default 16 KiB); a task nested in a synchronous call
 *                   that has less fails to start with a clear error;
 *   max_tasks:      tasks alive at once (default and most: 1024);
 *   heap, heap_len: a region for saved stack bytes; with heap_len 0 the library
 *                   grows memory instead (the default). */
int jspi_configure(uint32_t min_task_stack, uint32_t max_tasks, void *heap, uint32_t heap_len);

/* The strategy this module was built with: "none", "eager" or "lazy". */
const char *jspi_strategy(void);

#ifdef __cplusplus
}
#endif

#endif /* JSPI_H */
