/* jspi_slots.c: the externref slot table through which Rust code holds host values,
 * the awaits by slot the Rust API uses, and the wasm-bindgen bridge.
 *
 * Nothing here touches __stack_pointer: only jspi_shim.s does. */

#include "jspi_internal.h"

/* ---- The externref slot table ----------------------------------------------------
 * Rust cannot hold an externref in memory, so it holds a slot number: the value lives
 * in this table, slot 0 is never used (0 means "no value"), and freed slots are
 * chained through `next_free` for reuse.
 *
 * A slot handed out as a *raw handle* (jspi_ref_into_raw, for Rust code that passes a
 * handle through the host as a plain integer) carries the slot's generation in its
 * high bits and is marked released; jspi_ref_from_raw takes it back only if both
 * match, so a stale handle, one taken back twice, or one made by another instance of
 * the module is refused instead of aliasing a live value. */

#define JSPI_MAX_SLOTS 4096        /* a power of two: slot bits of a raw handle */
#define JSPI_SLOT_BITS 12

static __externref_t slots[0];
static uint32_t next_free[JSPI_MAX_SLOTS];
static uint32_t free_head;                    /* 0: no free slot */
static uint32_t generation[JSPI_MAX_SLOTS];   /* bumped at every store into the slot */
static uint8_t released[JSPI_MAX_SLOTS];      /* 1: owned by a raw handle */

/* Stores `value` and returns its slot (never 0), or 0 when the table is full. */
uint32_t jspi_ref_store(__externref_t value) {
    uint32_t slot = free_head;
    if (slot != 0) {
        free_head = next_free[slot];
        __builtin_wasm_table_set(slots, slot, value);
        generation[slot]++;
        return slot;
    }
    uint32_t size = __builtin_wasm_table_size(slots);
    if (size == 0) {
        /* Slot 0 is a placeholder, so that 0 can mean "none". */
        if (__builtin_wasm_table_grow(slots, value, 1) < 0) return 0;
        size = 1;
    }
    if (size >= JSPI_MAX_SLOTS || __builtin_wasm_table_grow(slots, value, 1) < 0) return 0;
    generation[size]++;
    return size;
}

/* As jspi_ref_store, but fails the task with a clear message when the table is full:
 * what the Rust API and generated import adapters use. */
uint32_t jspi_ref_store_or_fail(__externref_t value) {
    uint32_t slot = jspi_ref_store(value);
    if (slot == 0) {
        jspi_fail_cstr("jspi: the externref slot table is full (4095 host values held by Rust "
             "ExternRef/Promise handles at once); drop handles you no longer need");
    }
    return slot;
}

/* The value in `slot`; `slot` must come from jspi_ref_store and not be dropped. */
__externref_t jspi_ref_load(uint32_t slot) {
    return __builtin_wasm_table_get(slots, slot);
}

/* Frees `slot`, whose value the caller goes on holding (in a wasm local). */
void jspi_free_slot(uint32_t slot) {
    __builtin_wasm_table_set(slots, slot, __builtin_wasm_ref_null_extern());
    released[slot] = 0;
    next_free[slot] = free_head;
    free_head = slot;
}

/* Frees `slot` and releases its value to the host (the slot was its only holder: a
 * Rust handle owns its slot, and nothing else sees the value). */
void jspi_ref_drop(uint32_t slot) {
    jspi_host_release(__builtin_wasm_table_get(slots, slot));
    jspi_free_slot(slot);
}

/* Releases `slot` as a raw handle: slot | generation << JSPI_SLOT_BITS. */
uint32_t jspi_ref_into_raw(uint32_t slot) {
    released[slot] = 1;
    return slot | (generation[slot] << JSPI_SLOT_BITS);
}

/* Takes a raw handle back: its slot, or 0 when `raw` is not a handle this instance
 * released (stale, already taken back, or from another instance). */
uint32_t jspi_ref_from_raw(uint32_t raw) {
    uint32_t slot = raw & (JSPI_MAX_SLOTS - 1);
    uint32_t gen = raw >> JSPI_SLOT_BITS;
    if (slot == 0 || slot >= __builtin_wasm_table_size(slots) || !released[slot] ||
        (generation[slot] & (0xFFFFFFFFu >> JSPI_SLOT_BITS)) != gen) {
        return 0;
    }
    released[slot] = 0;
    return slot;
}

