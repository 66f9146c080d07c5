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
//!
//! ## Invariants (lazy)
//!
//! 1. Live (not evicted) bytes of different suspended tasks never overlap; the *live
//!    list* holds the tasks with live bytes, highest first, so the lowest is last.
//! 2. Whenever code that is not a task runs (the host's top level, a synchronous
//!    export), `__stack_pointer` is at or below every live byte, so that code cannot
//!    overwrite them.
//! 3. At the host's top level no synchronous frames exist, and the stack pointer is
//!    `parked`; a hook that sees exactly `parked` with no segment running is at top
//!    level and may place the task anywhere, otherwise it is nested inside a
//!    synchronous call and must place it below the caller's frames. A nested task's
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

#![no_std]
#![cfg_attr(not(test), warn(missing_docs))]

#[cfg(any(test, feature = "sim"))]
extern crate alloc;

mod heap;
mod memory;
#[cfg(any(test, feature = "sim"))]
pub mod sim;

pub use heap::{Block, Heap, HeapSource};
pub use memory::Memory;
#[cfg(any(test, feature = "sim"))]
pub use memory::VecMemory;

use core::fmt;

/// How suspended tasks' bytes are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Nothing is kept; the stack pointer is never moved (the bug, as a baseline).
    None,
    /// Copy the whole range at every suspend and back at every resume.
    Eager,
    /// Copy only what another task is about to overlap; restore only what was evicted.
    Lazy,
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

/// What went wrong. Every error leaves the state consistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A nested task needs `needed` bytes of stack but only `available` are left.
    CannotFit {
        /// `min_task_stack`.
        needed: u32,
        /// Bytes between the caller's stack pointer and `stack_low`.
        available: u32,
    },
    /// `limit` tasks are already alive.
    TooManyTasks {
        /// The configured limit.
        limit: u32,
    },
    /// Tasks started from synchronous calls inside tasks nest deeper than supported.
    NestedTooDeep,
    /// A suspend outside any task: the export was called plainly, or started with
    /// `WebAssembly.promising` but without the task hooks.
    NotInTask,
    /// Saved bytes need `bytes` more bytes and memory cannot grow.
    OutOfMemory {
        /// The block size that could not be had.
        bytes: u32,
    },
    /// An id that names no live task.
    UnknownTask(TaskId),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::CannotFit { needed, available } => write!(
                f,
                "a task needs {needed} bytes of shadow stack but only {available} are left below the calling frames"
            ),
            Error::TooManyTasks { limit } => {
                write!(f, "too many tasks alive at once (the limit is {limit})")
            }
            Error::NestedTooDeep => {
                write!(f, "tasks started from synchronous calls nest too deeply")
            }
            Error::NotInTask => write!(
                f,
                "cannot suspend: no task is running: the export was called plainly, or started \
                 with WebAssembly.promising but without the task hooks jspi_task_enter/leave/done \
                 (start it with the host library's promising or spawn, which run them; \
                 jspi_can_suspend() tells beforehand)"
            ),
            Error::OutOfMemory { bytes } => write!(
                f,
                "out of memory for saved stack bytes: no room for {bytes} more (memory.grow failed, or the configured region is full)"
            ),
            Error::UnknownTask(id) => write!(f, "no live task has id {id:#x}"),
        }
    }
}

/// Counters for hosts and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Stats {
    /// Bytes copied from the stack into saved blocks.
    pub bytes_saved: u64,
    /// Bytes copied from saved blocks back to the stack.
    pub bytes_restored: u64,
    /// Times another task's bytes were evicted (lazy) or a whole range saved (eager).
    pub evictions: u64,
    /// Tasks alive now.
    pub live_tasks: u64,
    /// Most saved bytes held at once.
    pub peak_saved_bytes: u64,
    /// Saved bytes held now.
    pub saved_bytes: u64,
    /// Suspends so far.
    pub suspends: u64,
    /// Resumes so far.
    pub resumes: u64,
    /// Tasks entered so far.
    pub tasks_entered: u64,
    /// Most tasks alive at once.
    pub peak_live_tasks: u64,
    /// Bytes the allocator obtained from memory growth or its region.
    pub heap_reserved_bytes: u64,
}

impl Stats {
    const ZERO: Stats = Stats {
        bytes_saved: 0,
        bytes_restored: 0,
        evictions: 0,
        live_tasks: 0,
        peak_saved_bytes: 0,
        saved_bytes: 0,
        suspends: 0,
        resumes: 0,
        tasks_entered: 0,
        peak_live_tasks: 0,
        heap_reserved_bytes: 0,
    };

