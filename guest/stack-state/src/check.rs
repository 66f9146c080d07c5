//! A full consistency check of the state's bookkeeping, for the simulator and tests.
//!
//! The simulator calls [`StackState::check`] after every step, so a schedule that
//! breaks an invariant of the lazy or adaptive strategy (see the crate's essay) fails at the step
//! that broke it, before the damage shows up as a corrupted frame or a panic many
//! steps later.

use alloc::format;
use alloc::string::String;
use alloc::vec;

use crate::{Memory, StackState, Strategy, TaskState};

impl<M: Memory, const N: usize> StackState<M, N> {
    /// Checks the invariants that hold between events; returns the first broken one.
    pub fn check(&self) -> Result<(), String> {
        let alive = self
            .tasks
            .iter()
            .filter(|t| t.state != TaskState::Free)
            .count();
        if alive != self.live_count as usize || self.nfree + alive != N {
            return Err(format!(
                "{alive} records in use, live_count {}, {} free of {N}",
                self.live_count, self.nfree
            ));
        }
        let running = self.tasks.iter().filter(|t| t.state == TaskState::Running);
        if running.count() != self.depth {
            return Err(format!(
                "{} segments on the stack but a different number of running tasks",
                self.depth
            ));
        }
        let saved: u64 = self.tasks.iter().map(|t| u64::from(t.saved)).sum();
        if saved != self.stats.saved_bytes {
            return Err(format!(
                "tasks hold {saved} saved bytes, the counter says {}",
                self.stats.saved_bytes
            ));
        }
        for (i, t) in self.tasks.iter().enumerate() {
            if t.state == TaskState::Suspended
                && self.strategy != Strategy::None
                && !(t.start <= t.evicted_hi
                    && t.evicted_hi <= t.stop
                    && t.saved == t.evicted_hi - t.start)
            {
                return Err(format!(
                    "task {i}: start {:#x}, evicted up to {:#x}, stop {:#x}, {} saved",
                    t.start, t.evicted_hi, t.stop, t.saved
                ));
            }
        }
        if self.strategy == Strategy::Adaptive {
            self.check_suspend_order()?;
        }
        if !self.strategy.leaves_bytes_in_place() {
            return Ok(());
        }
        self.check_live_list()
    }

    /// Adaptive: the suspend order holds exactly the suspended tasks, once each.
    fn check_suspend_order(&self) -> Result<(), String> {
        let mut seen = vec![false; N];
        for index in self.order.iter() {
            let i = index as usize;
            if core::mem::replace(&mut seen[i], true) {
                return Err(format!("task {i} is in the suspend order twice"));
            }
            if self.tasks[i].state != TaskState::Suspended {
                let state = self.tasks[i].state;
                return Err(format!("task {i} is in the suspend order but {state:?}"));
            }
        }
        match self
            .tasks
            .iter()
            .enumerate()
            .find(|&(i, t)| t.state == TaskState::Suspended && !self.order.contains(i as u16))
        {
            Some((i, _)) => Err(format!(
                "task {i} is suspended but not in the suspend order"
            )),
            None => Ok(()),
        }
    }

    /// Lazy and adaptive: the live list holds each suspended task with live bytes exactly once, in
    /// address order, and the host runs at or below all of them.
    fn check_live_list(&self) -> Result<(), String> {
        let mut seen = vec![false; N];
        let mut above: Option<u16> = None;
        for index in self.live.iter() {
            let i = index as usize;
            if core::mem::replace(&mut seen[i], true) {
                return Err(format!("task {i} is on the live list twice"));
            }
            let t = &self.tasks[i];
            if t.state != TaskState::Suspended {
                return Err(format!("task {i} is on the live list but {:?}", t.state));
            }
            if let Some(a) = above {
                let a = &self.tasks[a as usize];
                if a.evicted_hi < t.stop {
                    return Err(format!(
                        "live list out of order: live bytes from {:#x} above a task whose range ends at {:#x}",
                        a.evicted_hi, t.stop
                    ));
                }
            }
            above = Some(index);
        }
        for (i, t) in self.tasks.iter().enumerate() {
            if t.state == TaskState::Suspended && t.evicted_hi < t.stop && !seen[i] {
                return Err(format!(
                    "task {i} has live bytes [{:#x}, {:#x}) but is not on the live list",
                    t.evicted_hi, t.stop
                ));
            }
        }
        if let Some(lowest) = self.live.bottom() {
            let lowest = self.tasks[lowest as usize].evicted_hi;
            if self.parked > lowest {
                return Err(format!(
                    "the host is parked at {:#x}, above live bytes at {lowest:#x}",
                    self.parked
                ));
            }
        }
        Ok(())
    }
}
