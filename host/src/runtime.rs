//! The public API: imports as Rust functions (plain or async), exports called plainly
//! or as promising tasks that interleave on one instance, as under JSPI.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use wasmtime::{
    AsContextMut, Caller, Engine, Extern, Memory, Module, Ref, Store, StoreContextMut, TypedFunc,
};

use wasmtime_wasi::p1::WasiP1Ctx;

use crate::adapter::{self, names, GuestShape, ImportRoute, Ty};
use crate::executor::Executor;
use crate::hostfn;
use crate::jspi::{self, Hooks, NotLinked, Stats};

pub use wasmtime::Error;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A host object as the guest sees it: an `externref`. The guest can only hold it and
/// pass it back; the host downcasts it.
pub type HostRef = Rc<dyn Any>;

/// A value crossing between host and guest.
#[derive(Clone)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`.
    F32(f32),
    /// `f64`.
    F64(f64),
    /// `externref`: a host object, or null.
    Ref(Option<HostRef>),
}

impl Val {
    pub(crate) fn ty(&self) -> Ty {
        match self {
            Val::I32(_) => Ty::I32,
            Val::I64(_) => Ty::I64,
            Val::F32(_) => Ty::F32,
            Val::F64(_) => Ty::F64,
            Val::Ref(_) => Ty::Ref,
        }
    }

    /// The value if it is an `i32`.
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The value if it is an `i64`.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The host object if this is a non-null `externref`.
    pub fn object(&self) -> Option<&HostRef> {
        match self {
            Val::Ref(r) => r.as_ref(),
            _ => None,
        }
    }
}

impl fmt::Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::I32(v) => write!(f, "I32({v})"),
            Val::I64(v) => write!(f, "I64({v})"),
            Val::F32(v) => write!(f, "F32({v})"),
            Val::F64(v) => write!(f, "F64({v})"),
            Val::Ref(None) => write!(f, "Ref(null)"),
            Val::Ref(Some(_)) => write!(f, "Ref(object)"),
        }
    }
}

/// The future a suspending import returns.
pub type ImportFuture = Pin<Box<dyn Future<Output = Result<Option<Val>>>>>;

type SyncFn<T> = dyn Fn(&mut Cx<'_, '_, T>, &[Val]) -> Result<Option<Val>>;
type AsyncFn<T> = dyn Fn(&mut Cx<'_, '_, T>, &[Val]) -> Result<ImportFuture>;

/// Makes an instance's WASI context from its data ([`Imports::wasi`]).
type WasiMaker<T> = dyn Fn(&T) -> WasiP1Ctx;

/// The context of the error when a guest's `_initialize` fails ([`Imports::wasi`]).
pub const INITIALIZE_FAILED: &str = "the guest's _initialize failed";

/// The module WASI preview 1 functions are imported from.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

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
    async fn outcome(self) -> Result<Option<Val>> {
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
/// ([`crate::jspi`]): [`Compiled::new`] refuses imports that define a `jspi.*` function.
pub struct Imports<T: 'static> {
    entries: HashMap<(String, String), Rc<Entry<T>>>,
    /// Makes each instance's WASI context, when module `wasi_snapshot_preview1`
    /// comes from wasmtime-wasi ([`Imports::wasi`]).
    wasi: Option<Rc<WasiMaker<T>>>,
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

    fn get(&self, module: &str, name: &str) -> Option<Rc<Entry<T>>> {
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

    fn consumes(&self, module: &str, name: &str) -> bool {
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
    /// does the instantiation ([`INITIALIZE_FAILED`]).
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

/// What an import sees while the guest calls it: the host data and guest memory.
///
/// Not `Send` (whatever `T` is): the store's data claims to be `Send` for
/// wasmtime-wasi's sake only ([`Data`]), and this is the one way to reach it.
pub struct Cx<'c, 'a, T: 'static> {
    pub(crate) caller: &'c mut Caller<'a, Data<T>>,
    pub(crate) _not_send: PhantomData<*const ()>,
}

impl<T: 'static> Cx<'_, '_, T> {
    /// The data the instance was made with.
    pub fn data(&self) -> &T {
        &self.caller.data().user
    }

    /// The data the instance was made with.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.caller.data_mut().user
    }

    /// The guest's exported `memory` (empty if it exports none).
    pub fn memory(&self) -> &[u8] {
        match self.caller.data().memory {
            Some(memory) => memory.data(&*self.caller),
            None => &[],
        }
    }

    /// Calls export `name` of this instance plainly from inside a host function, as
    /// a JavaScript import may call an export ([`Instance::call`], bracketed alike).
    pub fn call(&mut self, name: &str, args: &[i32]) -> Result<Option<Val>> {
        call_in(self.caller.as_context_mut(), name, args)
    }

    /// Starts export `name` of this instance as a promising task from inside a host
    /// function, as a JavaScript import may call `WebAssembly.promising(export)(...)`
    /// ([`Instance::promising`], with the guest library's hooks alike): the task runs
    /// now, on top of the guest's frames that called this import, until it finishes
    /// or first suspends; its later steps run on the executor.
    pub fn promising(&mut self, name: &str, args: &[i32]) -> Result<Task> {
        let inner = self.instance()?.inner;
        let slot = TaskSlot::new(false);
        let (worker, stop) = first_run(self.caller.as_context_mut(), name, args, &slot)?;
        after(inner, worker, stop, slot.clone());
        Ok(Task { slot })
    }

    /// The guest library's counters ([`Instance::stats`]).
    pub fn stats(&mut self) -> Result<Option<Stats>> {
        stats_in(self.caller.as_context_mut())
    }

    /// The id of the task that called this host function, or `None` when a plain call
    /// did: what [`Instance::read_task`] and [`Instance::write_task`] take later, while
    /// the task is suspended.
    pub fn current_task(&mut self) -> Result<Option<u32>> {
        let mut store = self.caller.as_context_mut();
        let hooks = store.data_mut().machine()?.hooks;
        jspi::current_task(&hooks, &mut store)
    }

    /// Names and parameter counts of the exports the host can call
    /// ([`Instance::exports`]).
    pub fn exports(&mut self) -> Vec<(String, usize)> {
        exports_of(self.caller.data_mut())
    }

    /// The instance this host function was called from.
    pub fn instance(&mut self) -> Result<Instance<T>> {
        let machine = self.caller.data_mut().machine()?;
        let inner = machine
            .inner
            .upgrade()
            .ok_or_else(|| Error::msg("the instance is gone"))?;
        Ok(Instance { inner })
    }

    /// The guest's exported `memory`, writable (empty if it exports none).
    pub fn memory_mut(&mut self) -> &mut [u8] {
        match self.caller.data().memory {
            Some(memory) => memory.data_mut(&mut *self.caller),
            None => &mut [],
        }
    }
}

