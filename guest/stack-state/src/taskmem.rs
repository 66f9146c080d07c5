//! Task memory: where a suspended task's bytes are now, for hosts that read or write
//! them, and task-local regions, swapped at every suspend and resume.
//!
//! While a task is suspended, a byte of its range `[start, stop)` is either *in place*
//! (lazy: `[evicted_hi, stop)`, not yet overlapped by anyone) or *saved* in the task's
//! block (`[start, evicted_hi)`; eager saves it all). A host that fills a suspended
//! task's stack buffer must write where the byte is now, or the resume copies the
//! saved bytes back over its write (eager), or another task's frame gets it (lazy):
//! [`StackState::locate`] says where, one contiguous run at a time.
//!
//! ```text
//!   stop ┌───────────────┐
//!        │ in place      │  locate(addr) = (addr, stop - addr)
//!        ├ evicted_hi ── ┤
//!        │ saved         │  locate(addr) = (block + (addr - start), evicted_hi - addr)
//!  start └───────────────┘
//! ```
//!
//! A *task-local region* is memory that each task has its own copy of, such as libc's
//! `errno` or the buffer behind `strtok`: registered once before any task starts, it is
//! saved into the task's locals block when the task suspends and copied back when it
//! resumes, so a task never sees what another task left there across its own awaits.
//! A new task starts with whatever the region holds when it enters. The `none`
//! strategy swaps nothing (it keeps no state at all).

use crate::heap::Block;
use crate::{Error, Lookup, Memory, StackState, Strategy, TaskId, TaskState};

/// Most task-local regions a module can register.
pub const MAX_LOCALS: usize = 8;

/// Most bytes of task-local regions in all.
pub const MAX_LOCAL_BYTES: u32 = 4096;

/// The registered task-local regions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Locals {
    regions: [(u32, u32); MAX_LOCALS],
    count: usize,
    /// Their lengths summed: the size of each task's locals block.
    bytes: u32,
}

impl Locals {
    pub(crate) const NONE: Locals = Locals {
        regions: [(0, 0); MAX_LOCALS],
        count: 0,
        bytes: 0,
    };
}

impl<M: Memory, const N: usize> StackState<M, N> {
    /// Where the byte at `addr` of task `id` is now, and how many bytes from it lie
    /// contiguously in the same place: `(where, run)`. For a suspended task's saved
    /// bytes `where` is in its block; for everything else (a running task, bytes
    /// outside the task's range, the `none` strategy) it is `addr` itself, the run
    /// ending where the task's saved bytes begin, or at the end of the address space.
    ///
    /// Only valid until the guest runs again: a host reads or writes right away.
    pub fn locate(&self, id: TaskId, addr: u32) -> Result<(u32, u32), Error> {
        let index = match self.lookup(id) {
            Lookup::Alive(index) => index,
            Lookup::Ended { .. } => return Err(Error::TaskEnded(id)),
            Lookup::Unknown => return Err(Error::UnknownTask(id)),
        };
        let task = self.tasks[index as usize];
        let to_end = u32::MAX - addr;
        if task.state != TaskState::Suspended || self.strategy == Strategy::None {
            return Ok((addr, to_end));
        }
        if addr < task.start {
            return Ok((addr, task.start - addr));
        }
        if addr >= task.stop {
            return Ok((addr, to_end));
        }
        if addr < task.evicted_hi {
            let block = task.buf.expect("saved bytes have a block");
            return Ok((block.addr + (addr - task.start), task.evicted_hi - addr));
        }
        Ok((addr, task.stop - addr))
    }

    /// The running task's id, if a task segment is running (for a host function that
    /// needs to know which task called it).
    pub fn current(&self) -> Option<TaskId> {
        let depth = self.depth.checked_sub(1)?;
        Some(self.id_of(self.segments[depth].task))
    }

    /// Registers `[addr, addr + len)` as a task-local region. Only while no task is
    /// alive; the region must not overlap the shadow stack or another region.
    pub fn register_local(&mut self, addr: u32, len: u32) -> Result<(), Error> {
        let end = addr.checked_add(len).ok_or(Error::BadLocal {
            addr,
            len,
            why: "it runs past the end of memory",
        })?;
        let bad = |why| Error::BadLocal { addr, len, why };
        if self.live_count != 0 {
            return Err(bad(
                "tasks are alive (register regions before any task starts)",
            ));
        }
        if len == 0 {
            return Err(bad("it is empty"));
        }
        if self.locals.count == MAX_LOCALS {
            return Err(bad("all 8 regions are taken"));
        }
        if self.locals.bytes + len > MAX_LOCAL_BYTES {
            return Err(bad("the regions would hold more than 4096 bytes in all"));
        }
        if addr < self.config.stack_high && self.config.stack_low < end {
            return Err(bad("it overlaps the shadow stack"));
        }
        let locals = &mut self.locals;
        if locals.regions[..locals.count]
            .iter()
            .any(|&(a, l)| addr < a + l && a < end)
        {
            return Err(bad("it overlaps a region registered before"));
        }
        locals.regions[locals.count] = (addr, len);
        locals.count += 1;
        locals.bytes += len;
        Ok(())
    }

    /// The task at `index` is suspending: its copy of the task-local regions goes into
    /// its locals block.
    pub(crate) fn save_locals(&mut self, index: u16) -> Result<(), Error> {
        if self.locals.count == 0 || self.strategy == Strategy::None {
            return Ok(());
        }
        let block = match self.tasks[index as usize].locals {
            Some(block) => block,
            None => {
                let bytes = self.locals.bytes;
                let block = self
                    .heap
                    .alloc(&mut self.mem, bytes)
                    .ok_or(Error::OutOfMemory { bytes })?;
                self.tasks[index as usize].locals = Some(block);
                block
            }
        };
        self.copy_locals(block, true);
        Ok(())
    }

    /// The task at `index` is resuming: its copy of the task-local regions comes back.
    pub(crate) fn restore_locals(&mut self, index: u16) {
        if let Some(block) = self.tasks[index as usize].locals {
            self.copy_locals(block, false);
        }
    }

    /// Copies every region into `block` (`out`) or back from it.
    fn copy_locals(&mut self, block: Block, out: bool) {
        let mut at = block.addr;
        for &(addr, len) in &self.locals.regions[..self.locals.count] {
            if out {
                self.mem.copy(addr, at, len);
            } else {
                self.mem.copy(at, addr, len);
            }
            at += len;
        }
    }
}
