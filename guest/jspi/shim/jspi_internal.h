/* jspi_internal.h: what the library's two C files share (not installed; nothing
 * here is API): the host imports of module "jspi", the suspending call in
 * jspi_shim.s, the one failure path, and the helpers both kinds of await use. */

#ifndef JSPI_INTERNAL_H
#define JSPI_INTERNAL_H

#include "jspi.h"

#define JSPI_HIDDEN __attribute__((visibility("hidden")))

/* ---- Imports (module "jspi"; docs/abi.md) -------------------------------------- */

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

/* ---- From jspi_shim.s ------------------------------------------------------------- */

/* Suspends the running task until `promise` settles; the settled value, or a
 * rejection marker. */
__externref_t jspi_raw_await(__externref_t promise);

/* ---- Shared by jspi_api.c and jspi_slots.c ----------------------------------------- */

/* What jspi_host_classify answers. */
enum { CLASS_INT = 0, CLASS_OTHER = 1, CLASS_REJECTED = 2 };

/* Fails the running task (or the call) with the `len` bytes at `msg`: the library's
 * one way out (C, Rust and jspi_shim.s all use it); the only caller of jspi.fail. */
__attribute__((noreturn)) void jspi_fail_with(const char *msg, uint32_t len);

/* jspi_fail_with for a NUL-terminated `msg`. */
JSPI_HIDDEN __attribute__((noreturn)) void jspi_fail_cstr(const char *msg);

/* The int32 a settled promise fulfilled with. A rejection fails the task with its
 * reason, as `await` in JS throws it; any other value fails it with `not_int`. */
JSPI_HIDDEN int32_t jspi_settled_int(__externref_t settled, const char *not_int);

/* Fails unless [dst, dst + len) lies inside memory; `who` starts the message. */
JSPI_HIDDEN void jspi_check_buffer(const char *who, void *dst, uint32_t len);

/* The value's length as bytes, or -1 with a status for what it is instead. */
JSPI_HIDDEN int32_t jspi_settled_bytes(__externref_t settled, jspi_status *status);

/* Frees `slot` of the externref slot table, whose value the caller goes on holding. */
JSPI_HIDDEN void jspi_free_slot(uint32_t slot);

#endif
