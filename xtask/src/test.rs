//! `cargo xtask test`: everything CI runs, in order: `cargo test --workspace`, the
//! stack-state tests under Miri (`miri`, unless `--no-miri`), every example x allowed
//! strategy x host, each transcript compared with the expected one next to the
//! example, and, when no example is named, every bad module x host (`badmod`), the JS
//! package's own tests (`jstest`), the C distribution built and used with clang alone
//! (`dist`), the scale checks (`scale`: 100,000 steps on every
//! host, 1,000,000 tasks' memory on wasmtime) and the torture budget (`torture`). Ends with
//! `N passed, M failed` (the example runs, the bad-module runs, the JS package's checks
//! and the torture host/strategy pairs).

use std::fs;
use std::process::Command;

use crate::compile::Builder;
use crate::compile::Strategy;
use crate::run::{check_hosts, label, strategies_for};
use crate::torture::{self, TEST_COUNT, TEST_SEED};
use crate::{
    badmod, diff, dist, examples, jstest, miri, process, project_root, rel, scale, serve, tools,
    Error, Options, Result,
};

/// Runs the workspace tests, Miri, the example matrix, the bad modules, then the
/// torture budget.
pub fn test(options: &Options) -> Result<()> {
    let examples = examples::resolve(&options.examples)?;
    // The bad modules belong to a whole run, not to a chosen few examples.
    let bad_modules = if options.examples.is_empty() {
        badmod::cases()?
    } else {
        Vec::new()
    };
    tools::ensure(options.verbose)?;
    if options.miri {
        tools::ensure_miri(options.verbose)?;
    }
    if !examples.is_empty() || !bad_modules.is_empty() {
        check_hosts(&options.hosts, options.verbose)?;
    }

    println!("== cargo test --workspace ==");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args(["test", "--workspace"])
        .current_dir(project_root());
    if options.verbose {
        println!("running: {}", process::display(&cargo));
    }
    let status = cargo
        .status()
        .map_err(|e| Error::failure(format!("could not start `cargo test --workspace`: {e}")))?;
    if !status.success() {
        return Err(Error::failure(format!(
            "`cargo test --workspace` failed ({status})"
        )));
    }

    if options.miri {
        println!("== miri ({}) ==", tools::MIRI_TOOLCHAIN);
        miri::test()?;
    } else {
        println!("== miri: skipped (--no-miri) ==");
    }

    println!("== examples ==");
    let mut builder = Builder::new(options.verbose);
    let (mut passed, mut failed) = (0usize, Vec::new());
    for example in &examples {
        let strategies = strategies_for(example, options);
        if strategies
            .iter()
            .any(|&s| !example.expected_path(s).is_file())
        {
            println!(
                "FAIL {}: no expected transcript; run `cargo xtask bless {}` and review the diff",
                example.name,
                example.arg()
            );
            for &strategy in &strategies {
                for host in example.hosts(&options.hosts) {
                    failed.push(label(example, host, strategy));
                }
            }
            continue;
        }
        for strategy in strategies {
            let expected_path = example.expected_path(strategy);
            let wasm = builder.wasm(example, strategy);
            for host in example.hosts(&options.hosts) {
                let label = label(example, host, strategy);
                let wasm = match &wasm {
                    Ok(wasm) => wasm,
                    Err(message) => {
                        println!("FAIL {label}: build failed: {message}");
                        failed.push(label);
                        continue;
                    }
                };
                let expected = fs::read_to_string(&expected_path).map_err(|e| {
                    Error::failure(format!("reading {}: {e}", rel(&expected_path).display()))
                })?;
                let result = match host.run(wasm, &example.scenario, options.verbose) {
                    Ok(result) => result,
                    Err(error) => {
                        println!("FAIL {label}: {error}");
                        failed.push(label);
                        continue;
                    }
                };
                let diff = diff::unified(
                    &expected,
                    &result.transcript,
                    &rel(&expected_path).display().to_string(),
                    &format!("{label} transcript"),
                );
                match (&result.failure, diff.is_empty()) {
                    (None, true) => {
                        println!("ok   {label}");
                        passed += 1;
                        continue;
                    }
                    (Some(failure), _) => println!("FAIL {label}: {failure}"),
                    (None, false) => println!("FAIL {label}: the transcript differs"),
                }
                print!("{diff}");
                failed.push(label);
            }
        }
    }
    if !bad_modules.is_empty() {
        println!("== bad modules ==");
        let (bad_passed, bad_failed) =
            badmod::test(&bad_modules, &options.hosts, &mut builder, options.verbose)?;
        passed += bad_passed;
        failed.extend(bad_failed);
    }
    if options.examples.is_empty() {
        println!("== JS package ==");
        let (js_passed, js_failed) = jstest::test(&mut builder, &options.hosts, options.verbose);
        passed += js_passed;
        failed.extend(js_failed);
        println!("== page ==");
        let (page_passed, page_failed) =
            serve::page_test(&mut builder, &options.hosts, options.verbose);
        passed += page_passed;
        failed.extend(page_failed);
        println!("== dist ==");
        let (dist_passed, dist_failed) = dist::test(&mut builder, &options.hosts, options.verbose);
        passed += dist_passed;
        failed.extend(dist_failed);
        println!("== scale ==");
        let (scale_passed, scale_failed) =
            scale::test(&mut builder, &options.hosts, options.verbose);
        passed += scale_passed;
        failed.extend(scale_failed);
        println!("== torture ==");
        torture_budget(options, &mut builder, &mut passed, &mut failed);
    }
    if !failed.is_empty() {
        println!("failed runs:");
        for label in &failed {
            println!("    {label}");
        }
    }
    println!("{passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::reported())
    }
}