    /// The counter numbered `which` in field order (the order `jspi_stat` uses), or
    /// `None` past the last.
    pub fn get(&self, which: u32) -> Option<u64> {
        Some(match which {
            0 => self.bytes_saved,
            1 => self.bytes_restored,
            2 => self.evictions,
            3 => self.live_tasks,
            4 => self.peak_saved_bytes,
            5 => self.saved_bytes,
            6 => self.suspends,
            7 => self.resumes,
            8 => self.tasks_entered,
            9 => self.peak_live_tasks,
            10 => self.heap_reserved_bytes,
            _ => return None,
        })
    }
}

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
    };
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
    /// Indices of free records (a stack), so entering is O(1).
    free: [u16; N],
    nfree: usize,
    live_count: u32,
    segments: [Segment; MAX_NESTING],
    depth: usize,
    /// Lazy: indices of tasks with live bytes, highest address first.
    live: [u16; N],
    nlive: usize,
    parked: u32,
    heap: Heap,
    stats: Stats,
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
            // Highest index first, so that index 0 is handed out first.
            free[i] = (N - 1 - i) as u16;
            i += 1;
        }
        let mut state = Self {
            mem,
            strategy,
            config,
            tasks: [Task::FREE; N],
            free,
            nfree: N,
            live_count: 0,
            segments: [Segment {
                task: 0,
                outer_sp: 0,
                top_level: false,
                first: false,
            }; MAX_NESTING],
            depth: 0,
            live: [0; N],
            nlive: 0,
            parked: 0,
            heap: Heap::new(config.heap),
            stats: Stats::ZERO,
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

    /// Whether a task segment is running, so that a suspend would be allowed.
    pub fn can_suspend(&self) -> bool {
        self.depth > 0
    }

    /// Bytes of blocks the allocator has handed out and not yet had back.
    pub fn heap_in_use(&self) -> u64 {
        self.heap.in_use_bytes()
    }

    fn id_of(&self, index: u16) -> TaskId {
        (u32::from(self.tasks[index as usize].generation) << 16) | (u32::from(index) + 1)
    }

    fn index_of(&self, id: TaskId) -> Option<u16> {
        let index = (id & 0xffff).checked_sub(1)? as usize;
        let task = self.tasks.get(index)?;
        (task.state != TaskState::Free && u32::from(task.generation) == id >> 16)
            .then_some(index as u16)
    }

    /// A promising task is about to start; `sp` is the caller's stack pointer. Returns
    /// the task's id and the stack pointer it must start with.
    pub fn enter(&mut self, sp: u32) -> Result<(TaskId, u32), Error> {
        if self.depth == MAX_NESTING {
            return Err(Error::NestedTooDeep);
        }
        if self.live_count >= self.config.max_tasks {
            return Err(Error::TooManyTasks {
                limit: self.config.max_tasks,
            });
        }
        let top_level = self.depth == 0 && sp == self.parked;
        let place = match self.strategy {
            Strategy::None => sp,
            Strategy::Eager | Strategy::Lazy => self.place(sp, top_level)?,
        };
        debug_assert!(
            self.nfree > 0,
            "live_count < max_tasks <= N leaves a free record"
        );
        self.nfree -= 1;
        let index = self.free[self.nfree];
        let task = &mut self.tasks[index as usize];
        task.state = TaskState::Running;
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
            Strategy::Lazy => {
                self.tasks[index as usize].start = sp;
                self.tasks[index as usize].evicted_hi = sp;
                if seg.top_level {
                    // Everything below `stop` was evicted when this segment began, so
                    // this task's bytes are now the lowest live ones.
                    self.live_push(index);
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
    /// is dropped (it cannot run safely) and the caller fails it.
    pub fn resume(&mut self, id: TaskId, sp: u32) -> Result<u32, Error> {
        // Resumes come only from the host's top level: any segment still on the stack
        // belongs to a task that returned or died without the host saying so yet.
        self.drop_dead_segments();
        let index = self.index_of(id).ok_or(Error::UnknownTask(id))?;
        if self.tasks[index as usize].state != TaskState::Suspended {
            return Err(Error::UnknownTask(id));
        }
        self.stats.resumes += 1;
        let result = match self.strategy {
            Strategy::None => Ok(sp),
            Strategy::Eager => Ok(self.restore(index)),
            Strategy::Lazy => self.make_room_below(index).map(|()| self.restore(index)),
        };
        match result {
            Ok(new_sp) => {
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
    /// `None` if it suspended (or is unknown).
    pub fn leave(&mut self, id: TaskId) -> Option<u32> {
        let index = self.index_of(id)?;
        let pos = self.segments[..self.depth]
            .iter()
            .rposition(|s| s.task == index && s.first)?;
        let seg = self.segments[pos];
        // Segments above it are tasks nested inside it that died with it.
        while self.depth > pos {
            self.depth -= 1;
            let task = self.segments[self.depth].task;
            self.drop_task(task);
        }
        match self.strategy {
            // The baseline never moves the stack pointer.
            Strategy::None => None,
            _ if seg.top_level => Some(self.park().unwrap_or(seg.outer_sp)),
            _ => Some(seg.outer_sp),
        }
    }

    /// Task `id`'s promise settled; called from the host's top level. Drops whatever
    /// the task still holds. Returns the stack pointer to set, or `None` to leave it.
    /// Unknown (already dropped) ids are ignored.
    pub fn done(&mut self, id: TaskId) -> Option<u32> {
        // At top level no segment can still be running.
        self.drop_dead_segments();
        if let Some(index) = self.index_of(id) {
            self.drop_task(index);
        }
        match self.strategy {
            Strategy::None => None,
            _ => self.park().ok(),
        }
    }

    /// The host is at its top level: no guest code of this instance runs (a pooled
    /// worker resumed from the event loop, about to take a task). Drops the segments
    /// of tasks that died without their hooks yet and returns the stack pointer for
    /// the top level, as [`Self::done`] does, or `None` to leave it.
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
        if let Some(pos) = self.live[..self.nlive].iter().position(|&t| t == index) {
            self.live.copy_within(pos + 1..self.nlive, pos);
            self.nlive -= 1;
        }
        if let Some(block) = task.buf {
            self.heap.free(&mut self.mem, block);
        }
        self.stats.saved_bytes -= u64::from(task.saved);
        self.tasks[index as usize] = Task {
            state: TaskState::Free,
            generation: task.generation,
            ..Task::FREE
        };
        self.free[self.nfree] = index;
        self.nfree += 1;
        self.live_count -= 1;
        self.stats.live_tasks = u64::from(self.live_count);
    }

    /// The stack pointer for the host's top level: the lowest live byte, or the top.
    /// Flushes when that would leave a new task too little room.
    fn park(&mut self) -> Result<u32, Error> {
        if self.strategy != Strategy::Lazy {
            self.parked = self.config.stack_high;
            return Ok(self.parked);
        }
        let lowest = match self.nlive {
            0 => self.config.stack_high,
            n => self.tasks[self.live[n - 1] as usize].evicted_hi,
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
        while self.nlive > 0 {
            let index = self.live[self.nlive - 1];
            let stop = self.tasks[index as usize].stop;
            self.evict(index, stop)?;
            self.nlive -= 1;
        }
        Ok(())
    }

    /// Lazy, before task `index` runs: evict every other task's live bytes below its
    /// `stop`, and take it off the live list.
    fn make_room_below(&mut self, index: u16) -> Result<(), Error> {
        let stop = self.tasks[index as usize].stop;
        while self.nlive > 0 {
            let other = self.live[self.nlive - 1];
            if other == index {
                self.nlive -= 1;
                break;
            }
            let o = self.tasks[other as usize];
            if o.evicted_hi >= stop {
                break;
            }
            self.evict(other, stop.min(o.stop))?;
            if stop < o.stop {
                // Straddles `stop`: its upper part stays live, and it stays lowest.
                break;
            }
            self.nlive -= 1;
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
            self.nlive == 0
                || self.tasks[self.live[self.nlive - 1] as usize].evicted_hi
                    >= self.tasks[index as usize].stop,
            "a suspending task's bytes must be the lowest live ones"
        );
        self.live[self.nlive] = index;
        self.nlive += 1;
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
mod tests {
    use super::*;

    #[test]
    fn task_views_show_ranges_and_evicted_parts() {
        use alloc::vec::Vec;
        let mut s = state(Strategy::Lazy);
        let (a, _) = s.enter(4096).unwrap();
        s.suspend(4000).unwrap();
        let (b, b_sp) = s.enter(s.parked()).unwrap();
        assert_eq!(b_sp, 4000, "B goes below A's live bytes");
        let views: Vec<TaskView> = s.task_views().collect();
        assert_eq!(views.len(), 2);
        assert_eq!((views[0].id, views[0].state, views[0].start, views[0].stop), (a, 2, 4000, 4096));
        assert_eq!((views[1].id, views[1].state), (b, 1));
        s.suspend(3900).unwrap();
        s.resume(a, s.parked()).unwrap();
        let b_view = s.task_views().find(|v| v.id == b).unwrap();
        assert_eq!((b_view.start, b_view.stop, b_view.evicted_hi), (3900, 4000, 4000));
        assert_ne!(b_view.block, 0, "B's bytes went to a heap block");

        let mut none = state(Strategy::None);
        none.enter(4096).unwrap();
        none.suspend(4000).unwrap();
        let view = none.task_views().next().unwrap();
        assert_eq!((view.start, view.stop, view.evicted_hi, view.block), (4000, 4096, 4000, 0));
    }

    fn state(strategy: Strategy) -> StackState<VecMemory, 16> {
        let config = Config {
            stack_low: 0,
            stack_high: 4096,
            min_task_stack: 512,
            max_tasks: 8,
            heap: HeapSource::Grow,
        };
        StackState::new(VecMemory::new(4096, 1 << 20), strategy, config)
    }

    #[test]
    fn lifo_lazy_copies_nothing_and_places_tasks_below_each_other() {
        let mut s = state(Strategy::Lazy);
        let (a, a_sp) = s.enter(4096).unwrap();
        assert_eq!(a_sp, 4096);
        let (_, parked) = s.suspend(4000).unwrap();
        assert_eq!(parked, 4000, "the host runs below A's live bytes");
        let (b, b_sp) = s.enter(parked).unwrap();
        assert_eq!(b_sp, 4000, "B is placed below A");
        let (_, parked) = s.suspend(3900).unwrap();
        assert_eq!(parked, 3900);
        // LIFO: B resumes and ends, then A.
        assert_eq!(s.resume(b, parked).unwrap(), 3900);
        s.done(b);
        assert_eq!(s.resume(a, 4000).unwrap(), 4000);
        assert_eq!(
            s.done(a),
            Some(4096),
            "with nothing live the host is back at the top"
        );
        let st = s.stats();
        assert_eq!(
            (st.bytes_saved, st.bytes_restored, st.live_tasks),
            (0, 0, 0)
        );
    }

    #[test]
    fn fifo_lazy_evicts_exactly_the_overlapped_task() {
        let mut s = state(Strategy::Lazy);
        let (a, _) = s.enter(4096).unwrap();
        let (_, p) = s.suspend(4000).unwrap();
        let (b, _) = s.enter(p).unwrap();
        let (_, p) = s.suspend(3900).unwrap();
        // A resumes first: B (below A's stop) must be saved, 100 bytes.
        assert_eq!(s.resume(a, p).unwrap(), 4000);
        assert_eq!(s.stats().bytes_saved, 100);
        s.done(a);
        assert_eq!(s.resume(b, 4096).unwrap(), 3900);
        assert_eq!(s.stats().bytes_restored, 100);
        s.done(b);
        assert_eq!(s.heap_in_use(), 0, "saved bytes are freed when tasks end");
    }

    #[test]
    fn lazy_evicts_only_the_part_below_a_straddled_stop() {
        let mut s = state(Strategy::Lazy);
        let (a, _) = s.enter(4096).unwrap();
        let (_, p) = s.suspend(4000).unwrap();
        let (b, b_stop) = s.enter(p).unwrap();
        assert_eq!(b_stop, 4000);
        let (_, p) = s.suspend(3800).unwrap();
        // A resumes and suspends deeper, over B's old range: B is saved whole (200).
        s.resume(a, p).unwrap();
        let (_, p) = s.suspend(3950).unwrap();
        assert_eq!(p, 3950);
        assert_eq!(s.stats().bytes_saved, 200);
        // B resumes: only A's bytes below B's stop, [3950, 4000), are in its way.
        assert_eq!(s.resume(b, p).unwrap(), 3800);
        let st = s.stats();
        assert_eq!((st.bytes_saved, st.bytes_restored), (250, 200));
        assert_eq!(
            s.done(b),
            Some(4000),
            "A's upper part is still live above 4000"
        );
        assert_eq!(s.resume(a, 4000).unwrap(), 3950);
        assert_eq!(
            s.stats().bytes_restored,
            250,
            "only A's evicted 50 bytes come back"
        );
        s.done(a);
        assert_eq!(s.stats().saved_bytes, 0);
    }

    #[test]
    fn eager_copies_the_whole_range_every_time() {
        let mut s = state(Strategy::Eager);
        let (a, _) = s.enter(4096).unwrap();
        let (_, p) = s.suspend(4000).unwrap();
        assert_eq!(p, 4096, "eager gives the range back at once");
        assert_eq!(s.resume(a, p).unwrap(), 4000);
        let st = s.stats();
        assert_eq!((st.bytes_saved, st.bytes_restored), (96, 96));
    }

    #[test]
    fn suspending_outside_a_task_names_the_fix() {
        let mut s = state(Strategy::Lazy);
        let err = s.suspend(4096).unwrap_err();
        assert_eq!(err, Error::NotInTask);
        let text = alloc::format!("{err}");
        assert!(text.contains("WebAssembly.promising"), "{text}");
        assert!(!s.can_suspend());
    }

    #[test]
    fn limits_give_errors_and_leave_state_usable() {
        let mut s = state(Strategy::Lazy);
        let mut ids = alloc::vec::Vec::new();
        let mut sp = 4096;
        for _ in 0..8 {
            let (id, at) = s.enter(sp).unwrap();
            ids.push(id);
            sp = s.suspend(at - 16).unwrap().1;
        }
        assert_eq!(s.enter(sp), Err(Error::TooManyTasks { limit: 8 }));
        s.done(ids.pop().unwrap());
        // A synchronous call running deep in the stack cannot fit a nested task.
        s.resume(ids[6], 4096).unwrap();
        assert_eq!(
            s.enter(100),
            Err(Error::CannotFit {
                needed: 512,
                available: 100
            })
        );
        for id in ids {
            s.done(id);
        }
        assert_eq!(s.stats().live_tasks, 0);
        assert!(
            s.enter(4096).is_ok(),
            "a fresh task starts after the errors"
        );
    }

    #[test]
    fn a_task_that_dies_in_its_first_segment_leaves_nothing() {
        let mut s = state(Strategy::Lazy);
        let (a, _) = s.enter(4096).unwrap();
        // It traps with the stack pointer deep down; the host's leave restores it.
        assert_eq!(s.leave(a), Some(4096));
        assert!(!s.can_suspend());
        assert_eq!(s.stats().live_tasks, 0);
        assert_eq!(s.done(a), Some(4096), "done after leave is harmless");
    }

    #[test]
    fn configuration_is_checked_and_a_region_heap_runs_out_cleanly() {
        let mut s = state(Strategy::Eager);
        let bad = Config {
            min_task_stack: 1 << 20,
            ..*s.config()
        };
        assert!(s.configure(bad).is_err());
        let overlapping = Config {
            heap: HeapSource::Region { start: 16, end: 64 },
            ..*s.config()
        };
        assert!(s.configure(overlapping).is_err());
        // 4 KiB of stack, saved bytes in a 128-byte region beyond it.
        s.memory_mut().grow(256).unwrap();
        let region = Config {
            heap: HeapSource::Region {
                start: 4096,
                end: 4224,
            },
            ..*s.config()
        };
        s.configure(region).unwrap();
        let (a, _) = s.enter(4096).unwrap();
        assert!(
            s.configure(region).is_err(),
            "no reconfiguration with a task alive"
        );
        s.suspend(4000).unwrap();
        s.resume(a, 4096).unwrap();
        // 200 bytes do not fit in the region: a clear error, and the task is not kept.
        assert_eq!(s.suspend(3896), Err(Error::OutOfMemory { bytes: 200 }));
        s.done(a);
        assert_eq!((s.stats().live_tasks, s.heap_in_use()), (0, 0));
        let (b, _) = s.enter(4096).unwrap();
        assert!(s.suspend(4032).is_ok(), "a fresh task afterwards works");
        s.done(b);
    }

    #[test]
    fn stale_ids_are_rejected() {
        let mut s = state(Strategy::Eager);
        let (a, _) = s.enter(4096).unwrap();
        s.suspend(4000).unwrap();
        s.done(a);
        assert_eq!(s.resume(a, 4096), Err(Error::UnknownTask(a)));
        let (b, _) = s.enter(4096).unwrap();
        assert_ne!(a, b, "a reused record gets a new generation");
    }
}