/// Store data: the user's, plus what crosses the adapter.
pub struct Data<T: 'static> {
    user: T,
    /// Guest import index -> its host function.
    pub(crate) imports: Vec<Option<Rc<Entry<T>>>>,
    /// Guest import index -> whether it consumes its externref arguments.
    pub(crate) consumes: Vec<bool>,
    /// Host objects the guest holds, by id (0 is null): see [`Data::object_id`].
    objects: HashMap<i32, HostRef, BuildHasherDefault<IdHasher>>,
    /// The id the next object gets, if free.
    next_object: i32,
    /// Futures of suspended tasks, by pending id, with the result type they resume with.
    pub(crate) pending: Slab<(Pending, Option<Ty>)>,
    /// Errors on their way to `host.raise`.
    pub(crate) errors: Slab<Error>,
    /// Arguments of the call being made.
    pub(crate) args: Vec<i32>,
    /// Result of the call that just finished.
    pub(crate) result: Option<Val>,
    /// A host import's arguments, lifted (reused from call to call: `hostfn`).
    pub(crate) lift_buf: Vec<Val>,
    /// Where each adapter `begin` running now is, innermost last.
    pub(crate) begins: Vec<Begin>,
    pub(crate) memory: Option<Memory>,
    /// The instance's WASI context, when its imports include wasmtime-wasi's.
    wasi: Option<WasiP1Ctx>,
    /// Set once instantiation is complete.
    machine: Option<Machine<T>>,
}

// SAFETY: wasmtime-wasi's `add_to_linker_sync` asks for `Send` store data, for its
// async plumbing; its preview 1 functions run every future to completion on the
// calling thread (`in_tokio` is a `block_on` in place) and touch only the
// `WasiP1Ctx`, which is `Send`. The data itself (the user's `T`, `Rc`s, futures)
// never leaves the thread that made it: the store lives in an `Instance`'s
// `Rc<Inner>` (not `Send`), and host functions reach it only through `Cx`, which is
// not `Send` either, so no safe code can move it or share it across threads.
unsafe impl<T: 'static> Send for Data<T> {}

/// A linker that holds wasmtime-wasi's preview 1 functions, to instantiate the ones
/// a guest imports into its store ([`Imports::wasi`]).
fn wasi_linker<T: 'static>(engine: &Engine) -> Result<wasmtime::Linker<Data<T>>> {
    let mut linker = wasmtime::Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |data: &mut Data<T>| {
        data.wasi
            .as_mut()
            .expect("a WASI import runs only in an instance made with a WASI context")
    })?;
    Ok(linker)
}

impl<T: 'static> Data<T> {
    fn machine(&mut self) -> Result<&mut Machine<T>> {
        self.machine
            .as_mut()
            .ok_or_else(|| Error::msg("the instance is not ready: it is still being made"))
    }

    /// The id the guest holds `object` by: an `i31`, 1 to 2^31 - 1 (0 is null).
    ///
    /// Ids count up and wrap around, skipping those still held, so an id freed by
    /// [`Data::release`] comes back only after two billion others: a guest that uses
    /// a value it gave up (awaits a promise twice) gets an error, not another value.
    pub(crate) fn object_id(&mut self, object: Option<HostRef>) -> Result<i32> {
        const LAST: i32 = i32::MAX; // the largest i31 (i31.get_u)
        let Some(object) = object else { return Ok(0) };
        if self.objects.len() >= LAST as usize {
            return Err(Error::msg("too many host objects held at once for i31 ids"));
        }
        loop {
            let id = self.next_object.max(1);
            self.next_object = if id == LAST { 1 } else { id + 1 };
            if let std::collections::hash_map::Entry::Vacant(slot) = self.objects.entry(id) {
                slot.insert(object);
                return Ok(id);
            }
        }
    }

    pub(crate) fn object(&self, id: i32) -> Result<Option<HostRef>> {
        if id == 0 {
            return Ok(None);
        }
        self.objects.get(&id).cloned().map(Some).ok_or_else(|| {
            Error::msg(format!(
                "host value {id} is no longer held by the guest: a promise is consumed by the \
                 await that takes it, and the guest library releases the values it is done \
                 with (docs/abi.md, \"Host values\")"
            ))
        })
    }

    /// Frees the guest's id for an object (which lives on while the host holds it).
    pub(crate) fn release(&mut self, id: i32) {
        self.objects.remove(&id);
    }
}

/// Hashes the i32 object ids of [`Data::objects`]: one multiplication (Fibonacci
/// hashing), where the default SipHash costs several times that on every crossing of
/// an externref. Ids are the host's own counter, not an attacker's choice.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_i32(&mut self, id: i32) {
        self.0 = u64::from(id as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// How far the adapter's `begin` (a task's first run with its hooks) got, as its
/// `host.began` and `host.ran` tell: what the host must still do when it traps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Begin {
    /// In `jspi_task_enter`: nothing has run.
    Entering,
    /// The task (this id) entered; its call runs.
    Running(i32),
    /// The call stopped as `drive` says (kind, payload); `jspi_task_leave` runs.
    Leaving(i32, i32, i32),
}

/// A vector with reusable slots.
pub(crate) struct Slab<V> {
    items: Vec<Option<V>>,
    free: Vec<usize>,
}

impl<V> Default for Slab<V> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<V> Slab<V> {
    pub(crate) fn insert(&mut self, value: V) -> i32 {
        let index = match self.free.pop() {
            Some(index) => {
                self.items[index] = Some(value);
                index
            }
            None => {
                self.items.push(Some(value));
                self.items.len() - 1
            }
        };
        index as i32
    }

