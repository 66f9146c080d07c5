//! Parsing and checking `scenario.json` (docs/abi.md, "Scenario format"), with the
//! same messages as the Node runner's `scenario.mjs`: every problem is found before
//! anything runs and reported as one line naming the step.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::{name_problem, Scenario, Step, Strategy};

/// What a module may be built against: nothing (freestanding), or wasi-libc, whose
/// WASI preview 1 imports the host provides (docs/abi.md).
const LIBCS: [&str; 2] = ["none", "wasi"];

/// [`name_problem`] for a JSON value: anything but a string "must be a non-empty
/// string".
fn value_name_problem(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(name)) => name_problem(name),
        _ => Some("must be a non-empty string".into()),
    }
}

fn step_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "start" => &["start", "args", "as"],
        "spawn" => &["spawn", "args", "as"],
        "call" => &["call", "args"],
        "reset" => &["reset"],
        _ => &["wait"],
    }
}

/// The keys of a JSON object in JavaScript's `Object.keys` order: array indices
/// (canonical decimal integers below 2^32 - 1) first, ascending, then the others in
/// the order the text gives them (the map preserves it).
fn js_keys(object: &Map<String, Value>) -> Vec<&str> {
    let index = |key: &str| -> Option<u32> {
        let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
        let value: u32 = key.parse().ok().filter(|_| canonical)?;
        (value != u32::MAX && key.bytes().all(|b| b.is_ascii_digit())).then_some(value)
    };
    let mut indices: Vec<(u32, &str)> = object
        .keys()
        .filter_map(|k| index(k).map(|i| (i, k.as_str())))
        .collect();
    indices.sort_unstable();
    let mut keys: Vec<&str> = indices.into_iter().map(|(_, k)| k).collect();
    keys.extend(
        object
            .keys()
            .map(String::as_str)
            .filter(|k| index(k).is_none()),
    );
    keys
}

/// The message of an argument out of range (`checkArgs` in scenario.mjs).
fn check_args(where_: &str, args: Option<&Value>) -> Result<Vec<i32>, String> {
    let Some(args) = args else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = args else {
        return Err(format!("{where_}: `args` must be an array of integers"));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            // As JavaScript sees a JSON number: a double (serde_json's, correctly
            // rounded with `float_roundtrip`), an integer if it has no fraction.
            match item.as_f64() {
                Some(v) if v.fract() == 0.0 && (-2_147_483_648.0..4_294_967_296.0).contains(&v) => {
                    // `arg | 0`: to a signed 32-bit integer.
                    Ok(v as i64 as u32 as i32)
                }
                _ => Err(format!(
                    "{where_}: argument {} is not a 32-bit integer (-2147483648 to 4294967295)",
                    index + 1
                )),
            }
        })
        .collect()
}

/// Parses the text of a scenario; `name` is how errors refer to the file.
pub fn parse(text: &str, name: &str) -> Result<Scenario, String> {
    // What serde_json and JSON.parse would disagree on is refused first, in the Node
    // runner's words (jsonscan.rs).
    if let Some(problem) = crate::jsonscan::scan(text) {
        return Err(format!("{name}: malformed JSON at {problem}"));
    }
    let value = read_json(text).map_err(|e| format!("{name}: malformed JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err(format!("{name}: must be a JSON object"));
    };
    for key in js_keys(&fields) {
        if !["description", "strategies", "libc", "steps"].contains(&key) {
            return Err(format!(
                "{name}: unknown key `{key}` (keys: description, strategies, libc, steps)"
            ));
        }
    }
    let wasi = match fields.get("libc") {
        None => false,
        Some(Value::String(libc)) if LIBCS.contains(&libc.as_str()) => libc == "wasi",
        Some(_) => {
            return Err(format!(
                "{name}: `libc` must be one of {}",
                LIBCS.join(", ")
            ))
        }
    };
    let description = match fields.get("description") {
        None => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(format!("{name}: `description` must be a string")),
    };
    let strategies = strategies(name, fields.get("strategies"))?;
    let Some(Value::Array(steps)) = fields.get("steps") else {
        return Err(format!("{name}: `steps` must be an array"));
    };
    let mut names: HashSet<String> = HashSet::new();
    let steps = steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let where_ = format!("{name}: step {}", index + 1);
            let Value::Object(step) = step else {
                return Err(format!("{where_}: must be an object"));
            };
            parse_step(&where_, step, &mut names)
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Scenario {
        description,
        strategies,
        wasi,
        steps,
    })
}

/// The JSON value of `text`, which [`crate::jsonscan::scan`] has found no problem in.
fn read_json(text: &str) -> Result<Value, serde_json::Error> {
    use serde::Deserialize as _;
    let mut parser = serde_json::Deserializer::from_str(text);
    // The scan bounds the depth (128, which serde_json's own limit would refuse).
    parser.disable_recursion_limit();
    Value::deserialize(&mut parser).and_then(|value| parser.end().map(|()| value))
}

