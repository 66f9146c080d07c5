//! Hosts for jspi guest modules.
//!
//! - On wasmtime: JSPI's semantics for Rust embedders. A suspending import is an async
//!   Rust function, like `new WebAssembly.Suspending(f)`; an export started with
//!   [`Instance::promising`] is a promising task, like `WebAssembly.promising(f)`, and
//!   many of them can be suspended at once on one instance, interleaving exactly as
//!   under JSPI. Built on wasmtime's stack switching through a generated adapter
//!   module (see [`adapter`]); tasks resume on a single-threaded [`Executor`].
//! - The guest library's contract ([`jspi`]): a module linked with the guest library
//!   gets its `jspi.*` imports from the host, with no code of yours; its promising
//!   calls run the library's task hooks (enter, leave, done), its plain calls are
//!   bracketed by the library's call hooks so that a trap leaves the shadow stack where
//!   it began,
//!   and [`Instance::stats`] reads its counters. JavaScript-like values cross as
//!   [`JsValue`]s; `jspi.await` waits for a [`Promise`].
//! - On Node: the runner in `js/` beside this crate ([`node_runner`]).
//!
//! # Example
//!
//! A guest whose export `double` awaits a promise the host hands it (through the
//! library's import `jspi.await`, which the host provides); two calls are in flight on
//! one instance at once, and the second settles first:
//!
//! ```
//! use std::{cell::RefCell, rc::Rc};
//! use host::{engine, Executor, Imports, Instance, JsValue, Promise};
//!
//! let wasm = wat::parse_str(r#"
//!     (module
//!       (import "jspi" "await" (func $await (param externref) (result externref)))
//!       (import "jspi" "int_value" (func $int_value (param externref) (result i32)))
//!       (import "env" "fetch" (func $fetch (param i32) (result externref)))
//!       (func (export "double") (param i32) (result i32)
//!         (i32.mul (call $int_value (call $await (call $fetch (local.get 0))))
//!                  (i32.const 2))))"#)?;
//!
//! // The host's own imports; `jspi.*` come with the host. `env.fetch` hands the guest
//! // a promise, kept in the instance's data to settle later.
//! let mut imports: Imports<Vec<Promise>> = Imports::new();
//! imports.func("env", "fetch", |cx, _args| {
//!     let promise = Promise::new();
//!     cx.data_mut().push(promise.clone());
//!     Ok(Some(JsValue::Promise(promise).into_val()))
//! });
//! let executor = Executor::new();
//! let instance = Instance::new(&engine()?, &wasm, &imports, Vec::new(), &executor)?;
//!
//! // Both run now until they suspend in `jspi.await`.
//! let tasks = [instance.promising("double", &[1])?, instance.promising("double", &[2])?];
//! let results = Rc::new(RefCell::new(Vec::new()));
//! for task in tasks {
//!     let results = results.clone();
//!     executor.spawn(async move {
//!         let value = task.await.expect("no trap");
//!         results.borrow_mut().push(value.and_then(|v| v.i32()));
//!     });
//! }
//! let promises = instance.with_data(|promises| promises.clone());
//! promises[1].settle(Ok(JsValue::Int(21)));
//! executor.run_until_stalled();
//! promises[0].settle(Ok(JsValue::Int(20)));
//! executor.run_until_stalled();
//! assert_eq!(*results.borrow(), [Some(42), Some(40)]);
//!
//! // This guest was not linked with the guest library: no hooks, no counters.
//! assert!(instance.require_guest_library().is_err());
//! assert!(instance.stats()?.is_none());
//! # Ok::<(), host::Error>(())
//! ```
//!
//! A C or Rust guest linked with the guest library runs with exactly this code: the
//! host finds the library's exports at instantiation and runs its hooks itself.
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
pub mod value;

use std::path::PathBuf;

pub use executor::Executor;
pub use jspi::{NotLinked, Stats};
pub use runtime::jspi;
pub use runtime::{
    config, engine, Compiled, Cx, Data, Imports, Instance, MissingImports, Task, INITIALIZE_FAILED,
    WASI_MODULE,
};
pub use value::{Exception, HostRef, ImportFuture, JsValue, Promise, Val};
pub use wasmtime::Error;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
/// The wasmtime this crate is built on (for [`wasmtime::Trap`], [`wasmtime::Config`]).
pub use wasmtime;
/// The wasmtime-wasi this crate is built on ([`Imports::wasi`] takes its
/// `p1::WasiP1Ctx`, made with its `WasiCtxBuilder`).
pub use wasmtime_wasi;

/// The directory holding the Node runner (`runner.mjs` and its modules).
pub fn node_runner_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// The Node runner's entry point.
pub fn node_runner() -> PathBuf {
    node_runner_dir().join("runner.mjs")
}
