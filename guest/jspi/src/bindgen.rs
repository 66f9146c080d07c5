//! wasm-bindgen interop (feature `wasm-bindgen`, wasm32): wait on a `JsValue` or a
//! `js_sys::Promise` with this library's await, so the strategies keep the shadow
//! stack safe, and get the value back as a `JsValue`.
//!
//! wasm-bindgen keeps JS values in its own table, which its generated code reads and
//! fills only around imports; the library keeps them in its slot table. Two host
//! functions that a wasm-bindgen guest imports from the `jspi` module move a value
//! across (`jspi.bindgen_store`, which hands it to the module's export
//! `jspi_bindgen_store`, and `jspi.bindgen_load`, which reads a slot back through
//! `jspi_bindgen_load`); the JS package provides both as wasm functions that call
//! those exports directly, so no JavaScript runs between (docs/abi.md). Both take and
//! return only externrefs and `i32`s, which wasm-bindgen passes to an import as they
//! are, with no JS wrapper of its own.

use wasm_bindgen::prelude::*;

use crate::{ExternRef, Promise, Rejected, Task};

#[wasm_bindgen(module = "jspi")]
extern "C" {
    /// Stores `value` in the library's slot table and returns the slot.
    #[wasm_bindgen(js_name = bindgen_store)]
    fn store(value: &JsValue) -> u32;

    /// The value in `slot`, as a wasm-bindgen value (the slot stays). An `i32`, not
    /// a `u32`, which wasm-bindgen would convert in a JS wrapper of its own.
    #[wasm_bindgen(js_name = bindgen_load)]
    fn load(slot: i32) -> JsValue;
}

/// Moves a wasm-bindgen value into an owned [`ExternRef`].
pub fn to_extern(value: &JsValue) -> ExternRef {
    // SAFETY: the host's `bindgen_store` returns a fresh slot (or fails the call).
    unsafe { ExternRef::__from_slot(store(value)) }
}

/// The value of `handle` as a wasm-bindgen value.
pub fn to_js(handle: &ExternRef) -> JsValue {
    load(handle.__slot() as i32)
}

/// Suspends the running task until `promise` settles and returns its value; a
/// rejection fails the task with the reason, as `await` does in JS. Anything that is
/// not a promise counts as one already fulfilled with itself.
///
/// ```ignore
/// // In a wasm-bindgen guest (see rust-examples/rs-08-wasm-bindgen):
/// #[wasm_bindgen(module = "env")]
/// extern "C" {
///     fn delay(ms: i32) -> js_sys::Promise;
/// }
/// jspi::promising! {
///     #[unsafe(export_name = "sleepy")]
///     pub fn sleepy(task: &Task) {
///         let _null: JsValue = jspi::bindgen::wait(&delay(500), task);
///     }
/// }
/// ```
pub fn wait(promise: &impl AsRef<JsValue>, task: &Task) -> JsValue {
    let value = Promise::<ExternRef>::from_extern(to_extern(promise.as_ref())).wait(task);
    to_js(&value)
}

/// As [`wait`], but a rejection comes back as `Err(reason)`.
pub fn try_wait(promise: &impl AsRef<JsValue>, task: &Task) -> Result<JsValue, JsValue> {
    match Promise::<ExternRef>::from_extern(to_extern(promise.as_ref())).try_wait(task) {
        Ok(value) => Ok(to_js(&value)),
        Err(Rejected { reason }) => Err(to_js(&reason)),
    }
}
