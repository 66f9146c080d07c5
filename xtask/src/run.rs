//! `cargo xtask run`: builds each chosen example with each chosen strategy, runs it on
//! each chosen host and prints the transcript under a `== NAME [host, strategy] ==`
//! header.

use crate::compile::{Builder, Strategy};
use crate::examples::{self, Example};
use crate::hosts::{Host, RunResult};
use crate::Ctx;
use crate::{tools, Error, Options, Result};

/// Runs the matrix; fails (after every run) if any build or run failed.
pub fn run(ctx: &Ctx, options: &Options) -> Result<()> {
    let examples = examples::resolve(&options.examples)?;
    tools::ensure(ctx)?;
    if examples.is_empty() {
        println!("no examples in c-examples/ or rust-examples/");
        return Ok(());
    }
    check_hosts(&options.hosts, ctx)?;

    let mut builder = Builder::new(ctx);
    let mut total = 0;
    let mut failed = Vec::new();
    for example in &examples {
        if let Some(description) = &example.description {
            println!("{}: {description}", example.name);
        }
        for strategy in strategies_for(example, options) {
            let hosts = example.hosts(&options.hosts);
            each_run(
                &mut builder,
                example,
                strategy,
                hosts,
                |_, label, outcome| {
                    total += 1;
                    let result = match outcome {
                        Outcome::BuildFailed(message) => {
                            eprintln!("error: {label}: build failed: {message}");
                            return failed.push(label);
                        }
                        Outcome::NotRun(error) => {
                            eprintln!("error: {label}: {error}");
                            return failed.push(label);
                        }
                        Outcome::Ran(result) => result,
                    };
                    println!("== {label} ==");
                    print!("{}", result.transcript);
                    if !result.transcript.is_empty() && !result.transcript.ends_with('\n') {
                        println!();
                    }
                    if let Some(failure) = result.failure {
                        eprintln!("error: {label}: {failure}");
                        failed.push(label);
                    }
                },
            );
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(Error::failure(format!(
        "{} of {total} runs failed: {}",
        failed.len(),
        failed.join(", ")
    )))
}

/// What became of one run of the matrix (an example built with a strategy, on a host).
pub enum Outcome {
    /// The module did not build: the same message for every host of its strategy.
    BuildFailed(String),
    /// The host could not run it (its runner did not start, or the time limit).
    NotRun(Error),
    /// It ran, successfully or not ([`RunResult::failure`]).
    Ran(RunResult),
}

/// The one loop of `run`, `test` and `bless`: builds `example` with `strategy` once,
/// runs it on each of `hosts` in order, and hands `each` the host, the run's label
/// ([`label`]) and what became of it.
pub fn each_run(
    builder: &mut Builder,
    example: &Example,
    strategy: Strategy,
    hosts: impl IntoIterator<Item = Host>,
    mut each: impl FnMut(Host, String, Outcome),
) {
    let ctx = builder.ctx();
    let wasm = builder.wasm(example, strategy);
    for host in hosts {
        let label = label(example, host, strategy);
        let outcome = match &wasm {
            Err(message) => Outcome::BuildFailed(message.clone()),
            Ok(wasm) => match host.run(wasm, &example.scenario, ctx) {
                Ok(result) => Outcome::Ran(result),
                Err(error) => Outcome::NotRun(error),
            },
        };
        each(host, label, outcome);
    }
}

/// `NAME [host, strategy]`, as headers and reports name one run.
pub fn label(example: &Example, host: Host, strategy: Strategy) -> String {
    format!("{} [{}, {}]", example.name, host.name(), strategy.name())
}

/// The strategies to run `example` with: those asked for that its scenario allows.
/// A strategy named explicitly with `--strategy` but excluded is reported as skipped.
pub fn strategies_for(example: &Example, options: &Options) -> Vec<Strategy> {
    let mut chosen = Vec::new();
    for &strategy in &options.strategies {
        if example.strategies.contains(&strategy) {
            chosen.push(strategy);
        } else if options.strategy_explicit {
            let allowed: Vec<&str> = example.strategies.iter().map(|s| s.name()).collect();
            println!(
                "{} [{}]: skipped: its scenario allows only {}",
                example.name,
                strategy.name(),
                allowed.join(", ")
            );
        }
    }
    chosen
}

/// Checks that every host about to run is ready (its runner files exist).
pub fn check_hosts(hosts: &[Host], ctx: &Ctx) -> Result<()> {
    hosts.iter().try_for_each(|host| host.check(ctx))
}
