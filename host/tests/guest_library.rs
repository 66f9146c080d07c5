//! The host's side of the guest library's contract (`host::jspi`): when the host
//! runs the task hooks and the plain-call hooks, what it does with their results and
//! failures, and the imports and counters it provides.
//!
//! The guest here is a hand-written stand-in for a module linked with the library: it
//! exports the library's hooks under their real names, and they only record that they
//! ran (and move a fake stack pointer), so these tests show *when* the host calls what,
//! not that the library keeps the shadow stack right. That is shown with the real
//! library by the examples on every host and strategy (`cargo xtask test`), among them
//! `c-examples/07-faults` for plain calls that trap deep inside.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use host::{
    engine, Compiled, Exception, Executor, ImportFuture, Imports, Instance, JsValue, NotLinked,
    Promise, Task, Val,
};

const GUEST: &str = r#"
(module
  (import "env" "note" (func $note (param i32 i32)))
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (import "env" "start" (func $start (param i32)))
  (import "env" "ask" (func $ask (param i32)))
  (import "jspi" "fail" (func $fail (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "too many tasks")
  ;; A stand-in for the shadow stack pointer, exported to look at.
  (global $sp (export "__stack_pointer") (mut i32) (i32.const 4096))
  (global $next (mut i32) (i32.const 1))
  (global $live (mut i32) (i32.const 0))
  (global $max (mut i32) (i32.const 8))

  ;; The hooks: note 1 enter, 2 leave, 3 done, 4 call_enter, 5 call_leave.
  (func (export "jspi_task_enter") (result i32)
    (if (i32.ge_u (global.get $live) (global.get $max))
      (then (call $fail (i32.const 0) (i32.const 14))))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (call $note (i32.const 1) (global.get $next))
    (global.set $next (i32.add (global.get $next) (i32.const 1)))
    (i32.sub (global.get $next) (i32.const 1)))
  (func (export "jspi_task_leave") (param i32)
    (call $note (i32.const 2) (local.get 0)))
  (func (export "jspi_task_done") (param i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (call $note (i32.const 3) (local.get 0)))
  (func (export "jspi_call_enter") (result i32)
    (call $note (i32.const 4) (global.get $sp))
    (global.get $sp))
  (func (export "jspi_call_leave") (param i32)
    (call $note (i32.const 5) (local.get 0))
    (global.set $sp (local.get 0)))
  (func (export "jspi_stat") (param i32) (result i64)
    (i64.extend_i32_u (i32.add (local.get 0) (i32.const 100))))

  ;; The guest's own exports: note 6 run.
  (func (export "limit") (param i32) (global.set $max (local.get 0)))
  (func (export "task") (param i32) (result i32)
    (call $note (i32.const 6) (local.get 0))
    (i32.add (call $wait (local.get 0)) (i32.const 1)))
  (func (export "quick") (param i32) (result i32)
    (call $note (i32.const 6) (local.get 0))
    (local.get 0))
  (func (export "trap_now") (param i32) (result i32)
    (call $note (i32.const 6) (local.get 0))
    unreachable)
  ;; What a deep call does to the stack pointer before it traps.
  (func (export "deep_trap") (param i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.mul (local.get 0) (i32.const 64))))
    unreachable)
  ;; Starts quick(x) (x < 100) or task(x) through the host, from inside this call.
  (func (export "outer") (param i32) (result i32)
    (call $start (local.get 0))
    (local.get 0))
  ;; Lowers the stack pointer by 16 for its frame, has the host call deep_trap(x)
  ;; plainly, and returns as compiled code does, putting its frame back.
  (func (export "outer_ask") (param i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 16)))
    (call $ask (local.get 0))
    (global.set $sp (i32.add (global.get $sp) (i32.const 16)))))
"#;

#[derive(Default)]
struct Host {
    /// What the guest noted, as `hook value`.
    log: Vec<String>,
    /// Promises the guest waits on, with its argument.
    waits: Vec<(i32, Promise)>,
    /// Tasks the host started from inside `outer` and kept.
    tasks: Vec<Task>,
}

type Shared = Rc<RefCell<Host>>;