    pub(crate) fn remove(&mut self, index: i32) -> Option<V> {
        let value = self.items.get_mut(index as usize)?.take()?;
        self.free.push(index as usize);
        Some(value)
    }
}

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

/// A guest instance whose exports can run as interleaved promising tasks.
///
/// Cloning gives another handle to the same instance.
pub struct Instance<T: 'static> {
    inner: Rc<Inner<T>>,
}

impl<T: 'static> Clone for Instance<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<T: 'static> {
    /// The guest library's hooks (also in the store's `Machine`).
    hooks: Hooks,
    /// Borrowed exactly while wasm of this instance runs (and while the host reads
    /// its store): not borrowed means no guest frame is on the stack.
    state: RefCell<State<T>>,
    executor: Executor,
    /// Ids of settled tasks whose `jspi_task_done` waits for the top level.
    deferred_done: RefCell<Vec<i32>>,
    /// The ids whose `jspi_task_done` runs now, swapped with `deferred_done` (so that
    /// neither buffer is ever reallocated).
    done_running: RefCell<Vec<i32>>,
    /// Whether an executor job to run `deferred_done` is queued.
    done_queued: Cell<bool>,
}

struct State<T: 'static> {
    store: Store<Data<T>>,
    guest: wasmtime::Instance,
}

/// What calling exports takes. It lives in the store's data, so a host function can
/// call back into its instance through its `Caller` ([`Cx::promising`], [`Cx::call`])
/// while the instance's `State` is borrowed by the call that reached it.
struct Machine<T: 'static> {
    /// The adapter's exports, looked up once; shared, so that a call clones an `Rc`
    /// rather than a `TypedFunc` (whose type's reference counts are atomic).
    funcs: Rc<Funcs>,
    shape: GuestShape,
    by_name: HashMap<String, usize>,
    /// The export called last: a task started again and again by the same name finds
    /// its export with one comparison, no hashing.
    last_export: usize,
    /// By export: whether it is one of the guest library's hooks the host runs itself
    /// ([`Hooks::check_not_hook`]).
    is_hook: Vec<bool>,
    /// The guest library's hooks among the exports.
    hooks: Hooks,
    /// Workers whose continuation waits for a new call.
    idle: Vec<i32>,
    /// Workers made so far.
    workers: i32,
    /// The instance, for the host functions that start tasks (they must schedule the
    /// task's later steps).
    inner: Weak<Inner<T>>,
}

/// A promising call in flight: completes with the export's result, or its error
/// (a trap, a failed suspending import) once the call finishes.
///
/// For a guest linked with the guest library, the task's `jspi_task_done` runs when
/// the `Task` is awaited to its end (in the same executor turn) or dropped, whichever
/// comes first, from the host's top level.
pub struct Task {
    slot: Rc<RefCell<TaskSlot>>,
}

/// What a task shares with the machinery driving it.
#[derive(Default)]
struct TaskSlot {
    outcome: Option<Result<Option<Val>>>,
    waker: Option<Waker>,
    /// The instance and id whose `jspi_task_done` runs once the task has settled and
    /// been seen (set once the library entered the task).
    done: Option<(Weak<dyn Settle>, i32)>,
    /// The `Task` was dropped: run `done` as soon as the call finishes.
    dropped: bool,
    /// A failed `jspi_task_leave`: the task fails with it.
    hook_error: Option<Error>,
    /// A spawned task: a failure is reported one executor turn late, as a pooled
    /// worker's death is on Node.
    spawned: bool,
    /// Runs once the outcome is set ([`Task::then`]).
    then: Option<Box<dyn FnOnce()>>,
}

impl TaskSlot {
    fn new(spawned: bool) -> Rc<RefCell<TaskSlot>> {
        Rc::new(RefCell::new(TaskSlot {
            spawned,
            ..TaskSlot::default()
        }))
    }

    fn complete(slot: &Rc<RefCell<TaskSlot>>, outcome: Result<Option<Val>>) {
        let (waker, done) = {
            let mut slot = slot.borrow_mut();
            let outcome = match slot.hook_error.take() {
                Some(error) => Err(error),
                None => outcome,
            };
            slot.outcome = Some(outcome);
            let done = if slot.dropped { slot.done.take() } else { None };
            (slot.waker.take(), done)
        };
        settle(done);
        if let Some(waker) = waker {
            waker.wake();
        }
        let then = slot.borrow_mut().then.take();
        if let Some(then) = then {
            then();
        }
    }
}

impl Task {
    /// Whether the call has finished.
    pub fn is_finished(&self) -> bool {
        self.slot.borrow().outcome.is_some()
    }

    /// Calls `f` with the task's outcome in an executor job queued when the task
    /// settles, or at once if it has: the timing of a JavaScript promise reaction
    /// (`promise.then(f)`), which awaiting the task from a job spawned now does not
    /// have when the task settles before that job first runs.
    pub fn then(self, executor: &Executor, f: impl FnOnce(Result<Option<Val>>) + 'static) {
        let slot = self.slot.clone();
        let executor = executor.clone();
        let job = move || executor.spawn(async move { f(self.await) });
        if slot.borrow().outcome.is_some() {
            job();
        } else {
            slot.borrow_mut().then = Some(Box::new(job));
        }
    }
}

impl Future for Task {
    type Output = Result<Option<Val>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (outcome, done) = {
            let mut slot = self.slot.borrow_mut();
            match slot.outcome.take() {
                Some(outcome) => (outcome, slot.done.take()),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        };
        // The task has settled and its owner sees it now: the library lets it go.
        settle(done);
        Poll::Ready(outcome)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let done = {
            let mut slot = self.slot.borrow_mut();
            slot.dropped = true;
            match slot.outcome {
                Some(_) => slot.done.take(),
                None => None,
            }
        };
        settle(done);
    }
}

