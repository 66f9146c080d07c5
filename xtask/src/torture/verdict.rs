//! What a torture schedule's transcript is checked for: the failures its steps ask
//! for (faults injected into tasks, plain calls that must trap, hooks misused), and
//! every other failure, which is a finding.

use jspi_scenario::transcript::{self, Failure};

use super::schedule::ScheduleOp;

/// A failure a schedule asks for: the message a task or call fails with.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expect {
    /// Exactly this message.
    Exact(String),
    /// A message that starts and ends so, with something between (a library id that
    /// only the guest knows; the transcript comparison pins it down across hosts and
    /// strategies).
    Around(&'static str, &'static str),
}

impl Expect {
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Expect::Exact(text) => message == text,
            Expect::Around(head, tail) => {
                message.len() > head.len() + tail.len()
                    && message.starts_with(head)
                    && message.ends_with(tail)
            }
        }
    }
}

/// The first line that shows a failure: a task that failed (other than with the fault
/// injected into it) or never settled, a plain call that failed other than as its step
/// asks; or, when a plain call that must fail did not, the line it should have
/// printed.
pub(super) fn failure_line(text: &str, steps: &[ScheduleOp]) -> Option<String> {
    let mut allowed: Vec<(String, Expect)> = steps
        .iter()
        .filter_map(|step| {
            let shape = step.shape()?;
            let task = format!("T{}", shape.id);
            Some((transcript::rejected(&task, ""), shape.fault_message()?))
        })
        .collect();
    allowed.extend(steps.iter().filter_map(ScheduleOp::allowed_failure));
    let expected = |line: &str| {
        transcript::text(line).is_some_and(|rest| {
            allowed.iter().any(|(head, expect)| {
                rest.strip_prefix(head.as_str())
                    .is_some_and(|message| expect.matches(message))
            })
        })
    };
    let unexpected = text.lines().find(|line| match transcript::failure(line) {
        Some(Failure::Rejected | Failure::Failed) => !expected(line),
        Some(Failure::Pending) => true,
        None => false,
    });
    if let Some(line) = unexpected {
        return Some(line.to_string());
    }
    // Every call that must fail printed its failure line (each call step's own line:
    // the same call twice prints it twice).
    let mut lines = text.lines().filter_map(transcript::text);
    for step in steps {
        if let Some((head, expect)) = step.expected_failure() {
            let found = lines.any(|rest| {
                rest.strip_prefix(head.as_str())
                    .is_some_and(|message| expect.matches(message))
            });
            if !found {
                let call = head.trim_end_matches(" failed: ");
                return Some(format!("{call} did not fail as it must ({expect:?})"));
            }
        }
    }
    None
}

/// What a schedule's transcript is checked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Check {
    /// No failure line, and the same transcript as eager on the first host.
    Intact,
    /// The same transcript as `none` on the first host (corrupted or not: the hosts
    /// are deterministic, so they must corrupt alike).
    Agrees,
}

impl Check {
    /// Why `text`, the transcript of `steps`, fails the check against `reference`,
    /// if it does.
    pub fn verdict(self, steps: &[ScheduleOp], text: &str, reference: &str) -> Option<String> {
        if self == Check::Intact {
            if let Some(line) = failure_line(text, steps) {
                return Some(line);
            }
        }
        (text != reference).then(|| first_difference(reference, text))
    }
}

/// `expected LINE, got LINE` at the first line where two transcripts part.
fn first_difference(expected: &str, got: &str) -> String {
    let (mut a, mut b) = (expected.lines(), got.lines());
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return format!(
                    "transcript differs: expected {:?}, got {:?}",
                    x.unwrap_or("(end)"),
                    y.unwrap_or("(end)")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schedule::Shape;
    use super::*;

    #[test]
    fn verdicts_catch_failures_and_differences_but_not_injected_faults() {
        let good = "[t=0] start T1 = task()\n[t=1] T1 fulfilled: 5\n";
        let none: &[ScheduleOp] = &[];
        assert_eq!(Check::Intact.verdict(none, good, good), None);
        let bad = "[t=0] start T1 = task()\n[t=1] T1 rejected: corrupt: task 1\n";
        let why = Check::Intact.verdict(none, bad, good).unwrap();
        assert!(why.contains("corrupt: task 1"), "{why}");
        assert_eq!(Check::Agrees.verdict(none, bad, bad), None);
        assert!(Check::Agrees.verdict(none, bad, good).is_some());
        let off = "[t=0] start T1 = task()\n[t=1] T1 fulfilled: 6\n";
        let why = Check::Intact.verdict(none, off, good).unwrap();
        assert!(why.contains("fulfilled: 6"), "{why}");

        let shape = Shape {
            id: 1,
            depth: 1,
            size: 0,
            awaits: 0,
            delays: 0,
            churn: 0,
            fault: 2,
            io: 0,
        };
        let trapped = "[t=0] start T1 = task()\n[t=0] T1 rejected: trap: unreachable\n";
        assert_eq!(
            Check::Intact.verdict(&[ScheduleOp::Start(shape)], trapped, trapped),
            None
        );
        let other = Shape { id: 2, ..shape };
        assert!(Check::Intact
            .verdict(&[ScheduleOp::Start(other)], trapped, trapped)
            .is_some());

        // A misused hook inside a resumed segment: the library's id in the middle.
        let leave = Shape { fault: 5, ..shape };
        let refused = "[t=0] T1 rejected: jspi_task_leave: task 0x10001 is running a resumed \
                       segment, so this call comes from inside it (jspi_task_leave is the \
                       host's, called once right after the promising call first returns)\n";
        assert_eq!(
            Check::Intact.verdict(&[ScheduleOp::Start(leave)], refused, refused),
            None
        );
        assert!(Check::Intact
            .verdict(&[ScheduleOp::Start(shape)], refused, refused)
            .is_some());
    }

    #[test]
    fn calls_that_must_fail_must_fail_so() {
        let deep = ScheduleOp::Deep {
            seed: 3,
            levels: 2,
            size: 1,
            how: 1,
        };
        let failed =
            "[t=0] call deep(3, 2, 1, 1)\n[t=0] deep(3, 2, 1, 1) failed: trap: unreachable\n";
        assert_eq!(failure_line(failed, std::slice::from_ref(&deep)), None);
        let returned = "[t=0] call deep(3, 2, 1, 1)\n[t=0] deep(3, 2, 1, 1) returned 7\n";
        let why = failure_line(returned, std::slice::from_ref(&deep)).unwrap();
        assert!(why.contains("did not fail"), "{why}");
        let other = "[t=0] deep(3, 2, 1, 1) failed: trap: memory access out of bounds\n";
        assert!(failure_line(other, &[deep]).is_some());
        // A repeated leave may fail (no such task yet) or return.
        let misuse = ScheduleOp::Misuse { kind: 3, target: 2 };
        let refused = "[t=0] misuse(3, 2) failed: jspi_task_leave: 0x0 names no task of this \
                       instance (a stale or made-up id; pass the id jspi_task_enter returned)\n";
        assert_eq!(failure_line(refused, std::slice::from_ref(&misuse)), None);
        assert_eq!(
            failure_line("[t=0] misuse(3, 2) returned 0\n", &[misuse]),
            None
        );
    }
}
