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
/* The length of a settled value that is bytes (a Uint8Array, an ArrayBuffer, another
 * typed-array view or a DataView on JS; a byte buffer on wasmtime), or -1. */
JSPI_IMPORT("jspi", "bytes_length") int32_t jspi_host_bytes_length(__externref_t settled);
/* Copies the first `len` bytes of such a value to `dst`. */
JSPI_IMPORT("jspi", "bytes_copy") void jspi_host_bytes_copy(__externref_t settled, void *dst,
                                                            uint32_t len);
/* The library is done with `value` (a settled value it read, a slot's value it
 * dropped): a host without a garbage collector may free it (wasmtime); JS does
 * nothing. Never called on a value the guest's own code may still hold. */
JSPI_IMPORT("jspi", "release") void jspi_host_release(__externref_t value);

/* ---- From jspi_shim.s and the Rust side ----------------------------------------- */

__externref_t jspi_raw_await(__externref_t promise);

/* The scratch stack jspi_shim.s runs the bookkeeping on (it uses the top address). */
__attribute__((visibility("hidden"), aligned(16))) char jspi_scratch[16384];

/* Plain calls running: jspi_call_enter (jspi_shim.s) counts up, jspi_call_leave down;
 * the Rust side's enter reads it, so that a task started inside a plain call is
 * nested in it even when the calling export keeps nothing on the shadow stack. */
__attribute__((visibility("hidden"))) uint32_t jspi_plain_calls;

/* The room below each task (jspi.h, JSPI_MIN_TASK_STACK): 0 means the default. A
 * guest's own definition of this symbol replaces this weak one at link time. */
__attribute__((weak)) const uint32_t jspi_min_task_stack = 0;

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

/* Fails with the `len` bytes at `msg` (for Rust: jspi::fail and panics). */
__attribute__((noreturn)) void jspi_fail_with(const char *msg, uint32_t len) {
    jspi_host_fail(msg, len);
    __builtin_unreachable();
}

/* jspi_call_leave (jspi_shim.s) was given a token jspi_call_enter did not return. */
__attribute__((noreturn, visibility("hidden"))) void jspi_fail_bad_call_token(void) {
    fail("jspi_call_leave: the token is not a stack pointer of this module's shadow stack "
         "(pass what jspi_call_enter returned)");
}

jspi_status jspi_try_await_int(__externref_t promise, int32_t *out) {
    __externref_t settled = jspi_raw_await(promise);
    jspi_status status = JSPI_NOT_AN_INT;
    switch (jspi_host_classify(settled)) {
    case CLASS_INT:
        *out = jspi_host_int_value(settled);
        status = JSPI_OK;
        break;
    case CLASS_REJECTED:
        status = JSPI_REJECTED;
        break;
    }
    jspi_host_release(settled); /* only the int (or the status) reaches the caller */
    return status;
}

/* Fails the task with the reason of rejection marker `settled`, as `await` in JS
 * throws it (the host frees what it throws). */
__attribute__((noreturn)) static void throw_reason(__externref_t settled) {
    __externref_t reason = jspi_host_rejection_reason(settled);
    jspi_host_release(settled);
    jspi_host_throw(reason);
    __builtin_unreachable();
}

/* The int32 a settled promise fulfilled with. A rejection fails the task with its
 * reason, as `await` in JS throws it; any other value fails it with `not_int`. */
static int32_t settled_int(__externref_t settled, const char *not_int) {
    switch (jspi_host_classify(settled)) {
    case CLASS_INT: {
        int32_t value = jspi_host_int_value(settled);
        jspi_host_release(settled);
        return value;
    }
    case CLASS_REJECTED:
        throw_reason(settled);
    default:
        jspi_host_release(settled);
        fail(not_int);
    }
}

int32_t jspi_await_int(__externref_t promise) {
    return settled_int(jspi_raw_await(promise),
                       "jspi_await_int: the promise fulfilled with a value that is not an "
                       "int32 (use jspi_await_externref for other values)");
}

__externref_t jspi_try_await_externref(__externref_t promise, jspi_status *status) {
    __externref_t settled = jspi_raw_await(promise);
    if (jspi_host_classify(settled) == CLASS_REJECTED) {
        *status = JSPI_REJECTED;
        __externref_t reason = jspi_host_rejection_reason(settled);
        jspi_host_release(settled);
        return reason;
    }
    *status = JSPI_OK;
    return settled;
}

__externref_t jspi_await_externref(__externref_t promise) {
    __externref_t settled = jspi_raw_await(promise);
    if (jspi_host_classify(settled) == CLASS_REJECTED) throw_reason(settled);
    return settled;
}

