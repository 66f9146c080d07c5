//! What can go wrong, in words a guest's author can act on.

use core::fmt;

use crate::TaskId;

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
    /// An id that names no task of this instance: never handed out by
    /// [`StackState::enter`](crate::StackState::enter), or the id of a task whose record has since been reused.
    UnknownTask(TaskId),
    /// A task resumed after [`StackState::done`](crate::StackState::done) ended it while it was suspended.
    TaskEnded(TaskId),
    /// [`StackState::leave`](crate::StackState::leave) for a task that is running a later segment: the call
    /// comes from inside the task, not from the host right after its first call.
    LeaveInsideTask(TaskId),
    /// A hook found the stack pointer outside the shadow stack: a call ran off its
    /// bottom (the pointer wrapped) and nothing has put it back yet.
    StackPointerOutside {
        /// The stack pointer the hook found.
        sp: u32,
        /// The bottom of the shadow stack.
        stack_low: u32,
        /// The top of the shadow stack.
        stack_high: u32,
    },
    /// A task suspended with its stack pointer outside the room it was given (below
    /// `stack_low`, or above its own `stop` because a frame ran off the bottom and the
    /// pointer wrapped).
    OutsideRoom {
        /// The stack pointer at the suspend.
        sp: u32,
        /// Where the task's frames begin.
        stop: u32,
        /// The bottom of the shadow stack.
        stack_low: u32,
        /// The configured room (`min_task_stack`).
        min_task_stack: u32,
    },
    /// A task-local region that cannot be registered.
    BadLocal {
        /// Its address.
        addr: u32,
        /// Its length.
        len: u32,
        /// Why not.
        why: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BadLocal { addr, len, why } => write!(
                f,
                "the task-local region of {len} bytes at {addr:#x} cannot be registered: {why}"
            ),
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
            Error::UnknownTask(id) => write!(
                f,
                "{id:#x} names no task of this instance (a stale or made-up id; pass the id jspi_task_enter returned)"
            ),
            Error::TaskEnded(id) => write!(
                f,
                "task {id:#x} was ended by jspi_task_done while it was suspended, so it cannot resume \
                 (call jspi_task_done only once the task's promise settled)"
            ),
            Error::LeaveInsideTask(id) => write!(
                f,
                "task {id:#x} is running a resumed segment, so this call comes from inside it \
                 (jspi_task_leave is the host's, called once right after the promising call first returns)"
            ),
            Error::StackPointerOutside {
                sp,
                stack_low,
                stack_high,
            } => write!(
                f,
                "the stack pointer {sp:#x} is outside the shadow stack [{stack_low:#x}, {stack_high:#x}): \
                 an earlier call ran off its bottom and nothing has put it back (the host libraries \
                 restore it around plain calls with jspi_call_enter/jspi_call_leave)"
            ),
            Error::OutsideRoom {
                sp,
                stop,
                stack_low,
                min_task_stack,
            } => write!(
                f,
                "the task's stack pointer {sp:#x} is outside the room it was given, [{stack_low:#x}, {stop:#x}): \
                 its frames ran off the bottom of the shadow stack (a task may rely on min_task_stack = \
                 {min_task_stack} bytes; raise it with JSPI_MIN_TASK_STACK or jspi_configure, see jspi.h)"
            ),
        }
    }
}