fn imports() -> Imports<Shared> {
    let mut imports: Imports<Shared> = Imports::new();
    imports
        .func("env", "note", |cx, args| {
            let what = [
                "?",
                "enter",
                "leave",
                "done",
                "call_enter",
                "call_leave",
                "run",
            ];
            let (kind, value) = (args[0].i32().unwrap(), args[1].i32().unwrap());
            let line = format!("{} {value}", what[kind as usize]);
            cx.data().borrow_mut().log.push(line);
            Ok(None)
        })
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
        .func("env", "start", |cx, args| {
            let x = args[0].i32().unwrap();
            if x < 100 {
                // Finishes at once; dropped here, inside the guest's call.
                drop(cx.promising("quick", &[x])?);
            } else {
                let task = cx.promising("task", &[x])?;
                cx.data().borrow_mut().tasks.push(task);
            }
            Ok(None)
        })
        .func("env", "ask", |cx, args| {
            let error = cx.call("deep_trap", &[args[0].i32().unwrap()]).unwrap_err();
            let trapped = error.downcast_ref::<host::wasmtime::Trap>().is_some();
            cx.data()
                .borrow_mut()
                .log
                .push(format!("ask trapped {trapped}"));
            Ok(None)
        });
    imports
}

fn instance() -> (Instance<Shared>, Executor, Shared) {
    let shared = Shared::default();
    let executor = Executor::new();
    let wasm = wat::parse_str(GUEST).unwrap();
    let instance = Instance::new(
        &engine().unwrap(),
        &wasm,
        &imports(),
        shared.clone(),
        &executor,
    )
    .unwrap();
    (instance, executor, shared)
}

/// The log so far, emptied.
fn take_log(shared: &Shared) -> Vec<String> {
    std::mem::take(&mut shared.borrow_mut().log)
}

fn poll(task: &mut Task) -> Option<Result<Option<i32>, String>> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(task).poll(&mut cx) {
        Poll::Ready(outcome) => Some(outcome.map(|v| v.and_then(|v| v.i32())).map_err(|e| {
            match e.downcast_ref::<Exception>() {
                Some(exception) => exception.message().to_string(),
                None => format!("{e:#}"),
            }
        })),
        Poll::Pending => None,
    }
}

fn settle(shared: &Shared, index: usize, value: i32) {
    let promise = shared.borrow().waits[index].1.clone();
    promise.settle(Ok(JsValue::Int(value)));
}

#[test]
fn promising_runs_enter_the_call_leave_and_done_once_awaited() {
    let (instance, executor, shared) = instance();
    let mut task = instance.promising("task", &[3]).unwrap();
    assert_eq!(take_log(&shared), ["enter 1", "run 3", "leave 1"]);
    settle(&shared, 0, 40);
    executor.run_until_stalled();
    assert!(task.is_finished());
    assert_eq!(
        take_log(&shared),
        [] as [&str; 0],
        "done waits for the awaiter"
    );
    // Awaiting it to its end runs done, in that same poll.
    assert_eq!(poll(&mut task), Some(Ok(Some(41))));
    assert_eq!(take_log(&shared), ["done 1"]);
    drop(task);
    assert_eq!(take_log(&shared), [] as [&str; 0], "done runs once");
}

#[test]
fn a_task_that_finishes_at_once_and_one_that_traps_are_done_too() {
    let (instance, _executor, shared) = instance();
    let mut quick = instance.promising("quick", &[5]).unwrap();
    let mut trapping = instance.promising("trap_now", &[6]).unwrap();
    assert_eq!(
        take_log(&shared),
        ["enter 1", "run 5", "leave 1", "enter 2", "run 6", "leave 2"]
    );
    assert_eq!(poll(&mut quick), Some(Ok(Some(5))));
    let error = poll(&mut trapping).unwrap().unwrap_err();
    assert!(error.contains("unreachable"), "{error}");
    assert_eq!(take_log(&shared), ["done 1", "done 2"]);
}

#[test]
fn a_dropped_task_is_done_when_it_settles() {
    let (instance, executor, shared) = instance();
    drop(instance.promising("task", &[1]).unwrap());
    let finished = instance.promising("quick", &[2]).unwrap();
    assert_eq!(
        take_log(&shared),
        ["enter 1", "run 1", "leave 1", "enter 2", "run 2", "leave 2"]
    );
    // Finished and never awaited: dropping it is its end.
    drop(finished);
    assert_eq!(take_log(&shared), ["done 2"]);
    // Suspended when dropped: done as soon as it finishes.
    settle(&shared, 0, 0);
    executor.run_until_stalled();
    assert_eq!(take_log(&shared), ["done 1"]);
}

