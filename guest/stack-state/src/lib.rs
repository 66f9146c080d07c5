//! Shadow-stack state for suspended wasm32 tasks.
//!
//! clang and rustc keep a *shadow stack* in linear memory, addressed by the global
//! `__stack_pointer` and growing down. JSPI switches the engine's native stack when a
//! promising call ("task") suspends, but nobody switches the shadow stack, so two
//! interleaved tasks overwrite each other's frames. This crate decides where each task's
//! frames go and keeps the bytes of every suspended task safe, either eagerly or lazily.
//! It has no wasm code: it works over an abstract [`Memory`] and is told the stack
//! pointer at each event, so everything here runs and is tested natively.
//!
//! ## The picture
//!
//! ```text
//!  stack_high ┌──────────────────────┐  ← initial __stack_pointer
//!             │ A: [a.start, a.stop) │  suspended; bytes live in memory
//!             ├──────────────────────┤  ← a.start = b.stop (B was placed below A)
//!             │ B: [b.start, b.stop) │  suspended; its lowest part evicted to its buffer
//!             │ · · · · · · · · · · ·│  ← b.evicted_hi: below it, B's bytes are saved
//!             ├──────────────────────┤  ← parked: where the next top-level call runs
//!             │        free          │
//!  stack_low  └──────────────────────┘  (0 with `--stack-first`: overflow traps)
//!
//!  heap (memory.grow): [ B's saved bytes [b.start, b.evicted_hi) ][ free blocks ]
//! ```
//!
//! A task's `stop` is where its frames begin (its placement, the stack pointer it was
//! entered with); its `start` is the stack pointer when it last suspended. While
//! suspended, a task owns `[start, stop)`.
//!
//! ## Events
//!
//! The guest library reports five events, each with the current stack pointer, and sets
//! `__stack_pointer` to what each returns:
//!
//! - [`StackState::enter`]: a promising task is about to start. Places it.
//! - [`StackState::suspend`]: the running task is about to suspend at `sp`.
//! - [`StackState::resume`]: a task has been resumed (always from the host's top level).
//! - [`StackState::leave`]: the task's first run returned control to the host.
//! - [`StackState::done`]: the task's promise settled (it returned or died).
//!
//! A *segment* is one uninterrupted run of a task: from enter or resume to the next
//! suspend or the end. Segments nest when a running task makes a synchronous call out
//! that starts another task; the stack of segments says which task is running.
//!
//! ## Strategies
//!
//! - **None** keeps no state and never moves the stack pointer: the engine's raw switch,
//!   and the reentrancy bug of the blog post.
//! - **Eager** copies `[start, stop)` out at every suspend and back at every resume.
//! - **Lazy** leaves a suspended task's bytes in place and copies them out only when a
//!   task that resumes could run over them: a resuming task may write anywhere below
//!   its `stop`, so every other task's live bytes below that address are evicted first
//!   (partially, for a task that straddles it); the resuming task's own evicted bytes
//!   are copied back. Tasks are placed below the lowest live byte, so tasks that resume
//!   in reverse order (LIFO) never copy anything.
//! - **Adaptive** is lazy while tasks resume newest-first. Once they stop doing so, a
//!   task that suspends at top level while other tasks' bytes are live is saved at
//!   once, so that the next task reuses its place instead of going below it
//!   (`adaptive.rs`: the policy and what it guarantees).
//!
//! ## Invariants (lazy and adaptive)
//!
//! 1. Live (not evicted) bytes of different suspended tasks never overlap; the *live
//!    list* holds each suspended task with live bytes once, highest first, so the
//!    lowest is last. It is doubly linked through the task records (`live.rs`): a task
//!    leaves it in constant time when it resumes or is dropped, wherever it is, which
//!    matters for tasks with empty ranges, which share one address.
//! 2. Whenever code that is not a task runs (the host's top level, a synchronous
//!    export), `__stack_pointer` is at or below every live byte, so that code cannot
//!    overwrite them.
//! 3. At the host's top level no synchronous frames exist, and the stack pointer is
//!    `parked`; a hook that sees exactly `parked` with no segment running and no plain
//!    call running ([`StackState::enter_within`]) is at top level and may place the
//!    task anywhere, otherwise it is nested inside a synchronous call and must place
//!    it below the caller's frames. (The stack pointer alone cannot tell: an export
//!    that keeps nothing on the shadow stack calls out with it exactly at `parked`.) A nested task's
//!    caller will pop its frames and reuse the space, so a nested first segment that
//!    suspends saves its own bytes at once.
//!
//! ## Placement and bounds
//!
//! Tasks go just below the lowest live byte. When fewer than `min_task_stack` bytes
//! would be left above `stack_low`, the state *flushes* (evicts every live byte) and
//! places the task at `stack_high` instead, so shadow-stack use stays bounded however
//! many tasks come and go. A nested task with no room gets [`Error::CannotFit`]; more
//! tasks alive than `max_tasks` gets [`Error::TooManyTasks`]. Overlap is never silent:
//! either the bytes were evicted first, or the task does not start.
//!
//! ## The room below
//!
//! `min_task_stack` is a guarantee, and the only one: a task, or a plain call the host
//! makes at top level, may rely on that many bytes below where it starts. Under lazy
//! the start is just below the lowest live byte, so what lies beyond the room depends
//! on which tasks happen to be suspended; under eager every top-level task and call
//! starts at `stack_high`. Code that needs more (a 60 KB buffer, a deep recursion
//! before the first await) must be given more room: the guest library takes it from
//! the link (`JSPI_MIN_TASK_STACK` in `jspi.h`) or from `jspi_configure`. Going past
//! the room is not checked on every frame (compiled code moves the stack pointer
//! itself), but where it shows, it is named: a task that suspends with its stack
//! pointer outside `[stack_low, stop)` gets [`Error::OutsideRoom`], and a task entered
//! while a dead call's pointer is still outside the stack gets
//! [`Error::StackPointerOutside`].
//!
//! ## Ids
//!
//! A [`TaskId`] packs a record index and that record's generation, bumped at every
//! reuse; records are reused oldest-freed first. Every hook checks it: an id that
//! names no task of this instance (made up, or stale) is refused with
//! [`Error::UnknownTask`] and changes nothing, and a task ended while suspended cannot
//! resume ([`Error::TaskEnded`]). See [`StackState::done`] for which ended ids are still
//! accepted.

