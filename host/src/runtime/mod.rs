//! The public API: imports as Rust functions (plain or async), exports called plainly
//! or as promising tasks that interleave on one instance, as under JSPI.
//!
//! One concept per file: the import registry ([`imports`]), the host-call context
//! ([`cx`]), store data ([`data`]), compilation ([`compiled`]), the instance API
//! ([`instance`]), calling exports ([`calls`]), the drive loop ([`drive`]), the task
//! future ([`task`]), the host functions the adapter and the guest import
//! ([`hostfn`]), and the guest library's protocol, whose hooks the calls run and whose
//! imports the host provides itself ([`jspi`], public as `host::jspi`). The values that cross are [`crate::value`]'s. docs/architecture.md
//! follows an await through them.

mod calls;
mod compiled;
mod cx;
mod data;
mod drive;
mod hostfn;
mod imports;
mod instance;
pub mod jspi;
mod task;

use wasmtime::Engine;

use crate::value::{HostRef, ImportFuture, Val};
use crate::{Error, Result};
pub(crate) use calls::invoke;
pub use compiled::{Compiled, MissingImports};
pub use cx::Cx;
use data::Begin;
pub use data::Data;
pub use imports::Imports;
use imports::{Entry, Pending};
pub use instance::Instance;
pub use task::Task;

/// The context of the error when a guest's `_initialize` fails ([`Imports::wasi`]).
pub const INITIALIZE_FAILED: &str = "the guest's _initialize failed";

/// The module WASI preview 1 functions are imported from.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// A wasmtime [`Engine`] with what this crate needs enabled: stack switching, function
/// references, exceptions and GC (for `i31` references; no collection ever runs).
pub fn engine() -> Result<Engine> {
    Engine::new(&config())
}

/// The [`wasmtime::Config`] behind [`engine`], to adjust before making an engine.
pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config
        .wasm_stack_switching(true)
        .wasm_function_references(true)
        .wasm_exceptions(true)
        .wasm_gc(true);
    config
}