/* ---- Awaits by slot, for the Rust API --------------------------------------------
 * Each takes the promise out of its slot and frees the slot before suspending (the
 * Rust handle gave it up), so the promise lives only in a wasm local. Results that
 * can fail come back packed in an i64, status in the high word, so nothing lives in
 * linear memory across the suspension: high 0 = fulfilled, low word the int or the
 * value's new slot; high 1 = rejected, low word the reason's new slot. */

static uint64_t pack(uint32_t status, uint32_t value) {
    return ((uint64_t)status << 32) | value;
}

/* The value in `slot`, which is freed (the await that takes the value consumes it). */
static __externref_t take(uint32_t slot) {
    __externref_t value = jspi_ref_load(slot);
    jspi_free_slot(slot);
    return value;
}

int32_t jspi_slot_await_int(uint32_t promise) {
    return jspi_settled_int(jspi_raw_await(take(promise)),
                       "Promise<i32>::wait: the promise fulfilled with a value that is not an "
                       "int32 (declare it as Promise<ExternRef> to take any value)");
}

uint32_t jspi_slot_await_ref(uint32_t promise) {
    return jspi_ref_store_or_fail(jspi_await_externref(take(promise)));
}

void jspi_slot_await_void(uint32_t promise) {
    jspi_host_release(jspi_await_externref(take(promise)));
}

int32_t jspi_slot_await_bytes(uint32_t promise, void *dst, uint32_t len) {
    return jspi_await_bytes(take(promise), dst, len);
}

/* (status << 32) | the rejection's reason slot; *size as jspi_try_await_bytes. */
uint64_t jspi_slot_try_await_bytes(uint32_t promise, void *dst, uint32_t len, uint32_t *size) {
    jspi_check_buffer("Promise<Bytes>::try_wait_into: the buffer at ", dst, len);
    __externref_t settled = jspi_raw_await(take(promise));
    jspi_status status;
    int32_t total = jspi_settled_bytes(settled, &status);
    if (status == JSPI_REJECTED) {
        return pack(JSPI_REJECTED, jspi_ref_store_or_fail(jspi_host_rejection_reason(settled)));
    }
    if (status != JSPI_OK) return pack(status, 0);
    uint32_t n = (uint32_t)total;
    jspi_host_bytes_copy(settled, dst, n < len ? n : len);
    *size = n;
    return pack(n > len ? JSPI_TOO_LONG : JSPI_OK, 0);
}

uint64_t jspi_slot_try_await_int(uint32_t promise) {
    __externref_t settled = jspi_raw_await(take(promise));
    switch (jspi_host_classify(settled)) {
    case CLASS_INT: {
        int32_t value = jspi_host_int_value(settled);
        jspi_host_release(settled);
        return pack(JSPI_OK, (uint32_t)value);
    }
    case CLASS_REJECTED: {
        uint32_t reason = jspi_ref_store_or_fail(jspi_host_rejection_reason(settled));
        jspi_host_release(settled);
        return pack(JSPI_REJECTED, reason);
    }
    default:
        jspi_host_release(settled);
        jspi_fail_cstr("Promise<i32>::try_wait: the promise fulfilled with a value that is not an "
             "int32 (declare it as Promise<ExternRef> to take any value)");
    }
}

uint64_t jspi_slot_try_await_ref(uint32_t promise) {
    jspi_status status;
    __externref_t value = jspi_try_await_externref(take(promise), &status);
    return pack(status, jspi_ref_store_or_fail(value));
}

/* ---- The wasm-bindgen bridge (built with feature wasm-bindgen) --------------------
 * A wasm-bindgen guest holds JS values as wasm-bindgen handles, which only JS can
 * turn into externrefs. The host's `jspi.bindgen_store` / `jspi.bindgen_load`
 * (docs/abi.md) call these two exports to move a value between the two worlds. */
#ifdef JSPI_BINDGEN
__attribute__((export_name("jspi_bindgen_store")))
uint32_t jspi_bindgen_store(__externref_t value) {
    return jspi_ref_store_or_fail(value);
}

__attribute__((export_name("jspi_bindgen_load")))
__externref_t jspi_bindgen_load(uint32_t slot) {
    return jspi_ref_load(slot);
}
#endif
