//! Host functions that call back into their instance, as a JavaScript import may:
//! a plain call (`Cx::call`) and a promising task started from inside a synchronous
//! export (`Cx::promising`), which runs until it suspends and resumes later from the
//! executor like any task.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use host::{engine, Executor, ImportFuture, Imports, Instance, JsValue, Promise, Task, Val};

const GUEST: &str = r#"
(module
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (import "env" "spawn" (func $spawn (param i32)))
  (import "env" "ask_plain" (func $ask_plain (result i32)))
  (import "env" "ask_wrongly" (func $ask_wrongly (result i32)))
  (memory (export "memory") 1)
  ;; x -> (what the host resumes wait(x) with) + 1
  (func (export "task") (param i32) (result i32)
    (i32.add (call $wait (local.get 0)) (i32.const 1)))
  ;; a plain export that starts task(x) through the host, then returns x * 10
  (func (export "outer") (param i32) (result i32)
    (call $spawn (local.get 0))
    (i32.mul (local.get 0) (i32.const 10)))
  ;; a task that, after an await, starts task(x + 100) through the host
  (func (export "task_spawns") (param i32) (result i32)
    (drop (call $wait (local.get 0)))
    (call $spawn (i32.add (local.get 0) (i32.const 100)))
    (local.get 0))
  (func (export "plain") (result i32) (i32.const 7))
  (func (export "via_cx") (result i32) (call $ask_plain))
  (func (export "via_instance") (result i32) (call $ask_wrongly)))
"#;

#[derive(Default)]
struct State {
    /// Promises the guest waits on, with its argument.
    waits: Vec<(i32, Promise)>,
    /// Tasks the host started from inside `outer`.
    spawned: Vec<Task>,
}

type Shared = Rc<RefCell<State>>;

fn instance() -> (Instance<Shared>, Executor, Shared) {
    let mut imports: Imports<Shared> = Imports::new();
    imports
        .suspending("env", "wait", |cx, args| {
            let promise = Promise::new();
            cx.data()
                .borrow_mut()
                .waits
                .push((args[0].i32().unwrap(), promise.clone()));
            let future: ImportFuture = Box::pin(async move {
                match promise.wait().await {
                    Ok(JsValue::Int(v)) => Ok(Some(Val::I32(v))),
                    _ => Err(host::Error::msg("not an int")),
                }
            });
            Ok(future)
        })
        .func("env", "spawn", |cx, args| {
            let task = cx.promising("task", &[args[0].i32().unwrap()])?;
            cx.data().borrow_mut().spawned.push(task);
            Ok(None)
        })
        .func("env", "ask_plain", |cx, _| cx.call("plain", &[]))
        .func("env", "ask_wrongly", |cx, _| {
            let instance = cx.instance()?;
            instance.call("plain", &[])
        });
    let state = Shared::default();
    let executor = Executor::new();
    let wasm = wat::parse_str(GUEST).unwrap();
    let instance = Instance::new(
        &engine().unwrap(),
        &wasm,
        &imports,
        state.clone(),
        &executor,
    )
    .unwrap();
    (instance, executor, state)
}

fn poll(task: &mut Task) -> Option<i32> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(task).poll(&mut cx) {
        std::task::Poll::Ready(outcome) => Some(outcome.unwrap().unwrap().i32().unwrap()),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn a_plain_export_starts_a_task_that_resumes_later() {
    let (instance, executor, state) = instance();
    // Two plain calls, each starting a task that suspends inside the call.
    assert_eq!(
        instance.call("outer", &[3]).unwrap().unwrap().i32(),
        Some(30)
    );
    assert_eq!(
        instance.call("outer", &[4]).unwrap().unwrap().i32(),
        Some(40)
    );
    let waiting: Vec<i32> = state.borrow().waits.iter().map(|(x, _)| *x).collect();
    assert_eq!(waiting, [3, 4]);
    // Settle the second first: each task resumes from the executor with its own value.
    let (second, first) = {
        let s = state.borrow();
        (s.waits[1].1.clone(), s.waits[0].1.clone())
    };
    second.settle(Ok(JsValue::Int(400)));
    executor.run_until_stalled();
    let mut spawned = std::mem::take(&mut state.borrow_mut().spawned);
    assert_eq!(poll(&mut spawned[1]), Some(401));
    assert_eq!(poll(&mut spawned[0]), None);
    first.settle(Ok(JsValue::Int(300)));
    executor.run_until_stalled();
    assert_eq!(poll(&mut spawned[0]), Some(301));
    // One worker per task that was suspended at once, both idle again and reused.
    assert_eq!(instance.workers(), 2);
    instance.call("outer", &[5]).unwrap();
    assert_eq!(instance.workers(), 2);
}

#[test]
fn a_host_function_calls_back_through_its_cx_only() {
    let (instance, _executor, _state) = instance();
    assert_eq!(
        instance.call("via_cx", &[]).unwrap().unwrap().i32(),
        Some(7)
    );
    let error = instance.call("via_instance", &[]).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("the instance is busy"), "{message}");
    // The instance is still usable afterwards.
    assert_eq!(instance.call("plain", &[]).unwrap().unwrap().i32(), Some(7));
}

#[test]
fn a_task_starts_a_task_from_inside_itself() {
    let (instance, executor, state) = instance();
    let mut outer = instance.promising("task_spawns", &[1]).unwrap();
    let first = state.borrow().waits[0].1.clone();
    first.settle(Ok(JsValue::Int(0)));
    executor.run_until_stalled();
    // The outer task resumed, started task(101) (which now waits) and finished.
    assert_eq!(poll(&mut outer), Some(1));
    let waiting: Vec<i32> = state.borrow().waits.iter().map(|(x, _)| *x).collect();
    assert_eq!(waiting, [1, 101]);
    let inner = state.borrow().waits[1].1.clone();
    inner.settle(Ok(JsValue::Int(5)));
    executor.run_until_stalled();
    let mut spawned = std::mem::take(&mut state.borrow_mut().spawned);
    assert_eq!(poll(&mut spawned[0]), Some(6));
}
