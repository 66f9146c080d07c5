//! WASI preview 1 from wasmtime-wasi (`Imports::wasi`): a module's
//! `wasi_snapshot_preview1` imports come from it, each instance gets its own context,
//! `_initialize` runs once at instantiation, a function the host defines itself takes
//! wasmtime-wasi's place, and a function WASI lacks is refused by name.

use std::cell::Cell;
use std::rc::Rc;

use host::wasmtime_wasi::WasiCtxBuilder;
use host::{engine, Compiled, Executor, Imports, Instance, Val};

const GUEST: &str = r#"
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $initialized (mut i32) (i32.const 0))
  (func (export "_initialize")
    (global.set $initialized (i32.add (global.get $initialized) (i32.const 1))))
  (func (export "initialized") (result i32) (global.get $initialized))
  ;; The number of arguments the context gives (wasmtime-wasi's args_sizes_get).
  (func (export "argc") (result i32)
    (drop (call $args_sizes (i32.const 0) (i32.const 4)))
    (i32.load (i32.const 0)))
  ;; fd_write(1, ...) as the host defines it.
  (func (export "write") (result i32)
    (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 8))))
"#;

type Writes = Rc<Cell<i32>>;

fn imports() -> Imports<Writes> {
    let mut imports: Imports<Writes> = Imports::new();
    imports
        .wasi(|_| {
            WasiCtxBuilder::new()
                .args(&["guest", "one", "two"])
                .build_p1()
        })
        .func("wasi_snapshot_preview1", "fd_write", |cx, args| {
            cx.data().set(cx.data().get() + 1);
            Ok(Some(Val::I32(args[0].i32().unwrap() + 100)))
        });
    imports
}

fn call(instance: &Instance<Writes>, name: &str) -> i32 {
    instance.call(name, &[]).unwrap().unwrap().i32().unwrap()
}

#[test]
fn wasi_imports_come_from_wasmtime_wasi_with_initialize_run_once() {
    let engine = engine().unwrap();
    let wasm = wat::parse_str(GUEST).unwrap();
    let compiled = Compiled::new(&engine, &wasm, &imports()).unwrap();
    let executor = Executor::new();
    for _ in 0..2 {
        let writes = Writes::default();
        let instance = compiled.instantiate(writes.clone(), &executor).unwrap();
        assert_eq!(
            call(&instance, "initialized"),
            1,
            "_initialize runs once per instance"
        );
        assert_eq!(call(&instance, "argc"), 3, "the context's arguments");
        assert_eq!(call(&instance, "write"), 101, "the host's own fd_write");
        assert_eq!(writes.get(), 1);
    }
}

#[test]
fn without_wasi_the_imports_are_missing_and_unknown_wasi_functions_are_refused() {
    let engine = engine().unwrap();
    let wasm = wat::parse_str(GUEST).unwrap();
    let error = Compiled::new(&engine, &wasm, &Imports::<Writes>::new())
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("wasi_snapshot_preview1.args_sizes_get"),
        "{error}"
    );

    let unknown = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (memory (export "memory") 1))"#,
    )
    .unwrap();
    let compiled = Compiled::new(&engine, &unknown, &imports()).unwrap();
    let error = compiled
        .instantiate(Writes::default(), &Executor::new())
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("wasi_snapshot_preview1.no_such_call (not in WASI preview 1)"),
        "{error}"
    );
}

#[test]
fn a_trap_in_initialize_fails_instantiation() {
    let engine = engine().unwrap();
    let wasm = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "_initialize") unreachable))"#,
    )
    .unwrap();
    let compiled = Compiled::new(&engine, &wasm, &imports()).unwrap();
    let error = compiled
        .instantiate(Writes::default(), &Executor::new())
        .err()
        .unwrap();
    assert!(
        format!("{error:#}").contains("_initialize failed"),
        "{error:#}"
    );
}
