//! The host imports this guest uses that take or return host values; jspi generates
//! typed Rust functions for them (included by `src/lib.rs`) and their adapters.

fn main() {
    jspi::build::Imports::new("env")
        .declare("fn fake_fetch(x: i32) -> Promise<i32>")
        .declare("fn delay(ms: i32) -> Promise<()>")
        // A promise kept as a plain host value: `Promise::from_extern` types it later.
        .declare("fn delayed_int(value: i32, ms: i32) -> ExternRef")
        .declare("fn rejecting(code: i32, ms: i32) -> Promise<ExternRef>")
        .declare("fn log_ref(value: &ExternRef)")
        .declare("fn bytes_after(len: i32, seed: i32, ms: i32) -> Promise<Bytes>")
        .generate();
}
