//! The five events the guest library reports (see the crate's essay): where a task is
//! placed when it enters, what is kept when it suspends, what is made whole when it
//! resumes, and what is dropped when it leaves or its promise settles.

use crate::MAX_NESTING;
use crate::{Error, Lookup, Memory, Segment, StackState, Strategy, TaskId, TaskRecord, TaskState};

impl<M: Memory, const N: usize> StackState<M, N> {
    /// A promising task is about to start; `sp` is the caller's stack pointer. Returns
    /// the task's id and the stack pointer it must start with. The same as
    /// [`Self::enter_within`] with no plain call running.
    pub fn enter(&mut self, sp: u32) -> Result<(TaskId, u32), Error> {
        self.enter_within(sp, false)
    }

    /// [`Self::enter`], told whether the host is inside a plain call (between
    /// `jspi_call_enter` and `jspi_call_leave`). A task started from there is nested
    /// in that call even when the stack pointer is the parked one, as it is when the
    /// calling export keeps nothing on the shadow stack: placed as if at top level it
    /// would leave live bytes above the stack pointer that `jspi_call_leave` puts back.
    pub fn enter_within(&mut self, sp: u32, in_plain_call: bool) -> Result<(TaskId, u32), Error> {
        if self.depth == MAX_NESTING {
            return Err(Error::NestedTooDeep);
        }
        if self.strategy != Strategy::None
            && (sp < self.config.stack_low || sp > self.config.stack_high)
        {
            return Err(Error::StackPointerOutside {
                sp,
                stack_low: self.config.stack_low,
                stack_high: self.config.stack_high,
            });
        }
        if self.live_count >= self.config.max_tasks {
            return Err(Error::TooManyTasks {
                limit: self.config.max_tasks,
            });
        }
        let top_level = self.depth == 0 && sp == self.parked && !in_plain_call;
        let place = match self.strategy {
            Strategy::None => sp,
            Strategy::Eager | Strategy::Lazy | Strategy::Adaptive => self.place(sp, top_level)?,
        };
        debug_assert!(
            self.nfree > 0,
            "live_count < max_tasks <= N leaves a free record"
        );
        let index = self.free[self.free_head];
        self.free_head = (self.free_head + 1) % N;
        self.nfree -= 1;
        let task = &mut self.tasks[index as usize];
        task.state = TaskState::Running;
        task.prev_unreported = task.unreported;
        task.unreported = false;
        task.generation = task.generation.wrapping_add(1).max(1);
        task.start = place;
        task.stop = place;
        task.evicted_hi = place;
        self.live_count += 1;
        self.stats.tasks_entered += 1;
        self.stats.live_tasks = u64::from(self.live_count);
        self.stats.peak_live_tasks = self.stats.peak_live_tasks.max(self.stats.live_tasks);
        self.segments[self.depth] = Segment {
            task: index,
            outer_sp: sp,
            top_level,
            first: true,
        };
        self.depth += 1;
        Ok((self.id_of(index), place))
    }

    /// Where a new task's frames begin.
    pub(crate) fn place(&mut self, sp: u32, top_level: bool) -> Result<u32, Error> {
        let room = |at: u32| at.saturating_sub(self.config.stack_low) >= self.config.min_task_stack;
        if !top_level {
            // Below the caller's frames (which are below every live byte: invariant 2).
            return if room(sp) {
                Ok(sp)
            } else {
                Err(Error::CannotFit {
                    needed: self.config.min_task_stack,
                    available: sp.saturating_sub(self.config.stack_low),
                })
            };
        }
        // Top level: `parked` is the lowest live byte (or the top), with room ensured
        // when it was set; check again in case the configuration is tight.
        if room(self.parked) {
            Ok(self.parked)
        } else {
            self.flush()?;
            self.parked = self.config.stack_high;
            Ok(self.parked)
        }
    }

