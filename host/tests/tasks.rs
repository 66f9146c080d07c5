//! The wasmtime host's JSPI semantics on a small hand-written guest: interleaving,
//! traps that fail one task only, plain calls that try to suspend, missing imports,
//! and many tasks without a continuation leaked per task.

use std::cell::RefCell;
use std::rc::Rc;

use host::{
    engine, Executor, ImportFuture, Imports, Instance, JsValue, MissingImports, Promise, Task, Val,
};

const GUEST: &str = r#"
(module
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (memory (export "memory") 1)
  ;; x -> (what the host resumes wait(x) with) + 1
  (func (export "task") (param i32) (result i32)
    (i32.add (call $wait (local.get 0)) (i32.const 1)))
  (func (export "trapping") (param i32) (result i32)
    (drop (call $wait (local.get 0)))
    unreachable)
  (func (export "plain") (result i32) (i32.const 7)))
"#;

/// The promises the guest is waiting on, in the order it asked, with its argument.
type Waits = Rc<RefCell<Vec<(i32, Promise)>>>;

fn instance() -> (Instance<Waits>, Executor, Waits) {
    let mut imports: Imports<Waits> = Imports::new();
    imports.suspending("env", "wait", |cx, args| {
        let promise = Promise::new();
        cx.data()
            .borrow_mut()
            .push((args[0].i32().unwrap(), promise.clone()));
        let future: ImportFuture = Box::pin(async move {
            match promise.wait().await {
                Ok(JsValue::Int(v)) => Ok(Some(Val::I32(v))),
                other => Err(host::Error::msg(format!("unexpected {}", other.is_ok()))),
            }
        });
        Ok(future)
    });
    let waits = Waits::default();
    let executor = Executor::new();
    let engine = engine().unwrap();
    let wasm = wat::parse_str(GUEST).unwrap();
    let instance = Instance::new(&engine, &wasm, &imports, waits.clone(), &executor).unwrap();
    (instance, executor, waits)
}

/// A task's error as a short text: a trap's kind, or the host's own message.
fn describe(error: &host::Error) -> String {
    match error.downcast_ref::<host::wasmtime::Trap>() {
        Some(host::wasmtime::Trap::UnreachableCodeReached) => "trap: unreachable".into(),
        Some(trap) => format!("trap: {trap}"),
        None => error.root_cause().to_string(),
    }
}

fn finished(task: &mut Task) -> Option<Result<Option<i32>, String>> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match std::pin::Pin::new(task).poll(&mut cx) {
        std::task::Poll::Ready(outcome) => Some(
            outcome
                .map(|v| v.and_then(|v| v.i32()))
                .map_err(|e| describe(&e)),
        ),
        std::task::Poll::Pending => None,
    }
}

use std::future::Future;

#[test]
fn tasks_interleave_and_resume_in_any_order() {
    let (instance, executor, waits) = instance();
    let mut a = instance.promising("task", &[10]).unwrap();
    let mut b = instance.promising("task", &[20]).unwrap();
    assert_eq!(waits.borrow().len(), 2, "both tasks are suspended at once");
    assert_eq!(instance.call("plain", &[]).unwrap().unwrap().i32(), Some(7));
    // Resume the newer one first.
    waits.borrow()[1].1.settle(Ok(JsValue::Int(200)));
    executor.run_until_stalled();
    assert_eq!(finished(&mut b), Some(Ok(Some(201))));
    assert!(!a.is_finished());
    waits.borrow()[0].1.settle(Ok(JsValue::Int(100)));
    executor.run_until_stalled();
    assert_eq!(finished(&mut a), Some(Ok(Some(101))));
    assert_eq!(instance.workers(), 2);
}

#[test]
fn a_trap_fails_only_its_own_task() {
    let (instance, executor, waits) = instance();
    let mut good = instance.promising("task", &[1]).unwrap();
    let mut bad = instance.promising("trapping", &[2]).unwrap();
    for (_, promise) in waits.borrow().iter().rev() {
        promise.settle(Ok(JsValue::Int(5)));
    }
    executor.run_until_stalled();
    assert_eq!(finished(&mut bad), Some(Err("trap: unreachable".into())));
    assert_eq!(finished(&mut good), Some(Ok(Some(6))));
    // The worker that died is replaced, and the instance goes on.
    let mut again = instance.promising("task", &[3]).unwrap();
    waits.borrow().last().unwrap().1.settle(Ok(JsValue::Int(8)));
    executor.run_until_stalled();
    assert_eq!(finished(&mut again), Some(Ok(Some(9))));
}

#[test]
fn a_failed_import_future_fails_the_task_at_its_await() {
    let (instance, executor, waits) = instance();
    let mut task = instance.promising("task", &[1]).unwrap();
    waits.borrow()[0]
        .1
        .settle(Ok(JsValue::Str("not an int".into())));
    executor.run_until_stalled();
    assert_eq!(finished(&mut task), Some(Err("unexpected true".into())));
}

#[test]
fn a_plain_call_cannot_suspend() {
    let (instance, _executor, _waits) = instance();
    let error = instance.call("task", &[1]).unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message
            .contains("cannot suspend: `task` was called plainly and reached a suspending import"),
        "{message}"
    );
}

#[test]
fn missing_imports_are_listed() {
    let imports: Imports<()> = Imports::new();
    let wasm = wat::parse_str(
        r#"(module (import "env" "a" (func)) (import "env" "b" (func (param externref))))"#,
    )
    .unwrap();
    let error = Instance::new(&engine().unwrap(), &wasm, &imports, (), &Executor::new())
        .err()
        .expect("instantiation must fail");
    assert_eq!(
        error.downcast_ref::<MissingImports>(),
        Some(&MissingImports(vec!["env.a".into(), "env.b".into()]))
    );
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn many_tasks_reuse_a_bounded_pool_of_continuations() {
    let (instance, executor, waits) = instance();
    let start_rss = peak_rss_kib();

    // 10,000 tasks one after the other: one worker serves them all.
    for i in 0..10_000 {
        let mut task = instance.promising("task", &[i]).unwrap();
        waits
            .borrow_mut()
            .pop()
            .unwrap()
            .1
            .settle(Ok(JsValue::Int(i)));
        executor.run_until_stalled();
        assert_eq!(finished(&mut task), Some(Ok(Some(i + 1))));
    }
    assert_eq!(instance.workers(), 1);
    let sequential_rss = peak_rss_kib();

    // 1,000 tasks suspended at once, twice: the second round reuses the first's workers.
    for round in 0..2 {
        let mut tasks: Vec<Task> = (0..1_000)
            .map(|i| instance.promising("task", &[i]).unwrap())
            .collect();
        assert_eq!(
            waits.borrow().len(),
            1_000,
            "round {round}: all suspended at once"
        );
        for (arg, promise) in waits.borrow_mut().drain(..).rev() {
            promise.settle(Ok(JsValue::Int(arg * 2)));
        }
        executor.run_until_stalled();
        for (i, task) in tasks.iter_mut().enumerate() {
            assert_eq!(finished(task), Some(Ok(Some(i as i32 * 2 + 1))));
        }
        assert_eq!(instance.workers(), 1_000, "round {round}");
    }
    println!(
        "peak RSS: {start_rss} KiB at start, {sequential_rss} KiB after 10,000 sequential tasks, {} KiB after 2 x 1,000 concurrent tasks; {} workers",
        peak_rss_kib(),
        instance.workers()
    );
}