#[test]
fn a_task_started_inside_a_call_runs_the_hooks_and_is_done_at_top_level() {
    let (instance, executor, shared) = instance();
    // quick(7) starts, finishes and is dropped inside `outer`: its done must wait
    // until no guest frame is on the stack.
    assert_eq!(
        instance.call("outer", &[7]).unwrap().unwrap().i32(),
        Some(7)
    );
    assert_eq!(
        take_log(&shared),
        [
            "call_enter 4096",
            "enter 1",
            "run 7",
            "leave 1",
            "call_leave 4096"
        ]
    );
    executor.run_until_stalled();
    assert_eq!(take_log(&shared), ["done 1"]);

    // task(300) suspends inside `outer`, resumes from the executor, is done when
    // awaited.
    instance.call("outer", &[300]).unwrap();
    assert_eq!(
        take_log(&shared),
        [
            "call_enter 4096",
            "enter 2",
            "run 300",
            "leave 2",
            "call_leave 4096"
        ]
    );
    settle(&shared, 0, 1);
    executor.run_until_stalled();
    let mut task = shared.borrow_mut().tasks.pop().unwrap();
    assert_eq!(poll(&mut task), Some(Ok(Some(2))));
    assert_eq!(take_log(&shared), ["done 2"]);
}

#[test]
fn a_done_deferred_from_inside_a_call_runs_at_the_next_top_level_entry() {
    let (instance, _executor, shared) = instance();
    instance.call("outer", &[7]).unwrap();
    take_log(&shared);
    // The executor has not run: the next call into the instance runs done first.
    instance.call("quick", &[8]).unwrap();
    assert_eq!(
        take_log(&shared),
        ["done 1", "call_enter 4096", "run 8", "call_leave 4096"]
    );
}

#[test]
fn a_task_the_library_cannot_place_fails_to_start() {
    let (instance, _executor, shared) = instance();
    instance.call("limit", &[1]).unwrap();
    let _holder = instance.promising("task", &[1]).unwrap();
    take_log(&shared);
    let error = instance.promising("task", &[2]).err().unwrap();
    assert_eq!(
        error.downcast_ref::<Exception>(),
        Some(&Exception("too many tasks".into()))
    );
    assert_eq!(take_log(&shared), [] as [&str; 0], "the call never ran");
    assert_eq!(instance.workers(), 1, "no worker was used up");
}

#[test]
fn plain_calls_are_bracketed_and_a_trap_leaves_the_stack_where_it_began() {
    let (instance, _executor, shared) = instance();
    let error = instance.call("deep_trap", &[1000]).unwrap_err();
    assert!(error.downcast_ref::<host::wasmtime::Trap>().is_some());
    assert_eq!(take_log(&shared), ["call_enter 4096", "call_leave 4096"]);
    assert_eq!(instance.global_i32("__stack_pointer"), Some(4096));

    // A plain call from inside a host function is bracketed alike, from the stack
    // pointer it is called at.
    instance.call("outer_ask", &[1000]).unwrap();
    assert_eq!(
        take_log(&shared),
        [
            "call_enter 4096",
            "call_enter 4080",
            "call_leave 4080",
            "ask trapped true",
            "call_leave 4096"
        ]
    );
    assert_eq!(instance.global_i32("__stack_pointer"), Some(4096));
}

#[test]
fn the_hooks_cannot_be_called_directly() {
    let (instance, _executor, _shared) = instance();
    for hook in [
        "jspi_task_enter",
        "jspi_task_leave",
        "jspi_task_done",
        "jspi_call_enter",
        "jspi_call_leave",
    ] {
        let args: &[i32] = if hook.ends_with("enter") { &[] } else { &[1] };
        let error = instance.call(hook, args).unwrap_err().to_string();
        assert!(error.contains("is a hook of the guest library"), "{error}");
        assert!(instance.promising(hook, args).is_err());
    }
}

#[test]
fn stats_are_the_counters_by_name() {
    let (instance, _executor, _shared) = instance();
    let stats = instance
        .stats()
        .unwrap()
        .expect("the guest exports jspi_stat");
    assert_eq!(stats.bytes_saved, 100);
    assert_eq!(stats.peak_live_tasks, 109);
    assert_eq!(stats.heap_reserved_bytes, 110);
    assert!(instance.require_guest_library().is_ok());
}

