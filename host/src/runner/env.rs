//! The scenario runner's test environment (docs/abi.md, "Host environment"): the
//! virtual clock, the transcript and the `env.*` imports, mirroring the Node runner's
//! `hostenv.mjs` and `clock.mjs` line for line in behaviour. This is fixture, not
//! product: the guest library's own imports (`jspi.*`) come from [`crate::jspi`].

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::rc::Rc;

use crate::{Cx, Error, Exception, Imports, Instance, JsValue, Promise, Result, Val};

type TimerAction = Box<dyn FnOnce()>;

/// Virtual time: a timer is a deadline, and the clock jumps to the earliest one.
/// Timers due at the same instant fire together, in the order they were created.
/// The timers are a binary heap in firing order (`clock.mjs` keeps one too): each
/// costs O(log n).
#[derive(Clone, Default)]
pub struct Clock(Rc<ClockState>);

#[derive(Default)]
struct ClockState {
    now: Cell<u64>,
    seq: Cell<u64>,
    /// The heap's top is the earliest deadline, then the first created.
    timers: RefCell<BinaryHeap<Reverse<Timer>>>,
}

/// A timer, ordered by when it fires: `(deadline, seq)`.
struct Timer {
    deadline: u64,
    seq: u64,
    action: TimerAction,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
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
        self.0.timers.borrow_mut().push(Reverse(Timer {
            deadline,
            seq,
            action: Box::new(action),
        }));
    }

    /// Jumps to the earliest deadline and fires every timer due then, in creation
    /// order (each in O(log n)). Returns false when no timer was left.
    pub fn fire_next(&self) -> bool {
        let due = {
            let mut timers = self.0.timers.borrow_mut();
            let Some(deadline) = timers.peek().map(|t| t.0.deadline) else {
                return false;
            };
            let mut due = Vec::new();
            while timers.peek().is_some_and(|t| t.0.deadline == deadline) {
                due.extend(timers.pop().map(|t| t.0.action));
            }
            self.0.now.set(deadline);
            due
        };
        for action in due {
            action();
        }
        true
    }

    /// A promise fulfilled with `value` after `ms`.
    pub fn resolve_after(&self, ms: i32, value: JsValue) -> Promise {
        let promise = Promise::new();
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
        println!(
            "{}",
            jspi_scenario::transcript::line(self.clock.now(), text)
        );
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
    /// A wasi-libc guest's stdout and stderr ([`add_wasi`]).
    pub stdio: Stdio,
    /// The scenario's files (`env.file_*`), shared by its instances.
    pub files: super::files::Files,
}

/// The tasks of a run.
pub type Tasks = Rc<RefCell<TaskList>>;

/// The tasks of a run in start order, found by name in O(1).
#[derive(Default)]
pub struct TaskList {
    records: Vec<TaskRecord>,
    by_name: HashMap<String, usize>,
}

impl TaskList {
    /// Adds a task (its name unused so far in the run: the scenario check and
    /// `env.start` make sure).
    pub fn add(&mut self, record: TaskRecord) {
        self.by_name.insert(record.name.clone(), self.records.len());
        self.records.push(record);
    }

    /// Whether task `name` has settled, shared; `None` for a name not started.
    pub fn settled(&self, name: &str) -> Option<Rc<Cell<bool>>> {
        let &index = self.by_name.get(name)?;
        Some(self.records[index].settled.clone())
    }

    /// Every task, in start order.
    pub fn in_order(&self) -> &[TaskRecord] {
        &self.records
    }
}

/// A task of a run: its name and whether it has settled.
pub struct TaskRecord {
    /// The name in the transcript.
    pub name: String,
    /// Set when it settles.
    pub settled: Rc<Cell<bool>>,
}