/// A guest module compiled, with its adapter, against a set of imports: instantiate it
/// as often as needed without compiling again (a fresh instance per run, say).
pub struct Compiled<T: 'static> {
    engine: Engine,
    guest: Module,
    adapter: Module,
    shape: GuestShape,
    routes: Vec<ImportRoute>,
    entries: Vec<Option<Rc<Entry<T>>>>,
    consumes: Vec<bool>,
    hooks: Hooks,
    /// Each instance's WASI context, and the linker that holds wasmtime-wasi's
    /// functions (made once), when wasmtime-wasi provides imports. An import with no
    /// entry is one of them: any other missing import fails [`Compiled::new`].
    wasi: Option<(Rc<WasiMaker<T>>, wasmtime::Linker<Data<T>>)>,
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
        let library = jspi::imports::<T>();

        // Route every import; report all missing ones at once.
        let mut missing: Vec<String> = shape.other_imports.clone();
        let mut routes = Vec::new();
        let mut entries = Vec::new();
        let mut consumes = Vec::new();
        for import in &shape.imports {
            let source = if import.module == jspi::MODULE {
                &library
            } else {
                imports
            };
            let entry = source.get(&import.module, &import.name);
            consumes.push(source.consumes(&import.module, &import.name));
            let qualified = format!("{}.{}", import.module, import.name);
            let wasi = entry.is_none() && imports.wasi.is_some() && import.module == WASI_MODULE;
            let route = match entry.as_deref() {
                None if wasi => ImportRoute::Direct,
                None => {
                    missing.push(qualified);
                    ImportRoute::Direct
                }
                Some(Entry::Suspending(_) | Entry::Await) => {
                    if !matches!(import.sig.results[..], [] | [Ty::I32] | [Ty::Ref]) {
                        return Err(Error::msg(format!(
                            "suspending import {qualified} has type {}; it may return nothing, an i32 or an externref",
                            import.sig
                        )));
                    }
                    ImportRoute::Suspending
                }
                Some(Entry::Sync(_)) => {
                    if import.sig.results.len() > 1 {
                        return Err(Error::msg(format!(
                            "import {qualified} has type {}; host functions return at most one value",
                            import.sig
                        )));
                    }
                    if import.sig.has_ref() {
                        ImportRoute::Lowered
                    } else {
                        ImportRoute::Direct
                    }
                }
            };
            routes.push(route);
            entries.push(entry);
        }
        if !missing.is_empty() {
            return Err(Error::new(MissingImports(missing)));
        }

        let adapter_wasm = adapter::build(&shape, &routes);
        let adapter = Module::new(engine, &adapter_wasm)
            .map_err(|e| e.context("the generated adapter module does not compile"))?;
        let hooks = Hooks::find(&shape);
        Ok(Compiled {
            engine: engine.clone(),
            guest,
            adapter,
            shape,
            routes,
            entries,
            consumes,
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

    /// A fresh instance; `data` is what imports see as [`Cx::data`]. Suspended tasks
    /// resume on `executor`.
    pub fn instantiate(&self, data: T, executor: &Executor) -> Result<Instance<T>> {
        let Compiled {
            engine,
            guest,
            adapter,
            shape,
            routes,
            entries,
            consumes,
            hooks,
            wasi,
        } = self;
        let wasi_ctx = wasi.as_ref().map(|(make, _)| make(&data));
        let (shape, routes) = (shape.clone(), routes.clone());
        let mut store = Store::new(
            engine,
            Data {
                user: data,
                imports: entries.clone(),
                consumes: consumes.clone(),
                objects: HashMap::default(),
                next_object: 1,
                pending: Slab::default(),
                errors: Slab::default(),
                args: Vec::new(),
                result: None,
                lift_buf: Vec::new(),
                begins: Vec::new(),
                memory: None,
                wasi: wasi_ctx,
                machine: None,
            },
        );

        let adapter_imports = hostfn::adapter_imports(&mut store, &shape, &routes);
        let adapter_instance = wasmtime::Instance::new(&mut store, adapter, &adapter_imports)?;

        // The guest's imports: host functions, WASI's, or the adapter's wrappers.
        let mut guest_imports: Vec<Extern> = Vec::new();
        for (i, (import, route)) in shape.imports.iter().zip(&routes).enumerate() {
            let external = match (route, wasi) {
                (ImportRoute::Direct, Some((_, linker))) if entries[i].is_none() => linker
                    .get(&mut store, &import.module, &import.name)
                    .map_err(|_| {
                        Error::msg(format!(
                            "imports what the host does not provide: {WASI_MODULE}.{} (not in WASI preview 1)",
                            import.name
                        ))
                    })?,
                (ImportRoute::Direct, _) => {
                    hostfn::sync_func(&mut store, engine, i, import.sig.clone()).into()
                }
                _ => adapter_instance
                    .get_export(&mut store, &names::wrapper(i))
                    .ok_or_else(|| Error::msg("adapter lacks a wrapper"))?,
            };
            guest_imports.push(external);
        }
        let instance = wasmtime::Instance::new(&mut store, guest, &guest_imports)?;
        store.data_mut().memory = instance.get_memory(&mut store, "memory");

        let table = adapter_instance
            .get_table(&mut store, names::EXPORTS)
            .ok_or_else(|| Error::msg("adapter lacks its export table"))?;
        let mut trampolines = Vec::new();
        let mut by_name = HashMap::new();
        for (k, export) in shape.exports.iter().enumerate() {
            let func = instance
                .get_func(&mut store, &export.name)
                .ok_or_else(|| Error::msg(format!("export {} vanished", export.name)))?;
            table.set(&mut store, k as u64, Ref::Func(Some(func)))?;
            trampolines.push(
                adapter_instance.get_typed_func::<(), ()>(&mut store, &names::trampoline(k))?,
            );
            by_name.insert(export.name.clone(), k);
        }
        let drive = adapter_instance.get_typed_func(&mut store, names::DRIVE)?;
        let ensure = adapter_instance.get_typed_func(&mut store, names::ENSURE)?;
        let begin = match adapter_instance.get_func(&mut store, names::BEGIN) {
            Some(begin) => Some(begin.typed(&store)?),
            None => None,
        };
        let is_hook = shape
            .exports
            .iter()
            .map(|e| hooks.check_not_hook(&e.name).is_err())
            .collect();
        let inner = Rc::new_cyclic(|inner| {
            store.data_mut().machine = Some(Machine {
                funcs: Rc::new(Funcs {
                    drive,
                    begin,
                    ensure,
                    trampolines,
                }),
                shape,
                by_name,
                last_export: 0,
                is_hook,
                hooks: *hooks,
                idle: Vec::new(),
                workers: 0,
                inner: inner.clone(),
            });
            Inner {
                hooks: *hooks,
                state: RefCell::new(State {
                    store,
                    guest: instance,
                }),
                executor: executor.clone(),
                deferred_done: RefCell::new(Vec::new()),
                done_running: RefCell::new(Vec::new()),
                done_queued: Cell::new(false),
            }
        });
        if wasi.is_some() {
            // A reactor's constructors (wasi-libc's stdio, the C program's own).
            let mut state = inner.state.borrow_mut();
            let State { store, guest } = &mut *state;
            if let Ok(initialize) = guest.get_typed_func::<(), ()>(&mut *store, "_initialize") {
                initialize
                    .call(&mut *store, ())
                    .map_err(|e| e.context(INITIALIZE_FAILED))?;
            }
        }
        Ok(Instance { inner })
    }
}

impl<T: 'static> Instance<T> {
    /// Compiles and instantiates `wasm` with `imports`; `data` is what imports see as
    /// [`Cx::data`]. Suspended tasks resume on `executor`. [`Compiled`] does the two
    /// halves separately.
    ///
    /// Fails with a list of every import the module needs that `imports` lacks.
    pub fn new(
        engine: &Engine,
        wasm: &[u8],
        imports: &Imports<T>,
        data: T,
        executor: &Executor,
    ) -> Result<Self> {
        Compiled::new(engine, wasm, imports)?.instantiate(data, executor)
    }

    fn state(&self) -> Result<std::cell::RefMut<'_, State<T>>> {
        self.inner.state.try_borrow_mut().map_err(|_| {
            Error::msg(
                "the instance is busy: a host function calls back into its instance through \
                 its Cx (Cx::call, Cx::promising), not through Instance",
            )
        })
    }

    /// Names and parameter counts of the exports the host can call.
    pub fn exports(&self) -> Vec<(String, usize)> {
        exports_of(self.inner.state.borrow_mut().store.data_mut())
    }

    /// Calls export `name` plainly, on the caller's stack, like calling a wasm export
    /// from JavaScript without `WebAssembly.promising`: a suspending import reached from
    /// here is an error. Suspended tasks stay suspended meanwhile.
    ///
    /// For a guest linked with the guest library, the call runs between the library's
    /// plain-call hooks ([`crate::jspi`]): one that traps deep inside leaves the
    /// shadow stack where it began. The library's hooks themselves cannot be called.
    pub fn call(&self, name: &str, args: &[i32]) -> Result<Option<Val>> {
        run_deferred_done(&self.inner);
        call_in(self.state()?.store.as_context_mut(), name, args)
    }

    /// Starts export `name` as a promising task, like calling
    /// `WebAssembly.promising(export)(...args)`: the guest runs now, until it finishes
    /// or first suspends, and the returned [`Task`] completes when the call finishes.
    /// Many tasks can be suspended at once; each resumes, on the executor, when the
    /// future it waits on completes.
    ///
    /// For a guest linked with the guest library, this is the library's task start
    /// protocol ([`crate::jspi`]): its enter hook before the first run, leave after
    /// it, done once the task has settled and its `Task` awaited or dropped. Fails,
    /// with nothing started, for an unknown export, a wrong argument count, or a task
    /// the library cannot place (too many tasks alive, no room on the shadow stack:
    /// its own message).
    pub fn promising(&self, name: &str, args: &[i32]) -> Result<Task> {
        run_deferred_done(&self.inner);
        let slot = TaskSlot::new(false);
        let (worker, stop) = first_run(self.state()?.store.as_context_mut(), name, args, &slot)?;
        after(self.inner.clone(), worker, stop, slot.clone());
        Ok(Task { slot })
    }

    /// Starts export `name` as a promising task in a later executor turn, as a pooled
    /// task of the JavaScript package (`spawn(name, ...args)`) does in a later
    /// microtask: the executor job does exactly what [`Instance::promising`] does, the
    /// guest library's hooks included.
    ///
    /// The export and the argument count are checked now; anything that fails once
    /// the job runs (the library cannot place the task, a trap, a failed await) fails
    /// the task. A failure during the call is reported one executor turn later than
    /// `promising` would, as a pooled worker's death is observed on Node.
    pub fn spawn(&self, name: &str, args: &[i32]) -> Result<Task> {
        {
            let mut state = self.state()?;
            let machine = state.store.data_mut().machine()?;
            export_index(machine, name, args)?;
            machine.hooks.task()?;
        }
        let slot = TaskSlot::new(true);
        let (inner, name, args, task) = (
            self.inner.clone(),
            name.to_string(),
            args.to_vec(),
            slot.clone(),
        );
        self.inner.executor.spawn(async move {
            run_deferred_done(&inner);
            let started = match inner.state.try_borrow_mut() {
                Ok(mut state) => first_run(state.store.as_context_mut(), &name, &args, &task),
                Err(_) => Err(Error::msg(
                    "the instance is busy: the executor ran a spawned task while the instance was running",
                )),
            };
            match started {
                Ok((worker, stop)) => after(inner, worker, stop, task),
                // Like any failure of a spawned task: a turn late, as on Node, where
                // the library's refusal ends the worker that was to run the task.
                Err(error) => after(inner, 0, Stop::Failed(error), task),
            }
        });
        Ok(Task { slot })
    }

    /// The guest library's counters (docs/abi.md, [`crate::jspi`]), or `None` for a
    /// guest without the library.
    pub fn stats(&self) -> Result<Option<Stats>> {
        run_deferred_done(&self.inner);
        stats_in(self.state()?.store.as_context_mut())
    }

    /// `len` bytes of task `id`'s memory at `addr`, wherever they are now: while a task
    /// is suspended its stack bytes may be saved in a block rather than at their
    /// address (docs/abi.md, "What a host may touch"). `id` is what
    /// [`Cx::current_task`] gave inside an import the task called.
    pub fn read_task(&self, id: u32, addr: u32, len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; len];
        let mut state = self.state()?;
        let mut store = state.store.as_context_mut();
        let hooks = store.data_mut().machine()?.hooks;
        jspi::task_runs(&hooks, &mut store, id, addr, len, |memory, place, at, n| {
            out[at..at + n].copy_from_slice(&memory[place..place + n]);
        })?;
        Ok(out)
    }

    /// Writes `bytes` at `addr` of the guest's memory as it is, ignoring where tasks'
    /// bytes are (what a host must not do to a suspended task's stack: see
    /// [`Instance::write_task`]).
    pub fn write_memory(&self, addr: u32, bytes: &[u8]) -> Result<()> {
        let mut state = self.state()?;
        let store = &mut state.store;
        let memory = store
            .data()
            .memory
            .ok_or_else(|| Error::msg("the module exports no `memory`"))?;
        let data = memory.data_mut(&mut *store);
        let size = data.len();
        let start = addr as usize;
        match data.get_mut(start..start.saturating_add(bytes.len())) {
            Some(target) => {
                target.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(crate::Exception::error(format!(
                "{start}..{} lies outside memory ({size} bytes)",
                start.saturating_add(bytes.len())
            ))),
        }
    }

    /// Writes `bytes` into task `id`'s memory at `addr`, wherever each byte is now, so
    /// the task finds them when it resumes ([`Instance::read_task`]).
    pub fn write_task(&self, id: u32, addr: u32, bytes: &[u8]) -> Result<()> {
        let mut state = self.state()?;
        let mut store = state.store.as_context_mut();
        let hooks = store.data_mut().machine()?.hooks;
        jspi::task_runs(
            &hooks,
            &mut store,
            id,
            addr,
            bytes.len(),
            |memory, place, at, n| {
                memory[place..place + n].copy_from_slice(&bytes[at..at + n]);
            },
        )
    }

    /// `Ok` when the module was linked with the guest library
    /// ([`Compiled::require_guest_library`]).
    pub fn require_guest_library(&self) -> Result<(), NotLinked> {
        self.inner.hooks.require()
    }

    /// Runs `f` on the instance's data.
    pub fn with_data<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.inner.state.borrow_mut().store.data_mut().user)
    }

    /// Worker continuations made so far: the most tasks ever suspended at once (plus
    /// those lost to traps), since idle workers are reused.
    pub fn workers(&self) -> usize {
        let mut state = self.inner.state.borrow_mut();
        state
            .store
            .data_mut()
            .machine()
            .map_or(0, |m| m.workers as usize)
    }

    /// The value of the guest's exported i32 global `name` (such as `__stack_pointer`,
    /// when the guest exports it).
    pub fn global_i32(&self, name: &str) -> Option<i32> {
        let mut state = self.inner.state.borrow_mut();
        let State { store, guest, .. } = &mut *state;
        guest.get_global(&mut *store, name)?.get(&mut *store).i32()
    }

    /// Sets the guest's exported mutable i32 global `name`.
    pub fn set_global_i32(&self, name: &str, value: i32) -> Result<()> {
        let mut state = self.state()?;
        let State { store, guest, .. } = &mut *state;
        let global = guest
            .get_global(&mut *store, name)
            .ok_or_else(|| Error::msg(format!("the module exports no global `{name}`")))?;
        global.set(&mut *store, wasmtime::Val::I32(value))
    }

    /// Whether the guest exports a memory named `memory`.
    pub fn has_memory(&self) -> bool {
        self.inner.state.borrow().store.data().memory.is_some()
    }

    /// Host objects the guest holds now: handed to it and not yet given back (a
    /// promise its await consumed, a value the guest library released).
    pub fn objects(&self) -> usize {
        self.inner.state.borrow().store.data().objects.len()
    }
}

