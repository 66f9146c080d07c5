//! The guest library's contract with its host (docs/abi.md), on wasmtime: the imports
//! of module `jspi`, the hooks around promising tasks and plain calls, and the stats.
//!
//! A module linked with the guest library (`guest/jspi`, `libjspi.a`) needs the host
//! to do four things, and this module does all of them, so an embedder writes none:
//!
//! - **The `jspi.*` imports.** [`Compiled::new`](crate::Compiled::new) gives a module
//!   that imports module `jspi` the library's seven imports (`await`, `classify`,
//!   `int_value`, `rejection_reason`, `throw`, `fail`, `release`) over the values of
//!   [`crate::value`]: `jspi.await` suspends the calling task until a [`Promise`]
//!   settles and resumes it with the value or a rejection marker. The module name is
//!   reserved: `Imports` that define a `jspi.*` function are refused.
//! - **Host values freed.** Values cross to the guest as `i31` ids (no garbage
//!   collector runs), so the host frees an id when the guest gives the value up: the
//!   promise `jspi.await` takes, the reason `jspi.throw` fails with, and what the
//!   library hands `jspi.release` (a settled value it has read, a Rust handle
//!   dropped). A value the guest's own C code holds lives until the instance goes.
//! - **The task start protocol.** For a module that exports `jspi_task_enter`,
//!   `jspi_task_leave` and `jspi_task_done`, every promising call
//!   ([`Instance::promising`](crate::Instance::promising),
//!   [`Cx::promising`](crate::Cx::promising), [`Instance::spawn`](crate::Instance::spawn))
//!   runs
//!
//!   ```text
//!   id = jspi_task_enter()        places the task's stack; fails: the task cannot start
//!   the call, until it first suspends or ends
//!   jspi_task_leave(id)           gives the stack back to the caller
//!   ...                           the task resumes from the executor, maybe many times
//!   jspi_task_done(id)            once it has settled, from the host's top level
//!   ```
//!
//!   `done` drops the task's saved bytes and whatever dead segments remain, and parks
//!   the stack pointer: that is only right when no guest frame is on the stack, so it
//!   runs where no wasm of the instance is running (the instance's state is not
//!   borrowed) and is deferred to the executor otherwise. It runs when the [`Task`] is
//!   awaited to its end, in the same executor turn (as a promise reaction on Node), or
//!   when the `Task` is dropped.
//! - **Plain calls bracketed.** A plain call that traps deep inside leaves the stack
//!   pointer where the trap happened. For a module that exports `jspi_call_enter` and
//!   `jspi_call_leave`, every [`Instance::call`](crate::Instance::call) and
//!   [`Cx::call`](crate::Cx::call) runs `token = jspi_call_enter()` before and
//!   `jspi_call_leave(token)` after, returned or failed, so the stack is where it
//!   began.
//! - **The counters**, `jspi_stat(i)`, read as one [`Stats`]
//!   ([`Instance::stats`](crate::Instance::stats)).
//!
//! A module without the hooks (a guest that does not use the library) runs its
//! promising calls without them, as plain JSPI would.
//!
//! [`Task`]: crate::Task

use std::fmt;
use std::rc::Rc;

use wasmtime::StoreContextMut;

use super::{invoke, Data, Imports};
use crate::adapter::{GuestShape, Ty};
use crate::value::{Exception, JsValue, Promise};
use crate::{Error, Result, Val};

pub use stack_state::Stats;

/// The import module the guest library's imports come from.
pub const MODULE: &str = "jspi";

/// The task hooks, in the order a task runs them.
const TASK_HOOKS: [&str; 3] = ["jspi_task_enter", "jspi_task_leave", "jspi_task_done"];
/// The plain-call hooks.
const CALL_HOOKS: [&str; 2] = ["jspi_call_enter", "jspi_call_leave"];
/// The counters' export.
const STAT: &str = "jspi_stat";
/// The task-memory exports.
const MEMORY_HOOKS: [&str; 2] = ["jspi_task_current", "jspi_task_locate"];

/// The error for a module that was not linked with the guest library but is used as
/// if it were (a task the library must place, [`Instance::require_guest_library`]):
/// the hooks it lacks. Worded as the JS package words it.
///
/// [`Instance::require_guest_library`]: crate::Instance::require_guest_library
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotLinked {
    /// Those of `jspi_task_enter`, `jspi_task_leave`, `jspi_task_done` that the module
    /// does not export, in that order.
    pub missing: Vec<&'static str>,
}

impl NotLinked {
    /// From which of [`TASK_HOOKS`] are missing.
    fn of(missing: [bool; 3]) -> NotLinked {
        NotLinked {
            missing: TASK_HOOKS
                .into_iter()
                .zip(missing)
                .filter(|(_, gone)| *gone)
                .map(|(name, _)| name)
                .collect(),
        }
    }
}

