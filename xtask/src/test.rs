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

use crate::compile::Builder;
use crate::compile::Strategy;
use crate::examples::Example;
use crate::run::{check_hosts, each_run, label, strategies_for, Outcome};
use crate::torture::{self, TEST_COUNT, TEST_SEED};
use crate::Ctx;
use crate::{
    badmod, diff, dist, examples, jstest, miri, process, rel, scale, serve, tools, Error, Options,
    Result,
};

/// Runs the workspace tests, Miri, the example matrix, the bad modules, then the
/// torture budget.
pub fn test(ctx: &Ctx, options: &Options) -> Result<()> {
    let examples = examples::resolve(&options.examples)?;
    // The bad modules belong to a whole run, not to a chosen few examples.
    let bad_modules = if options.examples.is_empty() {
        badmod::cases()?
    } else {
        Vec::new()
    };
    tools::ensure(ctx)?;
    if options.miri {
        tools::ensure_miri(ctx)?;
    }
    if !examples.is_empty() || !bad_modules.is_empty() {
        check_hosts(&options.hosts, ctx)?;
    }
    workspace_tests(ctx)?;
    if options.miri {
        println!("== miri ({}) ==", tools::MIRI_TOOLCHAIN);
        miri::test(ctx)?;
    } else {
        println!("== miri: skipped (--no-miri) ==");
    }

    println!("== examples ==");
    let mut builder = Builder::new(ctx);
    let mut tally = Tally::default();
    for example in &examples {
        example_runs(example, options, &mut builder, &mut tally)?;
    }
    if !bad_modules.is_empty() {
        println!("== bad modules ==");
        let (passed, failed) = badmod::test(&bad_modules, &options.hosts, &mut builder)?;
        tally.add(passed, failed);
    }
    if options.examples.is_empty() {
        whole_run_checks(options, &mut builder, &mut tally);
    }
    tally.finish()
}

/// Checks passed, and the labels of those that failed.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
}

impl Tally {
    fn add(&mut self, passed: usize, failed: Vec<String>) {
        self.passed += passed;
        self.failed.extend(failed);
    }

    /// Prints the failures and `N passed, M failed`; fails if any did.
    fn finish(self) -> Result<()> {
        if !self.failed.is_empty() {
            println!("failed runs:");
            for label in &self.failed {
                println!("    {label}");
            }
        }
        println!("{} passed, {} failed", self.passed, self.failed.len());
        if self.failed.is_empty() {
            Ok(())
        } else {
            Err(Error::reported())
        }
    }
}

/// `cargo test --workspace`, which must pass before anything else runs.
fn workspace_tests(ctx: &Ctx) -> Result<()> {
    println!("== cargo test --workspace ==");
    let mut cargo = ctx.cargo();
    cargo.args(["test", "--workspace"]).current_dir(&ctx.root);
    if ctx.verbose {
        println!("running: {}", process::display(&cargo));
    }
    let status = cargo
        .status()
        .map_err(|e| Error::failure(format!("could not start `cargo test --workspace`: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::failure(format!(
            "`cargo test --workspace` failed ({status})"
        )))
    }
}

/// Every run of `example` (each strategy it allows that was asked for, on each host),
/// each transcript compared with its expected file.
fn example_runs(
    example: &Example,
    options: &Options,
    builder: &mut Builder,
    tally: &mut Tally,
) -> Result<()> {
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
                tally.failed.push(label(example, host, strategy));
            }
        }
        return Ok(());
    }
    for strategy in strategies {
        let expected_path = example.expected_path(strategy);
        let expected = fs::read_to_string(&expected_path).map_err(|e| {
            Error::failure(format!("reading {}: {e}", rel(&expected_path).display()))
        })?;
        let shown = rel(&expected_path).display().to_string();
        let hosts = example.hosts(&options.hosts);
        each_run(builder, example, strategy, hosts, |_, label, outcome| {
            let result = match outcome {
                Outcome::BuildFailed(message) => {
                    println!("FAIL {label}: build failed: {message}");
                    return tally.failed.push(label);
                }
                Outcome::NotRun(error) => {
                    println!("FAIL {label}: {error}");
                    return tally.failed.push(label);
                }
                Outcome::Ran(result) => result,
            };
            let transcript = format!("{label} transcript");
            let diff = diff::unified(&expected, &result.transcript, &shown, &transcript);
            match (&result.failure, diff.is_empty()) {
                (None, true) => {
                    println!("ok   {label}");
                    tally.passed += 1;
                    return;
                }
                (Some(failure), _) => println!("FAIL {label}: {failure}"),
                (None, false) => println!("FAIL {label}: the transcript differs"),
            }
            print!("{diff}");
            tally.failed.push(label);
        });
    }
    Ok(())
}

/// What only a whole run (no example named) checks: the JS package, the page, the
/// distribution, the scale checks and the torture budget.
fn whole_run_checks(options: &Options, builder: &mut Builder, tally: &mut Tally) {
    type Check = fn(&mut Builder, &[crate::hosts::Host]) -> (usize, Vec<String>);
    let checks: [(&str, Check); 4] = [
        ("JS package", jstest::test),
        ("page", serve::page_test),
        ("dist", dist::test),
        ("scale", scale::test),
    ];
    for (title, check) in checks {
        println!("== {title} ==");
        let (passed, failed) = check(builder, &options.hosts);
        tally.add(passed, failed);
    }
    println!("== torture ==");
    torture_budget(options, builder, &mut tally.passed, &mut tally.failed);
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
        if let Err(error) = torture::report_first_failure(builder, &outcome) {
            println!("shrinking failed: {error}");
        }
    }
}
