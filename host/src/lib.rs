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
//! # Example
//!
//! A guest whose export `double` blocks on a suspending import; two calls are in
//! flight on one instance at once:
//!
//! ```
//! use std::{cell::RefCell, rc::Rc};
//! use host::{engine, Executor, ImportFuture, Imports, Instance, Val};
//!
//! let wasm = wat::parse_str(r#"
//!     (module
//!       (import "env" "slow_double" (func $slow_double (param i32) (result i32)))
//!       (func (export "double") (param i32) (result i32)
//!         (call $slow_double (local.get 0))))"#)?;
//!
//! let mut imports = Imports::new();
//! // The calling task is suspended until the future completes.
//! imports.suspending("env", "slow_double", |_cx, args| {
//!     let x = args[0].i32().unwrap_or(0);
//!     let future: ImportFuture = Box::pin(async move { Ok(Some(Val::I32(2 * x))) });
//!     Ok(future)
//! });
//! let executor = Executor::new();
//! let instance = Instance::new(&engine()?, &wasm, &imports, (), &executor)?;
//!
//! // Both run until they suspend, right here; then the executor resumes them.
//! let tasks = [instance.promising("double", &[20])?, instance.promising("double", &[21])?];
//! let results = Rc::new(RefCell::new(Vec::new()));
//! for task in tasks {
//!     let results = results.clone();
//!     executor.spawn(async move {
//!         let value = task.await.expect("no trap");
//!         results.borrow_mut().push(value.and_then(|v| v.i32()));
//!     });
//! }
//! executor.run_until_stalled();
//! assert_eq!(*results.borrow(), [Some(40), Some(42)]);
//! # Ok::<(), host::Error>(())
//! ```
//!
//! Imports see the instance's data and memory through [`Cx`]; host objects cross as
//! [`Val::Ref`] (`externref`), which the guest can hold and pass back but not read.
//! A trap fails only the task it happens in; a plain [`Instance::call`] that reaches a
//! suspending import fails with an error saying to use [`Instance::promising`].
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
    config, engine, Compiled, Cx, Data, Error, HostRef, ImportFuture, Imports, Instance,
    MissingImports, Result, Task, Val,
};

/// The directory holding the Node runner (`runner.mjs` and its modules).
pub fn node_runner_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// The Node runner's entry point.
pub fn node_runner() -> PathBuf {
    node_runner_dir().join("runner.mjs")
}
