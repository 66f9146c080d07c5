//! The guest library that C and Rust guests link (wasm32 only).
//!
//! It owns the module's shadow-stack state (`guest/stack-state`) and exposes it to the
//! assembly shim (`shim/jspi_shim.s`), which is the only code that moves
//! `__stack_pointer` and the only caller of the suspending import. The C API lives in
//! `include/jspi.h` and `shim/jspi_api.c`. The strategy is chosen at build time with
//! exactly one of the features `strategy-none`, `strategy-eager`, `strategy-lazy`.
//!
//! Natively this crate is empty, so `cargo test --workspace` can build it.

#![no_std]

#[cfg(target_arch = "wasm32")]
mod guest;
