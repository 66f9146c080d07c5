//! 1,000,000 tasks through one wasmtime instance, 64 alive at a time: the process's
//! resident memory must stay flat (within 10%) between task 250,000 and task
//! 1,000,000, the host values the guest holds must not pile up, and every task must
//! get its frame back intact. The twin of `host/js/test/pool-memory.mjs`;
//! `cargo xtask test` runs it (xtask/src/leaks.rs).
//!
//! ```text
//! cargo run --release -p host --example task_memory -- MODULE.wasm [TASKS]
//! ```
//!
//! MODULE is 06-lazy-fix built with any strategy (its `holder(id, ms)` keeps a buffer
//! across an await). Prints the figures; exits 1 with a one-line reason when a check
//! fails.

use std::cell::{Cell, RefCell};
use std::process::ExitCode;
use std::rc::Rc;

use host::runner::env::Clock;
use host::{engine, Exception, Executor, Imports, Instance, JsValue, Val};

const BATCH: usize = 64;
const MARGIN: f64 = 0.1;

/// What the imports see.
#[derive(Default)]
struct Data {
    clock: Clock,
    resumed: Cell<usize>,
    /// The first line that was not what the task should print.
    wrong: RefCell<Option<String>>,
}

/// VmRSS of this process, in KiB.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The NUL-terminated string at `ptr`.
fn string(memory: &[u8], ptr: i32) -> Result<String, host::Error> {
    let start = ptr as u32 as usize;
    let bytes = memory
        .get(start..)
        .ok_or_else(|| Exception::error(format!("string at {start} lies outside memory")))?;
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

fn imports() -> Imports<Data> {
    let int = |args: &[Val], i: usize| args.get(i).and_then(Val::i32).unwrap_or(0);
    let mut imports: Imports<Data> = Imports::new();
    imports
        .func("env", "escape", |_cx, _args| Ok(None))
        .func("env", "log_str_str", move |cx, args| {
            let text = format!(
                "{} {}",
                string(cx.memory(), int(args, 0))?,
                string(cx.memory(), int(args, 1))?
            );
            let data = cx.data();
            let resumed = data.resumed.get();
            data.resumed.set(resumed + 1);
            let expected = format!(
                "resumed: holder {} keeps this buffer across its await",
                resumed % 10
            );
            if text != expected && data.wrong.borrow().is_none() {
                *data.wrong.borrow_mut() = Some(format!("task {}: {text:?}", resumed + 1));
            }
            Ok(None)
        })
        .func("env", "delay", move |cx, args| {
            let promise = cx.data().clock.resolve_after(int(args, 0), JsValue::Null);
            Ok(Some(JsValue::Promise(promise).into_val()))
        });
    imports
}

fn run(wasm_path: &str, total: usize) -> Result<String, String> {
    let wasm = std::fs::read(wasm_path).map_err(|e| format!("{wasm_path}: {e}"))?;
    let engine = engine().map_err(|e| e.to_string())?;
    let executor = Executor::new();
    let data = Data::default();
    let clock = data.clock.clone();
    let instance = Instance::new(&engine, &wasm, &imports(), data, &executor)
        .map_err(|e| format!("{wasm_path}: {e:#}"))?;
    let first = total / 4;
    let failed = Rc::new(RefCell::new(None::<String>));
    let (mut started, mut at_first) = (0, None);
    let (mut most_objects, mut most_workers) = (0, 0);
    while started < total {
        for _ in 0..BATCH.min(total - started) {
            let task = instance
                .spawn("holder", &[(started % 10) as i32, 1])
                .map_err(|e| format!("task {}: {e:#}", started + 1))?;
            let failed = failed.clone();
            task.then(&executor, move |outcome| {
                if let Err(error) = outcome {
                    failed.borrow_mut().get_or_insert(format!("{error:#}"));
                }
            });
            started += 1;
        }
        executor.run_until_stalled();
        most_objects = most_objects.max(instance.objects());
        while clock.fire_next() {
            executor.run_until_stalled();
        }
        most_workers = most_workers.max(instance.workers());
        if at_first.is_none() && started >= first {
            at_first = Some(rss());
        }
    }
    if let Some(error) = failed.borrow().as_ref() {
        return Err(format!("a task failed: {error}"));
    }
    let (resumed, wrong) = instance.with_data(|d| (d.resumed.get(), d.wrong.borrow().clone()));
    if let Some(wrong) = wrong {
        return Err(format!("a task lost its frame: {wrong}"));
    }
    if resumed != total {
        return Err(format!("{resumed} of {total} tasks resumed"));
    }
    let (before, after) = (at_first.unwrap_or(0), rss());
    let stats = instance
        .stats()
        .map_err(|e| e.to_string())?
        .ok_or("the module has no jspi_stat")?;
    let held = instance.objects();
    let figures = format!(
        "wasmtime tasks: {total} in batches of {BATCH}, {most_workers} workers; \
         at task {first}: RSS {before} KiB; at task {total}: RSS {after} KiB; \
         host values held: at most {most_objects}, {held} at the end; live tasks {}",
        stats.live_tasks
    );
    if after as f64 > before as f64 * (1.0 + MARGIN) {
        return Err(format!(
            "RSS grew from {before} KiB at task {first} to {after} KiB at task {total} (more than {}%): {figures}",
            MARGIN * 100.0
        ));
    }
    // Each live task holds its promise until the await consumes it, at most.
    if most_objects > 2 * BATCH || held != 0 {
        return Err(format!("host values pile up: {figures}"));
    }
    if stats.live_tasks != 0 || stats.tasks_entered != total as u64 {
        return Err(format!(
            "the library entered {} tasks, {} still alive: {figures}",
            stats.tasks_entered, stats.live_tasks
        ));
    }
    Ok(figures)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (wasm, total) = match &args[..] {
        [wasm] => (wasm, 1_000_000),
        [wasm, total] => match total.parse() {
            Ok(total) => (wasm, total),
            Err(_) => {
                eprintln!("error: TASKS must be a number, not {total:?}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("error: usage: task_memory MODULE.wasm [TASKS]");
            return ExitCode::from(2);
        }
    };
    match run(wasm, total) {
        Ok(figures) => {
            println!("{figures}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}
