//! Parsing and checking `scenario.json` (docs/abi.md, "Scenario format"), with the
//! same messages as the Node runner's `scenario.mjs`: every problem is found before
//! anything runs and reported as one line naming the step.

use serde_json::{Map, Value};

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

const STRATEGIES: [&str; 3] = ["none", "eager", "lazy"];

fn step_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "start" => &["start", "args", "as"],
        "spawn" => &["spawn", "args", "as"],
        "call" => &["call", "args"],
        "reset" => &["reset"],
        _ => &["wait"],
    }
}

/// JavaScript's `JSON.stringify` of a JSON value, for messages.
fn show(value: &Value) -> String {
    value.to_string()
}

fn check_args(where_: &str, args: Option<&Value>) -> Result<Vec<i32>, String> {
    let Some(args) = args else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = args else {
        return Err(format!("{where_}: `args` must be an array of integers"));
    };
    items
        .iter()
        .map(|item| {
            let as_int = item
                .as_i64()
                .or_else(|| item.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64));
            match as_int {
                Some(v) if (-(1i64 << 31)..(1i64 << 32)).contains(&v) => Ok(v as u32 as i32),
                _ => Err(format!(
                    "{where_}: argument {} is not a 32-bit integer",
                    show(item)
                )),
            }
        })
        .collect()
}

/// Parses the text of a scenario; `name` is how errors refer to the file.
pub fn parse(text: &str, name: &str) -> Result<Vec<Step>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("{name}: malformed JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err(format!("{name}: must be a JSON object"));
    };
    for key in fields.keys() {
        if !["description", "strategies", "steps"].contains(&key.as_str()) {
            return Err(format!(
                "{name}: unknown key `{key}` (keys: description, strategies, steps)"
            ));
        }
    }
    if fields.get("description").is_some_and(|d| !d.is_string()) {
        return Err(format!("{name}: `description` must be a string"));
    }
    if let Some(list) = fields.get("strategies") {
        let ok = list.as_array().is_some_and(|items| {
            !items.is_empty()
                && items
                    .iter()
                    .all(|s| s.as_str().is_some_and(|s| STRATEGIES.contains(&s)))
        });
        if !ok {
            return Err(format!(
                "{name}: `strategies` must be a non-empty array of {}",
                STRATEGIES.join(", ")
            ));
        }
    }
    let Some(Value::Array(steps)) = fields.get("steps") else {
        return Err(format!("{name}: `steps` must be an array"));
    };
    let mut names: Vec<String> = Vec::new();
    steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let where_ = format!("{name}: step {}", index + 1);
            let Value::Object(step) = step else {
                return Err(format!("{where_}: must be an object"));
            };
            parse_step(&where_, step, &mut names)
        })
        .collect()
}

fn parse_step(
    where_: &str,
    step: &Map<String, Value>,
    names: &mut Vec<String>,
) -> Result<Step, String> {
    let Some(kind) = ["start", "spawn", "call", "wait", "reset"]
        .into_iter()
        .find(|k| step.contains_key(*k))
    else {
        return Err(format!(
            "{where_}: needs one of `start`, `spawn`, `call`, `wait`, `reset`"
        ));
    };
    let keys = step_keys(kind);
    for key in step.keys() {
        if !keys.contains(&key.as_str()) {
            return Err(format!(
                "{where_}: unknown key `{key}` in a `{kind}` step (keys: {})",
                keys.join(", ")
            ));
        }
    }
    let target = match step.get(kind) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(format!("{where_}: `{kind}` must be a non-empty string")),
    };
    match kind {
        "start" | "spawn" => {
            let name = match step.get("as") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => {
                    return Err(format!(
                        "{where_}: a `{kind}` step needs `as`: the task's name"
                    ))
                }
            };
            if names.contains(&name) {
                return Err(format!("{where_}: task name `{name}` is used twice"));
            }
            names.push(name.clone());
            let (export, args) = (target, check_args(where_, step.get("args"))?);
            Ok(if kind == "start" {
                Step::Start { export, args, name }
            } else {
                Step::Spawn { export, args, name }
            })
        }
        "call" => Ok(Step::Call {
            export: target,
            args: check_args(where_, step.get("args"))?,
        }),
        "reset" => {
            // A fresh instance: earlier tasks are gone, their names free.
            names.clear();
            Ok(Step::Reset { label: target })
        }
        _ => {
            if !names.contains(&target) {
                return Err(format!(
                    "{where_}: waits for `{target}`, which no earlier step starts"
                ));
            }
            Ok(Step::Wait { task: target })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_step() {
        let steps = parse(
            r#"{"steps": [{"start": "f", "args": [1, -2, 4294967295], "as": "F"}, {"call": "g"}, {"wait": "F"}, {"reset": "again"}, {"start": "f", "as": "F"}, {"spawn": "g", "args": [3], "as": "G"}, {"wait": "G"}]}"#,
            "s.json",
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                Step::Start {
                    export: "f".into(),
                    args: vec![1, -2, -1],
                    name: "F".into()
                },
                Step::Call {
                    export: "g".into(),
                    args: vec![]
                },
                Step::Wait { task: "F".into() },
                Step::Reset {
                    label: "again".into()
                },
                Step::Start {
                    export: "f".into(),
                    args: vec![],
                    name: "F".into()
                },
                Step::Spawn {
                    export: "g".into(),
                    args: vec![3],
                    name: "G".into()
                },
                Step::Wait { task: "G".into() },
            ]
        );
    }

    #[test]
    fn bad_scenarios_name_the_step() {
        for (text, message) in [
            ("[", "s.json: malformed JSON"),
            (
                r#"{"steps": [{"start": "f"}]}"#,
                "s.json: step 1: a `start` step needs `as`",
            ),
            (
                r#"{"steps": [{"wait": "X"}]}"#,
                "s.json: step 1: waits for `X`",
            ),
            (
                r#"{"steps": [{"call": "f", "args": [1.5]}]}"#,
                "s.json: step 1: argument 1.5 is not",
            ),
            (
                r#"{"steps": [{"call": "f", "as": "X"}]}"#,
                "s.json: step 1: unknown key `as`",
            ),
            (
                r#"{"steps": [{"start": "f", "as": "A"}, {"start": "f", "as": "A"}]}"#,
                "s.json: step 2: task name `A` is used twice",
            ),
            (
                r#"{"steps": [{"start": "f", "as": "A"}, {"spawn": "f", "as": "A"}]}"#,
                "s.json: step 2: task name `A` is used twice",
            ),
            (
                r#"{"steps": [{"spawn": "f"}]}"#,
                "s.json: step 1: a `spawn` step needs `as`",
            ),
            (
                r#"{"steps": [{"spawn": "f", "as": "A", "wait": "A"}]}"#,
                "s.json: step 1: unknown key `wait` in a `spawn` step",
            ),
            (
                r#"{"steps": [{"start": "f", "as": "A"}, {"reset": "r"}, {"wait": "A"}]}"#,
                "s.json: step 3: waits for `A`",
            ),
            (
                r#"{"strategies": ["quick"], "steps": []}"#,
                "s.json: `strategies` must be",
            ),
        ] {
            let error = parse(text, "s.json").unwrap_err();
            assert!(error.starts_with(message), "{text}: {error}");
        }
    }
}
