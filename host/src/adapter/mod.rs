//! The adapter module: JSPI's semantics built from wasmtime's stack switching.
//!
//! For each guest module the host generates (with `wasm-encoder`, from the guest's
//! imports and exports read with `wasmparser`) a second module that sits between the
//! guest and the host:
//!
//! ```text
//!            host (Rust)                       adapter (generated)                guest
//!   drive(w, a, b) ───────────────▶ resume conts[w] ─▶ worker w: loop {
//!                                                         call_indirect tramps[req] ─▶ export k
//!                                      ◀─ on $idle ◀──    suspend $idle }     (finished)
//!   ◀─ (0, 0): the call finished
//!                                                    wrapper of a suspending import ◀─ import i
//!   start<i>(args) ─▶ future, id ◀─────────────────     id = host.start<i>(args)
//!   ◀─ (1, id): the call awaits    ◀─ on $await ◀───    suspend $await id
//!   (future completes) drive(w, status, payload) ─▶     ... the wrapper returns to the guest
//! ```
//!
//! - A *worker* is a continuation running `$worker`: it calls one export through its
//!   trampoline, then suspends on `$idle` and waits for the next request, so one
//!   continuation serves many calls. wasmtime frees no continuation before its store
//!   is dropped, so the host keeps idle workers in a pool instead of making one per
//!   call. Continuation `w` lives in slot `w` of the table `$conts` while it is not
//!   running; a slot is null for a worker that has not started or that died in a trap
//!   (the next call through it starts a fresh one).
//! - The guest is called with `call_indirect` through the table `$exports`, which the
//!   host fills once both instances exist: no host frame may sit between a handler
//!   and a `suspend`, and this breaks the import cycle between the two modules.
//! - Externref values never exist as GC objects: the host hands the guest i31
//!   references (`extern.convert_any (ref.i31 id)`) naming entries of its own object
//!   table, and the adapter converts them back to ids at every crossing, so the guest
//!   sees opaque externrefs and the host's values never make the collector run
//!   (wasmtime 48 panicked when one ran while continuations were suspended, #14239;
//!   50 does not, so a guest's own GC objects are fine too).
//! - For a guest linked with the guest library, `begin(w, k)` is a task's first run
//!   with its hooks in one call from the host: `jspi_task_enter`, `drive(w, k, 0)`,
//!   `jspi_task_leave`, telling the host how far it got (`host.began`, `host.ran`)
//!   so that a trap anywhere leaves it knowing what is left to do. Every other
//!   crossing is one call too: no export is looked up by name, no host import converts
//!   its values through untyped vectors (the host's `hostfn` module).
//! - Every continuation has the type `cont (func (param i32 i32))`: a fresh worker
//!   takes (request, unused), a worker idle on `$idle` takes the next (request, unused),
//!   and a task waiting on `$await` takes (status, payload): status 0 with the value
//!   (an i32 or an object id), or 1 with an error id that `host.raise` turns into the
//!   task's error at the point of the await.

use std::collections::HashMap;
use std::fmt;

mod build;

pub use build::build;

use wasm_encoder::{RefType, ValType};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// A value type the host can pass across the boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `externref`: a host object (or null).
    Ref,
}

impl Ty {
    fn from_parser(ty: wasmparser::ValType) -> Option<Ty> {
        Some(match ty {
            wasmparser::ValType::I32 => Ty::I32,
            wasmparser::ValType::I64 => Ty::I64,
            wasmparser::ValType::F32 => Ty::F32,
            wasmparser::ValType::F64 => Ty::F64,
            wasmparser::ValType::Ref(r) if r == wasmparser::RefType::EXTERNREF => Ty::Ref,
            _ => return None,
        })
    }

    /// How the type looks on the guest's side.
    fn guest(self) -> ValType {
        match self {
            Ty::I32 => ValType::I32,
            Ty::I64 => ValType::I64,
            Ty::F32 => ValType::F32,
            Ty::F64 => ValType::F64,
            Ty::Ref => ValType::Ref(RefType::EXTERNREF),
        }
    }

    /// How the type looks on the host's side of the adapter: an object id for a ref.
    fn lowered(self) -> ValType {
        match self {
            Ty::Ref => ValType::I32,
            other => other.guest(),
        }
    }
}

/// A function signature in [`Ty`]s.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sig {
    /// Parameter types.
    pub params: Vec<Ty>,
    /// Result types.
    pub results: Vec<Ty>,
}

impl Sig {
    /// Whether an externref appears among the parameters or results.
    pub fn has_ref(&self) -> bool {
        self.params.contains(&Ty::Ref) || self.results.contains(&Ty::Ref)
    }

    /// The signature of a type-section entry: `None` for one that is no function, or
    /// a function with a type the host cannot pass.
    fn of(ty: &wasmparser::CompositeInnerType) -> Option<Sig> {
        let wasmparser::CompositeInnerType::Func(f) = ty else {
            return None;
        };
        let params: Option<Vec<Ty>> = f.params().iter().map(|&t| Ty::from_parser(t)).collect();
        let results: Option<Vec<Ty>> = f.results().iter().map(|&t| Ty::from_parser(t)).collect();
        Some(Sig {
            params: params?,
            results: results?,
        })
    }
}