#![no_std]
#![cfg_attr(not(test), warn(missing_docs))]

#[cfg(any(test, feature = "sim"))]
extern crate alloc;

mod adaptive;
#[cfg(any(test, feature = "sim"))]
mod check;
mod error;
mod heap;
mod memory;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod stats;
mod tasklist;
mod taskmem;

pub use heap::{Block, Heap, HeapSource};
pub use memory::Memory;
#[cfg(any(test, feature = "sim"))]
pub use memory::VecMemory;

pub use error::Error;
pub use stats::Stats;
pub use taskmem::{MAX_LOCALS, MAX_LOCAL_BYTES};

use tasklist::TaskList;
use taskmem::Locals;

/// How suspended tasks' bytes are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Nothing is kept; the stack pointer is never moved (the bug, as a baseline).
    None,
    /// Copy the whole range at every suspend and back at every resume.
    Eager,
    /// Copy only what another task is about to overlap; restore only what was evicted.
    Lazy,
    /// Lazy while tasks resume newest-first; once they stop doing so, a task that
    /// suspends while other tasks' bytes are live is saved at once, so that the next
    /// task reuses its place instead of going below it.
    Adaptive,
}

impl Strategy {
    /// Whether suspended tasks' bytes may stay where they are (lazy and adaptive).
    pub const fn leaves_bytes_in_place(self) -> bool {
        matches!(self, Strategy::Lazy | Strategy::Adaptive)
    }
}

/// Where the shadow stack is and how it may be used.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Lowest address of the shadow stack (`__stack_low`).
    pub stack_low: u32,
    /// One past the highest address: the initial stack pointer (`__stack_high`).
    pub stack_high: u32,
    /// A task is only placed where at least this many bytes are left below it.
    pub min_task_stack: u32,
    /// Most tasks alive at once (at most the capacity `N` of [`StackState`]).
    pub max_tasks: u32,
    /// Where saved bytes are stored.
    pub heap: HeapSource,
}

/// A task, as the host sees it: index and generation packed in one `u32`, never 0.
pub type TaskId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskState {
    Free,
    Running,
    Suspended,
}

/// One task's record. `evicted_hi` is only meaningful while suspended:
/// `[start, evicted_hi)` is saved in `buf`, `[evicted_hi, stop)` is live in memory.
#[derive(Clone, Copy, Debug)]
struct Task {
    state: TaskState,
    generation: u16,
    start: u32,
    stop: u32,
    evicted_hi: u32,
    buf: Option<Block>,
    /// Saved bytes currently held for this task (for the counters).
    saved: u32,
    /// The task of this generation ended without [`StackState::done`] yet (it died or
    /// returned in a segment, and `leave` or a later hook dropped it).
    unreported: bool,
    /// The same for the previous generation, when this record was reused before that
    /// task's `done` came.
    prev_unreported: bool,
    /// Its copy of the task-local regions, once it has suspended (`taskmem`).
    locals: Option<Block>,
}

