//! The host-call context: what an import sees while the guest calls it ([`Cx`]).

use std::marker::PhantomData;

use wasmtime::{AsContextMut, Caller};

use crate::jspi::{self, Stats};

use super::calls::{call_in, exports_of, first_run, stats_in};
use super::drive::after;
use super::task::TaskSlot;
use super::{Data, Error, Instance, Result, Task, Val};

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
