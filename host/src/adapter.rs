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

use wasm_encoder::{
    AbstractHeapType, BlockType, CodeSection, ConstExpr, ContType, ElementSection, Elements,
    EntityType, ExportKind, ExportSection, Function, FunctionSection, Handle, HeapType,
    ImportSection, Module, RefType, TableSection, TableType, TagKind, TagSection, TagType,
    TypeSection, ValType,
};
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
                        types.push(match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                let params: Option<Vec<Ty>> =
                                    f.params().iter().map(|&t| Ty::from_parser(t)).collect();
                                let results: Option<Vec<Ty>> =
                                    f.results().iter().map(|&t| Ty::from_parser(t)).collect();
                                params
                                    .zip(results)
                                    .map(|(params, results)| Sig { params, results })
                            }
                            _ => None,
                        });
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
    Ok(shape)
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

/// Interns function types by signature.
struct Types {
    section: TypeSection,
    funcs: HashMap<(Vec<ValType>, Vec<ValType>), u32>,
    count: u32,
}

impl Types {
    fn func(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        if let Some(&index) = self.funcs.get(&(params.to_vec(), results.to_vec())) {
            return index;
        }
        self.section
            .ty()
            .function(params.iter().copied(), results.iter().copied());
        let index = self.count;
        self.count += 1;
        self.funcs
            .insert((params.to_vec(), results.to_vec()), index);
        index
    }
}

