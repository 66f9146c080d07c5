//! Bad modules: modules and scenarios that every host must refuse before anything
//! runs, with exit code 2 and the same one-line error. `cargo xtask test` checks them
//! on every host after the examples; `cargo xtask bless` writes their expected errors.
//!
//! Each folder of `tests/bad-modules/` is one case: a `scenario.json`, the module, and
//! `expected.txt`, the runner's whole stderr (`error: ...` and a newline). The module
//! is exactly one of:
//!
//! - `plain.c`: C compiled with the guest flags and linked *without* the guest library
//!   and its `--export` flags, with `--allow-undefined`, so that calls into the library
//!   become imports from `env` (what a generic wasm build would make of them);
//! - `guest.c`: C linked with the guest library (strategy `lazy`), as examples are;
//! - `module.wasm`: used as it is (it need not be wasm at all).
//!
//! ```text
//! tests/bad-modules/<case>/{scenario.json, expected.txt, plain.c | guest.c | module.wasm}
//! target/bad-modules/<case>.wasm           a built module
//! ```

use std::fs;
use std::path::PathBuf;

use crate::compile::{Builder, Strategy, CLANG_COMPILE, CLANG_LINK, LIBRARY_EXPORTS};
use crate::hosts::{Host, RunResult};
use crate::reference::{hosts_in_order, report_disagreement, write_file, REFERENCE};
use crate::{diff, process, project_root, rel, Error, Result};

/// The folder of cases, relative to the project root.
const CASES_DIR: &str = "tests/bad-modules";

/// The exit code of a runner that refuses its input (docs/abi.md, README).
const BAD_INPUT: i32 = 2;

/// Where a case's module comes from.
#[derive(Debug)]
enum Source {
    /// `plain.c`: built without the guest library.
    Plain(PathBuf),
    /// `guest.c`: built with the guest library.
    Guest(PathBuf),
    /// `module.wasm`: used as it is.
    File(PathBuf),
}

/// One folder of `tests/bad-modules/`.
#[derive(Debug)]
pub struct Case {
    name: String,
    scenario: PathBuf,
    expected: PathBuf,
    source: Source,
    /// Its scenario says `"libc": "wasi"`: the browsers, which have no WASI, refuse it
    /// for that, in their own words, so it runs on Node and wasmtime only (as wasi
    /// examples do).
    wasi: bool,
}

impl Case {
    /// The case's folder name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `host` runs this case.
    fn runs_on(&self, host: Host) -> bool {
        !(self.wasi && host.is_browser())
    }

    /// `bad-modules/<case> [host]`, as reports name one run.
    fn label(&self, host: Host) -> String {
        format!("bad-modules/{} [{}]", self.name, host.name())
    }
}

/// Every case, sorted by name. A folder without a scenario or with no module, or more
/// than one, is an error: every folder there must be a case.
pub fn cases() -> Result<Vec<Case>> {
    let root = project_root().join(CASES_DIR);
    let entries =
        fs::read_dir(&root).map_err(|e| Error::failure(format!("reading {CASES_DIR}: {e}")))?;
    let mut cases = Vec::new();
    for entry in entries {
        let dir = entry
            .map_err(|e| Error::failure(format!("reading {CASES_DIR}: {e}")))?
            .path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let scenario = dir.join("scenario.json");
        if !scenario.is_file() {
            return Err(Error::failure(format!(
                "{}: no scenario.json",
                rel(&dir).display()
            )));
        }
        let mut sources: Vec<Source> = [
            ("plain.c", Source::Plain as fn(PathBuf) -> Source),
            ("guest.c", Source::Guest),
            ("module.wasm", Source::File),
        ]
        .into_iter()
        .filter(|(file, _)| dir.join(file).is_file())
        .map(|(file, source)| source(dir.join(file)))
        .collect();
        if sources.len() != 1 {
            return Err(Error::failure(format!(
                "{}: needs exactly one of plain.c, guest.c, module.wasm (see xtask/src/badmod.rs)",
                rel(&dir).display()
            )));
        }
        // A scenario that does not parse is a case too (the runners refuse it).
        let wasi = fs::read_to_string(&scenario)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|value| value["libc"] == "wasi");
        cases.push(Case {
            name,
            expected: dir.join("expected.txt"),
            scenario,
            source: sources.remove(0),
            wasi,
        });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// Builds (or takes) a case's module; the error is the failed step's message.
pub fn module(case: &Case, builder: &mut Builder) -> Result<PathBuf, String> {
    let ctx = builder.ctx();
    let (source, library) = match &case.source {
        Source::File(path) => return Ok(path.clone()),
        Source::Plain(source) => (source, None),
        Source::Guest(source) => (source, Some(builder.library(Strategy::Lazy)?)),
    };
    let out_dir = ctx.root.join("target/bad-modules");
    fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", rel(&out_dir).display()))?;
    let wasm = out_dir.join(format!("{}.wasm", case.name));
    let mut clang = ctx.clang();
    clang.args(CLANG_COMPILE).args(CLANG_LINK);
    match &library {
        Some(_) => clang.args(LIBRARY_EXPORTS),
        None => clang.arg("-Wl,--allow-undefined"),
    };
    clang.arg(rel(source));
    if let Some(library) = &library {
        clang.arg(rel(library));
    }
    clang.arg("-o").arg(rel(&wasm));
    process::run_checked(&mut clang, ctx).map_err(|e| e.to_string())?;
    Ok(wasm)
}

/// Why a run is not the clean refusal it should be (`expected` is the whole stderr it
/// should print), or `None` when it is.
fn misbehaviour(result: &RunResult, expected: &str) -> Option<String> {
    if result.code != Some(BAD_INPUT) {
        let code = result
            .code
            .map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}"));
        return Some(format!(
            "{code}, expected {BAD_INPUT}; stderr:\n{}",
            result.stderr.trim_end()
        ));
    }
    if !result.transcript.is_empty() {
        return Some(format!(
            "printed a transcript before refusing:\n{}",
            result.transcript.trim_end()
        ));
    }
    if result.stderr.lines().count() != 1 {
        return Some(format!(
            "the error is not one line:\n{}",
            result.stderr.trim_end()
        ));
    }
    (result.stderr != expected).then(|| "the error differs".to_string())
}

