//! The import registry: the host functions a host offers guests, by module and name
//! ([`Imports`]), and what a suspended task waits on ([`Pending`]).

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use wasmtime_wasi::p1::WasiP1Ctx;

use crate::jspi;

use super::{Cx, ImportFuture, Result, Val};

/// A plain import's host function ([`Imports::func`]).
pub(super) type SyncFn<T> = dyn Fn(&mut Cx<'_, '_, T>, &[Val]) -> Result<Option<Val>>;
/// A suspending import's host function ([`Imports::suspending`]).
pub(super) type AsyncFn<T> = dyn Fn(&mut Cx<'_, '_, T>, &[Val]) -> Result<ImportFuture>;

/// Makes an instance's WASI context from its data ([`Imports::wasi`]).
pub(super) type WasiMaker<T> = dyn Fn(&T) -> WasiP1Ctx;

/// What the host runs when the guest calls one of its imports.
pub(crate) enum Entry<T: 'static> {
    Sync(Box<SyncFn<T>>),
    Suspending(Box<AsyncFn<T>>),
    /// The guest library's `jspi.await`: suspends until the promise it is handed
    /// settles, with no future of its own to box ([`Pending::Promise`]).
    Await,
}

/// What a suspended task waits on.
pub(crate) enum Pending {
    /// A suspending import's future.
    Future(ImportFuture),
    /// The promise `jspi.await` took: its value, or a rejection marker.
    Promise(crate::Promise),
    /// What `jspi.await` took that is no promise: the value itself.
    Ready(Val),
}

impl Pending {
    /// What the task resumes with.
    pub(super) async fn outcome(self) -> Result<Option<Val>> {
        match self {
            Pending::Future(future) => future.await,
            Pending::Promise(promise) => jspi::settled(promise).await,
            Pending::Ready(value) => Ok(Some(value)),
        }
    }
}

/// The functions a host offers to guests, by module and name.
///
/// Module `jspi` is the guest library's, and the host provides it itself
/// ([`crate::jspi`]): [`Compiled::new`](crate::Compiled::new) refuses imports that define a `jspi.*` function.
pub struct Imports<T: 'static> {
    entries: HashMap<(String, String), Rc<Entry<T>>>,
    /// Makes each instance's WASI context, when module `wasi_snapshot_preview1`
    /// comes from wasmtime-wasi ([`Imports::wasi`]).
    pub(super) wasi: Option<Rc<WasiMaker<T>>>,
    /// Imports that consume their externref arguments (`jspi.await`, `jspi.throw`,
    /// `jspi.release`): the guest's ids for them are freed by the call.
    consuming: HashSet<(String, String)>,
}

impl<T: 'static> Default for Imports<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            wasi: None,
            consuming: HashSet::new(),
        }
    }
}

impl<T: 'static> Imports<T> {
    /// No imports yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `(module, name)` of every import defined.
    pub(crate) fn names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.keys().map(|(m, n)| (m.as_str(), n.as_str()))
    }

    pub(super) fn get(&self, module: &str, name: &str) -> Option<Rc<Entry<T>>> {
        self.entries
            .get(&(module.to_string(), name.to_string()))
            .cloned()
    }

    /// The guest library's `jspi.await` ([`Entry::Await`]).
    pub(crate) fn await_promise(&mut self, module: &str, name: &str) -> &mut Self {
        self.entries.insert(
            (module.to_string(), name.to_string()),
            Rc::new(Entry::Await),
        );
        self
    }

    /// Marks import `module.name` as consuming its externref arguments: once it is
    /// called, the ids the guest held them by are freed (the host's own references to
    /// the objects are untouched). For the guest library's imports ([`crate::jspi`]).
    pub(crate) fn consumes_refs(&mut self, module: &str, name: &str) -> &mut Self {
        self.consuming
            .insert((module.to_string(), name.to_string()));
        self
    }

    pub(super) fn consumes(&self, module: &str, name: &str) -> bool {
        self.consuming
            .contains(&(module.to_string(), name.to_string()))
    }

    /// A plain import: runs to completion while the guest waits, like a JavaScript
    /// function imported as is. It returns the import's result, or `None` for none.
    pub fn func(
        &mut self,
        module: &str,
        name: &str,
        f: impl Fn(&mut Cx<'_, '_, T>, &[Val]) -> Result<Option<Val>> + 'static,
    ) -> &mut Self {
        self.entries.insert(
            (module.to_string(), name.to_string()),
            Rc::new(Entry::Sync(Box::new(f))),
        );
        self
    }

    /// WASI preview 1 (module `wasi_snapshot_preview1`) from wasmtime-wasi, for guests
    /// built against wasi-libc: `make` gives each new instance its context (its
    /// arguments, environment, stdio, preopened directories), as a Node host makes a
    /// `new WASI(...)` per instance. A function of that module defined here with
    /// [`Imports::func`] takes the place of wasmtime-wasi's (a host that routes
    /// stdout itself). After instantiation the host calls the guest's `_initialize`
    /// export, if it has one (a reactor's constructors), once and directly, without
    /// the call hooks, as `wasi.initialize(instance)` does on Node; if it fails, so
    /// does the instantiation ([`INITIALIZE_FAILED`](crate::INITIALIZE_FAILED)).
    ///
    /// WASI functions run to completion on the calling task's stack; none suspends.
    pub fn wasi(&mut self, make: impl Fn(&T) -> WasiP1Ctx + 'static) -> &mut Self {
        self.wasi = Some(Rc::new(make));
        self
    }

    /// A suspending import, like `new WebAssembly.Suspending(f)`: it returns a future,
    /// and the calling task is suspended until the future completes; other tasks and
    /// plain calls run meanwhile. A completed future resumes the task with its value;
    /// an error fails the task at that point. Its result must be nothing, an `i32` or
    /// an `externref`. Calling it outside a promising task is an error.
    pub fn suspending(
        &mut self,
        module: &str,
        name: &str,
        f: impl Fn(&mut Cx<'_, '_, T>, &[Val]) -> Result<ImportFuture> + 'static,
    ) -> &mut Self {
        self.entries.insert(
            (module.to_string(), name.to_string()),
            Rc::new(Entry::Suspending(Box::new(f))),
        );
        self
    }
}