/// Builds the adapter for `shape`, given how each guest import is routed.
pub fn build(shape: &GuestShape, routes: &[ImportRoute]) -> Vec<u8> {
    assert_eq!(shape.imports.len(), routes.len());
    let mut types = Types {
        section: TypeSection::new(),
        funcs: HashMap::new(),
        count: 0,
    };
    // The continuation type first: everything else refers to it.
    let t_worker = types.func(&[ValType::I32, ValType::I32], &[]);
    let t_cont = types.count;
    types.section.ty().cont(&ContType(t_worker));
    types.count += 1;
    let cont_ref = |nullable| {
        ValType::Ref(RefType {
            nullable,
            heap_type: HeapType::Concrete(t_cont),
        })
    };
    let t_tag_await = types.func(&[ValType::I32], &[ValType::I32, ValType::I32]);
    let t_tag_idle = types.func(&[], &[ValType::I32, ValType::I32]);
    let t_void = types.func(&[], &[]);
    let t_drive = types.func(
        &[ValType::I32, ValType::I32, ValType::I32],
        &[ValType::I32, ValType::I32],
    );
    let t_ensure = types.func(&[ValType::I32], &[]);
    let t_block_await = types.func(&[], &[ValType::I32, cont_ref(false)]);
    let t_i32_i32 = types.func(&[ValType::I32], &[ValType::I32]);
    let t_i32 = types.func(&[ValType::I32], &[]);
    let t_to_id = types.func(&[ValType::Ref(RefType::EXTERNREF)], &[ValType::I32]);
    let t_from_id = types.func(&[ValType::I32], &[ValType::Ref(RefType::EXTERNREF)]);

    // Imports from the host.
    let mut imports = ImportSection::new();
    let mut nfuncs = 0u32;
    let mut import = |imports: &mut ImportSection, name: &str, ty: u32| {
        imports.import(names::HOST, name, EntityType::Function(ty));
        nfuncs += 1;
        nfuncs - 1
    };
    let f_arg = import(&mut imports, names::ARG, t_i32_i32);
    let f_raise = import(&mut imports, names::RAISE, t_i32);
    let mut f_result = HashMap::new();
    for ty in [Ty::I32, Ty::I64, Ty::F32, Ty::F64, Ty::Ref] {
        let t = types.func(&[ty.lowered()], &[]);
        f_result.insert(ty, import(&mut imports, names::result(ty), t));
    }
    let f_began = import(&mut imports, names::BEGAN, t_i32);
    let t_i32_i32_void = types.func(&[ValType::I32, ValType::I32], &[]);
    let f_ran = import(&mut imports, names::RAN, t_i32_i32_void);
    let mut host_side = Vec::new(); // per guest import: the host function the wrapper calls
    for (i, (guest_import, route)) in shape.imports.iter().zip(routes).enumerate() {
        let sig = &guest_import.sig;
        let lowered_params: Vec<ValType> = sig.params.iter().map(|t| t.lowered()).collect();
        host_side.push(match route {
            ImportRoute::Direct => None,
            ImportRoute::Lowered => {
                let results: Vec<ValType> = sig.results.iter().map(|t| t.lowered()).collect();
                let t = types.func(&lowered_params, &results);
                Some(import(&mut imports, &names::lowered(i), t))
            }
            ImportRoute::Suspending => {
                let t = types.func(&lowered_params, &[ValType::I32]);
                Some(import(&mut imports, &names::start(i), t))
            }
        });
    }

    // Defined functions, in index order.
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut exports = ExportSection::new();
    let mut next = nfuncs;
    let mut define = |functions: &mut FunctionSection, ty: u32| {
        functions.function(ty);
        next += 1;
        next - 1
    };
    let tag_await = 0;
    let tag_idle = 1;
    let (table_conts, table_exports, table_tramps) = (0, 1, 2);

    // $to_id: externref -> object id (0 for null).
    let f_to_id = define(&mut functions, t_to_id);
    {
        let mut f = Function::new([]);
        f.instructions()
            .local_get(0)
            .ref_is_null()
            .if_(BlockType::Result(ValType::I32))
            .i32_const(0)
            .else_()
            .local_get(0)
            .any_convert_extern()
            .ref_cast_non_null(HeapType::Abstract {
                shared: false,
                ty: AbstractHeapType::I31,
            })
            .i31_get_u()
            .end()
            .end();
        code.function(&f);
    }
    // $from_id: object id -> externref (null for 0).
    let f_from_id = define(&mut functions, t_from_id);
    {
        let mut f = Function::new([]);
        f.instructions()
            .local_get(0)
            .i32_eqz()
            .if_(BlockType::Result(ValType::Ref(RefType::EXTERNREF)))
            .ref_null(HeapType::Abstract {
                shared: false,
                ty: AbstractHeapType::Extern,
            })
            .else_()
            .local_get(0)
            .ref_i31()
            .extern_convert_any()
            .end()
            .end();
        code.function(&f);
    }

    // Wrappers of the guest's imports.
    for (i, (guest_import, route)) in shape.imports.iter().zip(routes).enumerate() {
        let Some(host_fn) = host_side[i] else {
            continue;
        };
        let sig = &guest_import.sig;
        let params: Vec<ValType> = sig.params.iter().map(|t| t.guest()).collect();
        let results: Vec<ValType> = sig.results.iter().map(|t| t.guest()).collect();
        let t = types.func(&params, &results);
        let index = define(&mut functions, t);
        exports.export(&names::wrapper(i), ExportKind::Func, index);
        let nparams = params.len() as u32;
        // Locals after the params: status, payload.
        let mut f = Function::new([(2, ValType::I32)]);
        let mut ins = f.instructions();
        for (p, ty) in sig.params.iter().enumerate() {
            ins.local_get(p as u32);
            if *ty == Ty::Ref {
                ins.call(f_to_id);
            }
        }
        ins.call(host_fn);
        match route {
            ImportRoute::Lowered => {
                // At most one ref result is converted; multi-value results with refs are
                // converted only when they are the single result (checked by the host).
                if sig.results == [Ty::Ref] {
                    ins.call(f_from_id);
                }
            }
            ImportRoute::Suspending => {
                let (status, payload) = (nparams, nparams + 1);
                ins.suspend(tag_await)
                    .local_set(payload)
                    .local_set(status)
                    .local_get(status)
                    .if_(BlockType::Empty)
                    .local_get(payload)
                    .call(f_raise)
                    .unreachable()
                    .end();
                match sig.results.first() {
                    None => {}
                    Some(Ty::Ref) => {
                        ins.local_get(payload).call(f_from_id);
                    }
                    Some(_) => {
                        ins.local_get(payload);
                    }
                }
            }
            ImportRoute::Direct => unreachable!(),
        }
        ins.end();
        code.function(&f);
    }

    // Trampolines: call guest export k with the host's arguments, report its result.
    let mut tramps = Vec::new();
    for (k, export) in shape.exports.iter().enumerate() {
        let index = define(&mut functions, t_void);
        tramps.push(index);
        exports.export(&names::trampoline(k), ExportKind::Func, index);
        let params = vec![ValType::I32; export.params];
        let results: Vec<ValType> = export.result.iter().map(|t| t.guest()).collect();
        let t_export = types.func(&params, &results);
        let mut f = Function::new([]);
        let mut ins = f.instructions();
        for p in 0..export.params {
            ins.i32_const(p as i32).call(f_arg);
        }
        ins.i32_const(k as i32)
            .call_indirect(table_exports, t_export);
        if let Some(ty) = export.result {
            if ty == Ty::Ref {
                ins.call(f_to_id);
            }
            ins.call(f_result[&ty]);
        }
        ins.end();
        code.function(&f);
    }

    // $worker (req, unused): call trampoline `req`, wait idle for the next request.
    let f_worker = define(&mut functions, t_worker);
    {
        let mut f = Function::new([]);
        f.instructions()
            .loop_(BlockType::Empty)
            .local_get(0)
            .call_indirect(table_tramps, t_void)
            .suspend(tag_idle)
            .local_set(1)
            .local_set(0)
            .br(0)
            .end()
            .end();
        code.function(&f);
    }

    // drive (w, a, b) -> (kind, payload): resume worker w with (a, b) until it awaits
    // (kind 1, payload = pending id) or finishes its call (kind 0).
    let f_drive = define(&mut functions, t_drive);
    exports.export(names::DRIVE, ExportKind::Func, f_drive);
    {
        let (w, a, b, k, p) = (0, 1, 2, 3, 4);
        let mut f = Function::new([(1, cont_ref(true)), (1, ValType::I32)]);
        f.instructions()
            // k = conts[w], or a fresh worker; the slot is emptied while it runs.
            .local_get(w)
            .table_get(table_conts)
            .local_tee(k)
            .ref_is_null()
            .if_(BlockType::Empty)
            .ref_func(f_worker)
            .cont_new(t_cont)
            .local_set(k)
            .end()
            .local_get(w)
            .ref_null(HeapType::Concrete(t_cont))
            .table_set(table_conts)
            .block(BlockType::Result(cont_ref(false))) // $on_idle
            .block(BlockType::FunctionType(t_block_await)) // $on_await
            .local_get(a)
            .local_get(b)
            .local_get(k)
            .resume(
                t_cont,
                [
                    Handle::OnLabel {
                        tag: tag_await,
                        label: 0,
                    },
                    Handle::OnLabel {
                        tag: tag_idle,
                        label: 1,
                    },
                ],
            )
            .unreachable() // a worker never returns
            .end()
            // Awaiting: [pending id, continuation].
            .local_set(k)
            .local_set(p)
            .local_get(w)
            .local_get(k)
            .table_set(table_conts)
            .i32_const(1)
            .local_get(p)
            .return_()
            .end()
            // Idle again: [continuation].
            .local_set(k)
            .local_get(w)
            .local_get(k)
            .table_set(table_conts)
            .i32_const(0)
            .i32_const(0)
            .end();
        code.function(&f);
    }

    // ensure (n): at least n continuation slots.
    let f_ensure = define(&mut functions, t_ensure);
    exports.export(names::ENSURE, ExportKind::Func, f_ensure);
    {
        let mut f = Function::new([]);
        f.instructions()
            .local_get(0)
            .table_size(table_conts)
            .i32_gt_u()
            .if_(BlockType::Empty)
            .ref_null(HeapType::Concrete(t_cont))
            .local_get(0)
            .table_size(table_conts)
            .i32_sub()
            .table_grow(table_conts)
            .drop()
            .end()
            .end();
        code.function(&f);
    }

    if let Some((enter, leave)) = crate::jspi::begin_hooks(shape) {
        // begin (w, k) -> (kind, payload, id): a task's first run with its hooks.
        let t_begin = types.func(
            &[ValType::I32, ValType::I32],
            &[ValType::I32, ValType::I32, ValType::I32],
        );
        let (t_enter, t_leave) = (types.func(&[], &[ValType::I32]), t_i32);
        let f_begin = define(&mut functions, t_begin);
        exports.export(names::BEGIN, ExportKind::Func, f_begin);
        let (w, k, id, kind, payload) = (0, 1, 2, 3, 4);
        let mut f = Function::new([(3, ValType::I32)]);
        f.instructions()
            // id = jspi_task_enter(); the host learns it (a trap before: nothing ran).
            .i32_const(enter as i32)
            .call_indirect(table_exports, t_enter)
            .local_tee(id)
            .call(f_began)
            // A worker the host has not made yet gets its slot only now.
            .local_get(w)
            .i32_const(1)
            .i32_add()
            .call(f_ensure)
            .local_get(w)
            .local_get(k)
            .i32_const(0)
            .call(f_drive)
            .local_set(payload)
            .local_set(kind)
            .local_get(kind)
            .local_get(payload)
            .call(f_ran)
            .local_get(id)
            .i32_const(leave as i32)
            .call_indirect(table_exports, t_leave)
            .local_get(kind)
            .local_get(payload)
            .local_get(id)
            .end();
        code.function(&f);
    }

    let mut tables = TableSection::new();
    let table = |element_type, minimum| TableType {
        element_type,
        table64: false,
        minimum,
        maximum: None,
        shared: false,
    };
    tables.table(table(
        RefType {
            nullable: true,
            heap_type: HeapType::Concrete(t_cont),
        },
        0,
    ));
    let nexports = shape.exports.len() as u64;
    tables.table(table(RefType::FUNCREF, nexports));
    tables.table(table(RefType::FUNCREF, nexports));
    exports.export(names::EXPORTS, ExportKind::Table, table_exports);

    let mut tags = TagSection::new();
    for ty in [t_tag_await, t_tag_idle] {
        tags.tag(TagType {
            kind: TagKind::Exception,
            func_type_idx: ty,
        });
    }

    let mut elements = ElementSection::new();
    elements.active(
        Some(table_tramps),
        &ConstExpr::i32_const(0),
        Elements::Functions(tramps.into()),
    );
    elements.declared(Elements::Functions(vec![f_worker].into()));

    let mut module = Module::new();
    module
        .section(&types.section)
        .section(&imports)
        .section(&functions)
        .section(&tables)
        .section(&tags)
        .section(&exports)
        .section(&elements)
        .section(&code);
    module.finish()
}
