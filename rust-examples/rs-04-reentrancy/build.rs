//! Declares the host imports that return promises; jspi generates typed Rust functions
//! for them (`src/lib.rs` includes them) and the adapters that move the promises
//! through the guest library's externref slot table.

fn main() {
    jspi::build::Imports::new("env")
        .declare("fn delay(ms: i32) -> Promise<()>")
        .generate();
}
