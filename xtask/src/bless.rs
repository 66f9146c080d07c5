//! `cargo xtask bless`: rewrites the expected transcripts next to each example from
//! its runs on Node 26, after checking that every other host prints the same.
//!
//! One `expected.txt` when all the example's strategies agree, otherwise one
//! `expected.<strategy>.txt` per strategy; files the new set does not need are removed.
//! An example whose runs fail, or whose hosts disagree, is left untouched.
//!
//! With no example named, it also writes each bad module's expected error
//! (`badmod::bless`), under the same rule.

use std::fs;
use std::path::PathBuf;

use crate::compile::{Builder, Strategy};
use crate::examples::{self, Example};
use crate::hosts::Host;
use crate::reference::{hosts_in_order, report_disagreement, write_file, REFERENCE};
use crate::run::{check_hosts, each_run, label as label_of, Outcome};
use crate::Ctx;
use crate::{badmod, rel, tools, Error, Options, Result};

/// Blesses every chosen example (and, when none is named, every bad module); fails if
/// any could not be blessed.
pub fn bless(ctx: &Ctx, options: &Options) -> Result<()> {
    let examples = examples::resolve(&options.examples)?;
    let whole = options.examples.is_empty();
    tools::ensure(ctx)?;
    if examples.is_empty() {
        println!("no examples in c-examples/ or rust-examples/");
    }
    check_hosts(&Host::ALL, ctx)?;

    let mut builder = Builder::new(ctx);
    let mut refused = Vec::new();
    for example in &examples {
        match transcripts(example, &mut builder) {
            Some(transcripts) => write(example, &transcripts)?,
            None => {
                eprintln!(
                    "error: not blessing {}: see above; its files are unchanged",
                    example.name
                );
                refused.push(example.name.clone());
            }
        }
    }
    if whole {
        refused.extend(badmod::bless(&mut builder)?);
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(Error::failure(format!(
            "not blessed: {}",
            refused.join(", ")
        )))
    }
}

/// The reference transcript of each allowed strategy, or `None` (after saying why) if a
/// build or run failed or two hosts disagree.
fn transcripts(example: &Example, builder: &mut Builder) -> Option<Vec<(Strategy, String)>> {
    let mut transcripts = Vec::new();
    let mut ok = true;
    for &strategy in &example.strategies {
        let mut reference: Option<String> = None;
        let hosts = hosts_in_order().filter(|&h| example.runs_on(h));
        let mut build_reported = false;
        each_run(builder, example, strategy, hosts, |host, label, outcome| {
            ok &= matches!(&outcome, Outcome::Ran(result) if result.failure.is_none());
            let result = match outcome {
                Outcome::BuildFailed(message) => {
                    if !std::mem::replace(&mut build_reported, true) {
                        let name = &example.name;
                        eprintln!(
                            "error: {name} [{}]: build failed: {message}",
                            strategy.name()
                        );
                    }
                    return;
                }
                Outcome::NotRun(error) => return eprintln!("error: {label}: {error}"),
                Outcome::Ran(result) => result,
            };
            if let Some(failure) = result.failure {
                return eprintln!("error: {label}: {failure}");
            }
            match &reference {
                None if host == REFERENCE => reference = Some(result.transcript),
                None => {}
                Some(expected) if *expected != result.transcript => {
                    let reference_label = label_of(example, REFERENCE, strategy);
                    report_disagreement(
                        host,
                        &label,
                        expected,
                        &result.transcript,
                        &reference_label,
                    );
                    ok = false;
                }
                Some(_) => {}
            }
        });
        if let Some(reference) = reference {
            transcripts.push((strategy, reference));
        }
    }
    ok.then_some(transcripts)
}

/// Writes the expected files for `transcripts` and removes the ones no longer needed.
fn write(example: &Example, transcripts: &[(Strategy, String)]) -> Result<()> {
    let shared = transcripts.windows(2).all(|pair| pair[0].1 == pair[1].1);
    let files: Vec<(PathBuf, &str)> = if shared {
        vec![(example.expected_shared(), transcripts[0].1.as_str())]
    } else {
        transcripts
            .iter()
            .map(|(s, text)| (example.expected_for(*s), text.as_str()))
            .collect()
    };
    for (path, text) in &files {
        write_file(path, text)?;
    }
    let candidates = std::iter::once(example.expected_shared())
        .chain(Strategy::ALL.map(|s| example.expected_for(s)));
    for stale in candidates {
        if stale.is_file() && !files.iter().any(|(path, _)| *path == stale) {
            let shown = rel(&stale);
            fs::remove_file(&stale)
                .map_err(|e| Error::failure(format!("removing {}: {e}", shown.display())))?;
            println!("removed {}", shown.display());
        }
    }
    Ok(())
}
