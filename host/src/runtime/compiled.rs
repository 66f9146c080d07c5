//! Compilation: a guest module and its generated adapter, with every import routed
//! ([`Compiled`]), and instantiating them.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use wasmtime::{Engine, Extern, Module, Ref, Store};

use crate::adapter::{self, names, GuestImport, GuestShape, ImportRoute, Ty};
use crate::executor::Executor;
use crate::jspi::{self, Hooks, NotLinked};

use super::data::{wasi_linker, Funcs, Machine};
use super::imports::{Entry, WasiMaker};
use super::instance::{Inner, State};
use super::{Data, Error, Imports, Instance, Result, INITIALIZE_FAILED, WASI_MODULE};

/// The error [`Instance::new`] gives when the module imports what the host does not
/// provide: every such import, as `module.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingImports(pub Vec<String>);

impl fmt::Display for MissingImports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the module imports what the host does not provide: {}",
            self.0.join(", ")
        )
    }
}

impl std::error::Error for MissingImports {}

/// A guest module compiled, with its adapter, against a set of imports: instantiate it
/// as often as needed without compiling again (a fresh instance per run, say).
pub struct Compiled<T: 'static> {
    engine: Engine,
    guest: Module,
    adapter: Module,
    shape: GuestShape,
    /// By guest import: how it is called, its host function (`None` for one of
    /// wasmtime-wasi's) and whether it consumes its externref arguments.
    routed: Routed<T>,
    hooks: Hooks,
    /// When wasmtime-wasi provides imports. An import with no entry is one of them:
    /// any other missing import fails [`Compiled::new`].
    wasi: Option<WasiLink<T>>,
}

/// What makes each instance's WASI context, and the linker that holds wasmtime-wasi's
/// functions (made once).
type WasiLink<T> = (Rc<WasiMaker<T>>, wasmtime::Linker<Data<T>>);

/// Every import of a guest, routed ([`route_imports`]); one element per import.
struct Routed<T: 'static> {
    routes: Vec<ImportRoute>,
    entries: Vec<Option<Rc<Entry<T>>>>,
    consumes: Vec<bool>,
}