#[test]
fn spawn_starts_the_task_in_a_later_turn_and_reports_a_failure_one_turn_late() {
    let (instance, executor, shared) = instance();
    let order = Rc::new(RefCell::new(Vec::new()));
    let report = |name: &'static str, task: Task| {
        let order = order.clone();
        executor.spawn(async move {
            let ok = task.await.is_ok();
            order.borrow_mut().push(format!("{name} {ok}"));
        });
    };
    report("A", instance.spawn("trap_now", &[1]).unwrap());
    report("B", instance.spawn("quick", &[2]).unwrap());
    assert_eq!(
        take_log(&shared),
        [] as [&str; 0],
        "nothing has started yet"
    );
    executor.run_until_stalled();
    assert_eq!(
        take_log(&shared),
        ["enter 1", "run 1", "leave 1", "enter 2", "run 2", "leave 2", "done 2", "done 1"]
    );
    // A failed first, but its failure is reported a turn late, after B's success.
    assert_eq!(*order.borrow(), ["B true", "A false"]);

    // Started with promising instead, the failure is reported first.
    order.borrow_mut().clear();
    report("A", instance.promising("trap_now", &[3]).unwrap());
    report("B", instance.promising("quick", &[4]).unwrap());
    executor.run_until_stalled();
    assert_eq!(*order.borrow(), ["A false", "B true"]);

    // A bad export is refused at once.
    assert!(instance.spawn("nothing", &[]).is_err());
    assert!(instance.spawn("quick", &[]).is_err());
}

#[test]
fn a_guest_with_some_hooks_only_is_refused_as_not_linked() {
    let wasm = wat::parse_str(
        r#"(module
             (func (export "jspi_task_enter") (result i32) (i32.const 1))
             (func (export "work")))"#,
    )
    .unwrap();
    let instance = Instance::new(
        &engine().unwrap(),
        &wasm,
        &Imports::new(),
        (),
        &Executor::new(),
    )
    .unwrap();
    let expected = NotLinked {
        missing: vec!["jspi_task_leave", "jspi_task_done"],
    };
    assert_eq!(instance.require_guest_library(), Err(expected.clone()));
    let error = instance.promising("work", &[]).err().unwrap();
    assert_eq!(error.downcast_ref::<NotLinked>(), Some(&expected));
    assert_eq!(
        error.to_string(),
        "the module was not linked with the guest library: it exports no jspi_task_leave, jspi_task_done (link it with libjspi.a, see docs/abi.md)"
    );
}

#[test]
fn module_jspi_is_reserved() {
    let mut imports: Imports<()> = Imports::new();
    imports.func("jspi", "classify", |_cx, _args| Ok(Some(Val::I32(0))));
    let wasm = wat::parse_str("(module)").unwrap();
    let error = Compiled::new(&engine().unwrap(), &wasm, &imports)
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "the imports define `jspi.classify`, but module `jspi` is reserved: the host provides the guest library's imports itself"
    );
}

/// A guest that uses the `jspi.*` imports directly, as the library's C shim does.
const AWAITER: &str = r#"
(module
  (import "jspi" "await" (func $await (param externref) (result externref)))
  (import "jspi" "classify" (func $classify (param externref) (result i32)))
  (import "jspi" "int_value" (func $int_value (param externref) (result i32)))
  (import "jspi" "rejection_reason" (func $reason (param externref) (result externref)))
  (import "jspi" "throw" (func $throw (param externref)))
  (import "env" "promise" (func $promise (param i32) (result externref)))
  (memory (export "memory") 1)
  ;; classify(await(promise(i))) * 1000 + int_value(...)
  (func (export "classified") (param i32) (result i32)
    (local $v externref)
    (local.set $v (call $await (call $promise (local.get 0))))
    (i32.add (i32.mul (call $classify (local.get $v)) (i32.const 1000))
             (call $int_value (local.get $v))))
  ;; await(promise(i)); a rejection is thrown with its reason, as jspi_await_int does
  (func (export "await_int") (param i32) (result i32)
    (local $v externref)
    (local.set $v (call $await (call $promise (local.get 0))))
    (if (i32.eq (call $classify (local.get $v)) (i32.const 2))
      (then (call $throw (call $reason (local.get $v)))))
    (call $int_value (local.get $v))))
"#;