    /// The running task is about to suspend with stack pointer `sp`. Returns its id and
    /// the stack pointer to leave for the host while it is suspended.
    pub fn suspend(&mut self, sp: u32) -> Result<(TaskId, u32), Error> {
        if self.depth == 0 {
            return Err(Error::NotInTask);
        }
        let seg = self.segments[self.depth - 1];
        let index = seg.task;
        let id = self.id_of(index);
        let stop = self.tasks[index as usize].stop;
        if self.strategy != Strategy::None && (sp > stop || sp < self.config.stack_low) {
            // Its range would be nonsense; saving it could only spread the damage.
            return Err(Error::OutsideRoom {
                sp,
                stop,
                stack_low: self.config.stack_low,
                min_task_stack: self.config.min_task_stack,
            });
        }
        // Its task-local regions first: if there is no room for them, nothing changed.
        self.save_locals(index)?;
        let new_sp = match self.strategy {
            Strategy::None => {
                // Nothing is kept, but the range is recorded, for `task_views`.
                self.tasks[index as usize].start = sp;
                self.tasks[index as usize].evicted_hi = sp;
                sp
            }
            Strategy::Eager => {
                self.tasks[index as usize].start = sp;
                self.tasks[index as usize].evicted_hi = sp;
                let stop = self.tasks[index as usize].stop;
                self.evict(index, stop)?;
                seg.outer_sp
            }
            Strategy::Lazy | Strategy::Adaptive => {
                self.tasks[index as usize].start = sp;
                self.tasks[index as usize].evicted_hi = sp;
                if seg.top_level {
                    // Everything below `stop` was evicted when this segment began, so
                    // this task's bytes are now the lowest live ones, unless adaptive
                    // saves them now (and if it cannot, leaving them is always safe).
                    if !self.save_at_suspend() || self.evict(index, stop).is_err() {
                        self.live_push(index);
                    } else {
                        self.saved_at_suspend += u64::from(stop - sp);
                    }
                    self.order_push(index);
                    self.depth -= 1;
                    self.tasks[index as usize].state = TaskState::Suspended;
                    self.stats.suspends += 1;
                    return Ok((id, self.park()?));
                }
                // Nested: the caller will pop its frames and reuse this space.
                let stop = self.tasks[index as usize].stop;
                self.evict(index, stop)?;
                self.order_push(index);
                seg.outer_sp
            }
        };
        self.depth -= 1;
        self.tasks[index as usize].state = TaskState::Suspended;
        self.stats.suspends += 1;
        Ok((id, new_sp))
    }

    /// Task `id` has been resumed; `sp` is the host's stack pointer. Makes the task's
    /// bytes whole and returns the stack pointer it suspended with. On error the task
    /// is dropped (it cannot run safely) and the caller fails it; a task that
    /// [`Self::done`] already ended gets [`Error::TaskEnded`].
    pub fn resume(&mut self, id: TaskId, sp: u32) -> Result<u32, Error> {
        // Resumes come only from the host's top level: any segment still on the stack
        // belongs to a task that returned or died without the host saying so yet. Such
        // a task may have left the stack pointer anywhere (even wrapped, past the
        // bottom), so the host's is then where top-level code belongs.
        let dead = self.depth > 0;
        self.drop_dead_segments();
        let index = match self.lookup(id) {
            Lookup::Alive(index) if self.tasks[index as usize].state == TaskState::Suspended => {
                index
            }
            Lookup::Ended { .. } => return Err(Error::TaskEnded(id)),
            _ => return Err(Error::UnknownTask(id)),
        };
        let sp = match self.strategy {
            Strategy::Eager | Strategy::Lazy | Strategy::Adaptive if dead => match self.park() {
                Ok(parked) => parked,
                Err(e) => {
                    self.drop_task(index);
                    return Err(e);
                }
            },
            _ => sp,
        };
        self.stats.resumes += 1;
        let result = match self.strategy {
            Strategy::None => Ok(sp),
            Strategy::Eager => Ok(self.restore(index)),
            Strategy::Lazy => self.make_room_below(index).map(|()| self.restore(index)),
            Strategy::Adaptive => {
                self.learn_order(index);
                self.make_room_below(index).map(|()| self.restore(index))
            }
        };
        match result {
            Ok(new_sp) => {
                self.restore_locals(index);
                self.tasks[index as usize].state = TaskState::Running;
                self.segments[0] = Segment {
                    task: index,
                    outer_sp: sp,
                    top_level: true,
                    first: false,
                };
                self.depth = 1;
                Ok(new_sp)
            }
            Err(e) => {
                self.drop_task(index);
                Err(e)
            }
        }
    }

