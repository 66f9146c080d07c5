//! The scenario runner on wasmtime: runs one guest module through one scenario and
//! prints the transcript (docs/abi.md), exactly as the Node runner (`js/runner.mjs`)
//! does, so the two transcripts can be compared byte for byte.
//!
//! ```text
//! jspi-wasmtime MODULE.wasm scenario.json
//! ```
//!
//! Exit codes: 0 when the scenario ran (failed tasks are part of the transcript), 1
//! when it could not finish (a wait on a task that can never settle), 2 for bad input.

pub mod env;
pub mod files;

use std::rc::Rc;

use env::{Clock, Env, TaskRecord, Tasks, Transcript};
use jspi_scenario::{self as scenario, Step};

use crate::{
    engine, Compiled, Cx, Error, Exception, Executor, Instance, JsValue, MissingImports, Task, Val,
};

/// Bad input: printed as one `error:` line, exit code 2.
struct BadInput(String);

/// The bytes every wasm module starts with.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// The message of a failed call or task, as transcripts print it (`formatError` in
/// hostenv.mjs): a guest's or host's message as is, a trap as `trap: <kind>`.
pub fn describe(error: &Error) -> String {
    if let Some(exception) = error.downcast_ref::<Exception>() {
        return exception.message().to_string();
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        use wasmtime::Trap;
        let kind = match trap {
            Trap::UnreachableCodeReached => "unreachable".to_string(),
            Trap::MemoryOutOfBounds => "memory access out of bounds".to_string(),
            Trap::StackOverflow => "call stack exhausted".to_string(),
            Trap::IntegerDivisionByZero => "integer divide by zero".to_string(),
            Trap::BadSignature | Trap::IndirectCallToNull => {
                "indirect call type mismatch".to_string()
            }
            other => other.to_string(),
        };
        return format!("trap: {kind}");
    }
    // A host error under wasmtime's backtrace context: the host's own message.
    error.root_cause().to_string()
}

fn format_val(value: &Val) -> String {
    match value {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(v) => v.to_string(),
        Val::F64(v) => v.to_string(),
        other => JsValue::from_val(other).to_string(),
    }
}

/// The longest error line, in characters after `error: ` (`MAX_ERROR` in runner.mjs).
pub const MAX_ERROR: usize = 300;

/// JavaScript's `String.prototype.trim` whitespace: WhiteSpace and LineTerminator
/// (U+FEFF is one, U+0085 is not, unlike Rust's `char::is_whitespace`).
fn js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// A bad-input message as the one line the runners print after `error: `: its lines
/// trimmed and joined by spaces (an engine's or a file's text can span several), then
/// cut to [`MAX_ERROR`] characters, the last three `...`; exactly as runner.mjs does.
pub fn error_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .split('\n')
        .map(|part| part.trim_matches(js_space))
        .filter(|part| !part.is_empty())
        .collect();
    let line = parts.join(" ");
    match line.char_indices().nth(MAX_ERROR) {
        None => line,
        Some(_) => {
            let (cut, _) = line
                .char_indices()
                .nth(MAX_ERROR - 3)
                .expect("longer than MAX_ERROR");
            format!("{}...", &line[..cut])
        }
    }
}

/// Runs the command line (without the program name); returns the exit code.
pub fn main(args: &[String]) -> i32 {
    match run(args) {
        Ok(code) => code,
        Err(BadInput(message)) => {
            eprintln!("error: {}", error_line(&message));
            2
        }
    }
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, BadInput> {
    std::fs::read(path).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "ENOENT".to_string(),
            _ => e.to_string(),
        };
        BadInput(format!("{path}: cannot read the {what}: {reason}"))
    })
}

