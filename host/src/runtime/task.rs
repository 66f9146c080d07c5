//! Tasks ([`Task`]): a promising call in flight, the slot it shares with the drive
//! loop, and when the guest library's `jspi_task_done` runs for it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use wasmtime::AsContextMut;

use crate::executor::Executor;

use super::instance::Inner;
use super::{Error, Result, Val};

/// A promising call in flight: completes with the export's result, or its error
/// (a trap, a failed suspending import) once the call finishes.
///
/// For a guest linked with the guest library, the task's `jspi_task_done` runs when
/// the `Task` is awaited to its end (in the same executor turn) or dropped, whichever
/// comes first, from the host's top level.
pub struct Task {
    pub(super) slot: Rc<RefCell<TaskSlot>>,
}

/// What a task shares with the machinery driving it.
#[derive(Default)]
pub(super) struct TaskSlot {
    outcome: Option<Result<Option<Val>>>,
    waker: Option<Waker>,
    /// The instance and id whose `jspi_task_done` runs once the task has settled and
    /// been seen (set once the library entered the task).
    pub(super) done: Option<(Weak<dyn Settle>, i32)>,
    /// The `Task` was dropped: run `done` as soon as the call finishes.
    dropped: bool,
    /// A failed `jspi_task_leave`: the task fails with it.
    pub(super) hook_error: Option<Error>,
    /// A spawned task: a failure is reported one executor turn late, as a pooled
    /// worker's death is on Node.
    pub(super) spawned: bool,
    /// Runs once the outcome is set ([`Task::then`]).
    then: Option<Box<dyn FnOnce()>>,
}

impl TaskSlot {
    pub(super) fn new(spawned: bool) -> Rc<RefCell<TaskSlot>> {
        Rc::new(RefCell::new(TaskSlot {
            spawned,
            ..TaskSlot::default()
        }))
    }

    pub(super) fn complete(slot: &Rc<RefCell<TaskSlot>>, outcome: Result<Option<Val>>) {
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

/// every top-level entry into the instance tries too).
pub(super) fn run_deferred_done<T: 'static>(inner: &Rc<Inner<T>>) {
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
pub(super) fn settle(done: Option<(Weak<dyn Settle>, i32)>) {
    if let Some((inner, id)) = done {
        if let Some(inner) = inner.upgrade() {
            inner.settle(id);
        }
    }
}

/// Where a settled task's `jspi_task_done` goes: its instance ([`TaskSlot::done`]).
pub(super) trait Settle {
    /// Runs (or defers to the top level) `jspi_task_done(id)`.
    fn settle(self: Rc<Self>, id: i32);
}

impl<T: 'static> Settle for Inner<T> {
    fn settle(self: Rc<Self>, id: i32) {
        self.deferred_done.borrow_mut().push(id);
        run_deferred_done(&self);
    }
}