    /// The first segment of task `id` has returned control to the host. Returns the
    /// stack pointer to set if the task ended in that segment (it returned or died),
    /// `None` if it suspended, or if it already ended (a repeated `leave`, or one after
    /// [`Self::done`]).
    ///
    /// Fails, changing nothing, for an id this instance did not hand out
    /// ([`Error::UnknownTask`]) and for a task running a resumed segment
    /// ([`Error::LeaveInsideTask`]: only guest code inside it can be calling). A call
    /// from guest code inside the task's *first* segment cannot be told apart from the
    /// host's call after that segment died, and ends the task.
    pub fn leave(&mut self, id: TaskId) -> Result<Option<u32>, Error> {
        let index = match self.lookup(id) {
            Lookup::Alive(index) => index,
            Lookup::Ended { .. } => return Ok(None),
            Lookup::Unknown => return Err(Error::UnknownTask(id)),
        };
        let Some(pos) = self.segments[..self.depth]
            .iter()
            .rposition(|s| s.task == index && s.first)
        else {
            return match self.tasks[index as usize].state {
                TaskState::Running => Err(Error::LeaveInsideTask(id)),
                _ => Ok(None),
            };
        };
        let seg = self.segments[pos];
        // Segments above it are tasks nested inside it that died with it.
        while self.depth > pos {
            self.depth -= 1;
            let task = self.segments[self.depth].task;
            self.drop_task(task);
        }
        Ok(match self.strategy {
            // The baseline never moves the stack pointer.
            Strategy::None => None,
            _ if seg.top_level => Some(self.park().unwrap_or(seg.outer_sp)),
            _ => Some(seg.outer_sp),
        })
    }

    /// Task `id`'s promise settled; called from the host's top level. Drops whatever
    /// the task still holds (a suspended task, even one partly evicted, is ended: it
    /// must not resume after this), and every segment still on the stack, which at top
    /// level can only belong to tasks that died. Returns the stack pointer to set, or
    /// `None` to leave it.
    ///
    /// Idempotent for the exact id of a task that already ended: `leave` drops a task
    /// that ended in its first segment, and the host's `done` comes later. Such an id
    /// is recognized while its record has not been reused, and after one reuse if its
    /// `done` had not come yet; records are reused in FIFO order, so that takes more
    /// than `max_tasks` tasks entered in between. Any other id fails with
    /// [`Error::UnknownTask`] and changes nothing: a made-up id, or the id of a task
    /// whose record was reused (a stale one).
    ///
    /// A call from guest code inside a running task (instead of the host's top level)
    /// with a valid id cannot be told apart from the host's call after that task
    /// died: it ends the running task.
    pub fn done(&mut self, id: TaskId) -> Result<Option<u32>, Error> {
        let target = match self.lookup(id) {
            Lookup::Alive(index) => Some(index),
            Lookup::Ended { index, previous } => {
                let task = &mut self.tasks[index as usize];
                if previous {
                    task.prev_unreported = false;
                } else {
                    task.unreported = false;
                }
                None
            }
            Lookup::Unknown => return Err(Error::UnknownTask(id)),
        };
        // At top level no segment can still be running.
        self.drop_dead_segments();
        if let Some(index) = target {
            // It may have been one of the dead segments: dropping again does nothing.
            self.drop_task(index);
            self.tasks[index as usize].unreported = false;
        }
        Ok(match self.strategy {
            Strategy::None => None,
            _ => self.park().ok(),
        })
    }

    /// The host is at its top level: no guest code of this instance runs (a pooled
    /// worker resumed from the event loop, about to take a task). Drops the segments
    /// of tasks that died without their hooks yet (their `leave` and `done` are
    /// accepted later, as after a `done` of another task) and returns the stack
    /// pointer for the top level, as [`Self::done`] does, or `None` to leave it.
    pub fn top_level(&mut self) -> Option<u32> {
        self.drop_dead_segments();
        match self.strategy {
            Strategy::None => None,
            _ => self.park().ok(),
        }
    }

    pub(crate) fn drop_dead_segments(&mut self) {
        while self.depth > 0 {
            self.depth -= 1;
            let task = self.segments[self.depth].task;
            self.drop_task(task);
        }
    }

    pub(crate) fn drop_task(&mut self, index: u16) {
        let task = self.tasks[index as usize];
        if task.state == TaskState::Free {
            return;
        }
        self.live.remove(index);
        self.order.remove(index);
        if let Some(block) = task.buf {
            self.heap.free(&mut self.mem, block);
        }
        if let Some(block) = task.locals {
            self.heap.free(&mut self.mem, block);
        }
        self.stats.saved_bytes -= u64::from(task.saved);
        self.tasks[index as usize] = TaskRecord {
            state: TaskState::Free,
            generation: task.generation,
            unreported: true,
            prev_unreported: task.prev_unreported,
            ..TaskRecord::FREE
        };
        self.free[(self.free_head + self.nfree) % N] = index;
        self.nfree += 1;
        self.live_count -= 1;
        self.stats.live_tasks = u64::from(self.live_count);
    }
}