impl<T: 'static> Compiled<T> {
    /// Compiles `wasm` and the adapter its imports and exports need. The guest
    /// library's imports (module `jspi`) come from the host itself ([`crate::jspi`]);
    /// `imports` provides every other.
    ///
    /// Fails with a list of every import the module needs that `imports` lacks, and
    /// when `imports` defines a function of the reserved module `jspi`.
    pub fn new(engine: &Engine, wasm: &[u8], imports: &Imports<T>) -> Result<Self> {
        jspi::check_reserved(imports)?;
        let shape = adapter::read_shape(wasm)
            .map_err(|e| Error::msg(format!("not a valid wasm module: {e}")))?;
        let guest = Module::new(engine, wasm)?;
        let routed = route_imports(&shape, imports)?;
        let begin = jspi::begin_hooks(&shape);
        let adapter_wasm = adapter::build(&shape, &routed.routes, begin);
        let adapter = Module::new(engine, &adapter_wasm)
            .map_err(|e| e.context("the generated adapter module does not compile"))?;
        let hooks = Hooks::find(&shape);
        Ok(Compiled {
            engine: engine.clone(),
            guest,
            adapter,
            shape,
            routed,
            hooks,
            wasi: match &imports.wasi {
                Some(make) => Some((make.clone(), wasi_linker::<T>(engine)?)),
                None => None,
            },
        })
    }

    /// `Ok` when the module was linked with the guest library (it exports the
    /// library's three task hooks, [`crate::jspi`]); else the first hook it lacks.
    pub fn require_guest_library(&self) -> Result<(), NotLinked> {
        self.hooks.require()
    }

    /// A fresh instance; `data` is what imports see as [`Cx::data`](crate::Cx::data).
    /// Suspended tasks resume on `executor`.
    pub fn instantiate(&self, data: T, executor: &Executor) -> Result<Instance<T>> {
        let wasi = self.wasi.as_ref().map(|(make, _)| make(&data));
        let Routed {
            routes,
            entries,
            consumes,
        } = &self.routed;
        let mut store = Store::new(
            &self.engine,
            Data::new(data, entries.clone(), consumes.clone(), wasi),
        );
        let adapter_imports = super::hostfn::adapter_imports(&mut store, &self.shape, routes);
        let adapter = wasmtime::Instance::new(&mut store, &self.adapter, &adapter_imports)?;
        let guest_imports = self.guest_imports(&mut store, &adapter)?;
        let guest = wasmtime::Instance::new(&mut store, &self.guest, &guest_imports)?;
        store.data_mut().memory = guest.get_memory(&mut store, "memory");
        let (funcs, by_name) = self.link_exports(&mut store, &adapter, &guest)?;
        let inner = self.inner(store, guest, funcs, by_name, executor);
        if self.wasi.is_some() {
            initialize(&inner)?;
        }
        Ok(Instance { inner })
    }

    /// The guest's imports, in order: host functions, WASI's, or the adapter's
    /// wrappers, as each import is routed.
    fn guest_imports(
        &self,
        store: &mut Store<Data<T>>,
        adapter: &wasmtime::Instance,
    ) -> Result<Vec<Extern>> {
        let imports = self.shape.imports.iter().zip(&self.routed.routes);
        let mut externs = Vec::with_capacity(self.shape.imports.len());
        for (i, (import, route)) in imports.enumerate() {
            let external = match (route, &self.wasi) {
                (ImportRoute::Direct, Some((_, linker))) if self.routed.entries[i].is_none() => {
                    linker
                        .get(&mut *store, &import.module, &import.name)
                        .map_err(|_| {
                            Error::msg(format!(
                                "imports what the host does not provide: {WASI_MODULE}.{} (not in WASI preview 1)",
                                import.name
                            ))
                        })?
                }
                (ImportRoute::Direct, _) => {
                    super::hostfn::sync_func(&mut *store, &self.engine, i, import.sig.clone()).into()
                }
                _ => adapter
                    .get_export(&mut *store, &names::wrapper(i))
                    .ok_or_else(|| Error::msg("adapter lacks a wrapper"))?,
            };
            externs.push(external);
        }
        Ok(externs)
    }

    /// Puts the guest's exports in the adapter's export table and looks up the
    /// adapter's functions: what calls need, and each export's index by name.
    fn link_exports(
        &self,
        store: &mut Store<Data<T>>,
        adapter: &wasmtime::Instance,
        guest: &wasmtime::Instance,
    ) -> Result<(Funcs, HashMap<String, usize>)> {
        let table = adapter
            .get_table(&mut *store, names::EXPORTS)
            .ok_or_else(|| Error::msg("adapter lacks its export table"))?;
        let mut trampolines = Vec::new();
        let mut by_name = HashMap::new();
        for (k, export) in self.shape.exports.iter().enumerate() {
            let func = guest
                .get_func(&mut *store, &export.name)
                .ok_or_else(|| Error::msg(format!("export {} vanished", export.name)))?;
            table.set(&mut *store, k as u64, Ref::Func(Some(func)))?;
            trampolines.push(adapter.get_typed_func::<(), ()>(&mut *store, &names::trampoline(k))?);
            by_name.insert(export.name.clone(), k);
        }
        let begin = match adapter.get_func(&mut *store, names::BEGIN) {
            Some(begin) => Some(begin.typed(&*store)?),
            None => None,
        };
        let funcs = Funcs {
            drive: adapter.get_typed_func(&mut *store, names::DRIVE)?,
            begin,
            ensure: adapter.get_typed_func(&mut *store, names::ENSURE)?,
            trampolines,
        };
        Ok((funcs, by_name))
    }

    /// The instance's shared part, with the store's [`Machine`] pointing back at it.
    fn inner(
        &self,
        mut store: Store<Data<T>>,
        guest: wasmtime::Instance,
        funcs: Funcs,
        by_name: HashMap<String, usize>,
        executor: &Executor,
    ) -> Rc<Inner<T>> {
        let hooks = self.hooks;
        let is_hook = (self.shape.exports.iter())
            .map(|e| hooks.check_not_hook(&e.name).is_err())
            .collect();
        Rc::new_cyclic(|inner| {
            store.data_mut().machine = Some(Machine {
                funcs: Rc::new(funcs),
                shape: self.shape.clone(),
                by_name,
                last_export: 0,
                is_hook,
                hooks,
                idle: Vec::new(),
                workers: 0,
                inner: inner.clone(),
            });
            Inner {
                hooks,
                state: RefCell::new(State { store, guest }),
                executor: executor.clone(),
                deferred_done: RefCell::new(Vec::new()),
                done_running: RefCell::new(Vec::new()),
                done_queued: Cell::new(false),
            }
        })
    }
}