/// Runs every case on each of `hosts`, printing `ok` or `FAIL` per run; returns how
/// many passed and the labels of those that failed.
pub fn test(cases: &[Case], hosts: &[Host], builder: &mut Builder) -> Result<(usize, Vec<String>)> {
    let ctx = builder.ctx();
    let (mut passed, mut failed) = (0, Vec::new());
    for case in cases {
        let expected = match fs::read_to_string(&case.expected) {
            Ok(expected) => expected,
            Err(e) => {
                println!(
                    "FAIL bad-modules/{}: reading {}: {e}; run `cargo xtask bless` and review the diff",
                    case.name,
                    rel(&case.expected).display()
                );
                failed.extend(hosts.iter().map(|&host| case.label(host)));
                continue;
            }
        };
        let wasm = module(case, builder);
        for &host in hosts.iter().filter(|&&host| case.runs_on(host)) {
            let label = case.label(host);
            let wasm = match &wasm {
                Ok(wasm) => wasm,
                Err(message) => {
                    println!("FAIL {label}: build failed: {message}");
                    failed.push(label);
                    continue;
                }
            };
            let result = match host.run(wasm, &case.scenario, ctx) {
                Ok(result) => result,
                Err(error) => {
                    println!("FAIL {label}: {error}");
                    failed.push(label);
                    continue;
                }
            };
            match misbehaviour(&result, &expected) {
                None => {
                    println!("ok   {label}");
                    passed += 1;
                }
                Some(why) => {
                    println!("FAIL {label}: {why}");
                    if result.code == Some(BAD_INPUT) {
                        print!(
                            "{}",
                            diff::unified(
                                &expected,
                                &result.stderr,
                                &rel(&case.expected).display().to_string(),
                                &format!("{label} stderr"),
                            )
                        );
                    }
                    failed.push(label);
                }
            }
        }
    }
    Ok((passed, failed))
}

/// Writes each case's `expected.txt` from its run on Node 26, after checking that it
/// is a clean refusal and that every other host prints exactly the same. Returns the
/// names of the cases left untouched (after saying why).
pub fn bless(builder: &mut Builder) -> Result<Vec<String>> {
    let mut refused = Vec::new();
    for case in cases()? {
        match reference_error(&case, builder) {
            Some(text) => write_file(&case.expected, &text)?,
            None => {
                eprintln!(
                    "error: not blessing bad-modules/{}: see above; its files are unchanged",
                    case.name
                );
                refused.push(format!("bad-modules/{}", case.name));
            }
        }
    }
    Ok(refused)
}

/// The reference host's stderr for `case`, or `None` (after saying why) if the module
/// did not build, a run is not a clean refusal, or two hosts disagree.
fn reference_error(case: &Case, builder: &mut Builder) -> Option<String> {
    let ctx = builder.ctx();
    let wasm = match module(case, builder) {
        Ok(wasm) => wasm,
        Err(message) => {
            eprintln!("error: bad-modules/{}: build failed: {message}", case.name);
            return None;
        }
    };
    let mut reference: Option<String> = None;
    for host in hosts_in_order().filter(|&host| case.runs_on(host)) {
        let label = case.label(host);
        let result = match host.run(&wasm, &case.scenario, ctx) {
            Ok(result) => result,
            Err(error) => {
                eprintln!("error: {label}: {error}");
                return None;
            }
        };
        // Checked against its own stderr: everything but the wording.
        if let Some(why) = misbehaviour(&result, &result.stderr) {
            eprintln!("error: {label}: {why}");
            return None;
        }
        match &reference {
            None => reference = Some(result.stderr),
            Some(expected) if *expected != result.stderr => {
                report_disagreement(
                    host,
                    &label,
                    expected,
                    &result.stderr,
                    &case.label(REFERENCE),
                );
                return None;
            }
            Some(_) => {}
        }
    }
    reference
}