impl Task {
    const FREE: Task = Task {
        state: TaskState::Free,
        generation: 0,
        start: 0,
        stop: 0,
        evicted_hi: 0,
        buf: None,
        saved: 0,
        unreported: false,
        prev_unreported: false,
        locals: None,
    };
}

/// What a task id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lookup {
    /// A task that is alive (running or suspended), by index.
    Alive(u16),
    /// The exact id of a task that has ended; `previous` when its record has been
    /// reused once since, before its `done` came.
    Ended { index: u16, previous: bool },
    /// Nothing this instance handed out, or a task whose record was reused.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    task: u16,
    /// The stack pointer when the segment began: the caller's.
    outer_sp: u32,
    /// Began at the host's top level (a resume, or an enter with no frames below).
    top_level: bool,
    /// The task's first segment (begun by `enter`).
    first: bool,
}

/// Most segments nested at once.
pub const MAX_NESTING: usize = 64;

/// The stack state of one guest instance, with room for `N` task records.
pub struct StackState<M: Memory, const N: usize> {
    mem: M,
    strategy: Strategy,
    config: Config,
    tasks: [Task; N],
    /// Indices of free records, a ring taken from `free_head` and given back at its
    /// end, so entering is O(1) and a record is reused as late as possible (which keeps
    /// the exact ids of tasks that ended recognizable for longer, see `done`).
    free: [u16; N],
    free_head: usize,
    nfree: usize,
    live_count: u32,
    segments: [Segment; MAX_NESTING],
    depth: usize,
    /// Lazy and adaptive: the tasks with live bytes, highest address first.
    live: TaskList<N>,
    /// Adaptive: every suspended task, in the order they suspended (newest last).
    order: TaskList<N>,
    /// Adaptive: how much recent resumes disagreed with newest-first (`adaptive.rs`).
    disorder: u8,
    /// Adaptive: bytes saved as tasks suspended (part of `bytes_saved`).
    saved_at_suspend: u64,
    parked: u32,
    heap: Heap,
    stats: Stats,
    /// Task-local regions (`taskmem`).
    locals: Locals,
}

impl<M: Memory, const N: usize> StackState<M, N> {
    /// A state with no tasks. Panics on a configuration that [`Self::configure`]
    /// refuses, or `N` above 65534. A `const fn`, so a guest can
    /// keep its state in a `static` without building it on its small stack.
    pub const fn new(mem: M, strategy: Strategy, config: Config) -> Self {
        assert!(N < u16::MAX as usize, "at most 65534 task records");
        let mut free = [0u16; N];
        let mut i = 0;
        while i < N {
            free[i] = i as u16;
            i += 1;
        }
        let mut state = Self {
            mem,
            strategy,
            config,
            tasks: [Task::FREE; N],
            free,
            free_head: 0,
            nfree: N,
            live_count: 0,
            segments: [Segment {
                task: 0,
                outer_sp: 0,
                top_level: false,
                first: false,
            }; MAX_NESTING],
            depth: 0,
            live: TaskList::new(),
            order: TaskList::new(),
            disorder: 0,
            saved_at_suspend: 0,
            parked: 0,
            heap: Heap::new(config.heap),
            stats: Stats::ZERO,
            locals: Locals::NONE,
        };
        if let Err(message) = state.configure(config) {
            panic!("{}", message);
        }
        state
    }

