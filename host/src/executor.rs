//! A single-threaded executor with a first-in, first-out run queue.
//!
//! JSPI's order of events is the JavaScript job queue's: a promise reaction runs after
//! the reactions queued before it. Here a spawned future runs after the futures
//! spawned or woken before it, so two tasks whose promises settle at the same instant
//! resume in the order they were woken, as on Node. Nothing here is `Send`: a guest
//! instance, its store and every future touching it stay on one thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Runs futures spawned on it, one at a time, in the order they became ready.
///
/// Cloning gives another handle to the same executor.
#[derive(Clone, Default)]
pub struct Executor {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Spawned futures by id; `None` once finished (or while being polled).
    tasks: RefCell<Vec<Option<LocalFuture>>>,
    /// Ids of futures to poll, in order. Shared with wakers, which may be `Send`.
    ready: Arc<Mutex<Ready>>,
    /// Ids of finished futures, for reuse.
    free: RefCell<Vec<usize>>,
    /// By id: the waker of whatever future has that id, made the first time it is
    /// polled and reused for every later poll and future of the id (a waker of a
    /// finished future waking its id's next one is a spurious wake, which futures
    /// allow).
    wakers: RefCell<Vec<Option<Waker>>>,
}

/// The run queue, with how many times each id is in it, so that a wake checks
/// "already queued" in O(1).
#[derive(Default)]
struct Ready {
    queue: VecDeque<usize>,
    /// By id: how many times it is in `queue`.
    queued: Vec<u32>,
}

impl Ready {
    fn push(&mut self, id: usize) {
        if self.queued.len() <= id {
            self.queued.resize(id + 1, 0);
        }
        self.queued[id] += 1;
        self.queue.push_back(id);
    }

    fn contains(&self, id: usize) -> bool {
        self.queued.get(id).is_some_and(|&n| n > 0)
    }

    fn pop(&mut self) -> Option<usize> {
        let id = self.queue.pop_front()?;
        self.queued[id] -= 1;
        Some(id)
    }
}

struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<Ready>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        // A future woken twice before it runs is polled once.
        if !ready.contains(self.id) {
            ready.push(self.id);
        }
    }
}

impl Executor {
    /// A new, empty executor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `future` to run after everything already queued.
    pub fn spawn(&self, future: impl Future<Output = ()> + 'static) {
        let id = match self.inner.free.borrow_mut().pop() {
            Some(id) => {
                self.inner.tasks.borrow_mut()[id] = Some(Box::pin(future));
                id
            }
            None => {
                let mut tasks = self.inner.tasks.borrow_mut();
                tasks.push(Some(Box::pin(future)));
                tasks.len() - 1
            }
        };
        self.lock_ready().push(id);
    }

    fn lock_ready(&self) -> std::sync::MutexGuard<'_, Ready> {
        self.inner.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Polls ready futures until none is ready (what JavaScript calls draining the
    /// microtask queue). Returns how many polls ran.
    pub fn run_until_stalled(&self) -> usize {
        let mut polls = 0;
        loop {
            let Some(id) = self.lock_ready().pop() else {
                return polls;
            };
            // Take the future out while it runs: it may spawn others.
            let Some(mut future) = self.inner.tasks.borrow_mut()[id].take() else {
                continue;
            };
            let waker = self.waker(id);
            polls += 1;
            match future.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(()) => self.inner.free.borrow_mut().push(id),
                Poll::Pending => self.inner.tasks.borrow_mut()[id] = Some(future),
            }
        }
    }

    /// The waker of id `id` (see [`Inner::wakers`]).
    fn waker(&self, id: usize) -> Waker {
        let mut wakers = self.inner.wakers.borrow_mut();
        if wakers.len() <= id {
            wakers.resize(id + 1, None);
        }
        wakers[id]
            .get_or_insert_with(|| {
                Waker::from(Arc::new(TaskWaker {
                    id,
                    ready: self.inner.ready.clone(),
                }))
            })
            .clone()
    }

    /// Spawned futures that have not finished.
    pub fn pending(&self) -> usize {
        self.inner
            .tasks
            .borrow()
            .iter()
            .filter(|t| t.is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn runs_in_spawn_order_and_spawned_futures_go_last() {
        let executor = Executor::new();
        let log = Rc::new(RefCell::new(Vec::new()));
        for name in ["a", "b"] {
            let (log, inner_log, ex) = (log.clone(), log.clone(), executor.clone());
            executor.spawn(async move {
                log.borrow_mut().push(name.to_string());
                ex.spawn(async move { inner_log.borrow_mut().push(format!("{name}'")) });
            });
        }
        executor.run_until_stalled();
        assert_eq!(*log.borrow(), ["a", "b", "a'", "b'"]);
        assert_eq!(executor.pending(), 0);
    }

    #[test]
    fn a_woken_future_runs_again() {
        struct Gate(Rc<Cell<bool>>, Rc<RefCell<Option<Waker>>>);
        impl Future for Gate {
            type Output = ();
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.0.get() {
                    Poll::Ready(())
                } else {
                    *self.1.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
        let executor = Executor::new();
        let (open, waker) = (Rc::new(Cell::new(false)), Rc::new(RefCell::new(None)));
        let done = Rc::new(Cell::new(false));
        let gate = Gate(open.clone(), waker.clone());
        let flag = done.clone();
        executor.spawn(async move {
            gate.await;
            flag.set(true);
        });
        executor.run_until_stalled();
        assert!(!done.get() && executor.pending() == 1);
        open.set(true);
        waker.borrow_mut().take().expect("registered").wake();
        executor.run_until_stalled();
        assert!(done.get() && executor.pending() == 0);
    }
}