impl fmt::Display for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |tys: &[Ty]| {
            tys.iter()
                .map(|t| format!("{t:?}").to_lowercase().replace("ref", "externref"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// One function the guest imports.
#[derive(Clone, Debug)]
pub struct GuestImport {
    /// Import module.
    pub module: String,
    /// Import name.
    pub name: String,
    /// Its signature.
    pub sig: Sig,
}

/// One function the guest exports that the host can call: all parameters i32, at
/// most one result.
#[derive(Clone, Debug)]
pub struct GuestExport {
    /// Export name.
    pub name: String,
    /// Number of i32 parameters.
    pub params: usize,
    /// The result type, if any.
    pub result: Option<Ty>,
}

/// What the host needs to know about a guest module.
#[derive(Clone, Debug, Default)]
pub struct GuestShape {
    /// Function imports, in import order.
    pub imports: Vec<GuestImport>,
    /// Imports of anything but functions (`module.name`), which hosts do not provide.
    pub other_imports: Vec<String>,
    /// Callable exports, in export order; their index is their trampoline's index.
    pub exports: Vec<GuestExport>,
    /// Exported functions the host cannot call, with the reason.
    pub uncallable: HashMap<String, String>,
}

/// Reads the guest's imports and exports.
pub fn read_shape(wasm: &[u8]) -> Result<GuestShape, String> {
    let mut types: Vec<Option<Sig>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut shape = GuestShape::default();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(|e| e.to_string())?.into_types() {
                        types.push(Sig::of(&sub.composite_type.inner));
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    let qualified = format!("{}.{}", import.module, import.name);
                    match import.ty {
                        TypeRef::Func(index) | TypeRef::FuncExact(index) => {
                            func_types.push(index);
                            let sig = types.get(index as usize).cloned().flatten().ok_or_else(|| {
                                format!("import {qualified} has a type the host cannot pass (only i32, i64, f32, f64, externref)")
                            })?;
                            shape.imports.push(GuestImport {
                                module: import.module.to_string(),
                                name: import.name.to_string(),
                                sig,
                            });
                        }
                        _ => shape.other_imports.push(qualified),
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    if export.kind == ExternalKind::Func {
                        exports.push((export.name.to_string(), export.index));
                    }
                }
            }
            _ => {}
        }
    }
    sort_exports(&mut shape, exports, &func_types, &types);
    Ok(shape)
}

/// Puts each exported function (name, function index) in `shape`'s callable exports
/// or, with the reason, its uncallable ones, by its type.
fn sort_exports(
    shape: &mut GuestShape,
    exports: Vec<(String, u32)>,
    func_types: &[u32],
    types: &[Option<Sig>],
) {
    for (name, func) in exports {
        let sig = func_types
            .get(func as usize)
            .and_then(|&t| types.get(t as usize).cloned().flatten());
        match sig {
            Some(sig) if sig.params.iter().all(|&t| t == Ty::I32) && sig.results.len() <= 1 => {
                shape.exports.push(GuestExport {
                    name,
                    params: sig.params.len(),
                    result: sig.results.first().copied(),
                })
            }
            Some(sig) => {
                shape.uncallable.insert(
                    name,
                    format!("its signature {sig} is not (i32...) -> (at most one value)"),
                );
            }
            None => {
                shape
                    .uncallable
                    .insert(name, "its signature uses types the host cannot pass".into());
            }
        }
    }
}

/// How the guest gets one of its imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportRoute {
    /// Straight from a host function (numbers only).
    Direct,
    /// Through an adapter wrapper that turns externrefs into object ids.
    Lowered,
    /// Through an adapter wrapper that suspends the calling task.
    Suspending,
}

/// Names of the adapter's exports and imports.
pub mod names {
    /// Export: `(worker, a, b) -> (kind, payload)`.
    pub const DRIVE: &str = "drive";
    /// Export: `(workers)`: grows the continuation table.
    pub const ENSURE: &str = "ensure";
    /// Export: the table the host fills with the guest's callable exports.
    pub const EXPORTS: &str = "exports";
    /// Import module of everything the adapter imports.
    pub const HOST: &str = "host";
    /// Import: `(i) -> i32`, argument `i` of the call being made.
    pub const ARG: &str = "arg";
    /// Import: `(id)`, fails the running task with error `id`.
    pub const RAISE: &str = "raise";
    /// Export, for a guest with the guest library's task hooks: `(worker, export) ->
    /// (kind, payload, task id)`: a promising call's first run with its hooks, in one
    /// call from the host: `jspi_task_enter`, then `drive(worker, export, 0)`, then
    /// `jspi_task_leave`.
    pub const BEGIN: &str = "begin";
    /// Import: `(task id)`: `begin`'s task entered, and its call runs now.
    pub const BEGAN: &str = "began";
    /// Import: `(kind, payload)`: `begin`'s call stopped as `drive` says, and
    /// `jspi_task_leave` runs now.
    pub const RAN: &str = "ran";
    /// Export `wrap<i>`: the adapter's version of guest import `i`.
    pub fn wrapper(i: usize) -> String {
        format!("wrap{i}")
    }
    /// Import `lower<i>`: the host function behind guest import `i`, ids for refs.
    pub fn lowered(i: usize) -> String {
        format!("lower{i}")
    }
    /// Import `start<i>`: starts suspending import `i`, returns a pending id.
    pub fn start(i: usize) -> String {
        format!("start{i}")
    }
    /// Export `call<k>`: calls guest export `k` with the current arguments, on
    /// whatever stack it runs (a worker's, or the host's for a synchronous call).
    pub fn trampoline(k: usize) -> String {
        format!("call{k}")
    }
    /// Import `result_<ty>`: hands the finished call's result to the host.
    pub fn result(ty: super::Ty) -> &'static str {
        match ty {
            super::Ty::I32 => "result_i32",
            super::Ty::I64 => "result_i64",
            super::Ty::F32 => "result_f32",
            super::Ty::F64 => "result_f64",
            super::Ty::Ref => "result_ref",
        }
    }
}
