/* jspi_api.c: the C API of jspi.h over the suspending call in jspi_shim.s, and the
 * library's one failure path. The externref slot table is in jspi_slots.c; the host
 * imports both use are declared once, in jspi_internal.h. Nothing here touches
 * __stack_pointer: only jspi_shim.s does. */

#include "jspi_internal.h"

/* ---- Shared with jspi_shim.s and the Rust side ----------------------------------- */

/* The scratch stack jspi_shim.s runs the bookkeeping on (it uses the top address). */
__attribute__((visibility("hidden"), aligned(16))) char jspi_scratch[16384];

/* Plain calls running: jspi_call_enter (jspi_shim.s) counts up, jspi_call_leave down;
 * the Rust side's enter reads it, so that a task started inside a plain call is
 * nested in it even when the calling export keeps nothing on the shadow stack. */
__attribute__((visibility("hidden"))) uint32_t jspi_plain_calls;

/* The room below each task (jspi.h, JSPI_MIN_TASK_STACK): 0 means the default. A
 * guest's own definition of this symbol replaces this weak one at link time. */
__attribute__((weak)) const uint32_t jspi_min_task_stack = 0;

static uint32_t length(const char *s) {
    uint32_t n = 0;
    while (s[n]) n++;
    return n;
}

/* jspi_internal.h: the one way out, for C, Rust (jspi::fail and panics) and
 * jspi_shim.s (jspi_fail_last). */
__attribute__((noreturn)) void jspi_fail_with(const char *msg, uint32_t len) {
    jspi_host_fail(msg, len);
    __builtin_unreachable();
}

__attribute__((noreturn)) void jspi_fail_cstr(const char *msg) {
    jspi_fail_with(msg, length(msg));
}

/* jspi_call_leave (jspi_shim.s) was given a token jspi_call_enter did not return. */
__attribute__((noreturn, visibility("hidden"))) void jspi_fail_bad_call_token(void) {
    jspi_fail_cstr("jspi_call_leave: the token is not a stack pointer of this module's shadow stack "
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
int32_t jspi_settled_int(__externref_t settled, const char *not_int) {
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
        jspi_fail_cstr(not_int);
    }
}

int32_t jspi_await_int(__externref_t promise) {
    return jspi_settled_int(jspi_raw_await(promise),
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
void jspi_check_buffer(const char *who, void *dst, uint32_t len) {
    uint32_t size = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    uint32_t at = (uint32_t)(uintptr_t)dst;
    if (at <= size && len <= size - at) return;
    char message[200];
    char *out = put(message, who, at);
    out = put(out, "..", at + len);
    out = put(out, " lies outside memory (", size);
    *put_text(out, " bytes)") = 0;
    jspi_fail_cstr(message);
}

/* The value's length as bytes, or a status for what it is instead. */
int32_t jspi_settled_bytes(__externref_t settled, jspi_status *status) {
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
    jspi_check_buffer("jspi_try_await_bytes: the buffer at ", dst, len);
    __externref_t settled = jspi_raw_await(promise);
    jspi_status status;
    int32_t total = jspi_settled_bytes(settled, &status);
    if (status != JSPI_OK) return status;
    uint32_t n = (uint32_t)total;
    jspi_host_bytes_copy(settled, dst, n < len ? n : len);
    *size = n;
    return n > len ? JSPI_TOO_LONG : JSPI_OK;
}

int32_t jspi_await_bytes(__externref_t promise, void *dst, uint32_t len) {
    jspi_check_buffer("jspi_await_bytes: the buffer at ", dst, len);
    __externref_t settled = jspi_raw_await(promise);
    jspi_status status;
    int32_t total = jspi_settled_bytes(settled, &status);
    if (status == JSPI_REJECTED) {
        jspi_host_throw(jspi_host_rejection_reason(settled));
        __builtin_unreachable();
    }
    if (status == JSPI_NOT_BYTES) {
        jspi_fail_cstr("jspi_await_bytes: the promise fulfilled with a value that is not bytes (a "
             "Uint8Array, an ArrayBuffer or another typed-array view)");
    }
    if ((uint32_t)total > len) {
        char message[200];
        char *out = put(message, "jspi_await_bytes: the promise fulfilled with ", (uint32_t)total);
        out = put(out, " bytes, more than the ", len);
        *put_text(out, " the buffer holds (jspi_try_await_bytes takes the first part)") = 0;
        jspi_fail_cstr(message);
    }
    jspi_host_bytes_copy(settled, dst, (uint32_t)total);
    return total;
}

