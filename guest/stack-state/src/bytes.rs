//! Where suspended tasks' bytes go: the host's parking place below the live bytes, a
//! flush of everything, the room a resuming task needs, and the copies to and from a
//! task's heap block.

use crate::{Error, Memory, StackState};

impl<M: Memory, const N: usize> StackState<M, N> {
    /// The stack pointer for the host's top level: the lowest live byte, or the top.
    /// Flushes when that would leave a new task too little room.
    pub(crate) fn park(&mut self) -> Result<u32, Error> {
        if !self.strategy.leaves_bytes_in_place() {
            self.parked = self.config.stack_high;
            return Ok(self.parked);
        }
        let lowest = match self.live.bottom() {
            None => self.config.stack_high,
            Some(index) => self.tasks[index as usize].evicted_hi,
        };
        self.parked = if lowest.saturating_sub(self.config.stack_low) >= self.config.min_task_stack
        {
            lowest
        } else {
            self.flush()?;
            self.config.stack_high
        };
        Ok(self.parked)
    }

    /// Evicts every live byte.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        while let Some(index) = self.live.bottom() {
            let stop = self.tasks[index as usize].stop;
            self.evict(index, stop)?;
            self.live.remove(index);
        }
        Ok(())
    }

    /// Lazy, before task `index` runs: take it off the live list, wherever it is, and
    /// evict every other task's live bytes below its `stop`.
    ///
    /// The task leaves the list by its own links, not by being met while walking up
    /// from the bottom: tasks with empty ranges share addresses, so an empty task of
    /// another's can sit below the resuming one and end the walk first (issue 12).
    pub(crate) fn make_room_below(&mut self, index: u16) -> Result<(), Error> {
        self.live.remove(index);
        let stop = self.tasks[index as usize].stop;
        while let Some(other) = self.live.bottom() {
            let o = self.tasks[other as usize];
            if o.evicted_hi >= stop {
                // Entries from here up are at or above `stop` (the list's order).
                break;
            }
            self.evict(other, stop.min(o.stop))?;
            if stop < o.stop {
                // Straddles `stop`: its upper part stays live, and it stays lowest.
                break;
            }
            self.live.remove(other);
        }
        Ok(())
    }

    /// Saves task `index`'s bytes from `evicted_hi` up to `up_to` (at most `stop`).
    pub(crate) fn evict(&mut self, index: u16, up_to: u32) -> Result<(), Error> {
        let task = self.tasks[index as usize];
        if up_to <= task.evicted_hi {
            return Ok(());
        }
        let range = task.stop - task.start;
        let buf = match task.buf {
            Some(block) if block.size >= range => block,
            old => {
                // A buffer for the whole range, so later evictions only append.
                let block = self
                    .heap
                    .alloc(&mut self.mem, range)
                    .ok_or(Error::OutOfMemory { bytes: range })?;
                if let Some(old) = old {
                    self.heap.free(&mut self.mem, old);
                }
                block
            }
        };
        let from = task.evicted_hi;
        let len = up_to - from;
        self.mem.copy(from, buf.addr + (from - task.start), len);
        let t = &mut self.tasks[index as usize];
        t.buf = Some(buf);
        t.evicted_hi = up_to;
        t.saved += len;
        self.stats.bytes_saved += u64::from(len);
        self.stats.evictions += 1;
        self.stats.saved_bytes += u64::from(len);
        self.stats.peak_saved_bytes = self.stats.peak_saved_bytes.max(self.stats.saved_bytes);
        Ok(())
    }

    /// Copies task `index`'s evicted bytes back; returns its `start`.
    pub(crate) fn restore(&mut self, index: u16) -> u32 {
        let task = self.tasks[index as usize];
        let len = task.evicted_hi - task.start;
        if len > 0 {
            let buf = task.buf.expect("evicted bytes have a buffer");
            self.mem.copy(buf.addr, task.start, len);
            self.stats.bytes_restored += u64::from(len);
        }
        let t = &mut self.tasks[index as usize];
        self.stats.saved_bytes -= u64::from(t.saved);
        t.saved = 0;
        t.evicted_hi = t.start;
        t.start
    }

    pub(crate) fn live_push(&mut self, index: u16) {
        debug_assert!(
            self.live.bottom().is_none_or(|lowest| {
                self.tasks[lowest as usize].evicted_hi >= self.tasks[index as usize].stop
            }),
            "a suspending task's bytes must be the lowest live ones"
        );
        self.live.push_bottom(index);
    }
}