/// Names and parameter counts of the exports the host can call.
/// The adapter's `begin`: `(worker, export) -> (kind, payload, task id)`.
type BeginFunc = TypedFunc<(i32, i32), (i32, i32, i32)>;

/// The adapter's exports the host calls.
struct Funcs {
    drive: TypedFunc<(i32, i32, i32), (i32, i32)>,
    /// For a guest with the task hooks ([`jspi::begin_hooks`]).
    begin: Option<BeginFunc>,
    ensure: TypedFunc<i32, ()>,
    trampolines: Vec<TypedFunc<(), ()>>,
}

fn exports_of<T: 'static>(data: &mut Data<T>) -> Vec<(String, usize)> {
    let Ok(machine) = data.machine() else {
        return Vec::new();
    };
    machine
        .shape
        .exports
        .iter()
        .map(|e| (e.name.clone(), e.params))
        .collect()
}

/// Index of callable export `name`, checking the argument count.
fn export_index<T: 'static>(machine: &mut Machine<T>, name: &str, args: &[i32]) -> Result<usize> {
    let last = machine.last_export;
    let found = match machine.shape.exports.get(last) {
        Some(export) if export.name == name => Some(last),
        _ => machine.by_name.get(name).copied(),
    };
    let Some(k) = found else {
        if let Some(reason) = machine.shape.uncallable.get(name) {
            return Err(Error::msg(format!(
                "export `{name}` cannot be called: {reason}"
            )));
        }
        return Err(Error::msg(format!(
            "the module has no exported function `{name}`"
        )));
    };
    let expected = machine.shape.exports[k].params;
    if expected != args.len() {
        return Err(Error::msg(format!(
            "`{name}` takes {expected} argument(s), got {}",
            args.len()
        )));
    }
    machine.last_export = k;
    if machine.is_hook[k] {
        machine.hooks.check_not_hook(name)?;
    }
    Ok(k)
}