fn run(args: &[String]) -> Result<i32, BadInput> {
    let [wasm_path, scenario_path] = args else {
        return Err(BadInput(
            "usage: jspi-wasmtime MODULE.wasm SCENARIO.json".into(),
        ));
    };
    let text = read(scenario_path, "scenario")?;
    let scenario::Scenario { wasi, steps, .. } =
        scenario::parse(&String::from_utf8_lossy(&text), scenario_path).map_err(BadInput)?;
    let wasm = read(wasm_path, "module")?;
    // A file that is not wasm at all, in the Node runner's words (the engines' own
    // messages for it differ).
    if !wasm.starts_with(WASM_MAGIC) {
        return Err(BadInput(format!(
            r#"{wasm_path}: not a wasm module: it does not start with the bytes 00 61 73 6d ("\0asm")"#
        )));
    }
    let session = Session::new(&wasm, wasm_path, wasi)?;
    let mut instance = session.instantiate()?;
    check_exports(&steps, &instance, wasm_path, scenario_path)?;
    for step in &steps {
        if let Some(code) = session.step(step, &mut instance)? {
            return Ok(code);
        }
    }
    session.drain(&instance);
    Ok(0)
}

/// What a scenario's run shares across its instances (a `reset` step makes a new
/// one): the compiled module, the virtual clock, the transcript, the executor and the
/// in-memory files.
struct Session<'p> {
    clock: Clock,
    transcript: Transcript,
    executor: Executor,
    compiled: Compiled<Env>,
    files: files::Files,
    wasm_path: &'p str,
}

impl<'p> Session<'p> {
    /// Compiles `wasm` against `env`'s imports, and WASI's when the scenario asks.
    fn new(wasm: &[u8], wasm_path: &'p str, wasi: bool) -> Result<Self, BadInput> {
        let clock = Clock::default();
        let engine = engine().map_err(|e| BadInput(format!("wasmtime: {e}")))?;
        let mut imports = env::imports();
        if wasi {
            env::add_wasi(&mut imports);
        }
        let compiled =
            Compiled::new(&engine, wasm, &imports).map_err(|e| load_error(wasm_path, &e))?;
        Ok(Session {
            transcript: Transcript::new(clock.clone()),
            clock,
            executor: Executor::new(),
            compiled,
            files: files::Files::default(),
            wasm_path,
        })
    }

    /// A fresh instance.
    fn instantiate(&self) -> Result<Instance<Env>, BadInput> {
        let data = Env {
            clock: self.clock.clone(),
            transcript: self.transcript.clone(),
            tasks: Tasks::default(),
            executor: self.executor.clone(),
            stdio: env::Stdio::default(),
            files: self.files.clone(),
        };
        let wasm_path = self.wasm_path;
        (self.compiled)
            .instantiate(data, &self.executor)
            .map_err(|e| match e.to_string() {
                // The trap as transcripts name it (play.mjs's words).
                context if context == crate::INITIALIZE_FAILED => {
                    BadInput(format!("{wasm_path}: {context}: {}", describe(&e)))
                }
                _ => BadInput(format!("{wasm_path}: instantiation failed: {e:#}")),
            })
    }

    /// Runs the executor, firing timers in order, until `done` or no timer is left.
    fn run_until(&self, done: &dyn Fn() -> bool) {
        self.executor.run_until_stalled();
        while !done() && self.clock.fire_next() {
            self.executor.run_until_stalled();
        }
    }

    /// Runs everything that can still run, then reports what never settled.
    fn drain(&self, instance: &Instance<Env>) {
        self.run_until(&|| false);
        instance.with_data(|env| env.stdio.flush(&env.transcript));
        let tasks = instance.with_data(|env| env.tasks.clone());
        report_pending(&tasks.borrow(), &self.transcript);
    }

    /// Carries out one step; `Some(exit code)` ends the run.
    fn step(&self, step: &Step, instance: &mut Instance<Env>) -> Result<Option<i32>, BadInput> {
        match step {
            Step::Start { export, args, name } => {
                start_task(Via::Top(instance), name.clone(), export, args);
            }
            Step::Spawn { export, args, name } => {
                start_task(Via::Spawn(instance), name.clone(), export, args);
            }
            Step::Call { export, args } => self.call(instance, export, args),
            Step::Reset { label } => {
                self.drain(instance);
                self.clock.restart();
                *instance = self.instantiate()?;
                self.transcript.log(&scenario::transcript::reset(label));
            }
            Step::Wait { task } => {
                let settled = instance
                    .with_data(|env| env.tasks.clone())
                    .borrow()
                    .settled(task)
                    .expect("the scenario check found every waited task");
                self.run_until(&|| settled.get());
                if !settled.get() {
                    eprintln!(
                        "error: wait {task}: the task can never settle (no timer is left at t={})",
                        self.clock.now()
                    );
                    return Ok(Some(1));
                }
            }
        }
        Ok(None)
    }

