/* jspi_api.c: the C API of jspi.h over the suspending call in jspi_shim.s, and the
 * externref slot table through which Rust code holds host values.
 *
 * Every host import this file uses is declared once, just below. Nothing here touches
 * __stack_pointer: only jspi_shim.s does. */

#include "jspi.h"

/* ---- Imports (module "jspi"; docs/abi.md) ---------------------------------------- */

/* 0: an int32; 1: another fulfilled value; 2: a rejection marker. */
JSPI_IMPORT("jspi", "classify") int32_t jspi_host_classify(__externref_t settled);
JSPI_IMPORT("jspi", "int_value") int32_t jspi_host_int_value(__externref_t settled);
JSPI_IMPORT("jspi", "rejection_reason") __externref_t jspi_host_rejection_reason(__externref_t settled);
/* Throws `reason` (Node) or traps with it (wasmtime), like `await` on a rejection. */
JSPI_IMPORT("jspi", "throw") void jspi_host_throw(__externref_t reason);
JSPI_IMPORT("jspi", "fail") void jspi_host_fail(const char *msg, uint32_t len);

/* ---- From jspi_shim.s and the Rust side ----------------------------------------- */

__externref_t jspi_raw_await(__externref_t promise);

/* The scratch stack jspi_shim.s runs the bookkeeping on (it uses the top address). */
__attribute__((visibility("hidden"), aligned(16))) char jspi_scratch[16384];

enum { CLASS_INT = 0, CLASS_OTHER = 1, CLASS_REJECTED = 2 };

static uint32_t length(const char *s) {
    uint32_t n = 0;
    while (s[n]) n++;
    return n;
}

__attribute__((noreturn)) static void fail(const char *msg) {
    jspi_host_fail(msg, length(msg));
    __builtin_unreachable();
}

jspi_status jspi_try_await_int(__externref_t promise, int32_t *out) {
    __externref_t settled = jspi_raw_await(promise);
    switch (jspi_host_classify(settled)) {
    case CLASS_INT:
        *out = jspi_host_int_value(settled);
        return JSPI_OK;
    case CLASS_REJECTED:
        return JSPI_REJECTED;
    default:
        return JSPI_NOT_AN_INT;
    }
}

int32_t jspi_await_int(__externref_t promise) {
    __externref_t settled = jspi_raw_await(promise);
    switch (jspi_host_classify(settled)) {
    case CLASS_INT:
        return jspi_host_int_value(settled);
    case CLASS_REJECTED:
        /* As `await` in JS: the task fails with the rejection's reason. */
        jspi_host_throw(jspi_host_rejection_reason(settled));
        __builtin_unreachable();
    default:
        fail("jspi_await_int: the promise fulfilled with a value that is not an int32 "
             "(use jspi_await_externref for other values)");
    }
}

__externref_t jspi_try_await_externref(__externref_t promise, jspi_status *status) {
    __externref_t settled = jspi_raw_await(promise);
    if (jspi_host_classify(settled) == CLASS_REJECTED) {
        *status = JSPI_REJECTED;
        return jspi_host_rejection_reason(settled);
    }
    *status = JSPI_OK;
    return settled;
}

__externref_t jspi_await_externref(__externref_t promise) {
    __externref_t settled = jspi_raw_await(promise);
    if (jspi_host_classify(settled) == CLASS_REJECTED) {
        jspi_host_throw(jspi_host_rejection_reason(settled));
        __builtin_unreachable();
    }
    return settled;
}

/* ---- The externref slot table ----------------------------------------------------
 * Rust cannot hold an externref in memory, so it holds a slot number: the value lives
 * in this table, slot 0 is never used (0 means "no value"), and freed slots are
 * chained through `next_free` for reuse. */

#define JSPI_MAX_SLOTS 4096

static __externref_t slots[0];
static uint32_t next_free[JSPI_MAX_SLOTS];
static uint32_t free_head; /* 0: no free slot */

/* Stores `value` and returns its slot (never 0), or 0 when the table is full. */
uint32_t jspi_ref_store(__externref_t value) {
    uint32_t slot = free_head;
    if (slot != 0) {
        free_head = next_free[slot];
        __builtin_wasm_table_set(slots, slot, value);
        return slot;
    }
    uint32_t size = __builtin_wasm_table_size(slots);
    if (size == 0) {
        /* Slot 0 is a placeholder, so that 0 can mean "none". */
        if (__builtin_wasm_table_grow(slots, value, 1) < 0) return 0;
        size = 1;
    }
    if (size >= JSPI_MAX_SLOTS || __builtin_wasm_table_grow(slots, value, 1) < 0) return 0;
    return size;
}

/* The value in `slot`; `slot` must come from jspi_ref_store and not be dropped. */
__externref_t jspi_ref_load(uint32_t slot) {
    return __builtin_wasm_table_get(slots, slot);
}

/* Frees `slot` (and lets the host collect its value). */
void jspi_ref_drop(uint32_t slot) {
    __builtin_wasm_table_set(slots, slot, __builtin_wasm_ref_null_extern());
    next_free[slot] = free_head;
    free_head = slot;
}
