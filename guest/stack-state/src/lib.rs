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
mod bytes;
#[cfg(any(test, feature = "sim"))]
mod check;
mod error;
mod events;
mod heap;
mod memory;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod stats;
mod tasklist;
mod taskmem;
mod view;

pub use heap::{Block, Heap, HeapSource};
pub use memory::Memory;
#[cfg(any(test, feature = "sim"))]
pub use memory::VecMemory;

pub use error::Error;
pub use stats::Stats;
pub use taskmem::{MAX_LOCALS, MAX_LOCAL_BYTES};
pub use view::TaskView;

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
struct TaskRecord {
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

impl TaskRecord {
    const FREE: TaskRecord = TaskRecord {
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
    tasks: [TaskRecord; N],
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
            tasks: [TaskRecord::FREE; N],
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
}

#[cfg(test)]
mod tests;
