//! Store data ([`Data`]): the user's data, the host objects the guest holds, and what
//! calling exports takes ([`Machine`], the adapter's functions).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::{Rc, Weak};

use wasmtime::{Engine, Memory, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::adapter::{GuestShape, Ty};
use crate::jspi::Hooks;

use super::imports::{Entry, Pending};
use super::instance::Inner;
use super::{Error, HostRef, Result, Val};

/// Store data: the user's, plus what crosses the adapter.
pub struct Data<T: 'static> {
    pub(super) user: T,
    /// Guest import index -> its host function.
    pub(crate) imports: Vec<Option<Rc<Entry<T>>>>,
    /// Guest import index -> whether it consumes its externref arguments.
    pub(crate) consumes: Vec<bool>,
    /// Host objects the guest holds, by id (0 is null): see [`Data::object_id`].
    pub(super) objects: HashMap<i32, HostRef, BuildHasherDefault<IdHasher>>,
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
    pub(super) machine: Option<Machine<T>>,
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
pub(super) fn wasi_linker<T: 'static>(engine: &Engine) -> Result<wasmtime::Linker<Data<T>>> {
    let mut linker = wasmtime::Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |data: &mut Data<T>| {
        data.wasi
            .as_mut()
            .expect("a WASI import runs only in an instance made with a WASI context")
    })?;
    Ok(linker)
}

impl<T: 'static> Data<T> {
    /// The store data of a new instance: `user`'s, the host function and the
    /// consuming flag of each guest import (by import index), and its WASI context.
    pub(super) fn new(
        user: T,
        imports: Vec<Option<Rc<Entry<T>>>>,
        consumes: Vec<bool>,
        wasi: Option<WasiP1Ctx>,
    ) -> Self {
        Data {
            user,
            imports,
            consumes,
            objects: HashMap::default(),
            next_object: 1,
            pending: Slab::default(),
            errors: Slab::default(),
            args: Vec::new(),
            result: None,
            lift_buf: Vec::new(),
            begins: Vec::new(),
            memory: None,
            wasi,
            machine: None,
        }
    }

    pub(super) fn machine(&mut self) -> Result<&mut Machine<T>> {
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
pub(super) struct IdHasher(u64);

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
/// What calling exports takes. It lives in the store's data, so a host function can
/// call back into its instance through its `Caller` ([`Cx::promising`], [`Cx::call`])
/// while the instance's `State` is borrowed by the call that reached it.
pub(super) struct Machine<T: 'static> {
    /// The adapter's exports, looked up once; shared, so that a call clones an `Rc`
    /// rather than a `TypedFunc` (whose type's reference counts are atomic).
    pub(super) funcs: Rc<Funcs>,
    pub(super) shape: GuestShape,
    pub(super) by_name: HashMap<String, usize>,
    /// The export called last: a task started again and again by the same name finds
    /// its export with one comparison, no hashing.
    pub(super) last_export: usize,
    /// By export: whether it is one of the guest library's hooks the host runs itself
    /// ([`Hooks::check_not_hook`]).
    pub(super) is_hook: Vec<bool>,
    /// The guest library's hooks among the exports.
    pub(super) hooks: Hooks,
    /// Workers whose continuation waits for a new call.
    pub(super) idle: Vec<i32>,
    /// Workers made so far.
    pub(super) workers: i32,
    /// The instance, for the host functions that start tasks (they must schedule the
    /// task's later steps).
    pub(super) inner: Weak<Inner<T>>,
}

/// The adapter's `begin`: `(worker, export) -> (kind, payload, task id)`.
pub(super) type BeginFunc = TypedFunc<(i32, i32), (i32, i32, i32)>;

/// The adapter's exports the host calls.
pub(super) struct Funcs {
    pub(super) drive: TypedFunc<(i32, i32, i32), (i32, i32)>,
    /// For a guest with the task hooks ([`jspi::begin_hooks`]).
    pub(super) begin: Option<BeginFunc>,
    pub(super) ensure: TypedFunc<i32, ()>,
    pub(super) trampolines: Vec<TypedFunc<(), ()>>,
}