impl fmt::Display for NotLinked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the module was not linked with the guest library: it exports no {} (link it with libjspi.a, see docs/abi.md)",
            self.missing.join(", ")
        )
    }
}

impl std::error::Error for NotLinked {}

/// Export indices of the guest library's hooks in one module, found by name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hooks {
    /// The task hooks: all three, none (no library), or which are missing.
    task: Result<Option<TaskHooks>, [bool; 3]>,
    /// The plain-call hooks, when the module has both.
    pub(crate) call: Option<CallHooks>,
    /// `jspi_stat`, when exported.
    stat: Option<usize>,
    /// `jspi_task_current` and `jspi_task_locate`, when the module has both.
    memory: Option<(usize, usize)>,
}

/// `jspi_task_enter`, `jspi_task_leave`, `jspi_task_done`, as export indices.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskHooks {
    enter: usize,
    leave: usize,
    done: usize,
}

/// `jspi_call_enter`, `jspi_call_leave`, as export indices.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallHooks {
    enter: usize,
    leave: usize,
}

impl Hooks {
    /// The hooks among the module's callable exports.
    pub(crate) fn find(shape: &GuestShape) -> Hooks {
        let index = |name: &str| shape.exports.iter().position(|e| e.name == name);
        let found = TASK_HOOKS.map(index);
        let task = match found {
            [Some(enter), Some(leave), Some(done)] => Ok(Some(TaskHooks { enter, leave, done })),
            [None, None, None] => Ok(None),
            _ => Err(found.map(|k| k.is_none())),
        };
        let call = match CALL_HOOKS.map(index) {
            [Some(enter), Some(leave)] => Some(CallHooks { enter, leave }),
            _ => None,
        };
        let memory = match MEMORY_HOOKS.map(index) {
            [Some(current), Some(locate)] => Some((current, locate)),
            _ => None,
        };
        Hooks {
            task,
            call,
            stat: index(STAT),
            memory,
        }
    }

    /// The task hooks a promising call runs: none for a module without the library,
    /// an error for one that has only some of them.
    pub(crate) fn task(&self) -> Result<Option<TaskHooks>> {
        self.task
            .map_err(|missing| Error::new(NotLinked::of(missing)))
    }

    /// `Ok` when the module has all three task hooks.
    pub(crate) fn require(&self) -> Result<(), NotLinked> {
        match &self.task {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(NotLinked::of([true; 3])),
            Err(missing) => Err(NotLinked::of(*missing)),
        }
    }

    /// Why export `name` may not be called by the host directly, if it is a hook the
    /// host runs itself (calling one by hand would undo or repeat its work).
    pub(crate) fn check_not_hook(&self, name: &str) -> Result<()> {
        let ours = (TASK_HOOKS.contains(&name) && !matches!(self.task, Ok(None)))
            || (CALL_HOOKS.contains(&name) && self.call.is_some());
        if ours {
            return Err(Error::msg(format!(
                "`{name}` is a hook of the guest library, which the host runs itself around promising and plain calls; it cannot be called directly"
            )));
        }
        Ok(())
    }
}

/// `jspi_task_enter` and `jspi_task_leave` as export indices, for a module with all
/// three task hooks in the signatures the library gives them (`() -> i32`,
/// `(i32) -> ()`): what the adapter's `begin` calls around a task's first run
/// ([`crate::adapter::build`]).
pub fn begin_hooks(shape: &GuestShape) -> Option<(usize, usize)> {
    let TaskHooks { enter, leave, .. } = Hooks::find(shape).task.ok()??;
    let (e, l) = (&shape.exports[enter], &shape.exports[leave]);
    let typed = e.params == 0 && e.result == Some(Ty::I32) && l.params == 1 && l.result.is_none();
    typed.then_some((enter, leave))
}

impl TaskHooks {
    /// `jspi_task_enter()`: places the task's stack; its error (too many tasks, no
    /// room) is the task's failure.
    pub(crate) fn enter<T: 'static>(
        &self,
        store: &mut StoreContextMut<'_, Data<T>>,
    ) -> Result<i32> {
        match invoke(store, self.enter, &[])? {
            Some(Val::I32(id)) => Ok(id),
            other => Err(Error::msg(format!(
                "{} returned {other:?}, not a task id",
                TASK_HOOKS[0]
            ))),
        }
    }

    /// `jspi_task_leave(id)`, right after the promising call first stopped.
    pub(crate) fn leave<T: 'static>(
        &self,
        store: &mut StoreContextMut<'_, Data<T>>,
        id: i32,
    ) -> Result<()> {
        invoke(store, self.leave, &[id]).map(drop)
    }

    /// `jspi_task_done(id)`, once the task has settled; only where no guest frame of
    /// the instance is on the stack.
    pub(crate) fn done<T: 'static>(
        &self,
        store: &mut StoreContextMut<'_, Data<T>>,
        id: i32,
    ) -> Result<()> {
        invoke(store, self.done, &[id]).map(drop)
    }
}

