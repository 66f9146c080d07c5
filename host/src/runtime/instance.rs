//! The instance API ([`Instance`]): plain calls, promising and spawned tasks, and
//! reading and writing a suspended task's memory.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasmtime::{AsContextMut, Engine, Store};

use crate::executor::Executor;
use crate::jspi::{self, Hooks, NotLinked, Stats};

use super::calls::{call_in, export_index, exports_of, first_run, stats_in};
use super::drive::{after, Stop};
use super::task::{run_deferred_done, TaskSlot};
use super::{Compiled, Data, Error, Imports, Result, Task, Val};

/// A guest instance whose exports can run as interleaved promising tasks.
///
/// Cloning gives another handle to the same instance.
pub struct Instance<T: 'static> {
    pub(super) inner: Rc<Inner<T>>,
}

impl<T: 'static> Clone for Instance<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// What an [`Instance`]'s handles share.
pub(super) struct Inner<T: 'static> {
    /// The guest library's hooks (also in the store's `Machine`).
    pub(super) hooks: Hooks,
    /// Borrowed exactly while wasm of this instance runs (and while the host reads
    /// its store): not borrowed means no guest frame is on the stack.
    pub(super) state: RefCell<State<T>>,
    pub(super) executor: Executor,
    /// Ids of settled tasks whose `jspi_task_done` waits for the top level.
    pub(super) deferred_done: RefCell<Vec<i32>>,
    /// The ids whose `jspi_task_done` runs now, swapped with `deferred_done` (so that
    /// neither buffer is ever reallocated).
    pub(super) done_running: RefCell<Vec<i32>>,
    /// Whether an executor job to run `deferred_done` is queued.
    pub(super) done_queued: Cell<bool>,
}

/// The store and the guest instance in it.
pub(super) struct State<T: 'static> {
    pub(super) store: Store<Data<T>>,
    pub(super) guest: wasmtime::Instance,
}

impl<T: 'static> Instance<T> {
    /// Compiles and instantiates `wasm` with `imports`; `data` is what imports see as
    /// [`Cx::data`](crate::Cx::data). Suspended tasks resume on `executor`. [`Compiled`] does the two
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
    /// [`Cx::current_task`](crate::Cx::current_task) gave inside an import the task called.
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