/// Calls export `k` once, on the caller's stack, with nothing around it: the raw
/// call under plain calls and the guest library's hooks.
pub(crate) fn invoke<T: 'static>(
    store: &mut StoreContextMut<'_, Data<T>>,
    k: usize,
    args: &[i32],
) -> Result<Option<Val>> {
    let data = store.data_mut();
    let funcs = data.machine()?.funcs.clone();
    data.args.clear();
    data.args.extend_from_slice(args);
    data.result = None;
    funcs.trampolines[k].call(&mut *store, ())?;
    Ok(store.data_mut().result.take())
}

/// A plain call of export `name` (see [`Instance::call`]).
fn call_in<T: 'static>(
    mut store: StoreContextMut<'_, Data<T>>,
    name: &str,
    args: &[i32],
) -> Result<Option<Val>> {
    let machine = store.data_mut().machine()?;
    let k = export_index(machine, name, args)?;
    let bracket = machine.hooks.call;
    let call = |store: &mut StoreContextMut<'_, Data<T>>| {
        invoke(store, k, args).map_err(|e| {
            if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::UnhandledTag) {
                e.context(format!(
                    "cannot suspend: `{name}` was called plainly and reached a suspending import; start it as a task (promising or spawn)"
                ))
            } else {
                e
            }
        })
    };
    match bracket {
        Some(hooks) => hooks.bracket(&mut store, call),
        None => call(&mut store),
    }
}

