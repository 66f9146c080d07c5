//! The scenario format (docs/abi.md, "Scenario format") and the transcript
//! conventions, in one place for the Rust side: the wasmtime runner (`jspi-wasmtime`)
//! parses scenarios with it and writes its transcript lines through it; xtask reads
//! the examples' scenarios with it, and torture writes its generated scenarios and
//! reads their transcripts with it. [`Strategy`] is here too, since scenarios name
//! strategies.
//!
//! The Node runner (`host/js/scenario.mjs`, `host/js/jsonscan.mjs`) is this crate's
//! mirror, message for message: the shared cases in `tests/scenario-text/` hold both
//! to the same words.
//!
//! - [`parse`]: text to a checked [`Scenario`], every problem found before anything
//!   runs and reported as one line naming the step ([`jsonscan`] first refuses what
//!   serde_json and `JSON.parse` would read differently);
//! - [`Step::to_json`] and [`Scenario::to_json`]: a scenario back to text, in the
//!   style of the examples' files;
//! - [`transcript`]: how a transcript line is stamped and what its words mean.

mod emit;
pub mod jsonscan;
mod parse;
mod strategy;
pub mod transcript;

pub use emit::Layout;
pub use parse::parse;
pub use strategy::Strategy;

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Start a promising task named `name`.
    Start {
        /// The export.
        export: String,
        /// Its arguments.
        args: Vec<i32>,
        /// The task's name.
        name: String,
    },
    /// Start a pooled task named `name`: it begins one executor turn later
    /// (`Instance::spawn`; on Node, the JS package's `spawn`, one microtask later).
    Spawn {
        /// The export.
        export: String,
        /// Its arguments.
        args: Vec<i32>,
        /// The task's name.
        name: String,
    },
    /// A plain synchronous call.
    Call {
        /// The export.
        export: String,
        /// Its arguments.
        args: Vec<i32>,
    },
    /// Run the event loop until the task settles.
    Wait {
        /// The task's name.
        task: String,
    },
    /// Finish the run so far, then go on with a fresh instance and clock.
    Reset {
        /// Printed in the transcript: `reset LABEL`.
        label: String,
    },
}

/// A scenario: what [`parse`] reads and [`Scenario::to_json`] writes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    /// The one-line description (`"description"`), if it has one.
    pub description: Option<String>,
    /// The strategies it allows (`"strategies"`), as the text lists them (never
    /// empty); `None` when it does not say, which allows every one.
    pub strategies: Option<Vec<Strategy>>,
    /// Whether the module is built against wasi-libc (`"libc": "wasi"`).
    pub wasi: bool,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// The longest name a scenario may give (a task, an export, a reset label), in
/// characters (`MAX_NAME` in scenario.mjs).
pub const MAX_NAME: usize = 128;

/// Why `name` cannot be a name printed in transcripts, or `None`: names are
/// non-empty, at most [`MAX_NAME`] characters, without control characters (a newline
/// in one would forge transcript lines). `nameProblem` in scenario.mjs, word for word.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must be a non-empty string".into());
    }
    if name.chars().nth(MAX_NAME).is_some() {
        return Some(format!("is longer than {MAX_NAME} characters"));
    }
    name.chars()
        .find(|&c| matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'))
        .map(|c| format!("contains a control character (U+{:04X})", c as u32))
}