/// The torture budget: [`TEST_COUNT`] seeded schedules on every host x strategy asked
/// for. Eager, lazy and adaptive pass when no schedule is corrupted; `none` passes when some are
/// (the torture can see corruption) and every host corrupts alike.
fn torture_budget(
    options: &Options,
    builder: &mut Builder,
    passed: &mut usize,
    failed: &mut Vec<String>,
) {
    let outcome = match torture::torture(
        builder,
        &options.hosts,
        &options.strategies,
        TEST_SEED,
        TEST_COUNT,
        options.verbose,
    ) {
        Ok(outcome) => outcome,
        Err(error) => {
            println!("FAIL torture: {error}");
            failed.push("torture".into());
            return;
        }
    };
    let mut problem = false;
    for tally in &outcome.tallies {
        let label = format!("torture [{}]", tally.name());
        let why = match tally.strategy() {
            Strategy::None if tally.corrupted() == 0 => Some(
                "no schedule came out corrupted without a strategy, so the torture \
                 cannot tell a broken strategy from a working one"
                    .to_string(),
            ),
            Strategy::None if tally.disagreed() > 0 => Some(format!(
                "{} schedules differ from the first host's",
                tally.disagreed()
            )),
            Strategy::None => None,
            _ if tally.corrupted() > 0 => {
                Some(format!("{} schedules corrupted", tally.corrupted()))
            }
            _ => None,
        };
        match why {
            None => {
                println!("ok   {label}");
                *passed += 1;
            }
            Some(why) => {
                println!("FAIL {label}: {why}");
                problem |= tally.strategy() != Strategy::None || tally.disagreed() > 0;
                failed.push(label);
            }
        }
    }
    println!(
        "torture: {} schedules in all ({TEST_COUNT} per host and strategy, fewer on Chromium; \
         seeds {TEST_SEED}..={}), each round {} tasks of which {} fail on purpose",
        outcome
            .tallies
            .iter()
            .map(|tally| tally.schedules(TEST_COUNT))
            .sum::<u64>(),
        TEST_SEED + TEST_COUNT - 1,
        outcome.tasks,
        outcome.faults
    );
    if problem {
        if let Err(error) = torture::report_first_failure(builder, &outcome, options.verbose) {
            println!("shrinking failed: {error}");
        }
    }
}
