//! The transcript's words (docs/abi.md, "Transcript"), where the Rust side both writes
//! and reads them: the wasmtime runner writes these lines, torture splits a batch's
//! transcript at its resets and classifies its failure lines. The Node runner writes
//! the same words (`host/js/runner.mjs`, `play.mjs`), held to them by the examples'
//! expected transcripts.
//!
//! ```text
//! [t=0] call deep(9, 3)                  call(..): a plain call
//! [t=0] deep(9, 3) failed: trap: ...     failed(call, message)
//! [t=5] T1 rejected: rejected with ...   rejected(task, message)
//! [t=9] end: T2 still pending            pending(task)
//! [t=0] reset seed 2                     reset(label)
//! ```

use std::collections::HashMap;

/// One transcript line, without its newline: `[t=NOW] TEXT`, `now` in virtual ms.
pub fn line(now: u64, text: &str) -> String {
    format!("[t={now}] {text}")
}

/// The text of a line after its time stamp, if it has one.
pub fn text(line: &str) -> Option<&str> {
    line.strip_prefix("[t=")?
        .split_once("] ")
        .map(|(_, text)| text)
}

/// `EXPORT(ARGS)`: how lines name a call of an export.
pub fn call(export: &str, args: &[i32]) -> String {
    let list: Vec<String> = args.iter().map(i32::to_string).collect();
    format!("{export}({})", list.join(", "))
}

/// What a `reset` step prints (at t=0: the clock restarts first).
pub fn reset(label: &str) -> String {
    format!("reset {label}")
}

/// What a task that failed prints when it settles.
pub fn rejected(task: &str, message: &str) -> String {
    format!("{task} rejected: {message}")
}

/// What a plain call that failed prints; `call` as [`call`] gives it.
pub fn failed(call: &str, message: &str) -> String {
    format!("{call} failed: {message}")
}

/// What the end of a run (or a reset) prints for a task that never settled.
pub fn pending(task: &str) -> String {
    format!("end: {task} still pending")
}

/// What a transcript line says went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A task failed ([`rejected`]).
    Rejected,
    /// A plain call failed ([`failed`]).
    Failed,
    /// A task never settled ([`pending`]).
    Pending,
}

/// What `line` says went wrong, if anything.
pub fn failure(line: &str) -> Option<Failure> {
    let text = text(line)?;
    if text.starts_with("end: ") {
        Some(Failure::Pending)
    } else if text.contains(" rejected: ") {
        Some(Failure::Rejected)
    } else if text.contains(" failed: ") {
        Some(Failure::Failed)
    } else {
        None
    }
}

/// A transcript of a scenario whose parts each follow a `reset` step, by label: the
/// lines after each `reset LABEL` line up to the next one, each with its newline.
/// Lines before the first reset belong to no part.
pub fn split_resets(transcript: &str) -> HashMap<String, String> {
    let head = line(0, &reset(""));
    let mut parts = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in transcript.lines() {
        if let Some(label) = line.strip_prefix(head.as_str()) {
            if let Some((label, text)) = current.take() {
                parts.insert(label, text);
            }
            current = Some((label.to_string(), String::new()));
        } else if let Some((_, text)) = &mut current {
            text.push_str(line);
            text.push('\n');
        }
    }
    if let Some((label, text)) = current {
        parts.insert(label, text);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_back_into_their_parts() {
        let transcript = "[t=0] before\n[t=0] reset seed 1\n[t=0] start T1 = task()\n\
                          [t=3] T1 fulfilled: 1\n[t=0] reset seed 2\n[t=0] reset seed 3\n\
                          [t=0] call scribble(1, 2)\n";
        let parts = split_resets(transcript);
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts["seed 1"],
            "[t=0] start T1 = task()\n[t=3] T1 fulfilled: 1\n"
        );
        assert_eq!(parts["seed 2"], "");
        assert_eq!(parts["seed 3"], "[t=0] call scribble(1, 2)\n");
    }

    #[test]
    fn lines_say_what_failed() {
        let at = |text: &str| line(7, text);
        assert_eq!(at(&reset("x")), "[t=7] reset x");
        assert_eq!(text(&at("T1 fulfilled")), Some("T1 fulfilled"));
        assert_eq!(call("deep", &[1, -2]), "deep(1, -2)");
        assert_eq!(call("tick", &[]), "tick()");
        let cases = [
            (rejected("T5", "trap: unreachable"), Some(Failure::Rejected)),
            (failed(&call("f", &[1]), "boom"), Some(Failure::Failed)),
            (pending("T2"), Some(Failure::Pending)),
            ("T1 fulfilled: 3".to_string(), None),
            (call("f", &[1]), None),
        ];
        for (text, expected) in cases {
            assert_eq!(failure(&at(&text)), expected, "{text}");
        }
        assert_eq!(rejected("T5", "m"), "T5 rejected: m");
        assert_eq!(failed("f(1)", "m"), "f(1) failed: m");
        assert_eq!(pending("T2"), "end: T2 still pending");
        assert_eq!(failure("T5 rejected: m"), None, "a line has a time stamp");
    }
}