impl CallHooks {
    /// Runs the plain call `call` between `jspi_call_enter` and `jspi_call_leave` (the
    /// library counts the plain calls running, and puts the stack pointer back where
    /// the call began, even after a trap); the call's own error wins over a refused
    /// token.
    pub(crate) fn bracket<T: 'static, R>(
        &self,
        store: &mut StoreContextMut<'_, Data<T>>,
        call: impl FnOnce(&mut StoreContextMut<'_, Data<T>>) -> Result<R>,
    ) -> Result<R> {
        let token = match invoke(store, self.enter, &[])? {
            Some(Val::I32(token)) => token,
            other => {
                return Err(Error::msg(format!(
                    "{} returned {other:?}, not a token",
                    CALL_HOOKS[0]
                )))
            }
        };
        match call(store) {
            Ok(value) => invoke(store, self.leave, &[token]).map(|_| value),
            // If even the token is refused (the stack pointer was already outside the
            // shadow stack when the call began: a module the `none` strategy let
            // corrupt itself), the call's own error is the one to report.
            Err(error) => {
                let _ = invoke(store, self.leave, &[token]);
                Err(error)
            }
        }
    }
}

impl Hooks {
    fn memory(&self) -> Result<(usize, usize)> {
        self.memory.ok_or_else(|| {
            Error::msg(format!(
                "the module was not linked with this guest library's task memory exports ({})",
                MEMORY_HOOKS.join(", ")
            ))
        })
    }
}

/// The id of the task running now (inside an import it called), or `None`.
pub(crate) fn current_task<T: 'static>(
    hooks: &Hooks,
    store: &mut StoreContextMut<'_, Data<T>>,
) -> Result<Option<u32>> {
    match invoke(store, hooks.memory()?.0, &[])? {
        Some(Val::I32(0)) => Ok(None),
        Some(Val::I32(id)) => Ok(Some(id as u32)),
        other => Err(Error::msg(format!(
            "{} returned {other:?}",
            MEMORY_HOOKS[0]
        ))),
    }
}

/// Calls `visit(memory, place, offset, n)` for each run of `[addr, addr + len)` of
/// task `id` as it lies now (in place, or in the task's saved block): the library's
/// `jspi_task_locate`, one run at a time. The range must lie inside memory.
pub(crate) fn task_runs<T: 'static>(
    hooks: &Hooks,
    store: &mut StoreContextMut<'_, Data<T>>,
    id: u32,
    addr: u32,
    len: usize,
    mut visit: impl FnMut(&mut [u8], usize, usize, usize),
) -> Result<()> {
    let locate = hooks.memory()?.1;
    let memory = store
        .data()
        .memory
        .ok_or_else(|| Error::msg("the module exports no `memory`"))?;
    let size = memory.data_size(&*store);
    let start = addr as usize;
    if start.checked_add(len).is_none_or(|end| end > size) {
        return Err(Exception::error(format!(
            "task memory: {start}..{} lies outside memory ({size} bytes)",
            start.saturating_add(len)
        )));
    }
    let mut done = 0;
    while done < len {
        let at = (start + done) as i32;
        let packed = match invoke(store, locate, &[id as i32, at])? {
            Some(Val::I64(packed)) => packed as u64,
            other => {
                return Err(Error::msg(format!(
                    "{} returned {other:?}",
                    MEMORY_HOOKS[1]
                )))
            }
        };
        let place = (packed >> 32) as usize;
        let n = (len - done).min((packed & 0xffff_ffff) as usize);
        visit(memory.data_mut(&mut *store), place, done, n);
        done += n;
    }
    Ok(())
}

/// Every counter of `jspi_stat`, or `None` for a module that does not export it.
pub(crate) fn stats<T: 'static>(
    hooks: &Hooks,
    store: &mut StoreContextMut<'_, Data<T>>,
) -> Result<Option<Stats>> {
    let Some(stat) = hooks.stat else {
        return Ok(None);
    };
    let mut stats = Stats::default();
    let mut which = 0;
    while let Some(counter) = stats.get_mut(which) {
        *counter = match invoke(store, stat, &[which as i32])? {
            Some(Val::I64(value)) => value as u64,
            other => {
                return Err(Error::msg(format!(
                    "{STAT}({which}) returned {other:?}, not an i64"
                )))
            }
        };
        which += 1;
    }
    Ok(Some(stats))
}