/* ---- Await into a buffer ---------------------------------------------------------
 * The bytes are copied in by the host synchronously, after the resume has restored the
 * task's stack, so a buffer on the task's own stack gets them and nothing else does. */

/* Appends `text` at `out`; returns the end. */
static char *put_text(char *out, const char *text) {
    while (*text) *out++ = *text++;
    return out;
}

/* Appends `text` and the decimal digits of `value` at `out`; returns the end. */
static char *put(char *out, const char *text, uint32_t value) {
    out = put_text(out, text);
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) *out++ = digits[--n];
    return out;
}

/* Fails unless [dst, dst + len) lies inside memory. */
static void check_buffer(const char *who, void *dst, uint32_t len) {
    uint32_t size = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    uint32_t at = (uint32_t)(uintptr_t)dst;
    if (at <= size && len <= size - at) return;
    char message[200];
    char *out = put(message, who, at);
    out = put(out, "..", at + len);
    out = put(out, " lies outside memory (", size);
    *put_text(out, " bytes)") = 0;
    fail(message);
}

/* The value's length as bytes, or a status for what it is instead. */
static int32_t settled_bytes(__externref_t settled, jspi_status *status) {
    if (jspi_host_classify(settled) == CLASS_REJECTED) {
        *status = JSPI_REJECTED;
        return -1;
    }
    int32_t total = jspi_host_bytes_length(settled);
    *status = total < 0 ? JSPI_NOT_BYTES : JSPI_OK;
    return total;
}

jspi_status jspi_try_await_bytes(__externref_t promise, void *dst, uint32_t len,
                                 uint32_t *size) {
    check_buffer("jspi_try_await_bytes: the buffer at ", dst, len);
    __externref_t settled = jspi_raw_await(promise);
    jspi_status status;
    int32_t total = settled_bytes(settled, &status);
    if (status != JSPI_OK) return status;
    uint32_t n = (uint32_t)total;
    jspi_host_bytes_copy(settled, dst, n < len ? n : len);
    *size = n;
    return n > len ? JSPI_TOO_LONG : JSPI_OK;
}

int32_t jspi_await_bytes(__externref_t promise, void *dst, uint32_t len) {
    check_buffer("jspi_await_bytes: the buffer at ", dst, len);
    __externref_t settled = jspi_raw_await(promise);
    jspi_status status;
    int32_t total = settled_bytes(settled, &status);
    if (status == JSPI_REJECTED) {
        jspi_host_throw(jspi_host_rejection_reason(settled));
        __builtin_unreachable();
    }
    if (status == JSPI_NOT_BYTES) {
        fail("jspi_await_bytes: the promise fulfilled with a value that is not bytes (a "
             "Uint8Array, an ArrayBuffer or another typed-array view)");
    }
    if ((uint32_t)total > len) {
        char message[200];
        char *out = put(message, "jspi_await_bytes: the promise fulfilled with ", (uint32_t)total);
        out = put(out, " bytes, more than the ", len);
        *put_text(out, " the buffer holds (jspi_try_await_bytes takes the first part)") = 0;
        fail(message);
    }
    jspi_host_bytes_copy(settled, dst, (uint32_t)total);
    return total;
}

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
        fail("jspi: the externref slot table is full (4095 host values held by Rust "
             "ExternRef/Promise handles at once); drop handles you no longer need");
    }
    return slot;
}

/* The value in `slot`; `slot` must come from jspi_ref_store and not be dropped. */
__externref_t jspi_ref_load(uint32_t slot) {
    return __builtin_wasm_table_get(slots, slot);
}

/* Frees `slot`, whose value the caller goes on holding (in a wasm local). */
static void free_slot(uint32_t slot) {
    __builtin_wasm_table_set(slots, slot, __builtin_wasm_ref_null_extern());
    released[slot] = 0;
    next_free[slot] = free_head;
    free_head = slot;
}

/* Frees `slot` and releases its value to the host (the slot was its only holder: a
 * Rust handle owns its slot, and nothing else sees the value). */
void jspi_ref_drop(uint32_t slot) {
    jspi_host_release(__builtin_wasm_table_get(slots, slot));
    free_slot(slot);
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
    free_slot(slot);
    return value;
}

int32_t jspi_slot_await_int(uint32_t promise) {
    return settled_int(jspi_raw_await(take(promise)),
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
    check_buffer("Promise<Bytes>::try_wait_into: the buffer at ", dst, len);
    __externref_t settled = jspi_raw_await(take(promise));
    jspi_status status;
    int32_t total = settled_bytes(settled, &status);
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
        fail("Promise<i32>::try_wait: the promise fulfilled with a value that is not an "
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