    /// Replaces the configuration; only allowed while no task is alive and no saved
    /// bytes are held. Returns what is wrong with a configuration that cannot work.
    pub const fn configure(&mut self, config: Config) -> Result<(), &'static str> {
        if self.live_count != 0 || self.heap.in_use_bytes() != 0 {
            return Err("the configuration can only change while no task is alive");
        }
        if config.stack_low >= config.stack_high {
            return Err("empty shadow stack");
        }
        if config.max_tasks == 0 || config.max_tasks as usize > N {
            return Err("max_tasks must be between 1 and the record capacity");
        }
        if config.stack_high - config.stack_low < config.min_task_stack {
            return Err("min_task_stack is larger than the whole shadow stack");
        }
        if let HeapSource::Region { start, end } = config.heap {
            if start == 0 || end <= start {
                return Err("the heap region must be non-empty and not start at address 0");
            }
            if start < config.stack_high && config.stack_low < end {
                return Err("the heap region overlaps the shadow stack");
            }
        }
        self.config = config;
        self.parked = config.stack_high;
        self.heap = Heap::new(config.heap);
        Ok(())
    }

    /// The strategy this state was built with.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The memory, for tests and for the guest's own accesses.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// The memory, mutably.
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        Stats {
            heap_reserved_bytes: self.heap.reserved_bytes(),
            ..self.stats
        }
    }

    /// Adaptive: bytes saved as tasks suspended, because resumes were out of order
    /// (part of [`Stats::bytes_saved`]; 0 under every other strategy).
    pub fn bytes_saved_at_suspend(&self) -> u64 {
        self.saved_at_suspend
    }

    /// Whether a task segment is running, so that a suspend would be allowed.
    pub fn can_suspend(&self) -> bool {
        self.depth > 0
    }

    /// Bytes of blocks the allocator has handed out and not yet had back.
    pub fn heap_in_use(&self) -> u64 {
        self.heap.in_use_bytes()
    }

    /// Entries on the lazy live list (for tests of its bookkeeping).
    #[cfg(test)]
    fn live_len(&self) -> usize {
        self.live.len()
    }

    fn id_of(&self, index: u16) -> TaskId {
        (u32::from(self.tasks[index as usize].generation) << 16) | (u32::from(index) + 1)
    }

    fn lookup(&self, id: TaskId) -> Lookup {
        let Some(index) = (id & 0xffff).checked_sub(1) else {
            return Lookup::Unknown;
        };
        let Some(task) = self.tasks.get(index as usize) else {
            return Lookup::Unknown;
        };
        let (index, generation) = (index as u16, id >> 16);
        if generation == 0 {
            // Generations start at 1: no id has 0.
            return Lookup::Unknown;
        }
        if u32::from(task.generation) == generation {
            return match task.state {
                TaskState::Free => Lookup::Ended {
                    index,
                    previous: false,
                },
                _ => Lookup::Alive(index),
            };
        }
        let previous = match task.generation {
            // A record never used: no previous generation (no id has generation 0).
            0 => 0,
            1 => u16::MAX,
            g => g - 1,
        };
        if task.prev_unreported && u32::from(previous) == generation {
            return Lookup::Ended {
                index,
                previous: true,
            };
        }
        Lookup::Unknown
    }

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
    fn place(&mut self, sp: u32, top_level: bool) -> Result<u32, Error> {
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
                if self.strategy == Strategy::Adaptive {
                    self.order.push_bottom(index);
                }
                if seg.top_level {
                    // Everything below `stop` was evicted when this segment began, so
                    // this task's bytes are now the lowest live ones, unless adaptive
                    // saves them now (and if it cannot, leaving them is always safe).
                    if !self.save_at_suspend() || self.evict(index, stop).is_err() {
                        self.live_push(index);
                    } else {
                        self.saved_at_suspend += u64::from(stop - sp);
                    }
                    self.depth -= 1;
                    self.tasks[index as usize].state = TaskState::Suspended;
                    self.stats.suspends += 1;
                    return Ok((id, self.park()?));
                }
                // Nested: the caller will pop its frames and reuse this space.
                let stop = self.tasks[index as usize].stop;
                self.evict(index, stop)?;
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

    fn drop_dead_segments(&mut self) {
        while self.depth > 0 {
            self.depth -= 1;
            let task = self.segments[self.depth].task;
            self.drop_task(task);
        }
    }

    fn drop_task(&mut self, index: u16) {
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
        self.tasks[index as usize] = Task {
            state: TaskState::Free,
            generation: task.generation,
            unreported: true,
            prev_unreported: task.prev_unreported,
            ..Task::FREE
        };
        self.free[(self.free_head + self.nfree) % N] = index;
        self.nfree += 1;
        self.live_count -= 1;
        self.stats.live_tasks = u64::from(self.live_count);
    }

    /// The stack pointer for the host's top level: the lowest live byte, or the top.
    /// Flushes when that would leave a new task too little room.
    fn park(&mut self) -> Result<u32, Error> {
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
    fn flush(&mut self) -> Result<(), Error> {
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
    fn make_room_below(&mut self, index: u16) -> Result<(), Error> {
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
    fn evict(&mut self, index: u16, up_to: u32) -> Result<(), Error> {
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
    fn restore(&mut self, index: u16) -> u32 {
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

    fn live_push(&mut self, index: u16) {
        debug_assert!(
            self.live.bottom().is_none_or(|lowest| {
                self.tasks[lowest as usize].evicted_hi >= self.tasks[index as usize].stop
            }),
            "a suspending task's bytes must be the lowest live ones"
        );
        self.live.push_bottom(index);
    }
}

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

#[cfg(test)]
mod tests;