#[test]
fn the_jspi_imports_come_with_the_host() {
    // env.promise(i): the host's promise number i.
    let promises: Vec<Promise> = (0..4).map(|_| Promise::new()).collect();
    let mut imports: Imports<Vec<Promise>> = Imports::new();
    imports.func("env", "promise", |cx, args| {
        let promise = cx.data()[args[0].i32().unwrap() as usize].clone();
        Ok(Some(JsValue::Promise(promise).into_val()))
    });
    let executor = Executor::new();
    let wasm = wat::parse_str(AWAITER).unwrap();
    let instance = Instance::new(
        &engine().unwrap(),
        &wasm,
        &imports,
        promises.clone(),
        &executor,
    )
    .unwrap();
    let mut tasks: Vec<Task> = vec![
        instance.promising("classified", &[0]).unwrap(),
        instance.promising("classified", &[1]).unwrap(),
        instance.promising("classified", &[2]).unwrap(),
        instance.promising("await_int", &[3]).unwrap(),
    ];
    promises[0].settle(Ok(JsValue::Int(7)));
    promises[1].settle(Ok(JsValue::Str("seven".into())));
    promises[2].settle(Err(JsValue::Error("no".into())));
    promises[3].settle(Err(JsValue::Error("rejected with code 3".into())));
    executor.run_until_stalled();
    let outcomes: Vec<_> = tasks.iter_mut().map(|t| poll(t).unwrap()).collect();
    assert_eq!(
        outcomes,
        [
            Ok(Some(7)),
            Ok(Some(1000)),
            Ok(Some(2000)),
            Err("rejected with code 3".into())
        ]
    );
    // Not linked with the library: no hooks ran, no counters.
    assert_eq!(instance.stats().unwrap(), None);
}

/// A guest that holds host values the way the library does: awaits consume their
/// promise, `jspi.release` gives a value back, and a value given up cannot be used.
const HOLDER: &str = r#"
(module
  (import "jspi" "await" (func $await (param externref) (result externref)))
  (import "jspi" "int_value" (func $int_value (param externref) (result i32)))
  (import "jspi" "release" (func $release (param externref)))
  (import "env" "promise" (func $promise (param i32) (result externref)))
  (memory (export "memory") 1)
  (table $kept 1 externref)
  ;; jspi_await_int: await, read, release the settled value
  (func (export "await_int") (param i32) (result i32)
    (local $v externref) (local $n i32)
    (local.set $v (call $await (call $promise (local.get 0))))
    (local.set $n (call $int_value (local.get $v)))
    (call $release (local.get $v))
    (local.get $n))
  ;; a promise kept in a table (as C may keep one in a local), not awaited
  (func (export "keep") (param i32)
    (table.set $kept (i32.const 0) (call $promise (local.get 0))))
  ;; awaiting the same promise twice: the first await consumed it
  (func (export "await_twice") (param i32) (result i32)
    (local $p externref)
    (local.set $p (call $promise (local.get 0)))
    (drop (call $await (local.get $p)))
    (call $int_value (call $await (local.get $p)))))
"#;

#[test]
fn host_values_are_freed_when_the_guest_gives_them_up() {
    let mut imports: Imports<Vec<Promise>> = Imports::new();
    imports.func("env", "promise", |cx, args| {
        let promise = cx.data()[args[0].i32().unwrap() as usize].clone();
        Ok(Some(JsValue::Promise(promise).into_val()))
    });
    let promises: Vec<Promise> = (0..3).map(|_| Promise::resolved(JsValue::Int(5))).collect();
    let executor = Executor::new();
    let wasm = wat::parse_str(HOLDER).unwrap();
    let instance = Instance::new(&engine().unwrap(), &wasm, &imports, promises, &executor).unwrap();
    // 1,000 awaits: each promise consumed by its await, each value released.
    for _ in 0..1000 {
        let mut task = instance.promising("await_int", &[0]).unwrap();
        assert_eq!(instance.objects(), 0, "the await consumed the promise");
        executor.run_until_stalled();
        assert_eq!(poll(&mut task).unwrap(), Ok(Some(5)));
    }
    assert_eq!(instance.objects(), 0, "every settled value released");
    // A value the guest keeps stays (no collector can tell it is unreachable).
    instance.call("keep", &[1]).unwrap();
    assert_eq!(instance.objects(), 1);
    // A promise awaited twice: the second use is an error, never another value.
    let mut task = instance.promising("await_twice", &[2]).unwrap();
    executor.run_until_stalled();
    let error = poll(&mut task).unwrap().unwrap_err();
    assert!(
        error.contains("host value ") && error.contains("is no longer held by the guest"),
        "{error}"
    );
}
