//! Writing scenarios: a [`Step`] as one JSON object on one line, and a whole
//! [`Scenario`] in one of two layouts, both of which [`crate::parse`] reads back to the
//! same value. Keys come in the order docs/abi.md gives them (`description`,
//! `strategies`, `libc`, `steps`; a step's kind, `args`, `as`), items are separated by
//! `", "`, and `args` is left out when there are none, as the examples write them:
//!
//! ```text
//! {"start": "task", "args": [1, 2], "as": "T1"}
//! {"call": "tick"}
//! {"wait": "T1"}
//! ```

use std::fmt::Write as _;

use crate::{Scenario, Step};

/// How [`Scenario::to_json`] lays a scenario out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The examples' style: a key a line, indented by two, a step a line by four.
    Indented,
    /// For generated scenarios of thousands of steps: the header on the first line,
    /// then a step a line, not indented.
    Lines,
}

/// `text` as a JSON string.
fn string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `"args": [1, 2]` after `, `, or nothing for no arguments.
fn args(out: &mut String, args: &[i32]) {
    if args.is_empty() {
        return;
    }
    let items: Vec<String> = args.iter().map(i32::to_string).collect();
    let _ = write!(out, r#", "args": [{}]"#, items.join(", "));
}

impl Step {
    /// The step as one JSON object on one line.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        match self {
            Step::Start {
                export,
                args: a,
                name,
            }
            | Step::Spawn {
                export,
                args: a,
                name,
            } => {
                let kind = if matches!(self, Step::Start { .. }) {
                    "start"
                } else {
                    "spawn"
                };
                let _ = write!(out, r#""{kind}": {}"#, string(export));
                args(&mut out, a);
                let _ = write!(out, r#", "as": {}"#, string(name));
            }
            Step::Call { export, args: a } => {
                let _ = write!(out, r#""call": {}"#, string(export));
                args(&mut out, a);
            }
            Step::Wait { task } => {
                let _ = write!(out, r#""wait": {}"#, string(task));
            }
            Step::Reset { label } => {
                let _ = write!(out, r#""reset": {}"#, string(label));
            }
        }
        out.push('}');
        out
    }
}

impl Scenario {
    /// The keys before `steps`, each as `"key": value`.
    fn header(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(description) = &self.description {
            keys.push(format!(r#""description": {}"#, string(description)));
        }
        if let Some(strategies) = &self.strategies {
            let names: Vec<String> = strategies.iter().map(|s| string(s.name())).collect();
            keys.push(format!(r#""strategies": [{}]"#, names.join(", ")));
        }
        if self.wasi {
            keys.push(r#""libc": "wasi""#.to_string());
        }
        keys
    }

    /// The whole scenario as text, ending in a newline.
    pub fn to_json(&self, layout: Layout) -> String {
        let steps: Vec<String> = self.steps.iter().map(Step::to_json).collect();
        let mut keys = self.header();
        match layout {
            Layout::Indented => {
                keys.push(match steps.is_empty() {
                    true => r#""steps": []"#.to_string(),
                    false => format!("\"steps\": [\n    {}\n  ]", steps.join(",\n    ")),
                });
                format!("{{\n  {}\n}}\n", keys.join(",\n  "))
            }
            Layout::Lines => {
                keys.push(match steps.is_empty() {
                    true => r#""steps": []"#.to_string(),
                    false => format!("\"steps\": [\n{}\n]", steps.join(",\n")),
                });
                format!("{{{}}}\n", keys.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Strategy;

    fn start(export: &str, args: Vec<i32>, name: &str) -> Step {
        let (export, name) = (export.to_string(), name.to_string());
        Step::Start { export, args, name }
    }

    /// The format torture's scenarios have always had, byte for byte.
    #[test]
    fn steps_print_on_one_line() {
        let spawn = Step::Spawn {
            export: "task".into(),
            args: vec![1, -2],
            name: "T1".into(),
        };
        assert_eq!(
            spawn.to_json(),
            r#"{"spawn": "task", "args": [1, -2], "as": "T1"}"#
        );
        let call = Step::Call {
            export: "deep".into(),
            args: vec![9, 3, 24, 2],
        };
        assert_eq!(call.to_json(), r#"{"call": "deep", "args": [9, 3, 24, 2]}"#);
        let tick = Step::Call {
            export: "tick".into(),
            args: vec![],
        };
        assert_eq!(tick.to_json(), r#"{"call": "tick"}"#);
        assert_eq!(
            start("f", vec![], "F").to_json(),
            r#"{"start": "f", "as": "F"}"#
        );
        let wait = Step::Wait { task: "T1".into() };
        assert_eq!(wait.to_json(), r#"{"wait": "T1"}"#);
        let reset = Step::Reset {
            label: "seed 1".into(),
        };
        assert_eq!(reset.to_json(), r#"{"reset": "seed 1"}"#);
        // Names are JSON strings: what would break the line is escaped.
        let odd = start("f", vec![7], "a\"b\\c\u{1}é");
        assert_eq!(
            odd.to_json(),
            r#"{"start": "f", "args": [7], "as": "a\"b\\c\u0001é"}"#
        );
    }

    #[test]
    fn scenarios_print_in_both_layouts() {
        let scenario = Scenario {
            description: Some("d".into()),
            strategies: None,
            wasi: false,
            steps: vec![start("f", vec![1], "F"), Step::Wait { task: "F".into() }],
        };
        assert_eq!(
            scenario.to_json(Layout::Lines),
            "{\"description\": \"d\", \"steps\": [\n\
             {\"start\": \"f\", \"args\": [1], \"as\": \"F\"},\n\
             {\"wait\": \"F\"}\n]}\n"
        );
        assert_eq!(
            scenario.to_json(Layout::Indented),
            "{\n  \"description\": \"d\",\n  \"steps\": [\n    \
             {\"start\": \"f\", \"args\": [1], \"as\": \"F\"},\n    \
             {\"wait\": \"F\"}\n  ]\n}\n"
        );
        assert_eq!(
            Scenario::default().to_json(Layout::Indented),
            "{\n  \"steps\": []\n}\n"
        );
        assert_eq!(
            Scenario::default().to_json(Layout::Lines),
            "{\"steps\": []}\n"
        );
    }

    #[test]
    fn what_is_written_parses_back() {
        let scenario = Scenario {
            description: Some("a \"quoted\" line".into()),
            strategies: Some(vec![Strategy::Lazy, Strategy::Eager]),
            wasi: true,
            steps: vec![
                start("f", vec![i32::MIN, -1, 0], "F"),
                Step::Spawn {
                    export: "g".into(),
                    args: vec![],
                    name: "G".into(),
                },
                Step::Call {
                    export: "h".into(),
                    args: vec![i32::MAX],
                },
                Step::Wait { task: "G".into() },
                Step::Reset {
                    label: "again".into(),
                },
                start("f", vec![], "F"),
            ],
        };
        for layout in [Layout::Indented, Layout::Lines] {
            let text = scenario.to_json(layout);
            assert_eq!(
                crate::parse(&text, "s.json"),
                Ok(scenario.clone()),
                "{text}"
            );
        }
    }

    /// The examples' files are written in [`Layout::Indented`]: every one comes out of
    /// the writer byte for byte, but for those that put several short steps on a line.
    #[test]
    fn the_examples_are_in_the_indented_layout() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut same = 0;
        for dir in ["c-examples", "rust-examples"] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let path = entry.unwrap().path().join("scenario.json");
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if text.contains("}, {") {
                    continue;
                }
                let scenario = crate::parse(&text, "s.json").unwrap();
                assert_eq!(
                    scenario.to_json(Layout::Indented),
                    text,
                    "{}",
                    path.display()
                );
                same += 1;
            }
        }
        assert!(same > 10, "only {same} examples");
    }
}
