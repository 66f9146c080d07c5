//! `cargo xtask run`: builds each chosen example with each chosen strategy, runs it on
//! each chosen host and prints the transcript under a `== NAME [host, strategy] ==`
//! header.

use crate::compile::{Builder, Strategy};
use crate::examples::{self, Example};
use crate::hosts::Host;
use crate::{tools, Error, Options, Result};

/// Runs the matrix; fails (after every run) if any build or run failed.
pub fn run(options: &Options) -> Result<()> {
    let examples = examples::resolve(&options.examples)?;
    tools::ensure(options.verbose)?;
    if examples.is_empty() {
        println!("no examples in c-examples/ or rust-examples/");
        return Ok(());
    }
    check_hosts(&options.hosts, options.verbose)?;

    let mut builder = Builder::new(options.verbose);
    let mut total = 0;
    let mut failed = Vec::new();
    for example in &examples {
        if let Some(description) = &example.description {
            println!("{}: {description}", example.name);
        }
        for strategy in strategies_for(example, options) {
            let wasm = builder.wasm(example, strategy);
            for host in example.hosts(&options.hosts) {
                total += 1;
                let label = label(example, host, strategy);
                let wasm = match &wasm {
                    Ok(wasm) => wasm,
                    Err(message) => {
                        eprintln!("error: {label}: build failed: {message}");
                        failed.push(label);
                        continue;
                    }
                };
                println!("== {label} ==");
                let result = match host.run(wasm, &example.scenario, options.verbose) {
                    Ok(result) => result,
                    Err(error) => {
                        eprintln!("error: {label}: {error}");
                        failed.push(label);
                        continue;
                    }
                };
                print!("{}", result.transcript);
                if !result.transcript.is_empty() && !result.transcript.ends_with('\n') {
                    println!();
                }
                if let Some(failure) = result.failure {
                    eprintln!("error: {label}: {failure}");
                    failed.push(label);
                }
            }
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
pub fn check_hosts(hosts: &[Host], verbose: bool) -> Result<()> {
    hosts.iter().try_for_each(|host| host.check(verbose))
}
