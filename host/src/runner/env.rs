//! The host environment of docs/abi.md on wasmtime: JavaScript-like values and
//! promises, the virtual clock, and the `jspi` and `env` imports, mirroring the Node
//! runner's `hostenv.mjs` and `clock.mjs` line for line in behaviour.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::{Cx, Error, HostRef, ImportFuture, Imports, Val};

/// A value as JavaScript would hold it.
#[derive(Clone)]
pub enum JsValue {
    /// `null` (crosses to the guest as a null externref).
    Null,
    /// `undefined`.
    Undefined,
    /// A number that is an int32.
    Int(i32),
    /// A string.
    Str(String),
    /// An `Error` with its message.
    Error(String),
    /// A promise.
    Promise(Promise),
    /// What `jspi.await` returns for a rejected promise: the reason.
    Rejection(Rc<JsValue>),
}

impl fmt::Display for JsValue {
    /// As transcripts print values (`formatValue` in hostenv.mjs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsValue::Null => f.write_str("null"),
            JsValue::Undefined => f.write_str("undefined"),
            JsValue::Int(v) => write!(f, "{v}"),
            JsValue::Str(s) => f.write_str(s),
            JsValue::Error(message) => write!(f, "Error: {message}"),
            JsValue::Promise(_) => f.write_str("[object Promise]"),
            JsValue::Rejection(reason) => write!(f, "rejection({reason})"),
        }
    }
}

impl JsValue {
    /// The message of a failure caused by throwing this value (`formatError`).
    pub fn error_message(&self) -> String {
        match self {
            JsValue::Error(message) => message.clone(),
            other => other.to_string(),
        }
    }

    /// The value as it crosses to the guest.
    pub fn into_val(self) -> Val {
        match self {
            JsValue::Null => Val::Ref(None),
            other => Val::Ref(Some(Rc::new(other) as HostRef)),
        }
    }

    /// The value a guest passed to the host.
    pub fn from_val(value: &Val) -> JsValue {
        match value {
            Val::Ref(None) => JsValue::Null,
            Val::Ref(Some(object)) => object
                .downcast_ref::<JsValue>()
                .cloned()
                .unwrap_or(JsValue::Undefined),
            Val::I32(v) => JsValue::Int(*v),
            Val::I64(v) => JsValue::Str(v.to_string()),
            Val::F32(v) => JsValue::Str(v.to_string()),
            Val::F64(v) => JsValue::Str(v.to_string()),
        }
    }
}

/// The failure of a task or call, as its message is printed.
#[derive(Debug)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

fn fail(message: impl Into<String>) -> Error {
    Error::new(Failure(message.into()))
}

/// A JavaScript-style promise: settles once, and any number of futures await it.
#[derive(Clone, Default)]
pub struct Promise(Rc<RefCell<PromiseState>>);

#[derive(Default)]
struct PromiseState {
    outcome: Option<Result<JsValue, JsValue>>,
    wakers: Vec<Waker>,
}

