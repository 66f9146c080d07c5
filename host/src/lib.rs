//! Hosts for jspi guest modules.
//!
//! - On wasmtime: JSPI's semantics for Rust embedders. A suspending import is an async
//!   Rust function, like `new WebAssembly.Suspending(f)`; an export started with
//!   [`Instance::promising`] is a promising task, like `WebAssembly.promising(f)`, and
//!   many of them can be suspended at once on one instance, interleaving exactly as
//!   under JSPI. Built on wasmtime's stack switching through a generated adapter
//!   module (see [`adapter`]); tasks resume on a single-threaded [`Executor`].
//! - On Node: the runner in `js/` beside this crate ([`node_runner`]).
//!
//! [`runner`] runs a scenario (docs/abi.md) on wasmtime with the same host environment
//! and virtual clock as the Node runner; the `jspi-wasmtime` binary is its command line.

pub mod adapter;
pub mod executor;
pub mod runner;
mod runtime;

use std::path::PathBuf;

pub use executor::Executor;
pub use runtime::{
    config, engine, Cx, Data, Error, HostRef, ImportFuture, Imports, Instance, MissingImports, Result, Task, Val,
};

/// The directory holding the Node runner (`runner.mjs` and its modules).
pub fn node_runner_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// The Node runner's entry point.
pub fn node_runner() -> PathBuf {
    node_runner_dir().join("runner.mjs")
}
