//! The Node peer benchmark's guest (`host/js/bench-peer.mjs`): `task(size, awaits)` of
//! `host/benches/guest/bench.c` in Rust with wasm-bindgen. It holds `size` bytes of
//! shadow stack across `awaits` awaits of the host's `bench.next()`, whose order of
//! settling the driver chooses.
//!
//! Built two ways by `cargo xtask bench`, the same code but for the await:
//!
//! - with `jspi/strategy-*`: a [`jspi::promising!`] export that waits with
//!   `jspi::bindgen::wait`, this library's await and strategy;
//! - with feature `peer`: wasm-bindgen 0.2.130's own JSPI, a `#[wasm_bindgen(jspi)]`
//!   export and a `#[wasm_bindgen(suspending)]` import, which the CLI instruments
//!   with an eager copy of the task's shadow stack at every suspend.

// The guest exists only for wasm32; natively (cargo test --workspace) it is empty.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::prelude::*;

#[cfg(not(any(feature = "peer", feature = "jspi")))]
compile_error!("build with feature `peer` (wasm-bindgen's JSPI) or `jspi/strategy-*`");

/// Runs `body` with a `N`-byte array on the shadow stack, kept in linear memory.
#[inline(never)]
fn with_frame<const N: usize>(body: impl FnOnce()) {
    let mut frame = [0u8; N];
    // Taking the array's address for an opaque use keeps it on the shadow stack.
    core::hint::black_box(&mut frame);
    body();
    core::hint::black_box(&mut frame);
}

/// `body` with `size` bytes of frame: one of the benchmark's sizes, or none.
fn in_frame(size: i32, body: impl FnOnce()) {
    match size {
        64 => with_frame::<64>(body),
        1024 => with_frame::<1024>(body),
        16384 => with_frame::<16384>(body),
        65536 => with_frame::<65536>(body),
        _ => body(),
    }
}

#[cfg(feature = "peer")]
#[expect(
    deprecated,
    reason = "wasm-bindgen marks its JSPI attributes deprecated while they are experimental"
)]
mod peer {
    use super::*;

    #[wasm_bindgen(module = "bench")]
    extern "C" {
        /// A promise the driver settles; JSPI suspends until it does.
        #[wasm_bindgen(suspending)]
        fn next() -> JsValue;
    }

    /// `awaits` awaits with `size` bytes of frame, on wasm-bindgen's JSPI.
    #[wasm_bindgen(jspi)]
    pub fn task(size: i32, awaits: i32) {
        in_frame(size, || {
            for _ in 0..awaits {
                core::hint::black_box(next());
            }
        });
    }
}

#[cfg(all(feature = "jspi", not(feature = "peer")))]
mod library {
    use super::*;

    #[wasm_bindgen(module = "bench")]
    extern "C" {
        /// A promise the driver settles.
        fn next() -> js_sys::Promise;
    }

    jspi::promising! {
        /// `awaits` awaits with `size` bytes of frame, on this library's await.
        #[unsafe(export_name = "task")]
        pub fn task(task: &Task, size: i32, awaits: i32) {
            in_frame(size, || {
                for _ in 0..awaits {
                    core::hint::black_box(jspi::bindgen::wait(&next(), task));
                }
            });
        }
    }
}