impl Promise {
    /// Fulfils (`Ok`) or rejects (`Err`) the promise; later calls do nothing.
    pub fn settle(&self, outcome: Result<JsValue, JsValue>) {
        let wakers = {
            let mut state = self.0.borrow_mut();
            if state.outcome.is_some() {
                return;
            }
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// A future of the promise's outcome.
    pub fn wait(&self) -> impl Future<Output = Result<JsValue, JsValue>> + 'static {
        PromiseFuture(self.clone())
    }
}

struct PromiseFuture(Promise);

impl Future for PromiseFuture {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = (self.0).0.borrow_mut();
        match &state.outcome {
            Some(outcome) => Poll::Ready(outcome.clone()),
            None => {
                state.wakers.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

type TimerAction = Box<dyn FnOnce()>;

/// Virtual time: a timer is a deadline, and the clock jumps to the earliest one.
/// Timers due at the same instant fire together, in the order they were created.
#[derive(Clone, Default)]
pub struct Clock(Rc<ClockState>);

#[derive(Default)]
struct ClockState {
    now: Cell<u64>,
    seq: Cell<u64>,
    timers: RefCell<Vec<(u64, u64, TimerAction)>>,
}

impl Clock {
    /// The virtual time in milliseconds.
    pub fn now(&self) -> u64 {
        self.0.now.get()
    }

    /// Back to t=0 for a fresh run (after the last timer has fired).
    pub fn restart(&self) {
        assert!(
            self.0.timers.borrow().is_empty(),
            "restart with timers left"
        );
        self.0.now.set(0);
        self.0.seq.set(0);
    }

    /// Runs `action` when the clock reaches now + `ms` (negative counts as 0).
    pub fn after(&self, ms: i32, action: impl FnOnce() + 'static) {
        let deadline = self.now() + ms.max(0) as u64;
        let seq = self.0.seq.get();
        self.0.seq.set(seq + 1);
        self.0
            .timers
            .borrow_mut()
            .push((deadline, seq, Box::new(action)));
    }

    /// Jumps to the earliest deadline and fires every timer due then, in creation
    /// order. Returns false when no timer was left.
    pub fn fire_next(&self) -> bool {
        let due = {
            let mut timers = self.0.timers.borrow_mut();
            let Some(deadline) = timers.iter().map(|t| t.0).min() else {
                return false;
            };
            let (mut due, rest): (Vec<_>, Vec<_>) = timers.drain(..).partition(|t| t.0 == deadline);
            *timers = rest;
            due.sort_by_key(|t| t.1);
            self.0.now.set(deadline);
            due
        };
        for (_, _, action) in due {
            action();
        }
        true
    }

    /// A promise fulfilled with `value` after `ms`.
    pub fn resolve_after(&self, ms: i32, value: JsValue) -> Promise {
        let promise = Promise::default();
        let settle = promise.clone();
        self.after(ms, move || settle.settle(Ok(value)));
        promise
    }
}

/// Prints transcript lines, `[t=<ms>] <text>`.
#[derive(Clone)]
pub struct Transcript {
    clock: Clock,
}

impl Transcript {
    /// Lines stamped with `clock`'s time.
    pub fn new(clock: Clock) -> Self {
        Self { clock }
    }

    /// Prints one line.
    pub fn log(&self, text: &str) {
        println!("[t={}] {text}", self.clock.now());
    }
}

/// What the environment's imports need: the clock, the transcript, and what
/// `env.start` needs to start a task as a `start` step does.
pub struct Env {
    /// The virtual clock.
    pub clock: Clock,
    /// Where lines go.
    pub transcript: Transcript,
    /// Tasks of this run, started by steps or by `env.start`.
    pub tasks: Tasks,
    /// Where tasks' later steps run.
    pub executor: crate::Executor,
}

/// The tasks of a run, in start order.
pub type Tasks = Rc<RefCell<Vec<TaskRecord>>>;

/// A task of a run: its name and whether it has settled.
pub struct TaskRecord {
    /// The name in the transcript.
    pub name: String,
    /// Set when it settles.
    pub settled: Rc<Cell<bool>>,
}

/// Reads `len` bytes of UTF-8 at `ptr`, or up to the first NUL when `len` is `None`.
fn read_string(memory: &[u8], ptr: i32, len: Option<i32>) -> Result<String, Error> {
    let start = ptr as u32 as usize;
    let end = match len {
        Some(len) => start + len as u32 as usize,
        None => {
            let nul = memory
                .get(start..)
                .and_then(|rest| rest.iter().position(|&b| b == 0));
            match nul {
                Some(offset) => start + offset,
                None if start <= memory.len() => {
                    return Err(fail(format!("string at {start} has no terminating NUL")))
                }
                None => memory.len() + 1,
            }
        }
    };
    if start > memory.len() || end > memory.len() {
        return Err(fail(format!(
            "string at {start}..{end} lies outside memory ({} bytes)",
            memory.len()
        )));
    }
    Ok(String::from_utf8_lossy(&memory[start..end]).into_owned())
}

fn int(args: &[Val], i: usize) -> i32 {
    args.get(i).and_then(Val::i32).unwrap_or(0)
}

fn value(args: &[Val], i: usize) -> JsValue {
    args.get(i)
        .map(JsValue::from_val)
        .unwrap_or(JsValue::Undefined)
}

fn promise_val(promise: Promise) -> Option<Val> {
    Some(JsValue::Promise(promise).into_val())
}

fn log(cx: &Cx<'_, '_, Env>, text: &str) {
    cx.data().transcript.log(text);
}

/// Adds the guest library's imports (module `jspi`) and `env.escape` to `imports`.
pub fn add_jspi<T: 'static>(imports: &mut Imports<T>) {
    imports
        .suspending("jspi", "await", |_cx, args| {
            let awaited = value(args, 0);
            let future: ImportFuture = match awaited {
                JsValue::Promise(promise) => Box::pin(async move {
                    Ok(Some(match promise.wait().await {
                        Ok(value) => value.into_val(),
                        Err(reason) => JsValue::Rejection(Rc::new(reason)).into_val(),
                    }))
                }),
                other => Box::pin(async move { Ok(Some(other.into_val())) }),
            };
            Ok(future)
        })
        .func("jspi", "classify", |_cx, args| {
            Ok(Some(Val::I32(match value(args, 0) {
                JsValue::Rejection(_) => 2,
                JsValue::Int(_) => 0,
                _ => 1,
            })))
        })
        .func("jspi", "int_value", |_cx, args| {
            Ok(Some(Val::I32(match value(args, 0) {
                JsValue::Int(v) => v,
                _ => 0,
            })))
        })
        .func("jspi", "rejection_reason", |_cx, args| {
            Ok(Some(match value(args, 0) {
                JsValue::Rejection(reason) => (*reason).clone().into_val(),
                _ => JsValue::Undefined.into_val(),
            }))
        })
        .func("jspi", "throw", |_cx, args| {
            Err(fail(value(args, 0).error_message()))
        })
        .func("jspi", "fail", |cx, args| {
            Err(fail(read_string(
                cx.memory(),
                int(args, 0),
                Some(int(args, 1)),
            )?))
        })
        .func("env", "escape", |_cx, _args| Ok(None));
}

/// The imports of modules `jspi` and `env` (docs/abi.md).
pub fn imports() -> Imports<Env> {
    let mut imports = Imports::new();
    add_jspi(&mut imports);
    imports
        .func("env", "log_int", |cx, args| {
            log(cx, &format!("C: {}", int(args, 0)));
            Ok(None)
        })
        .func("env", "log_str", |cx, args| {
            let text = read_string(cx.memory(), int(args, 0), None)?;
            log(cx, &format!("C: {text}"));
            Ok(None)
        })
        .func("env", "log_str_str", |cx, args| {
            let label = read_string(cx.memory(), int(args, 0), None)?;
            let text = read_string(cx.memory(), int(args, 1), None)?;
            log(cx, &format!("C: {label} {text}"));
            Ok(None)
        })
        .func("env", "log_ref", |cx, args| {
            log(cx, &format!("C: {}", value(args, 0)));
            Ok(None)
        })
        .func("env", "start", |cx, args| {
            let name = read_string(cx.memory(), int(args, 0), None)?;
            let export = read_string(cx.memory(), int(args, 1), None)?;
            let (ptr, count) = (int(args, 2), int(args, 3));
            if !(0..=64).contains(&count) {
                return Err(Failure(format!("env.start: {count} arguments (at most 64)")).into());
            }
            let memory = cx.memory();
            let start = ptr as u32 as usize;
            let end = start + 4 * count as usize;
            let Some(bytes) = memory.get(start..end) else {
                return Err(Failure(format!(
                    "env.start: arguments at {start}..{end} lie outside memory ({} bytes)",
                    memory.len()
                ))
                .into());
            };
            let values: Vec<i32> = bytes
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            super::start_nested(cx, name, &export, &values)?;
            Ok(None)
        })
        .func("env", "delay", |cx, args| {
            Ok(promise_val(
                cx.data().clock.resolve_after(int(args, 0), JsValue::Null),
            ))
        })
        .func("env", "delayed_int", |cx, args| {
            let promise = cx
                .data()
                .clock
                .resolve_after(int(args, 1), JsValue::Int(int(args, 0)));
            Ok(promise_val(promise))
        })
        .func("env", "fake_fetch", |cx, args| {
            let x = int(args, 0);
            Ok(promise_val(slow_op(
                cx,
                "fake_fetch",
                x,
                500,
                x.wrapping_add(1),
            )))
        })
        .func("env", "fake_db_query", |cx, args| {
            let x = int(args, 0);
            Ok(promise_val(slow_op(
                cx,
                "fake_db_query",
                x,
                1000,
                x.wrapping_mul(x),
            )))
        })
        .func("env", "failing", |_cx, args| {
            Err(fail(format!(
                "host import failed with code {}",
                int(args, 0)
            )))
        })
        .func("env", "rejecting", |cx, args| {
            let (code, ms) = (int(args, 0), int(args, 1));
            let promise = Promise::default();
            let settle = promise.clone();
            cx.data().clock.after(ms, move || {
                settle.settle(Err(JsValue::Error(format!("rejected with code {code}"))))
            });
            Ok(promise_val(promise))
        });
    imports
}

/// A logged operation fulfilled with `result` after `ms`.
fn slow_op(cx: &Cx<'_, '_, Env>, name: &'static str, x: i32, ms: i32, result: i32) -> Promise {
    log(cx, &format!("env: {name}({x}) started"));
    let promise = Promise::default();
    let (settle, transcript) = (promise.clone(), cx.data().transcript.clone());
    cx.data().clock.after(ms, move || {
        transcript.log(&format!("env: {name}({x}) done"));
        settle.settle(Ok(JsValue::Int(result)));
    });
    promise
}