    /// A `call` step: a plain call, logged with its result or failure.
    fn call(&self, instance: &Instance<Env>, export: &str, args: &[i32]) {
        let call = scenario::transcript::call(export, args);
        let transcript = &self.transcript;
        transcript.log(&format!("call {call}"));
        match instance.call(export, args) {
            Ok(None) => transcript.log(&format!("{call} returned")),
            Ok(Some(value)) => transcript.log(&format!("{call} returned {}", format_val(&value))),
            Err(error) => transcript.log(&scenario::transcript::failed(&call, &describe(&error))),
        }
    }
}

/// Where a task is started from, and how.
enum Via<'x, 'c, 'a> {
    /// The host's top level (a `start` step): `Instance::promising`.
    Top(&'x Instance<Env>),
    /// The host's top level, pooled (a `spawn` step): `Instance::spawn`.
    Spawn(&'x Instance<Env>),
    /// A host import the guest called (`env.start`), through its `Cx`.
    Import(&'x mut Cx<'c, 'a, Env>),
}

impl Via<'_, '_, '_> {
    fn start(&mut self, export: &str, args: &[i32]) -> Result<Task, Error> {
        match self {
            Via::Top(instance) => instance.promising(export, args),
            Via::Spawn(instance) => instance.spawn(export, args),
            Via::Import(cx) => cx.promising(export, args),
        }
    }

    fn env<R>(&mut self, f: impl FnOnce(&Env) -> R) -> R {
        match self {
            Via::Top(instance) | Via::Spawn(instance) => instance.with_data(|env| f(env)),
            Via::Import(cx) => f(cx.data()),
        }
    }
}

/// Starts `export(args)` as task `name`, as the Node runner's `start` does; the
/// product runs the guest library's hooks around it. A task that cannot even start
/// (the library cannot place it) is reported in the next executor turn, as a rejected
/// promise is on Node; the others when they settle.
fn start_task(mut via: Via<'_, '_, '_>, name: String, export: &str, args: &[i32]) {
    let (transcript, tasks, executor) = via.env(|env| {
        (
            env.transcript.clone(),
            env.tasks.clone(),
            env.executor.clone(),
        )
    });
    let verb = if matches!(via, Via::Spawn(_)) {
        "spawn"
    } else {
        "start"
    };
    transcript.log(&format!(
        "{verb} {name} = {}",
        scenario::transcript::call(export, args)
    ));
    let settled = Rc::new(std::cell::Cell::new(false));
    tasks.borrow_mut().add(TaskRecord {
        name: name.clone(),
        settled: settled.clone(),
    });
    let settle = move |line: String| {
        settled.set(true);
        transcript.log(&line);
    };
    let task = match via.start(export, args) {
        Ok(task) => task,
        Err(error) => {
            // As the JS package's rejected promise is: in the next turn.
            let line = scenario::transcript::rejected(&name, &describe(&error));
            executor.spawn(async move { settle(line) });
            return;
        }
    };
    // As the Node runner's `then`: awaiting the task to its end also runs its
    // `jspi_task_done`, in this turn.
    task.then(&executor, move |outcome| {
        settle(match outcome {
            Ok(None) => format!("{name} fulfilled"),
            Ok(Some(value)) => format!("{name} fulfilled: {}", format_val(&value)),
            Err(error) => scenario::transcript::rejected(&name, &describe(&error)),
        });
    });
}

/// `env.start`: a task started from inside the guest, checked as a `start` step is
/// before anything runs (its name unused in this run, the export there, the argument
/// count right); a problem fails the calling export.
fn start_nested(
    cx: &mut Cx<'_, '_, Env>,
    name: String,
    export: &str,
    args: &[i32],
) -> Result<(), Error> {
    for (what, value) in [("task name", &name), ("export name", &export.to_string())] {
        if let Some(problem) = scenario::name_problem(value) {
            return Err(Exception::error(format!("env.start: the {what} {problem}")));
        }
    }
    if cx.data().tasks.borrow().settled(&name).is_some() {
        return Err(Exception::error(format!(
            "env.start: task name `{name}` is used twice"
        )));
    }
    match cx.exports().iter().find(|(n, _)| n == export) {
        None => {
            return Err(Exception::error(format!(
                "env.start: the module has no exported function `{export}`"
            )))
        }
        Some((_, params)) if *params != args.len() => {
            return Err(Exception::error(format!(
                "env.start: `{export}` takes {params} argument(s), got {}",
                args.len()
            )))
        }
        Some(_) => {}
    }
    start_task(Via::Import(cx), name, export, args);
    Ok(())
}

/// The end of a run: a line for each task that never settled.
fn report_pending(tasks: &env::TaskList, transcript: &Transcript) {
    for task in tasks.in_order() {
        if !task.settled.get() {
            transcript.log(&scenario::transcript::pending(&task.name));
        }
    }
}

/// Why the module at `wasm_path` did not load, in the Node runner's words.
fn load_error(wasm_path: &str, error: &Error) -> BadInput {
    let Some(MissingImports(missing)) = error.downcast_ref::<MissingImports>() else {
        return BadInput(format!("{wasm_path}: {error:#}"));
    };
    // A `jspi_*` function is the guest library's own code, not the host's.
    let unlinked = missing.iter().any(|qualified| {
        qualified
            .rsplit('.')
            .next()
            .is_some_and(|name| name.starts_with("jspi_"))
    });
    let hint = if unlinked {
        "jspi_* functions are the guest library's: was it linked with libjspi.a?"
    } else if missing
        .iter()
        .any(|qualified| qualified.starts_with(&format!("{}.", crate::WASI_MODULE)))
    {
        r#"a module built against wasi-libc needs "libc": "wasi" in its scenario"#
    } else {
        "see docs/abi.md for the host environment"
    };
    BadInput(format!(
        "{wasm_path}: imports what the host does not provide: {} ({hint})",
        missing.join(", ")
    ))
}

/// The module has what the scenario needs (`checkExports` in scenario.mjs).
fn check_exports(
    steps: &[Step],
    instance: &Instance<Env>,
    module: &str,
    scenario: &str,
) -> Result<(), BadInput> {
    let exports = instance.exports();
    let params: std::collections::HashMap<&str, usize> =
        exports.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let has = |name: &str| params.get(name).copied();
    // A scenario's tasks are the guest library's tasks.
    if steps
        .iter()
        .any(|s| matches!(s, Step::Start { .. } | Step::Spawn { .. }))
    {
        instance
            .require_guest_library()
            .map_err(|e| BadInput(format!("{module}: {e}")))?;
    }
    if !instance.has_memory() {
        return Err(BadInput(format!("{module}: exports no `memory`")));
    }
    for (index, step) in steps.iter().enumerate() {
        let (Step::Start { export, args, .. }
        | Step::Spawn { export, args, .. }
        | Step::Call { export, args }) = step
        else {
            continue;
        };
        let where_ = format!("{scenario}: step {}", index + 1);
        match has(export) {
            None => {
                let available: Vec<&str> = exports
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .filter(|n| !n.starts_with("jspi_"))
                    .collect();
                let available = if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                };
                return Err(BadInput(format!(
                    "{where_}: the module has no exported function `{export}` (it exports: {available})"
                )));
            }
            Some(params) if params != args.len() => {
                return Err(BadInput(format!(
                    "{where_}: `{export}` takes {params} argument(s), the step gives {}",
                    args.len()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_one_line_of_at_most_300_characters() {
        assert_eq!(error_line("  a\n\n  b \r\n\u{feff}c\u{85}"), "a b c\u{85}");
        let long = "é".repeat(1000);
        let line = error_line(&long);
        assert_eq!(line.chars().count(), 300);
        assert!(line.ends_with("é..."));
        assert_eq!(error_line(&"x".repeat(300)), "x".repeat(300));
    }
}
