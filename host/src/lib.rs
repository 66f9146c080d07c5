//! Hosts for jspi guest modules.
//!
//! The Node runner lives in `js/` beside this crate (`runner.mjs`); this crate tells
//! tools where it is. The wasmtime host will live here too.

use std::path::PathBuf;

/// The directory holding the Node runner (`runner.mjs`, `jspi.mjs`, `hostenv.mjs`).
pub fn node_runner_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// The Node runner's entry point.
pub fn node_runner() -> PathBuf {
    node_runner_dir().join("runner.mjs")
}
