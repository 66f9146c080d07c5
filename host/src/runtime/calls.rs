//! Calling exports: finding one by name, a plain call between the guest library's
//! call hooks, and a task's first run between its task hooks.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasmtime::{AsContextMut, StoreContextMut};

use crate::jspi::{self, Stats};

use super::data::{Begin, Machine};
use super::drive::{drive_in, stop_of, Stop};
use super::task::{Settle, TaskSlot};
use super::{Data, Error, Result, Val};

/// Names and parameter counts of the exports the host can call.
pub(super) fn exports_of<T: 'static>(data: &mut Data<T>) -> Vec<(String, usize)> {
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
pub(super) fn export_index<T: 'static>(
    machine: &mut Machine<T>,
    name: &str,
    args: &[i32],
) -> Result<usize> {
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
pub(super) fn call_in<T: 'static>(
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
pub(super) fn first_run<T: 'static>(
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
pub(super) fn begin_run<T: 'static>(
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
pub(super) fn take_worker<T: 'static>(store: &mut StoreContextMut<'_, Data<T>>) -> Result<i32> {
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
/// The guest library's counters (see [`Instance::stats`]).
pub(super) fn stats_in<T: 'static>(
    mut store: StoreContextMut<'_, Data<T>>,
) -> Result<Option<Stats>> {
    let hooks = store.data_mut().machine()?.hooks;
    jspi::stats(&hooks, &mut store)
}
