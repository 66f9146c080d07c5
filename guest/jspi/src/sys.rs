//! The C shim's functions the Rust API calls (`shim/jspi_slots.c`), declared once here.
//!
//! On wasm32 they are the real functions. On any other target the API's types still
//! compile (so the compile-fail tests and doc tests build natively), but nothing can
//! produce a handle there: each function stops with a message saying so.

#[cfg(target_arch = "wasm32")]
mod imp {
    unsafe extern "C" {
        pub fn jspi_ref_drop(slot: u32);
        pub fn jspi_ref_into_raw(slot: u32) -> u32;
        pub fn jspi_ref_from_raw(raw: u32) -> u32;
        pub fn jspi_slot_await_int(promise: u32) -> i32;
        pub fn jspi_slot_await_ref(promise: u32) -> u32;
        pub fn jspi_slot_await_void(promise: u32);
        pub fn jspi_slot_try_await_int(promise: u32) -> u64;
        pub fn jspi_slot_try_await_ref(promise: u32) -> u64;
        pub fn jspi_slot_await_bytes(promise: u32, dst: *mut u8, len: u32) -> i32;
        pub fn jspi_slot_try_await_bytes(
            promise: u32,
            dst: *mut u8,
            len: u32,
            size: *mut u32,
        ) -> u64;
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    fn native() -> ! {
        panic!("jspi: handles and awaits exist only in a wasm32 guest (this is a native build)")
    }
    pub unsafe fn jspi_ref_drop(_: u32) {
        native()
    }
    pub unsafe fn jspi_ref_into_raw(_: u32) -> u32 {
        native()
    }
    pub unsafe fn jspi_ref_from_raw(_: u32) -> u32 {
        native()
    }
    pub unsafe fn jspi_slot_await_int(_: u32) -> i32 {
        native()
    }
    pub unsafe fn jspi_slot_await_ref(_: u32) -> u32 {
        native()
    }
    pub unsafe fn jspi_slot_await_void(_: u32) {
        native()
    }
    pub unsafe fn jspi_slot_try_await_int(_: u32) -> u64 {
        native()
    }
    pub unsafe fn jspi_slot_try_await_ref(_: u32) -> u64 {
        native()
    }
    pub unsafe fn jspi_slot_await_bytes(_: u32, _: *mut u8, _: u32) -> i32 {
        native()
    }
    pub unsafe fn jspi_slot_try_await_bytes(_: u32, _: *mut u8, _: u32, _: *mut u32) -> u64 {
        native()
    }
}

pub use imp::*;

/// Whether the running code is inside a promising task (never, natively).
pub fn can_suspend() -> bool {
    #[cfg(target_arch = "wasm32")]
    return crate::guest::jspi_can_suspend() != 0;
    #[cfg(not(target_arch = "wasm32"))]
    return false;
}

/// Splits a packed `(status << 32) | value` result of a `jspi_slot_try_await_*`.
pub fn unpack(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}

/// `JSPI_OK` in `jspi.h`.
pub const STATUS_OK: u32 = 0;
/// `JSPI_REJECTED` in `jspi.h`.
pub const STATUS_REJECTED: u32 = 1;
/// `JSPI_TOO_LONG` in `jspi.h`.
pub const STATUS_TOO_LONG: u32 = 4;
