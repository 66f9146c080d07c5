//! rs-07-handles: host values, rejections, and the misuse that only shows at run time.
//!
//! `scenario.json` drives these exports; each failure in the transcript is a check of
//! the Rust API's run-time errors (the compile-time ones are `guest/jspi/ui/`):
//!
//! - `fetchTwice`: two typed awaits and a sleep, as in the crate's docs; called
//!   synchronously it fails at its first wait with the message that names the fix;
//! - `keepValue` / `showValue`: a host value leaves the guest as a raw handle
//!   (`ExternRef::into_raw`) and comes back (`from_raw`); a second `showValue` with
//!   the same number, or a number this instance never gave out, is refused;
//! - `catchRejection` / `failOnRejection`: `try_wait` hands over the reason, `wait`
//!   fails the task with it, as JS `await` does;
//! - `notAnInt`: a `Promise<i32>` that fulfills with something else fails the task;
//! - `fillSlots`: holding more host values than the slot table has room for fails
//!   with a message instead of corrupting anything;
//! - `panics`: a Rust panic fails the call with its message and location.

// The guest exists only for wasm32; natively (cargo test --workspace) it is empty.
#![cfg(target_arch = "wasm32")]
#![no_std]

use jspi::{promising, ExternRef, Promise};

/// The imports declared in build.rs.
mod host {
    include!(concat!(env!("OUT_DIR"), "/jspi_imports.rs"));
}

promising! {
    /// `fake_fetch(x)`, a 100 ms sleep, then `fake_fetch` of the first result.
    #[unsafe(export_name = "fetchTwice")]
    pub fn fetch_twice(task: &Task, x: i32) -> i32 {
        let first: i32 = host::fake_fetch(x).wait(task);
        host::delay(100).wait(task);
        host::fake_fetch(first).wait(task)
    }

    /// Waits for `value` (kept first as a plain host value, then typed), prints it and
    /// hands it to the host as a raw handle.
    #[unsafe(export_name = "keepValue")]
    pub fn keep_value(task: &Task, value: i32) -> u32 {
        let promise = Promise::<ExternRef>::from_extern(host::delayed_int(value, 10));
        let value = promise.wait(task);
        host::log_ref(&value);
        value.into_raw()
    }

    /// A rejection handled in Rust: prints the reason and returns 1.
    #[unsafe(export_name = "catchRejection")]
    pub fn catch_rejection(task: &Task, code: i32) -> i32 {
        match host::rejecting(code, 10).try_wait(task) {
            Ok(_) => 0,
            Err(rejected) => {
                host::log_ref(&rejected.reason);
                1
            }
        }
    }

    /// A rejection not handled: the task fails with the reason.
    #[unsafe(export_name = "failOnRejection")]
    pub fn fail_on_rejection(task: &Task, code: i32) {
        let _value = host::rejecting(code, 10).wait(task);
        unreachable!("the wait above fails the task");
    }

    /// Waits for `len` bytes into a buffer on its own stack (`Promise<Bytes>`), and
    /// returns how many of them match the host's pattern (byte i is seed + 7 i); then
    /// shows what a buffer too small for the bytes gets.
    #[unsafe(export_name = "readBytes")]
    pub fn read_bytes(task: &Task, len: i32, seed: i32) -> i32 {
        let mut buf = [0u8; 256];
        let n = host::bytes_after(len, seed, 10).wait_into(&mut buf, task);
        let good = (0..n).filter(|&i| buf[i] == (seed as u8).wrapping_add(7 * i as u8)).count();
        let mut small = [0u8; 4];
        match host::bytes_after(10, seed, 1).try_wait_into(&mut small, task) {
            Err(jspi::BytesError::TooLong { total: 10 }) if small[1] == (seed as u8).wrapping_add(7) => {
                good as i32
            }
            _ => -1,
        }
    }

    /// Declares a promise of a string (a rejection's reason) as a `Promise<i32>`.
    #[unsafe(export_name = "notAnInt")]
    pub fn not_an_int(task: &Task) -> i32 {
        let reason = match host::rejecting(3, 0).try_wait(task) {
            Ok(value) | Err(jspi::Rejected { reason: value }) => value,
        };
        Promise::<i32>::from_extern(reason).wait(task)
    }
}

/// Prints a value that `keepValue` gave out, taking its handle back (and freeing it).
#[unsafe(export_name = "showValue")]
pub extern "C" fn show_value(raw: u32) {
    match ExternRef::from_raw(raw) {
        Ok(value) => host::log_ref(&value),
        Err(refused) => jspi::fail(refused),
    }
}

/// Keeps host values until the slot table is full.
#[unsafe(export_name = "fillSlots")]
pub extern "C" fn fill_slots() {
    loop {
        // Each raw handle keeps its slot: nothing frees them.
        host::delayed_int(0, 0).into_raw();
    }
}

/// A plain Rust panic.
#[unsafe(export_name = "panics")]
pub extern "C" fn panics(x: i32) -> i32 {
    let values = [1, 2, 3];
    values[x as usize]
}