/// The `strategies` of the scenario `name`, in the text's order: a non-empty array of
/// strategy names, or nothing.
fn strategies(name: &str, list: Option<&Value>) -> Result<Option<Vec<Strategy>>, String> {
    let Some(list) = list else {
        return Ok(None);
    };
    let strategies = list.as_array().and_then(|items| {
        let names = items.iter().map(|s| s.as_str().and_then(Strategy::parse));
        names.collect::<Option<Vec<Strategy>>>()
    });
    match strategies {
        Some(strategies) if !strategies.is_empty() => Ok(Some(strategies)),
        _ => Err(format!(
            "{name}: `strategies` must be a non-empty array of {}",
            Strategy::names()
        )),
    }
}

fn parse_step(
    where_: &str,
    step: &Map<String, Value>,
    names: &mut HashSet<String>,
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
    for key in js_keys(step) {
        if !keys.contains(&key) {
            return Err(format!(
                "{where_}: unknown key `{key}` in a `{kind}` step (keys: {})",
                keys.join(", ")
            ));
        }
    }
    if let Some(problem) = value_name_problem(step.get(kind)) {
        return Err(format!("{where_}: `{kind}` {problem}"));
    }
    let target = step[kind].as_str().unwrap_or_default().to_string();
    match kind {
        "start" | "spawn" => {
            let Some(name) = step.get("as") else {
                return Err(format!(
                    "{where_}: a `{kind}` step needs `as`: the task's name"
                ));
            };
            if let Some(problem) = value_name_problem(Some(name)) {
                return Err(format!("{where_}: `as` {problem}"));
            }
            let name = name.as_str().unwrap_or_default().to_string();
            if !names.insert(name.clone()) {
                return Err(format!("{where_}: task name `{name}` is used twice"));
            }
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
        .unwrap()
        .steps;
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
    fn the_header_comes_back_as_the_text_gives_it() {
        let text = r#"{"description": "d", "strategies": ["lazy", "none", "lazy"], "libc": "wasi", "steps": []}"#;
        let scenario = parse(text, "s.json").unwrap();
        assert_eq!(scenario.description.as_deref(), Some("d"));
        use Strategy::{Lazy, None};
        assert_eq!(scenario.strategies, Some(vec![Lazy, None, Lazy]));
        assert!(scenario.wasi);
        let bare = parse(r#"{"libc": "none", "steps": []}"#, "s.json").unwrap();
        assert_eq!(bare, Scenario::default());
    }

    #[test]
    fn integers_as_javascript_reads_them() {
        let steps = parse(
            r#"{"steps": [{"call": "f", "args": [1.0, 1e2, -0, 2147483648, -2147483648, 4294967295.0000000001]}]}"#,
            "s.json",
        )
        .unwrap()
        .steps;
        let Step::Call { args, .. } = &steps[0] else {
            panic!("a call")
        };
        assert_eq!(args, &[1, 100, 0, i32::MIN, i32::MIN, -1]);
    }

    #[test]
    fn names_are_short_and_printable() {
        let name = |n: usize| {
            format!(
                r#"{{"steps": [{{"start": "f", "as": "{}"}}]}}"#,
                "é".repeat(n)
            )
        };
        assert!(parse(&name(128), "s.json").is_ok());
        assert_eq!(
            parse(&name(129), "s.json").unwrap_err(),
            "s.json: step 1: `as` is longer than 128 characters"
        );
        assert_eq!(
            name_problem("a\u{9f}"),
            Some("contains a control character (U+009F)".into())
        );
        assert_eq!(name_problem("a\u{a0}\u{feff}😀"), None);
        // 150,000 names: a HashSet, not a list.
        let steps: Vec<String> = (0..150_000)
            .map(|i| format!(r#"{{"start": "f", "as": "T{i}"}}"#))
            .collect();
        let text = format!(r#"{{"steps": [{}]}}"#, steps.join(","));
        assert_eq!(parse(&text, "s.json").unwrap().steps.len(), 150_000);
    }

    /// The cases shared with the Node runner (`host/js/test/scenario-text.mjs`
    /// checks the same file): `[text, whole message]`.
    #[test]
    fn bad_scenarios_name_the_step() {
        let cases: Value =
            serde_json::from_str(include_str!("../../tests/scenario-text/parse.json")).unwrap();
        let cases = cases["cases"].as_array().unwrap();
        assert!(cases.len() > 20);
        for case in cases {
            let (text, message) = (case[0].as_str().unwrap(), case[1].as_str().unwrap());
            assert_eq!(parse(text, "s.json").unwrap_err(), message, "{text}");
        }
        assert!(parse("[", "s.json")
            .unwrap_err()
            .starts_with("s.json: malformed JSON: "));
    }
}
