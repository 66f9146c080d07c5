//! The guest library that C and Rust guests link: block synchronous wasm32 code on
//! host promises through JSPI, with the shadow stack kept safe.
//!
//! It owns the module's shadow-stack state (`guest/stack-state`) and exposes it to the
//! assembly shim (`shim/jspi_shim.s`), which is the only code that moves
//! `__stack_pointer` and the only caller of the suspending import. The C API lives in
//! `include/jspi.h` and `shim/jspi_api.c`, the externref slot table the Rust API uses
//! in `shim/jspi_slots.c`. The strategy is chosen at build time with exactly one of
//! the features `strategy-none`, `strategy-eager`, `strategy-lazy`, `strategy-adaptive`.
//!
//! # The Rust API
//!
//! A Rust guest is a `cdylib` for `wasm32-unknown-unknown` (`no_std`, or std with the
//! feature `std`) that depends on this crate with one strategy feature. It needs no C
//! and no JavaScript:
//!
//! - [`Promise<T>`]: a host promise whose value is a `T` (`i32`, [`ExternRef`] or
//!   `()`). [`Promise::wait`] suspends the running task and returns a `T`, so waiting
//!   on a promise as the wrong type does not compile; it consumes the promise, so a
//!   promise cannot be awaited twice.
//! - [`ExternRef`]: an owned host value. It owns a slot of the library's externref
//!   table and frees it on drop; it is not `Copy`, not `Send`, not `Sync`.
//! - [`promising!`]: defines the exports the host starts as promising tasks, and lends
//!   each a [`Task`] token; waiting needs that token, so a plain export cannot wait.
//! - [`build::Imports`] (feature `build`, in the guest's `build.rs`): declares host
//!   imports that return promises or take host values, as Rust-like signatures, and
//!   generates typed functions for them (stable Rust has no `externref`, so a
//!   generated assembly adapter per import moves the values through the slot table).
//! - `jspi::bindgen` (feature `wasm-bindgen`, wasm32): a guest that uses wasm-bindgen
//!   waits on a `JsValue` or `js_sys::Promise` with this library's await and
//!   strategies, and gets a `JsValue` back.
//!
//! What types cannot catch fails at run time with a one-line message: waiting in an
//! export the host called synchronously instead of as a promising task, a raw handle
//! ([`ExternRef::from_raw`]) that this instance did not give out, a full slot table.
//!
//! ```no_run
//! # // Compiled natively as a check (the imports below are stand-ins for those a
//! # // build.rs generates); rust-examples/rs-07-handles runs the same in wasm32.
//! # mod host {
//! #     pub fn delay(ms: i32) -> jspi::Promise<()> { unimplemented!() }
//! #     pub fn fake_fetch(x: i32) -> jspi::Promise<i32> { unimplemented!() }
//! # }
//! use jspi::promising;
//!
//! promising! {
//!     /// Fetches twice, sleeping in between; other tasks run meanwhile.
//!     #[unsafe(export_name = "fetchTwice")]
//!     pub fn fetch_twice(task: &Task, x: i32) -> i32 {
//!         let first: i32 = host::fake_fetch(x).wait(task);
//!         host::delay(100).wait(task);
//!         host::fake_fetch(first).wait(task)
//!     }
//! }
//! ```
//!
//! Natively the types compile (the compile-fail tests in `ui/` and these examples are
//! checked with `cargo test`), but no handle can be made outside wasm32, so examples
//! that wait are `no_run` here; `cargo xtask test` runs the same code as the guests in
//! `rust-examples/`, on every host.

#![no_std]

#[cfg(any(feature = "build", all(feature = "std", target_arch = "wasm32")))]
extern crate std;

#[cfg(target_arch = "wasm32")]
mod guest;

#[cfg(all(feature = "wasm-bindgen", target_arch = "wasm32"))]
pub mod bindgen;
#[cfg(feature = "build")]
pub mod build;
mod externref;
mod promise;
mod sys;

pub use externref::{ExternRef, ForeignHandle};
pub use promise::{Awaitable, Bytes, BytesError, Promise, Rejected, Settled, Task};

/// Whether the running code is inside a promising task and may wait; `false` in an
/// export the host called synchronously (and always, natively).
pub fn can_suspend() -> bool {
    sys::can_suspend()
}

/// Fails the running call or task with `message`, which the host reports as is (a
/// task is rejected with it, a synchronous call fails with it). Guest panics end the
/// same way, with their location. Natively this panics.
pub fn fail(message: impl core::fmt::Display) -> ! {
    #[cfg(target_arch = "wasm32")]
    guest::fail(format_args!("{message}"));
    #[cfg(not(target_arch = "wasm32"))]
    panic!("{message}");
}

/// The strategy this guest was built with: `"none"`, `"eager"`, `"lazy"` or `"adaptive"`; `""`
/// natively.
pub fn strategy() -> &'static str {
    #[cfg(target_arch = "wasm32")]
    return guest::strategy_name();
    #[cfg(not(target_arch = "wasm32"))]
    return "";
}
