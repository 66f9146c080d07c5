//! The host's own patterns against wasmtime's known stack-switching bugs: each test
//! does what the host does every day, in the shape that the bug report says breaks.
//!
//! - #13322, CallThreadState corrupted when a host function is called on a
//!   continuation: every guest import runs on a worker continuation, and a host
//!   function may call back into the instance (`Cx::call`) before the task suspends
//!   again: the suspend must still reach the adapter's handler.
//! - #13298, stack limits not updated on a switch (a segfault): a task resumed on a
//!   worker recurses to just short of the worker's stack, and past it (a clean
//!   `call stack exhausted` trap, the instance going on), interleaved with other
//!   tasks on other workers and with plain calls on the host's own stack.
//! - #14239, a GC tracing a suspended continuation panics: host values cross as
//!   `i31` ids, so handing the guest a great many while workers are suspended must
//!   never collect (why values are i31 ids: src/adapter/mod.rs, "Externref values");
//!   but a guest that allocates GC objects of its own (the engine enables GC) makes
//!   the collector run while tasks are suspended on workers, which panicked on
//!   wasmtime 48 ("expected one more VMStackLimits than continuations") and works
//!   since wasmtime 50.
//!
//! Traps after switches (on the worker, in a host function, in a nested plain call)
//! fail only their task, and many workers (2,000 suspended at once) resume in any
//! order.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use host::{
    engine, Exception, Executor, ImportFuture, Imports, Instance, JsValue, Promise, Task, Val,
};

