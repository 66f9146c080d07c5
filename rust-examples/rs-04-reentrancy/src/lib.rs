//! 04-reentrancy in Rust: two suspended tasks share one shadow stack.
//!
//! The same exports, schedule (`scenario.json`) and transcripts as
//! `c-examples/04-reentrancy`, with no C and no JavaScript: rustc keeps `victim`'s
//! escaped array on the shadow stack exactly as clang keeps the C string.
//!
//!   1. `allocateOnStackAndSleep` starts, puts 16 bytes on the shadow stack, suspends;
//!   2. `victim` starts *below* those bytes, puts its string there, suspends;
//!   3. `allocateOnStackAndSleep` resumes and returns: `__stack_pointer` goes back up
//!      past `victim`'s frame, which is now free space as far as anyone can tell;
//!   4. `overwritesVictimsStack`, a plain synchronous call, puts a long string there;
//!   5. `victim` resumes and prints its string.
//!
//! With strategy `none` step 5 prints the other function's bytes; with `eager` or
//! `lazy` the guest library saves `victim`'s bytes and puts them back first.

// The guest exists only for wasm32; natively (cargo test --workspace) it is empty.
#![cfg(target_arch = "wasm32")]
#![no_std]

use core::ffi::CStr;

use jspi::promising;

/// The imports declared in build.rs (`delay`).
mod host {
    include!(concat!(env!("OUT_DIR"), "/jspi_imports.rs"));
}

/// Plain imports of the host environment (docs/abi.md) need no adapter.
mod env {
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        pub fn log_str_str(label: *const u8, s: *const u8);
        pub fn escape(p: *mut u8);
    }
}

/// Prints `C: label s`. Like C's `printf("%s")`, the host reads `s` up to its first
/// NUL (the bytes in this example end with one; the host bounds-checks the read).
fn log_str_str(label: &CStr, s: &[u8]) {
    // SAFETY: `label` is NUL-terminated; the host only reads memory.
    unsafe { env::log_str_str(label.as_ptr().cast(), s.as_ptr()) }
}

/// Makes the compiler keep `bytes` in linear memory (the host does nothing with it).
fn escape(bytes: &mut [u8]) {
    // SAFETY: the host reads nothing; the pointer is valid for the call.
    unsafe { env::escape(bytes.as_mut_ptr()) }
}

/// Bytes aligned as clang aligns a local `char x[]`: with the same alignment rustc
/// lays out each frame exactly as clang does for `main.c`, so with strategy `none`
/// even the overwritten bytes `victim` prints are those of the C example.
#[repr(C, align(16))]
struct Local<const N: usize>([u8; N]);

promising! {
    /// Puts 16 bytes on the shadow stack and sleeps once.
    #[unsafe(export_name = "allocateOnStackAndSleep")]
    pub fn allocate_on_stack_and_sleep(task: &Task) {
        let mut x = Local(7i32.to_ne_bytes());
        escape(&mut x.0);
        host::delay(0).wait(task);
    }

    /// Prints its string, sleeps 500 ms, prints it again.
    #[unsafe(export_name = "victim")]
    pub fn victim(task: &Task) {
        let mut x = Local(*b"victim's important string\0");
        escape(&mut x.0);
        log_str_str(c"victim1", &x.0);
        host::delay(500).wait(task);
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
