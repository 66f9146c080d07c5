//! Generating the adapter module ([`build`]): one emitter per generated function, in
//! the order of their indices, over a [`Builder`] that holds the module's sections.

use std::collections::HashMap;

use wasm_encoder::{
    AbstractHeapType, BlockType, CodeSection, ConstExpr, ContType, ElementSection, Elements,
    EntityType, ExportKind, ExportSection, Function, FunctionSection, Handle, HeapType,
    ImportSection, Module, RefType, TableSection, TableType, TagKind, TagSection, TagType,
    TypeSection, ValType,
};

use super::{names, GuestShape, ImportRoute, Ty};

/// Tag `$await`: `(pending id) -> (status, payload)`.
const TAG_AWAIT: u32 = 0;
/// Tag `$idle`: `() -> (request, unused)`.
const TAG_IDLE: u32 = 1;
/// Table `$conts`: worker continuations, by worker.
const TABLE_CONTS: u32 = 0;
/// Table `$exports`: the guest's callable exports, filled by the host.
const TABLE_EXPORTS: u32 = 1;
/// Table `$tramps`: the trampolines, by export.
const TABLE_TRAMPS: u32 = 2;

/// Builds the adapter for `shape`, given how each guest import is routed. With
/// `begin`, the export indices of the guest library's `jspi_task_enter` and
/// `jspi_task_leave`, it also has `begin`, a task's first run with those hooks.
pub fn build(shape: &GuestShape, routes: &[ImportRoute], begin: Option<(usize, usize)>) -> Vec<u8> {
    assert_eq!(shape.imports.len(), routes.len());
    let mut b = Builder::new();
    let host = b.host_imports(shape, routes);
    let refs = Refs {
        to_id: b.emit_to_id(),
        from_id: b.emit_from_id(),
    };
    b.emit_wrappers(shape, routes, &host, refs);
    let tramps = b.emit_trampolines(shape, &host, refs);
    let worker = b.emit_worker();
    let drive = b.emit_drive(worker);
    let ensure = b.emit_ensure();
    if let Some((enter, leave)) = begin {
        b.emit_begin(enter, leave, &host, drive, ensure);
    }
    b.finish(shape, tramps, worker)
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

/// The adapter's fixed types, the first in its type section.
struct Shared {
    /// `$worker`'s type, `(i32, i32) -> ()`, which every continuation has.
    worker: u32,
    /// `cont $worker`.
    cont: u32,
    tag_await: u32,
    tag_idle: u32,
    /// `() -> ()`: trampolines.
    void: u32,
    /// `drive`'s.
    drive: u32,
    /// `(i32) -> ()`.
    i32: u32,
    /// What `drive`'s `$on_await` block gets: `[pending id, continuation]`.
    block_await: u32,
    /// `(i32) -> i32`.
    i32_i32: u32,
    to_id: u32,
    from_id: u32,
}

/// The functions the adapter imports from the host (module [`names::HOST`]).
struct HostFuncs {
    arg: u32,
    raise: u32,
    result: HashMap<Ty, u32>,
    began: u32,
    ran: u32,
    /// By guest import: the host function its wrapper calls (none for a direct one).
    per_import: Vec<Option<u32>>,
}

/// The externref conversions, `$to_id` and `$from_id`.
#[derive(Clone, Copy)]
struct Refs {
    to_id: u32,
    from_id: u32,
}

/// The adapter's sections as they are built, and the count of functions so far
/// (imported, then defined: a function's index is the count when it was added).
struct Builder {
    types: Types,
    t: Shared,
    imports: ImportSection,
    functions: FunctionSection,
    code: CodeSection,
    exports: ExportSection,
    nfuncs: u32,
}

impl Builder {
    /// The continuation type first (everything else refers to it), then the fixed
    /// types ([`Shared`]).
    fn new() -> Self {
        let mut types = Types {
            section: TypeSection::new(),
            funcs: HashMap::new(),
            count: 0,
        };
        let worker = types.func(&[ValType::I32, ValType::I32], &[]);
        let cont = types.count;
        types.section.ty().cont(&ContType(worker));
        types.count += 1;
        let cont_ref = ValType::Ref(RefType {
            nullable: false,
            heap_type: HeapType::Concrete(cont),
        });
        let t = Shared {
            worker,
            cont,
            tag_await: types.func(&[ValType::I32], &[ValType::I32, ValType::I32]),
            tag_idle: types.func(&[], &[ValType::I32, ValType::I32]),
            void: types.func(&[], &[]),
            drive: types.func(
                &[ValType::I32, ValType::I32, ValType::I32],
                &[ValType::I32, ValType::I32],
            ),
            i32: types.func(&[ValType::I32], &[]),
            block_await: types.func(&[], &[ValType::I32, cont_ref]),
            i32_i32: types.func(&[ValType::I32], &[ValType::I32]),
            to_id: types.func(&[ValType::Ref(RefType::EXTERNREF)], &[ValType::I32]),
            from_id: types.func(&[ValType::I32], &[ValType::Ref(RefType::EXTERNREF)]),
        };
        Builder {
            types,
            t,
            imports: ImportSection::new(),
            functions: FunctionSection::new(),
            code: CodeSection::new(),
            exports: ExportSection::new(),
            nfuncs: 0,
        }
    }

    /// A reference to a worker continuation.
    fn cont_ref(&self, nullable: bool) -> ValType {
        ValType::Ref(RefType {
            nullable,
            heap_type: HeapType::Concrete(self.t.cont),
        })
    }

    /// Imports host function `name` of type `ty`; returns its index.
    fn import(&mut self, name: &str, ty: u32) -> u32 {
        self.imports
            .import(names::HOST, name, EntityType::Function(ty));
        self.nfuncs += 1;
        self.nfuncs - 1
    }

    /// Defines a function of type `ty` with body `f`; returns its index.
    fn define(&mut self, ty: u32, f: &Function) -> u32 {
        self.functions.function(ty);
        self.code.function(f);
        self.nfuncs += 1;
        self.nfuncs - 1
    }

    /// Defines a function and exports it as `name`.
    fn define_export(&mut self, name: &str, ty: u32, f: &Function) -> u32 {
        let index = self.define(ty, f);
        self.exports.export(name, ExportKind::Func, index);
        index
    }

    /// Every host import: the adapter's own, then one per guest import that goes
    /// through a wrapper.
    fn host_imports(&mut self, shape: &GuestShape, routes: &[ImportRoute]) -> HostFuncs {
        let arg = self.import(names::ARG, self.t.i32_i32);
        let raise = self.import(names::RAISE, self.t.i32);
        let mut result = HashMap::new();
        for ty in [Ty::I32, Ty::I64, Ty::F32, Ty::F64, Ty::Ref] {
            let t = self.types.func(&[ty.lowered()], &[]);
            result.insert(ty, self.import(names::result(ty), t));
        }
        let began = self.import(names::BEGAN, self.t.i32);
        let t_ran = self.types.func(&[ValType::I32, ValType::I32], &[]);
        let ran = self.import(names::RAN, t_ran);
        let mut per_import = Vec::new();
        for (i, (guest_import, route)) in shape.imports.iter().zip(routes).enumerate() {
            let sig = &guest_import.sig;
            let params: Vec<ValType> = sig.params.iter().map(|t| t.lowered()).collect();
            per_import.push(match route {
                ImportRoute::Direct => None,
                ImportRoute::Lowered => {
                    let results: Vec<ValType> = sig.results.iter().map(|t| t.lowered()).collect();
                    let t = self.types.func(&params, &results);
                    Some(self.import(&names::lowered(i), t))
                }
                ImportRoute::Suspending => {
                    let t = self.types.func(&params, &[ValType::I32]);
                    Some(self.import(&names::start(i), t))
                }
            });
        }
        HostFuncs {
            arg,
            raise,
            result,
            began,
            ran,
            per_import,
        }
    }

    /// `$to_id`: externref -> object id (0 for null).
    fn emit_to_id(&mut self) -> u32 {
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
        self.define(self.t.to_id, &f)
    }

    /// `$from_id`: object id -> externref (null for 0).
    fn emit_from_id(&mut self) -> u32 {
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
        self.define(self.t.from_id, &f)
    }

    /// `wrap<i>` for each guest import that is not direct: converts externref
    /// arguments to ids, calls its host function, and for a suspending import
    /// suspends on `$await` and resumes with its value or raises its error.
    fn emit_wrappers(
        &mut self,
        shape: &GuestShape,
        routes: &[ImportRoute],
        host: &HostFuncs,
        refs: Refs,
    ) {
        for (i, (guest_import, route)) in shape.imports.iter().zip(routes).enumerate() {
            let Some(host_fn) = host.per_import[i] else {
                continue;
            };
            let sig = &guest_import.sig;
            let params: Vec<ValType> = sig.params.iter().map(|t| t.guest()).collect();
            let results: Vec<ValType> = sig.results.iter().map(|t| t.guest()).collect();
            let t = self.types.func(&params, &results);
            let nparams = params.len() as u32;
            // Locals after the params: status, payload.
            let mut f = Function::new([(2, ValType::I32)]);
            let mut ins = f.instructions();
            for (p, ty) in sig.params.iter().enumerate() {
                ins.local_get(p as u32);
                if *ty == Ty::Ref {
                    ins.call(refs.to_id);
                }
            }
            ins.call(host_fn);
            match route {
                // At most one result, converted if it is a ref (the host checks).
                ImportRoute::Lowered if sig.results == [Ty::Ref] => {
                    ins.call(refs.from_id);
                }
                ImportRoute::Lowered => {}
                ImportRoute::Suspending => {
                    let (status, payload) = (nparams, nparams + 1);
                    ins.suspend(TAG_AWAIT)
                        .local_set(payload)
                        .local_set(status)
                        .local_get(status)
                        .if_(BlockType::Empty)
                        .local_get(payload)
                        .call(host.raise)
                        .unreachable()
                        .end();
                    match sig.results.first() {
                        None => {}
                        Some(Ty::Ref) => {
                            ins.local_get(payload).call(refs.from_id);
                        }
                        Some(_) => {
                            ins.local_get(payload);
                        }
                    }
                }
                ImportRoute::Direct => unreachable!(),
            }
            ins.end();
            self.define_export(&names::wrapper(i), t, &f);
        }
    }

    /// `call<k>` for each callable export: calls guest export `k` with the host's
    /// arguments and reports its result. Returns their indices, by export.
    fn emit_trampolines(&mut self, shape: &GuestShape, host: &HostFuncs, refs: Refs) -> Vec<u32> {
        let mut tramps = Vec::new();
        for (k, export) in shape.exports.iter().enumerate() {
            let params = vec![ValType::I32; export.params];
            let results: Vec<ValType> = export.result.iter().map(|t| t.guest()).collect();
            let t_export = self.types.func(&params, &results);
            let mut f = Function::new([]);
            let mut ins = f.instructions();
            for p in 0..export.params {
                ins.i32_const(p as i32).call(host.arg);
            }
            ins.i32_const(k as i32)
                .call_indirect(TABLE_EXPORTS, t_export);
            if let Some(ty) = export.result {
                if ty == Ty::Ref {
                    ins.call(refs.to_id);
                }
                ins.call(host.result[&ty]);
            }
            ins.end();
            tramps.push(self.define_export(&names::trampoline(k), self.t.void, &f));
        }
        tramps
    }

    /// `$worker (req, unused)`: calls trampoline `req`, then waits idle for the next
    /// request.
    fn emit_worker(&mut self) -> u32 {
        let mut f = Function::new([]);
        f.instructions()
            .loop_(BlockType::Empty)
            .local_get(0)
            .call_indirect(TABLE_TRAMPS, self.t.void)
            .suspend(TAG_IDLE)
            .local_set(1)
            .local_set(0)
            .br(0)
            .end()
            .end();
        self.define(self.t.worker, &f)
    }

    /// `drive (w, a, b) -> (kind, payload)`: resumes worker `w` with `(a, b)` until it
    /// awaits (kind 1, payload = pending id) or finishes its call (kind 0).
    fn emit_drive(&mut self, worker: u32) -> u32 {
        let (w, a, b, k, p) = (0, 1, 2, 3, 4);
        let cont = self.t.cont;
        let mut f = Function::new([(1, self.cont_ref(true)), (1, ValType::I32)]);
        f.instructions()
            // k = conts[w], or a fresh worker; the slot is emptied while it runs.
            .local_get(w)
            .table_get(TABLE_CONTS)
            .local_tee(k)
            .ref_is_null()
            .if_(BlockType::Empty)
            .ref_func(worker)
            .cont_new(cont)
            .local_set(k)
            .end()
            .local_get(w)
            .ref_null(HeapType::Concrete(cont))
            .table_set(TABLE_CONTS)
            .block(BlockType::Result(self.cont_ref(false))) // $on_idle
            .block(BlockType::FunctionType(self.t.block_await)) // $on_await
            .local_get(a)
            .local_get(b)
            .local_get(k)
            .resume(
                cont,
                [
                    Handle::OnLabel {
                        tag: TAG_AWAIT,
                        label: 0,
                    },
                    Handle::OnLabel {
                        tag: TAG_IDLE,
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
            .table_set(TABLE_CONTS)
            .i32_const(1)
            .local_get(p)
            .return_()
            .end()
            // Idle again: [continuation].
            .local_set(k)
            .local_get(w)
            .local_get(k)
            .table_set(TABLE_CONTS)
            .i32_const(0)
            .i32_const(0)
            .end();
        self.define_export(names::DRIVE, self.t.drive, &f)
    }

    /// `ensure (n)`: at least `n` continuation slots.
    fn emit_ensure(&mut self) -> u32 {
        let mut f = Function::new([]);
        f.instructions()
            .local_get(0)
            .table_size(TABLE_CONTS)
            .i32_gt_u()
            .if_(BlockType::Empty)
            .ref_null(HeapType::Concrete(self.t.cont))
            .local_get(0)
            .table_size(TABLE_CONTS)
            .i32_sub()
            .table_grow(TABLE_CONTS)
            .drop()
            .end()
            .end();
        self.define_export(names::ENSURE, self.t.i32, &f)
    }

    /// `begin (w, k) -> (kind, payload, id)`: a task's first run with its hooks
    /// (exports `enter` and `leave`), telling the host how far it got.
    fn emit_begin(
        &mut self,
        enter: usize,
        leave: usize,
        host: &HostFuncs,
        drive: u32,
        ensure: u32,
    ) {
        let t_begin = self.types.func(
            &[ValType::I32, ValType::I32],
            &[ValType::I32, ValType::I32, ValType::I32],
        );
        let (t_enter, t_leave) = (self.types.func(&[], &[ValType::I32]), self.t.i32);
        let (w, k, id, kind, payload) = (0, 1, 2, 3, 4);
        let mut f = Function::new([(3, ValType::I32)]);
        f.instructions()
            // id = jspi_task_enter(); the host learns it (a trap before: nothing ran).
            .i32_const(enter as i32)
            .call_indirect(TABLE_EXPORTS, t_enter)
            .local_tee(id)
            .call(host.began)
            // A worker the host has not made yet gets its slot only now.
            .local_get(w)
            .i32_const(1)
            .i32_add()
            .call(ensure)
            .local_get(w)
            .local_get(k)
            .i32_const(0)
            .call(drive)
            .local_set(payload)
            .local_set(kind)
            .local_get(kind)
            .local_get(payload)
            .call(host.ran)
            .local_get(id)
            .i32_const(leave as i32)
            .call_indirect(TABLE_EXPORTS, t_leave)
            .local_get(kind)
            .local_get(payload)
            .local_get(id)
            .end();
        self.define_export(names::BEGIN, t_begin, &f);
    }

    /// The tables, tags and elements, and the module in section order.
    fn finish(self, shape: &GuestShape, tramps: Vec<u32>, worker: u32) -> Vec<u8> {
        let Builder {
            types,
            t,
            imports,
            functions,
            code,
            mut exports,
            ..
        } = self;
        let mut tables = TableSection::new();
        let table = |element_type, minimum| TableType {
            element_type,
            table64: false,
            minimum,
            maximum: None,
            shared: false,
        };
        let conts = RefType {
            nullable: true,
            heap_type: HeapType::Concrete(t.cont),
        };
        tables.table(table(conts, 0));
        let nexports = shape.exports.len() as u64;
        tables.table(table(RefType::FUNCREF, nexports));
        tables.table(table(RefType::FUNCREF, nexports));
        exports.export(names::EXPORTS, ExportKind::Table, TABLE_EXPORTS);

        let mut tags = TagSection::new();
        for ty in [t.tag_await, t.tag_idle] {
            tags.tag(TagType {
                kind: TagKind::Exception,
                func_type_idx: ty,
            });
        }

        let mut elements = ElementSection::new();
        elements.active(
            Some(TABLE_TRAMPS),
            &ConstExpr::i32_const(0),
            Elements::Functions(tramps.into()),
        );
        elements.declared(Elements::Functions(vec![worker].into()));

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
}