const GUEST: &str = r#"
(module
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (import "env" "double" (func $double (param i32) (result i32)))
  (import "env" "reenter" (func $reenter (param i32) (result i32)))
  (import "env" "fail" (func $fail (param i32) (result i32)))
  (import "env" "value" (func $value (param i32) (result externref)))
  (memory (export "memory") 1)
  (table $kept 1 externref)

  ;; 2x + n: n frames deep, then a host function that calls back into the instance.
  (func $down (param $n i32) (param $x i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $reenter (local.get $x)))
      (else (i32.add (call $down (i32.sub (local.get $n) (i32.const 1)) (local.get $x))
                     (i32.const 1)))))

  ;; What the host calls back (Cx::call): another host function, on the host's stack
  ;; or on a worker, wherever the caller was.
  (func (export "leaf") (param i32) (result i32)
    (call $double (local.get 0)))

  ;; a = wait(x); b = wait(down(n, a)); down(n, b): 4x + 3n when the host resumes
  ;; each wait with its argument.
  (func (export "deep") (param $n i32) (param $x i32) (result i32)
    (call $down (local.get $n)
      (call $wait (call $down (local.get $n) (call $wait (local.get $x))))))

  ;; n frames of plain recursion, each with some locals in use.
  (func $recurse (param $n i32) (result i32)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64)
    (local.set $a (i64.extend_i32_u (local.get $n)))
    (local.set $b (i64.mul (local.get $a) (local.get $a)))
    (local.set $c (i64.add (local.get $b) (local.get $a)))
    (local.set $d (i64.sub (local.get $c) (local.get $b)))
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $recurse (i32.sub (local.get $n) (i32.const 1)))
                     (i32.wrap_i64 (i64.sub (local.get $d) (local.get $a)))))))

  ;; After a switch: wait, then n frames deep; returns n + what wait resumed with.
  (func (export "climb") (param $n i32) (result i32)
    (i32.add (call $wait (i32.const 0)) (i32.add (call $recurse (local.get $n)) (local.get $n))))

  ;; The same on the host's own stack (a plain call).
  (func (export "climb_plain") (param $n i32) (result i32)
    (i32.add (call $recurse (local.get $n)) (local.get $n)))

  ;; Traps after a switch: on the worker, in a host function, in a nested call.
  (func (export "trap_after") (param $how i32) (result i32)
    (drop (call $wait (i32.const 0)))
    (if (i32.eq (local.get $how) (i32.const 0)) (then unreachable))
    (if (i32.eq (local.get $how) (i32.const 1)) (then (drop (call $fail (i32.const 7)))))
    (if (i32.eq (local.get $how) (i32.const 2)) (then (drop (call $reenter (i32.const -1)))))
    (i32.const 0))

  ;; The guest's own GC objects: n structs, each dropped at once, so the collector
  ;; runs (while tasks may be suspended on workers).
  (type $pair (struct (field i32) (field i32)))
  (func (export "allocate") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (loop $more
      (local.set $sum (i32.add (local.get $sum)
        (struct.get $pair 1 (struct.new $pair (local.get $i) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $sum))

  ;; Many host values handed over while others are suspended; the last one kept.
  (func (export "values") (param $count i32) (result i32)
    (local $i i32)
    (drop (call $wait (i32.const 0)))
    (loop $more
      (table.set $kept (i32.const 0) (call $value (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (local.get $count))))
    (local.get $i)))
"#;

/// The waits the guest is suspended on, in the order it asked, with its argument.
type Waits = Rc<RefCell<Vec<(i32, Promise)>>>;

fn instance() -> (Instance<Waits>, Executor, Waits) {
    let mut imports: Imports<Waits> = Imports::new();
    imports
        .suspending("env", "wait", |cx, args| {
            let promise = Promise::new();
            cx.data()
                .borrow_mut()
                .push((args[0].i32().unwrap(), promise.clone()));
            let future: ImportFuture = Box::pin(async move {
                match promise.wait().await {
                    Ok(JsValue::Int(v)) => Ok(Some(Val::I32(v))),
                    _ => Err(host::Error::msg("wait: not an int")),
                }
            });
            Ok(future)
        })
        .func("env", "double", |_cx, args| {
            Ok(Some(Val::I32(args[0].i32().unwrap().wrapping_mul(2))))
        })
        .func("env", "reenter", |cx, args| {
            let x = args[0].i32().unwrap();
            if x < 0 {
                // A plain call that traps, from inside the task.
                return cx.call("climb_plain", &[i32::MAX]);
            }
            cx.call("leaf", &[x])
        })
        .func("env", "fail", |_cx, args| {
            Err(Exception::error(format!(
                "host import failed with code {}",
                args[0].i32().unwrap()
            )))
        })
        .func("env", "value", |_cx, args| {
            Ok(Some(
                JsValue::Str(format!("value {}", args[0].i32().unwrap())).into_val(),
            ))
        });
    let waits = Waits::default();
    let executor = Executor::new();
    let wasm = wat::parse_str(GUEST).unwrap();
    let instance = Instance::new(
        &engine().unwrap(),
        &wasm,
        &imports,
        waits.clone(),
        &executor,
    )
    .unwrap();
    (instance, executor, waits)
}

/// A task's outcome, if it has finished: its i32, or its error as a short text.
fn finished(task: &mut Task) -> Option<Result<i32, String>> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(task).poll(&mut cx) {
        Poll::Ready(outcome) => Some(
            outcome
                .map(|v| v.and_then(|v| v.i32()).unwrap_or(i32::MIN))
                .map_err(|e| describe(&e)),
        ),
        Poll::Pending => None,
    }
}

fn describe(error: &host::Error) -> String {
    if let Some(exception) = error.downcast_ref::<Exception>() {
        return exception.message().to_string();
    }
    match error.downcast_ref::<host::wasmtime::Trap>() {
        Some(host::wasmtime::Trap::StackOverflow) => "trap: call stack exhausted".into(),
        Some(host::wasmtime::Trap::UnreachableCodeReached) => "trap: unreachable".into(),
        Some(trap) => format!("trap: {trap}"),
        None => error.root_cause().to_string(),
    }
}

/// Resumes every wait with its argument, in an order that mixes them (a stride
/// through the list), then runs the executor until nothing is ready.
fn resume_all(waits: &Waits, executor: &Executor) {
    loop {
        let batch: Vec<(i32, Promise)> = waits.borrow_mut().drain(..).collect();
        if batch.is_empty() {
            return;
        }
        let n = batch.len();
        let stride = if n.is_multiple_of(7) { 1 } else { 7 };
        for k in 0..n {
            let (arg, promise) = &batch[(k * stride) % n];
            promise.settle(Ok(JsValue::Int(*arg)));
        }
        executor.run_until_stalled();
    }
}

#[test]
fn host_calls_deep_inside_resumed_tasks_that_call_back_in_then_suspend_again() {
    let (instance, executor, waits) = instance();
    // 300 tasks suspended at once, each 0..1,000 frames deep at its host calls.
    let mut tasks: Vec<(i32, i32, Task)> = (0..300)
        .map(|i| {
            let n = (i * 37) % 1000;
            (n, i, instance.promising("deep", &[n, i]).unwrap())
        })
        .collect();
    resume_all(&waits, &executor);
    for (n, x, task) in &mut tasks {
        assert_eq!(finished(task), Some(Ok(4 * *x + 3 * *n)), "deep({n}, {x})");
    }
    // A host function called back into the instance while on a worker, and the
    // later suspends still reached the adapter: nothing is left running.
    assert_eq!(instance.workers(), 300);
    assert_eq!(
        instance.call("leaf", &[21]).unwrap().unwrap().i32(),
        Some(42)
    );
}

/// The deepest `climb(n)` that succeeds on a worker, found by doubling and halving
/// (each probe a task resumed after a switch; the failures trap cleanly).
fn deepest_climb(instance: &Instance<Waits>, executor: &Executor, waits: &Waits) -> i32 {
    let run = |n: i32| {
        let mut task = instance.promising("climb", &[n]).unwrap();
        resume_all(waits, executor);
        match finished(&mut task) {
            Some(Ok(v)) => {
                assert_eq!(v, n, "climb({n})");
                true
            }
            Some(Err(e)) => {
                assert_eq!(e, "trap: call stack exhausted", "climb({n})");
                false
            }
            None => panic!("climb({n}) did not finish"),
        }
    };
    let (mut good, mut bad) = (1024, 2048);
    while run(bad) {
        good = bad;
        bad *= 2;
        assert!(bad < 1 << 28, "no stack limit found");
    }
    while bad - good > 16 {
        let mid = good + (bad - good) / 2;
        if run(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    good
}

#[test]
fn recursion_to_the_edge_of_a_workers_stack_after_a_switch() {
    let (instance, executor, waits) = instance();
    let deepest = deepest_climb(&instance, &executor, &waits);
    // 64 tasks at 95% of the limit, suspended at once, resumed in a mixed order, with
    // plain calls on the host's stack between them; then 8 past the limit.
    let near = deepest - deepest / 20;
    for round in 0..2 {
        let mut tasks: Vec<Task> = (0..64)
            .map(|_| instance.promising("climb", &[near]).unwrap())
            .collect();
        assert_eq!(
            instance
                .call("climb_plain", &[1000])
                .unwrap()
                .unwrap()
                .i32(),
            Some(1000)
        );
        resume_all(&waits, &executor);
        for task in &mut tasks {
            assert_eq!(finished(task), Some(Ok(near)), "round {round}");
        }
        let mut over: Vec<Task> = (0..8)
            .map(|_| instance.promising("climb", &[deepest * 2]).unwrap())
            .collect();
        resume_all(&waits, &executor);
        for task in &mut over {
            assert_eq!(
                finished(task),
                Some(Err("trap: call stack exhausted".into()))
            );
        }
    }
    // The workers lost to the overflows are replaced; the instance goes on.
    let mut last = instance.promising("deep", &[10, 1]).unwrap();
    resume_all(&waits, &executor);
    assert_eq!(finished(&mut last), Some(Ok(4 + 30)));
    println!("deepest climb on a worker: {deepest} frames");
}

#[test]
fn traps_after_switches_fail_only_their_task() {
    let (instance, executor, waits) = instance();
    for round in 0..20 {
        let mut tasks: Vec<Task> = (0..3)
            .map(|how| instance.promising("trap_after", &[how]).unwrap())
            .collect();
        let mut good = instance.promising("deep", &[50, round]).unwrap();
        resume_all(&waits, &executor);
        let outcomes: Vec<_> = tasks.iter_mut().map(|t| finished(t).unwrap()).collect();
        assert_eq!(outcomes[0], Err("trap: unreachable".into()));
        assert_eq!(outcomes[1], Err("host import failed with code 7".into()));
        assert_eq!(outcomes[2], Err("trap: call stack exhausted".into()));
        assert_eq!(finished(&mut good), Some(Ok(4 * round + 150)));
    }
}

#[test]
fn many_workers_suspended_at_once() {
    let (instance, executor, waits) = instance();
    for round in 0..2 {
        let mut tasks: Vec<(i32, Task)> = (0..2_000)
            .map(|i| (i, instance.promising("deep", &[i % 20, i]).unwrap()))
            .collect();
        resume_all(&waits, &executor);
        for (i, task) in &mut tasks {
            assert_eq!(
                finished(task),
                Some(Ok(4 * *i + 3 * (*i % 20))),
                "round {round}"
            );
        }
    }
    assert_eq!(instance.workers(), 2_000);
}

#[test]
fn host_values_handed_over_while_workers_are_suspended_never_collect() {
    let (instance, executor, waits) = instance();
    // 200 tasks suspended, then each is handed 1,000 host values: 200,000 values
    // crossing while up to 199 continuations are suspended. With externrefs on
    // the GC heap this is what made wasmtime 48 collect and panic (#14239).
    let mut tasks: Vec<Task> = (0..200)
        .map(|_| instance.promising("values", &[1_000]).unwrap())
        .collect();
    resume_all(&waits, &executor);
    for task in &mut tasks {
        assert_eq!(finished(task), Some(Ok(1_000)));
    }
    // Each value is held by the guest as far as the host can tell (no collector),
    // so the ids stay: what the guest library's jspi.release is for.
    assert_eq!(instance.objects(), 200_000);
}

#[test]
fn the_guests_own_gc_objects_while_tasks_are_suspended_on_workers() {
    let (instance, executor, waits) = instance();
    let mut tasks: Vec<(i32, Task)> = (0..16)
        .map(|i| (i, instance.promising("deep", &[i, i]).unwrap()))
        .collect();
    // 1,000,000 structs, collected as they go, with 16 workers suspended.
    let sum = instance
        .call("allocate", &[1_000_000])
        .unwrap()
        .unwrap()
        .i32();
    assert_eq!(sum, Some(1_000_000));
    resume_all(&waits, &executor);
    for (i, task) in &mut tasks {
        assert_eq!(finished(task), Some(Ok(7 * *i)));
    }
}
