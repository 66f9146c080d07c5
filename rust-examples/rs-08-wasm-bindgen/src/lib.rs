//! The reentrancy schedule (`c-examples/04-reentrancy`) in a guest that uses
//! wasm-bindgen for all its JS bindings: the host functions are wasm-bindgen imports,
//! `delay` returns a `js_sys::Promise`, and the guest waits on it with
//! `jspi::bindgen::wait`, so the guest library's strategy (not wasm-bindgen) keeps
//! `victim`'s shadow-stack bytes safe. xtask runs `wasm-bindgen --target nodejs` on
//! the module and the Node runner loads the generated glue.

// The guest exists only for wasm32; natively (cargo test --workspace) it is empty.
#![cfg(target_arch = "wasm32")]

use std::ffi::CStr;

use jspi::promising;
use wasm_bindgen::prelude::*;

/// The host environment of docs/abi.md, bound through wasm-bindgen.
#[wasm_bindgen(module = "env")]
extern "C" {
    /// A promise fulfilled with `null` after `ms` of virtual time.
    fn delay(ms: i32) -> js_sys::Promise;
    /// Prints `C: label s` (both NUL-terminated).
    #[wasm_bindgen(js_name = log_str_str)]
    fn log_str_str_raw(label: *const u8, s: *const u8);
    /// Does nothing; keeps a local in linear memory.
    #[wasm_bindgen(js_name = escape)]
    fn escape_raw(p: *mut u8);
}

/// Prints `C: label s`; the host reads `s` up to its first NUL, like C's `printf`.
fn log_str_str(label: &CStr, s: &[u8]) {
    log_str_str_raw(label.as_ptr().cast(), s.as_ptr());
}

/// Makes the compiler keep `bytes` in linear memory.
fn escape(bytes: &mut [u8]) {
    escape_raw(bytes.as_mut_ptr());
}

/// Bytes aligned as clang aligns a local `char x[]` (as in rs-04-reentrancy), so the
/// frames match the C example's.
#[repr(C, align(16))]
struct Local<const N: usize>([u8; N]);

promising! {
    /// Puts 16 bytes on the shadow stack and sleeps once.
    #[unsafe(export_name = "allocateOnStackAndSleep")]
    pub fn allocate_on_stack_and_sleep(task: &Task) {
        let mut x = Local(7i32.to_ne_bytes());
        escape(&mut x.0);
        jspi::bindgen::wait(&delay(0), task);
    }

    /// Prints its string, sleeps 500 ms, prints it again.
    #[unsafe(export_name = "victim")]
    pub fn victim(task: &Task) {
        let mut x = Local(*b"victim's important string\0");
        escape(&mut x.0);
        log_str_str(c"victim1", &x.0);
        jspi::bindgen::wait(&delay(500), task);
        log_str_str(c"victim2", &x.0);
    }
}

/// A plain synchronous call that writes a long string where `victim`'s frame was.
#[unsafe(export_name = "overwritesVictimsStack")]
pub extern "C" fn overwrites_victims_stack() {
    let mut x = Local(*b"this is a long string and it will write over a lot of other stuff!\0");
    escape(&mut x.0);
}

/// 1 inside a promising task, 0 in a plain synchronous call.
#[unsafe(export_name = "canSuspend")]
pub extern "C" fn can_suspend() -> i32 {
    i32::from(jspi::can_suspend())
}