/// The first run of a promising call of export `name`: the guest library enters the
/// task, the call runs on a worker until it first stops, the library leaves the task.
/// Fails, with nothing started, when the call cannot begin; otherwise returns the
/// worker and where it stopped, and `slot` holds how to finish the task.
fn first_run<T: 'static>(
    mut store: StoreContextMut<'_, Data<T>>,
    name: &str,
    args: &[i32],
    slot: &Rc<RefCell<TaskSlot>>,
) -> Result<(i32, Stop)> {
    let machine = store.data_mut().machine()?;
    let k = export_index(machine, name, args)?;
    let hooks = machine.hooks.task()?;
    if let (Some(hooks), true) = (hooks, machine.funcs.begin.is_some()) {
        return begin_run(store, hooks, k, args, slot);
    }
    // The library places the task first: if it cannot, nothing else has happened.
    let id = hooks.map(|h| h.enter(&mut store)).transpose()?;
    let worker = match take_worker(&mut store) {
        Ok(worker) => worker,
        Err(error) => {
            // Undo the enter: nothing ran, and done waits for the top level.
            if let (Some(hooks), Some(id)) = (hooks, id) {
                // The worker's error is the one to report.
                let _ = hooks.leave(&mut store, id);
                let inner = store.data_mut().machine()?.inner.clone();
                if let Some(inner) = inner.upgrade() {
                    inner.deferred_done.borrow_mut().push(id);
                }
            }
            return Err(error);
        }
    };
    let data = store.data_mut();
    data.args.clear();
    data.args.extend_from_slice(args);
    let stop = drive_in(store.as_context_mut(), worker, k as i32, 0);
    if let (Some(hooks), Some(id)) = (hooks, id) {
        if let Err(error) = hooks.leave(&mut store, id) {
            slot.borrow_mut().hook_error = Some(error);
        }
        let inner: Weak<dyn Settle> = store.data_mut().machine()?.inner.clone();
        slot.borrow_mut().done = Some((inner, id));
    }
    Ok((worker, stop))
}

/// [`first_run`] in one call of the adapter's `begin`, which runs the hooks around
/// the call itself; where it traps ([`Begin`]) says what is left to do: nothing
/// (enter failed), `jspi_task_leave` (the call failed), or failing the task with
/// leave's error.
fn begin_run<T: 'static>(
    mut store: StoreContextMut<'_, Data<T>>,
    hooks: jspi::TaskHooks,
    k: usize,
    args: &[i32],
    slot: &Rc<RefCell<TaskSlot>>,
) -> Result<(i32, Stop)> {
    let machine = store.data_mut().machine()?;
    // An idle worker, or the next new one, made (its slot grown) once the task entered.
    let (worker, fresh) = match machine.idle.pop() {
        Some(worker) => (worker, false),
        None => (machine.workers, true),
    };
    let funcs = machine.funcs.clone();
    let data = store.data_mut();
    data.args.clear();
    data.args.extend_from_slice(args);
    data.result = None;
    data.begins.push(Begin::Entering);
    let begin = funcs.begin.as_ref().expect("begin_run only with a begin");
    let outcome = begin.call(&mut store, (worker, k as i32));
    let data = store.data_mut();
    let reached = data.begins.pop().unwrap_or(Begin::Entering);
    let machine = data.machine()?;
    match (&outcome, reached) {
        (Err(_), Begin::Entering) if !fresh => machine.idle.push(worker),
        (Err(_), Begin::Entering) => {}
        _ if fresh => machine.workers = worker + 1,
        _ => {}
    }
    let (id, stop) = match (outcome, reached) {
        (Ok((kind, payload, id)), _) => (id, stop_of(data, worker, Ok((kind, payload)))),
        (Err(error), Begin::Entering) => return Err(error),
        (Err(error), Begin::Running(id)) => {
            let stop = stop_of(data, worker, Err(error));
            if let Err(error) = hooks.leave(&mut store, id) {
                slot.borrow_mut().hook_error = Some(error);
            }
            (id, stop)
        }
        (Err(error), Begin::Leaving(id, kind, payload)) => {
            slot.borrow_mut().hook_error = Some(error);
            (id, stop_of(data, worker, Ok((kind, payload))))
        }
    };
    let inner: Weak<dyn Settle> = store.data_mut().machine()?.inner.clone();
    slot.borrow_mut().done = Some((inner, id));
    Ok((worker, stop))
}

/// An idle worker, or a new one.
fn take_worker<T: 'static>(store: &mut StoreContextMut<'_, Data<T>>) -> Result<i32> {
    let machine = store.data_mut().machine()?;
    if let Some(worker) = machine.idle.pop() {
        return Ok(worker);
    }
    let (funcs, count) = (machine.funcs.clone(), machine.workers + 1);
    funcs.ensure.call(&mut *store, count)?;
    store.data_mut().machine()?.workers = count;
    Ok(count - 1)
}

