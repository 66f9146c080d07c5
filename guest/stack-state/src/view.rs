//! The read-only view of the live tasks, for debuggers and pictures of the shadow
//! stack (`jspi_debug_tasks`).

use crate::{Memory, StackState, TaskId, TaskState};

/// A task as a debugger or a picture of the shadow stack sees it
/// ([`StackState::task_views`]; the guest library's `jspi_debug_tasks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskView {
    /// Its id, as the hooks know it.
    pub id: TaskId,
    /// 1: running, in the innermost segment; 2: suspended; 3: running, but a task it
    /// started from a synchronous call runs above it.
    pub state: u32,
    /// The stack pointer when it last suspended (its placement before that).
    pub start: u32,
    /// Where its frames begin: its placement.
    pub stop: u32,
    /// While suspended: `[start, evicted_hi)` is saved in `block`, `[evicted_hi,
    /// stop)` is in place.
    pub evicted_hi: u32,
    /// The address of the heap block holding its saved bytes, or 0 for none.
    pub block: u32,
}

impl<M: Memory, const N: usize> StackState<M, N> {
    /// Every live task, in record order, for debuggers: read-only.
    pub fn task_views(&self) -> impl Iterator<Item = TaskView> + '_ {
        let innermost = self.depth.checked_sub(1).map(|d| self.segments[d].task);
        self.tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.state != TaskState::Free)
            .map(move |(index, t)| TaskView {
                id: self.id_of(index as u16),
                state: match t.state {
                    TaskState::Suspended => 2,
                    _ if innermost == Some(index as u16) => 1,
                    _ => 3,
                },
                start: t.start,
                stop: t.stop,
                evicted_hi: t.evicted_hi,
                block: t.buf.map_or(0, |b| b.addr),
            })
    }

    /// Where the host's top level runs now (the next top-level task is placed here).
    pub fn parked(&self) -> u32 {
        self.parked
    }
}
