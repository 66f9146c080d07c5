//! The drive loop: resuming a suspended task's worker when its future completes,
//! until the call finishes or fails.

use std::cell::RefCell;
use std::rc::Rc;

use wasmtime::{AsContextMut, StoreContextMut};

use crate::adapter::Ty;

use super::imports::Pending;
use super::instance::Inner;
use super::task::TaskSlot;
use super::{Data, Error, Result, Val};

/// Where a worker stopped.
pub(super) enum Stop {
    /// The call finished with this result; the worker is idle again.
    Finished(Option<Val>),
    /// The call awaits this future, whose value resumes it.
    Awaiting(Pending, Option<Ty>),
    /// The call failed (a trap, a failed import); the worker starts afresh next time.
    Failed(Error),
}

/// Resumes worker `worker` with `(a, b)` until its call awaits or ends.
pub(super) fn drive_in<T: 'static>(
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
pub(super) fn stop_of<T: 'static>(
    data: &mut Data<T>,
    worker: i32,
    outcome: Result<(i32, i32)>,
) -> Stop {
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
pub(super) fn step<T: 'static>(
    inner: Rc<Inner<T>>,
    worker: i32,
    a: i32,
    b: i32,
    slot: Rc<RefCell<TaskSlot>>,
) {
    let stop = {
        let mut state = inner.state.borrow_mut();
        drive_in(state.store.as_context_mut(), worker, a, b)
    };
    after(inner, worker, stop, slot);
}

/// Completes the task, or schedules its next step for when its future completes.
pub(super) fn after<T: 'static>(
    inner: Rc<Inner<T>>,
    worker: i32,
    stop: Stop,
    slot: Rc<RefCell<TaskSlot>>,
) {
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
pub(super) fn encode_resume<T: 'static>(
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