/// Runs the `jspi_task_done` of every settled task waiting for it, if no wasm of the
/// instance is running; otherwise queues one executor job that tries again (and
/// every top-level entry into the instance tries too).
fn run_deferred_done<T: 'static>(inner: &Rc<Inner<T>>) {
    if inner.deferred_done.borrow().is_empty() {
        return;
    }
    let Ok(mut state) = inner.state.try_borrow_mut() else {
        if !inner.done_queued.replace(true) {
            let weak = Rc::downgrade(inner);
            inner.executor.spawn(async move {
                let Some(inner) = weak.upgrade() else { return };
                inner.done_queued.set(false);
                // Still running (the executor was run from inside a host function)?
                // Then the next top-level entry runs them, rather than a job queued
                // again and again in this same drain.
                if inner.state.try_borrow_mut().is_ok() {
                    run_deferred_done(&inner);
                }
            });
        }
        return;
    };
    let mut ids = std::mem::take(&mut *inner.done_running.borrow_mut());
    std::mem::swap(&mut ids, &mut *inner.deferred_done.borrow_mut());
    let mut store = state.store.as_context_mut();
    if let Ok(Some(hooks)) = store.data_mut().machine().and_then(|m| m.hooks.task()) {
        for &id in &ids {
            // `done` is idempotent and has no failure of its own to report; the task
            // has already settled.
            let _ = hooks.done(&mut store, id);
        }
    }
    ids.clear();
    *inner.done_running.borrow_mut() = ids;
}

/// Runs (or defers) the `jspi_task_done` of [`TaskSlot::done`], if it is set and its
/// instance still lives.
fn settle(done: Option<(Weak<dyn Settle>, i32)>) {
    if let Some((inner, id)) = done {
        if let Some(inner) = inner.upgrade() {
            inner.settle(id);
        }
    }
}

/// Where a settled task's `jspi_task_done` goes: its instance ([`TaskSlot::done`]).
trait Settle {
    /// Runs (or defers to the top level) `jspi_task_done(id)`.
    fn settle(self: Rc<Self>, id: i32);
}

impl<T: 'static> Settle for Inner<T> {
    fn settle(self: Rc<Self>, id: i32) {
        self.deferred_done.borrow_mut().push(id);
        run_deferred_done(&self);
    }
}

/// The guest library's counters (see [`Instance::stats`]).
fn stats_in<T: 'static>(mut store: StoreContextMut<'_, Data<T>>) -> Result<Option<Stats>> {
    let hooks = store.data_mut().machine()?.hooks;
    jspi::stats(&hooks, &mut store)
}

/// Where a worker stopped.
enum Stop {
    /// The call finished with this result; the worker is idle again.
    Finished(Option<Val>),
    /// The call awaits this future, whose value resumes it.
    Awaiting(Pending, Option<Ty>),
    /// The call failed (a trap, a failed import); the worker starts afresh next time.
    Failed(Error),
}

/// Resumes worker `worker` with `(a, b)` until its call awaits or ends.
fn drive_in<T: 'static>(
    mut store: StoreContextMut<'_, Data<T>>,
    worker: i32,
    a: i32,
    b: i32,
) -> Stop {
    let drive = match store.data_mut().machine() {
        Ok(machine) => machine.funcs.clone(),
        Err(error) => return Stop::Failed(error),
    };
    store.data_mut().result = None;
    let outcome = drive.drive.call(&mut store, (worker, a, b));
    stop_of(store.data_mut(), worker, outcome)
}

/// Where worker `worker` stopped, from what `drive` returned.
fn stop_of<T: 'static>(data: &mut Data<T>, worker: i32, outcome: Result<(i32, i32)>) -> Stop {
    let idle = |data: &mut Data<T>| {
        if let Some(machine) = data.machine.as_mut() {
            machine.idle.push(worker);
        }
    };
    match outcome {
        Ok((0, _)) => {
            idle(data);
            Stop::Finished(data.result.take())
        }
        Ok((_, pending)) => match data.pending.remove(pending) {
            Some((future, kind)) => Stop::Awaiting(future, kind),
            None => Stop::Failed(Error::msg(format!("unknown pending id {pending}"))),
        },
        Err(error) => {
            // The worker died with the call; its slot is empty, so the next call
            // through it starts a fresh continuation.
            idle(data);
            Stop::Failed(error)
        }
    }
}

/// Resumes worker `worker` with `(a, b)` and handles where it stops.
fn step<T: 'static>(inner: Rc<Inner<T>>, worker: i32, a: i32, b: i32, slot: Rc<RefCell<TaskSlot>>) {
    let stop = {
        let mut state = inner.state.borrow_mut();
        drive_in(state.store.as_context_mut(), worker, a, b)
    };
    after(inner, worker, stop, slot);
}

/// Completes the task, or schedules its next step for when its future completes.
fn after<T: 'static>(inner: Rc<Inner<T>>, worker: i32, stop: Stop, slot: Rc<RefCell<TaskSlot>>) {
    match stop {
        Stop::Finished(result) => TaskSlot::complete(&slot, Ok(result)),
        Stop::Failed(error) if slot.borrow().spawned => {
            inner
                .executor
                .spawn(async move { TaskSlot::complete(&slot, Err(error)) });
        }
        Stop::Failed(error) => TaskSlot::complete(&slot, Err(error)),
        Stop::Awaiting(pending, kind) => {
            let executor = inner.executor.clone();
            executor.spawn(async move {
                let value = pending.outcome().await;
                let (status, payload) = {
                    let mut state = inner.state.borrow_mut();
                    let data = state.store.data_mut();
                    match encode_resume(data, value, kind) {
                        Ok(payload) => (0, payload),
                        Err(error) => (1, data.errors.insert(error)),
                    }
                };
                step(inner, worker, status, payload, slot);
            });
        }
    }
}

/// The i32 a completed suspending import resumes its task with.
fn encode_resume<T: 'static>(
    data: &mut Data<T>,
    value: Result<Option<Val>>,
    kind: Option<Ty>,
) -> Result<i32> {
    match (value?, kind) {
        (None, None) => Ok(0),
        (Some(Val::I32(v)), Some(Ty::I32)) => Ok(v),
        (Some(Val::Ref(object)), Some(Ty::Ref)) => data.object_id(object),
        (got, kind) => Err(Error::msg(format!(
            "a suspending import's future gave {}, its import returns {}",
            got.map_or("nothing".into(), |v| format!("{v:?}")),
            kind.map_or("nothing".into(), |t| format!("{t:?}").to_lowercase())
        ))),
    }
}