/// Reads the NUL-terminated UTF-8 string at `ptr`.
pub(crate) fn read_string(memory: &[u8], ptr: i32) -> Result<String, Error> {
    let start = ptr as u32 as usize;
    let nul = memory
        .get(start..)
        .and_then(|rest| rest.iter().position(|&b| b == 0));
    let end = match nul {
        Some(offset) => start + offset,
        None if start <= memory.len() => {
            return Err(Exception::error(format!(
                "string at {start} has no terminating NUL"
            )))
        }
        None => {
            return Err(Exception::error(format!(
                "string at {start}..{} lies outside memory ({} bytes)",
                memory.len() + 1,
                memory.len()
            )))
        }
    };
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

/// `len` bytes that depend on `seed`: byte i is (seed + 7 i) mod 256 (`pattern` in
/// hostenv.mjs).
fn pattern(len: i32, seed: i32) -> Vec<u8> {
    (0..len.max(0))
        .map(|i| seed.wrapping_add(7 * i) as u8)
        .collect()
}

fn promise_val(promise: Promise) -> Option<Val> {
    Some(JsValue::Promise(promise).into_val())
}

fn log(cx: &Cx<'_, '_, Env>, text: &str) {
    cx.data().transcript.log(text);
}

/// The imports of module `env` (docs/abi.md).
pub fn imports() -> Imports<Env> {
    let mut imports = Imports::new();
    logging(&mut imports);
    reentry(&mut imports);
    promises(&mut imports);
    super::files::add(&mut imports);
    imports
}

/// `escape` and the `log_*` imports: lines of the transcript.
fn logging(imports: &mut Imports<Env>) {
    imports
        .func("env", "escape", |_cx, _args| Ok(None))
        .func("env", "log_int", |cx, args| {
            log(cx, &format!("C: {}", int(args, 0)));
            Ok(None)
        })
        .func("env", "log_str", |cx, args| {
            let text = read_string(cx.memory(), int(args, 0))?;
            log(cx, &format!("C: {text}"));
            Ok(None)
        })
        .func("env", "log_str_str", |cx, args| {
            let label = read_string(cx.memory(), int(args, 0))?;
            let text = read_string(cx.memory(), int(args, 1))?;
            log(cx, &format!("C: {label} {text}"));
            Ok(None)
        })
        .func("env", "log_ref", |cx, args| {
            log(cx, &format!("C: {}", value(args, 0)));
            Ok(None)
        });
}

/// `start` and `call_plain`: imports that call back into the instance.
fn reentry(imports: &mut Imports<Env>) {
    imports
        .func("env", "start", |cx, args| {
            let name = read_string(cx.memory(), int(args, 0))?;
            let export = read_string(cx.memory(), int(args, 1))?;
            let values = start_args(cx.memory(), int(args, 2), int(args, 3))?;
            super::start_nested(cx, name, &export, &values)?;
            Ok(None)
        })
        .func("env", "call_plain", |cx, args| {
            let export = read_string(cx.memory(), int(args, 0))?;
            let (arg, times) = (int(args, 1), int(args, 2));
            if !cx.exports().iter().any(|(name, _)| *name == export) {
                return Err(Exception::error(format!(
                    "env.call_plain: the module has no exported function `{export}`"
                )));
            }
            let failed = (0..times.max(0))
                .filter(|_| cx.call(&export, &[arg]).is_err())
                .count();
            Ok(Some(Val::I32(failed as i32)))
        });
}

/// `env.start`'s arguments: `count` (at most 64) i32s at `ptr`.
fn start_args(memory: &[u8], ptr: i32, count: i32) -> Result<Vec<i32>> {
    if !(0..=64).contains(&count) {
        return Err(Exception::error(format!(
            "env.start: {count} arguments (at most 64)"
        )));
    }
    let start = ptr as u32 as usize;
    let end = start + 4 * count as usize;
    let Some(bytes) = memory.get(start..end) else {
        return Err(Exception::error(format!(
            "env.start: arguments at {start}..{end} lie outside memory ({} bytes)",
            memory.len()
        )));
    };
    Ok(bytes
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The imports that return promises, settled on the virtual clock.
fn promises(imports: &mut Imports<Env>) {
    imports
        .func("env", "bytes_after", |cx, args| {
            let bytes = JsValue::Bytes(pattern(int(args, 0), int(args, 1)).into());
            Ok(promise_val(
                cx.data().clock.resolve_after(int(args, 2), bytes),
            ))
        })
        .func("env", "read_into", |cx, args| {
            // The task-aware path: the bytes go wherever the task's buffer is when they
            // arrive (in place, or in its saved block).
            let Some(task) = cx.current_task()? else {
                return Err(Exception::error("env.read_into: called outside a task"));
            };
            write_later(cx, args, move |instance, dst, bytes| {
                instance.write_task(task, dst, bytes)
            })
        })
        .func("env", "read_naive", |cx, args| {
            // The hazard: the bytes go to the buffer's address while the task is
            // suspended.
            write_later(cx, args, |instance, dst, bytes| {
                instance.write_memory(dst, bytes)
            })
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
            let promise = slow_op(cx, "fake_fetch", x, 500, x.wrapping_add(1));
            Ok(promise_val(promise))
        })
        .func("env", "fake_db_query", |cx, args| {
            let x = int(args, 0);
            let promise = slow_op(cx, "fake_db_query", x, 1000, x.wrapping_mul(x));
            Ok(promise_val(promise))
        })
        .func("env", "failing", |_cx, args| {
            Err(Exception::error(format!(
                "host import failed with code {}",
                int(args, 0)
            )))
        })
        .func("env", "rejecting", |cx, args| {
            let (code, ms) = (int(args, 0), int(args, 1));
            let promise = Promise::new();
            let settle = promise.clone();
            cx.data().clock.after(ms, move || {
                settle.settle(Err(JsValue::Error(format!("rejected with code {code}"))))
            });
            Ok(promise_val(promise))
        });
}

/// `read_into` and `read_naive` (`dst, len, seed, ms`): a promise of `len`, settled
/// after `ms` once `write` has put the pattern of `len` bytes from `seed` at `dst`
/// (rejected with `write`'s error if it fails).
fn write_later(
    cx: &mut Cx<'_, '_, Env>,
    args: &[Val],
    write: impl FnOnce(&Instance<Env>, u32, &[u8]) -> Result<()> + 'static,
) -> Result<Option<Val>> {
    let (dst, len, seed, ms) = (int(args, 0), int(args, 1), int(args, 2), int(args, 3));
    let instance = cx.instance()?;
    let promise = Promise::new();
    let settle = promise.clone();
    cx.data().clock.after(ms, move || {
        let written = write(&instance, dst as u32, &pattern(len, seed));
        settle.settle(match written {
            Ok(()) => Ok(JsValue::Int(len)),
            Err(error) => Err(JsValue::Error(crate::runner::describe(&error))),
        });
    });
    Ok(promise_val(promise))
}

/// A logged operation fulfilled with `result` after `ms`.
fn slow_op(cx: &Cx<'_, '_, Env>, name: &'static str, x: i32, ms: i32, result: i32) -> Promise {
    log(cx, &format!("env: {name}({x}) started"));
    let promise = Promise::new();
    let (settle, transcript) = (promise.clone(), cx.data().transcript.clone());
    cx.data().clock.after(ms, move || {
        transcript.log(&format!("env: {name}({x}) done"));
        settle.settle(Ok(JsValue::Int(result)));
    });
    promise
}

/// WASI's errno values the environment returns.
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;

/// A wasi-libc guest's stdout and stderr as transcript lines (`wasiStdio` in
/// hostenv.mjs): the bytes written to fd 1 and 2, cut at each newline.
#[derive(Default)]
pub struct Stdio {
    /// What fd 1 and fd 2 hold of a line not yet ended.
    lines: RefCell<[Vec<u8>; 2]>,
}

const STREAMS: [&str; 2] = ["stdout", "stderr"];

impl Stdio {
    fn write(&self, stream: usize, bytes: &[u8], transcript: &Transcript) {
        let mut lines = self.lines.borrow_mut();
        let line = &mut lines[stream];
        for &byte in bytes {
            if byte == b'\n' {
                transcript.log(&format!(
                    "{}: {}",
                    STREAMS[stream],
                    String::from_utf8_lossy(line)
                ));
                line.clear();
            } else {
                line.push(byte);
            }
        }
    }

    /// Prints what is left of a line on either stream (the end of a run).
    pub fn flush(&self, transcript: &Transcript) {
        for (stream, line) in self.lines.borrow_mut().iter_mut().enumerate() {
            if !line.is_empty() {
                transcript.log(&format!(
                    "{}: {}",
                    STREAMS[stream],
                    String::from_utf8_lossy(line)
                ));
                line.clear();
            }
        }
    }
}

/// The stream of WASI descriptor `fd`, if it is stdout or stderr.
fn stream_of(fd: i32) -> Option<usize> {
    match fd {
        1 | 2 => Some(fd as usize - 1),
        _ => None,
    }
}

/// The little-endian `u32` at `at`, if it lies in memory.
fn u32_at(memory: &[u8], at: u32) -> Option<u32> {
    let bytes = memory.get(at as usize..(at as usize).checked_add(4)?)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Adds WASI preview 1 for a wasi-libc guest: wasmtime-wasi's, with no arguments,
/// environment or files, under the environment's own `fd_write` and
/// `fd_fdstat_get` (`wasiStdio` in hostenv.mjs): fd 1 and 2 are the transcript,
/// reported as a character device without seek rights so that wasi-libc
/// line-buffers them; every other descriptor is EBADF.
pub fn add_wasi(imports: &mut Imports<Env>) {
    imports
        .wasi(|_env| crate::wasmtime_wasi::WasiCtxBuilder::new().build_p1())
        .func(crate::WASI_MODULE, "fd_write", |cx, args| {
            let [fd, iovs, count, written] = [0, 1, 2, 3].map(|i| int(args, i));
            let Some(stream) = stream_of(fd) else {
                return Ok(Some(Val::I32(ERRNO_BADF)));
            };
            let memory = cx.memory();
            if u64::from(iovs as u32) + 8 * u64::from(count as u32) > memory.len() as u64 {
                return Ok(Some(Val::I32(ERRNO_FAULT)));
            }
            let mut bytes = Vec::new();
            for k in 0..count as u32 {
                let at = (iovs as u32).wrapping_add(8 * k);
                let (Some(ptr), Some(len)) = (u32_at(memory, at), u32_at(memory, at + 4)) else {
                    return Ok(Some(Val::I32(ERRNO_FAULT)));
                };
                let Some(part) = memory.get(ptr as usize..ptr as usize + len as usize) else {
                    return Ok(Some(Val::I32(ERRNO_FAULT)));
                };
                bytes.extend_from_slice(part);
            }
            if u32_at(memory, written as u32).is_none() {
                return Ok(Some(Val::I32(ERRNO_FAULT)));
            }
            let env = cx.data();
            env.stdio.write(stream, &bytes, &env.transcript);
            let at = written as u32 as usize;
            cx.memory_mut()[at..at + 4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
            Ok(Some(Val::I32(0)))
        })
        .func(crate::WASI_MODULE, "fd_fdstat_get", |cx, args| {
            let (fd, out) = (int(args, 0), int(args, 1) as u32 as usize);
            if stream_of(fd).is_none() {
                return Ok(Some(Val::I32(ERRNO_BADF)));
            }
            let Some(stat) = cx.memory_mut().get_mut(out..out + 24) else {
                return Ok(Some(Val::I32(ERRNO_FAULT)));
            };
            const FILETYPE_CHARACTER_DEVICE: u8 = 2;
            const RIGHTS_FD_WRITE: u64 = 1 << 6;
            stat.fill(0);
            stat[0] = FILETYPE_CHARACTER_DEVICE;
            stat[8..16].copy_from_slice(&RIGHTS_FD_WRITE.to_le_bytes());
            stat[16..24].copy_from_slice(&RIGHTS_FD_WRITE.to_le_bytes());
            Ok(Some(Val::I32(0)))
        });
}
