//! The raw floor of one task's round trip on wasmtime: what the engine itself
//! charges for the crossings a JSPI round trip makes, with no host library at all.
//!
//! A hand-written module holds one pooled worker continuation (as the adapter does,
//! since wasmtime frees no continuation before its store goes) running a task shaped
//! like the benchmark guest's: it calls the host for a promise (`next`), starts the
//! await (`await`), suspends, and once resumed classifies the value (`classify`),
//! then goes idle. The host imports are `Func::wrap`s and the host calls are cached
//! `TypedFunc`s, the cheapest each crossing can be.
//!
//! - [`Floor::protocol`]: the crossings the guest library's contract (docs/abi.md)
//!   names for one task: `jspi_task_enter`, the first run (resume, three imports'
//!   worth of calls, suspend), `jspi_task_leave`, the resume to the end (resume,
//!   suspend idle), `jspi_task_done`, the hooks being trivial functions here. This is
//!   the floor issue 16's goal measures against (5 host->wasm calls, 2 switches,
//!   3 wasm->host calls).
//! - [`Floor::bare`]: only the two switches (start and finish), no hooks: the least
//!   any host of a stack-switching task can do.

use wasmtime::{Linker, Store, TypedFunc};

const FLOOR: &str = r#"
(module
  (type $worker_t (func (param i32 i32)))
  (type $cont_t (cont $worker_t))
  (import "host" "next" (func $next (result i32)))
  (import "host" "await" (func $await_start (param i32) (result i32)))
  (import "host" "classify" (func $classify (param i32) (result i32)))
  (tag $await (param i32) (result i32 i32))
  (tag $idle (result i32 i32))
  (table $conts 1 (ref null $cont_t))
  (global $live (mut i32) (i32.const 0))

  ;; The hooks, trivial: count the tasks alive.
  (func (export "enter") (result i32)
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (global.get $live))
  (func (export "leave") (param i32))
  (func (export "done") (param i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1))))

  ;; The worker: run one task, wait idle for the next, forever.
  (func $worker (param $a i32) (param $b i32)
    (loop $next_task
      (suspend $await (call $await_start (call $next)))
      (local.set $b)
      (local.set $a)
      (drop (call $classify (local.get $b)))
      (suspend $idle)
      (local.set $b)
      (local.set $a)
      (br $next_task)))
  (elem declare func $worker)

  ;; Resumes the worker with (a, b): (1, id) when it awaits, (0, 0) when idle.
  (func (export "drive") (param $a i32) (param $b i32) (result i32 i32)
    (local $k (ref null $cont_t))
    (local $p i32)
    (local.set $k (table.get $conts (i32.const 0)))
    (if (ref.is_null (local.get $k))
      (then (local.set $k (cont.new $cont_t (ref.func $worker)))))
    (block $on_idle (result (ref $cont_t))
      (block $on_await (result i32 (ref $cont_t))
        (resume $cont_t (on $await $on_await) (on $idle $on_idle)
          (local.get $a) (local.get $b) (local.get $k))
        (unreachable))
      (local.set $k)
      (local.set $p)
      (table.set $conts (i32.const 0) (local.get $k))
      (return (i32.const 1) (local.get $p)))
    (local.set $k)
    (table.set $conts (i32.const 0) (local.get $k))
    (i32.const 0)
    (i32.const 0)))
"#;

/// The floor module, instantiated, with its exports looked up once.
pub struct Floor {
    store: std::cell::RefCell<Store<()>>,
    enter: TypedFunc<(), i32>,
    leave: TypedFunc<i32, ()>,
    done: TypedFunc<i32, ()>,
    drive: TypedFunc<(i32, i32), (i32, i32)>,
}

impl Floor {
    /// Compiles and instantiates the floor module on the host's engine.
    pub fn new() -> Floor {
        let engine = host::engine().expect("engine");
        let module = wasmtime::Module::new(&engine, FLOOR).expect("the floor module");
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("host", "next", || 1i32)
            .and_then(|l| l.func_wrap("host", "await", |id: i32| id))
            .and_then(|l| l.func_wrap("host", "classify", |_value: i32| 1i32))
            .expect("floor imports");
        let mut store = Store::new(&engine, ());
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiate the floor module");
        let mut typed = |name: &str| {
            instance
                .get_func(&mut store, name)
                .unwrap_or_else(|| panic!("floor export {name}"))
        };
        let (enter, leave, done, drive) = (
            typed("enter"),
            typed("leave"),
            typed("done"),
            typed("drive"),
        );
        Floor {
            enter: enter.typed(&store).expect("enter"),
            leave: leave.typed(&store).expect("leave"),
            done: done.typed(&store).expect("done"),
            drive: drive.typed(&store).expect("drive"),
            store: std::cell::RefCell::new(store),
        }
    }

    /// One round trip with the guest library's hooks: enter, first run, leave,
    /// resume to the end, done.
    pub fn protocol(&self) {
        let mut store = self.store.borrow_mut();
        let store = &mut *store;
        let id = self.enter.call(&mut *store, ()).expect("enter");
        let (kind, pending) = self.drive.call(&mut *store, (0, 0)).expect("first run");
        assert_eq!(kind, 1, "the task awaits");
        self.leave.call(&mut *store, id).expect("leave");
        let (kind, _) = self.drive.call(&mut *store, (0, pending)).expect("resume");
        assert_eq!(kind, 0, "the task finished");
        self.done.call(&mut *store, id).expect("done");
    }

    /// One round trip of the switches alone: first run, resume to the end.
    pub fn bare(&self) {
        let mut store = self.store.borrow_mut();
        let store = &mut *store;
        let (kind, pending) = self.drive.call(&mut *store, (0, 0)).expect("first run");
        assert_eq!(kind, 1, "the task awaits");
        let (kind, _) = self.drive.call(&mut *store, (0, pending)).expect("resume");
        assert_eq!(kind, 0, "the task finished");
    }
}
