//! The adaptive strategy's policy: lazy while tasks resume newest-first, and saving a
//! task as it suspends once they do not.
//!
//! Lazy costs nothing when tasks resume in reverse order (LIFO), but under overlap
//! (FIFO, random) it places each new task below the last and evicts them again when
//! an older one resumes: it copies almost what eager copies while touching `n` times
//! the stack, where eager reuses one hot slot at the top. Adaptive watches the order
//! of resumes and, once they stop coming newest-first, saves a task that suspends at
//! top level while other tasks' bytes are live above it, so that the next task is
//! placed where that one was.
//!
//! The order is learnt from history: a score from 0 to [`DISORDER_MAX`] goes up by
//! [`DISORDER_STEP`] at every resume that did not take the newest suspended task and
//! down by 1 at every one that did; tasks are saved at suspend from [`DISORDER_SAVE`]
//! up. A fresh state behaves like lazy.
//!
//! What holds (checked by the simulator's properties, `tests/model.rs` and the fuzz
//! target):
//! - it never copies more than eager: a suspended task's bytes are saved at most once
//!   per suspension, and only what was saved is restored;
//! - while every resume takes the newest suspended task it makes exactly lazy's
//!   decisions: in LIFO it copies nothing (unless a flush makes room);
//! - against lazy: every byte it copies beyond what lazy's rule copies in the same
//!   state is a task saved at suspend ([`StackState::bytes_saved_at_suspend`]), and
//!   restored at most once. The placements then differ from lazy's, so no fixed ratio
//!   to lazy's total holds for every schedule: over 32,768 random schedules of the
//!   simulator it copied 15% more than lazy in all (and 31% less than eager); the
//!   benchmarks measure the time (`cargo xtask bench`, docs/perf).

use crate::{Memory, StackState, Strategy};

/// The most [`StackState`]'s disorder score reaches.
const DISORDER_MAX: u8 = 8;
/// The score from which suspending tasks are saved at once.
const DISORDER_SAVE: u8 = 4;
/// What a resume that is not newest-first adds to the score (one that is takes 1
/// away), so tasks are saved at suspend once about a third of the resumes are out
/// of order.
const DISORDER_STEP: u8 = 2;

impl<M: Memory, const N: usize> StackState<M, N> {
    /// Whether a task suspending at top level now is saved at once. Only
    /// when recent resumes were out of order, and only when other tasks' bytes are
    /// live above it: then the next top-level task goes where this one was, instead
    /// of below it (with nothing live, the next task starts at the top anyway).
    pub(crate) fn save_at_suspend(&self) -> bool {
        self.strategy == Strategy::Adaptive
            && self.disorder >= DISORDER_SAVE
            && self.live.bottom().is_some()
    }

    /// Adaptive: task `index` has suspended (only once nothing can fail any more, so
    /// that the order holds suspended tasks only).
    pub(crate) fn order_push(&mut self, index: u16) {
        if self.strategy == Strategy::Adaptive {
            self.order.push_bottom(index);
        }
    }

    /// As task `index` resumes: was it the newest suspended task (the order
    /// lazy serves for free)? Moves the disorder score and takes the task off the
    /// suspend order.
    pub(crate) fn learn_order(&mut self, index: u16) {
        self.disorder = if self.order.bottom() == Some(index) {
            self.disorder.saturating_sub(1)
        } else {
            (self.disorder + DISORDER_STEP).min(DISORDER_MAX)
        };
        self.order.remove(index);
    }
}