/// Routes every import of `shape`: module `jspi` to the guest library's imports
/// ([`jspi::imports`]), every other to `imports`. Fails with every missing import at
/// once ([`MissingImports`]), or for an import whose type its host function cannot
/// have.
fn route_imports<T: 'static>(shape: &GuestShape, imports: &Imports<T>) -> Result<Routed<T>> {
    let library = jspi::imports::<T>();
    let mut missing: Vec<String> = shape.other_imports.clone();
    let mut routed = Routed {
        routes: Vec::new(),
        entries: Vec::new(),
        consumes: Vec::new(),
    };
    for import in &shape.imports {
        let source = if import.module == jspi::MODULE {
            &library
        } else {
            imports
        };
        let entry = source.get(&import.module, &import.name);
        let wasi = imports.wasi.is_some() && import.module == WASI_MODULE;
        let route = match entry.as_deref() {
            Some(entry) => route_of(import, entry)?,
            None if wasi => ImportRoute::Direct,
            None => {
                missing.push(format!("{}.{}", import.module, import.name));
                ImportRoute::Direct
            }
        };
        routed
            .consumes
            .push(source.consumes(&import.module, &import.name));
        routed.routes.push(route);
        routed.entries.push(entry);
    }
    if !missing.is_empty() {
        return Err(Error::new(MissingImports(missing)));
    }
    Ok(routed)
}

/// How the guest calls `import`, which `entry` provides: checks that its type is one
/// the host function can have.
fn route_of<T: 'static>(import: &GuestImport, entry: &Entry<T>) -> Result<ImportRoute> {
    let qualified = || format!("{}.{}", import.module, import.name);
    match entry {
        Entry::Suspending(_) | Entry::Await => {
            if !matches!(import.sig.results[..], [] | [Ty::I32] | [Ty::Ref]) {
                return Err(Error::msg(format!(
                    "suspending import {} has type {}; it may return nothing, an i32 or an externref",
                    qualified(),
                    import.sig
                )));
            }
            Ok(ImportRoute::Suspending)
        }
        Entry::Sync(_) => {
            if import.sig.results.len() > 1 {
                return Err(Error::msg(format!(
                    "import {} has type {}; host functions return at most one value",
                    qualified(),
                    import.sig
                )));
            }
            Ok(if import.sig.has_ref() {
                ImportRoute::Lowered
            } else {
                ImportRoute::Direct
            })
        }
    }
}

/// Runs a WASI reactor's `_initialize` (wasi-libc's stdio constructors, the C
/// program's own), if the guest exports one, once and directly, without the hooks.
fn initialize<T: 'static>(inner: &Inner<T>) -> Result<()> {
    let mut state = inner.state.borrow_mut();
    let State { store, guest } = &mut *state;
    if let Ok(initialize) = guest.get_typed_func::<(), ()>(&mut *store, "_initialize") {
        initialize
            .call(&mut *store, ())
            .map_err(|e| e.context(INITIALIZE_FAILED))?;
    }
    Ok(())
}