/// The guest library's imports: the functions of module `jspi`.
pub(crate) fn imports<T: 'static>() -> Imports<T> {
    let mut imports = Imports::new();
    add(&mut imports);
    imports
}

/// The first `jspi.*` function `imports` defines: the module is reserved.
pub(crate) fn check_reserved<T: 'static>(imports: &Imports<T>) -> Result<()> {
    match imports.names().filter(|(module, _)| *module == MODULE).min() {
        Some((module, name)) => Err(Error::msg(format!(
            "the imports define `{module}.{name}`, but module `{MODULE}` is reserved: the host provides the guest library's imports itself"
        ))),
        None => Ok(()),
    }
}

/// Argument `i` as a host value (`undefined` when there is none).
fn value(args: &[Val], i: usize) -> JsValue {
    args.get(i)
        .map(JsValue::from_val)
        .unwrap_or(JsValue::Undefined)
}

/// Argument `i` as an i32 (0 when there is none or it is no i32).
fn int(args: &[Val], i: usize) -> i32 {
    args.get(i).and_then(Val::i32).unwrap_or(0)
}

/// Reads the `len` bytes of UTF-8 at `ptr` in the guest's memory.
fn read_message(memory: &[u8], ptr: i32, len: i32) -> Result<String> {
    let start = ptr as u32 as usize;
    let end = start.saturating_add(len as u32 as usize);
    match memory.get(start..end) {
        Some(bytes) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        None => Err(Exception::error(format!(
            "string at {start}..{end} lies outside memory ({} bytes)",
            memory.len()
        ))),
    }
}

/// Adds the `jspi.*` imports (docs/abi.md) to `imports`.
fn add<T: 'static>(imports: &mut Imports<T>) {
    imports
        // Suspends until the promise settles (any other value counts as a fulfilled
        // promise; the task still suspends), resuming with `settled`'s value.
        .await_promise(MODULE, "await")
        .func(MODULE, "classify", |_cx, args| {
            Ok(Some(Val::I32(match value(args, 0) {
                JsValue::Int(_) => 0,
                JsValue::Rejection(_) => 2,
                _ => 1,
            })))
        })
        .func(MODULE, "int_value", |_cx, args| {
            Ok(Some(Val::I32(match value(args, 0) {
                JsValue::Int(v) => v,
                _ => 0,
            })))
        })
        .func(MODULE, "rejection_reason", |_cx, args| {
            Ok(Some(match value(args, 0) {
                JsValue::Rejection(reason) => (*reason).clone().into_val(),
                _ => JsValue::Undefined.into_val(),
            }))
        })
        .func(MODULE, "throw", |_cx, args| {
            Err(Exception::thrown(&value(args, 0)))
        })
        .func(MODULE, "bytes_length", |_cx, args| {
            Ok(Some(Val::I32(match value(args, 0) {
                JsValue::Bytes(bytes) => bytes.len() as i32,
                _ => -1,
            })))
        })
        .func(MODULE, "bytes_copy", |cx, args| {
            let JsValue::Bytes(bytes) = value(args, 0) else {
                return Err(Exception::error("jspi.bytes_copy: the value is not bytes"));
            };
            let (dst, len) = (int(args, 1) as u32 as usize, int(args, 2) as u32 as usize);
            let len = len.min(bytes.len());
            let memory = cx.memory_mut();
            let size = memory.len();
            let Some(target) = memory.get_mut(dst..dst.saturating_add(len)) else {
                return Err(Exception::error(format!(
                    "jspi.bytes_copy: {dst}..{} lies outside memory ({size} bytes)",
                    dst.saturating_add(len)
                )));
            };
            target.copy_from_slice(&bytes[..len]);
            Ok(None)
        })
        .func(MODULE, "fail", |cx, args| {
            Err(Exception::error(read_message(
                cx.memory(),
                int(args, 0),
                int(args, 1),
            )?))
        })
        // Nothing to do but what consuming does: free the guest's id for the value.
        .func(MODULE, "release", |_cx, _args| Ok(None))
        // What the guest hands these it gives up: the promise an await takes, the
        // reason a task fails with, a value the library is done with.
        .consumes_refs(MODULE, "await")
        .consumes_refs(MODULE, "throw")
        .consumes_refs(MODULE, "release");
}

/// What `jspi.await` resumes its task with: the value, or a rejection marker.
pub(crate) async fn settled(promise: Promise) -> Result<Option<Val>> {
    Ok(Some(match promise.wait().await {
        Ok(value) => value.into_val(),
        Err(reason) => JsValue::Rejection(Rc::new(reason)).into_val(),
    }))
}
