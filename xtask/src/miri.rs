//! The Miri step of `cargo xtask test`: `guest/stack-state`'s tests under Miri, on a
//! pinned nightly toolchain (`tools::ensure_miri` installs it with the `miri` and
//! `rust-src` components).
//!
//! The unit tests (`--lib`) and the model tests (`--test model`, which shrink their
//! case counts and schedules under `cfg(miri)`) are built once, then run as two
//! processes at the same time: each is a single interpreter thread, and they take
//! about as long as each other, so on two cores the step takes the time of the
//! slower one. Each run's output is printed when it ends, one after the other.
//! The model test that needs many long schedules is ignored under Miri.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{self, Captured};
use crate::tools::MIRI_TOOLCHAIN;
use crate::{Ctx, Error, Result};

/// How long one Miri test binary may run (each takes 2-3 minutes on 2 cores).
const RUN_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The test binaries to run, as `cargo test` selects them.
const BINARIES: [&[&str]; 2] = [&["--lib"], &["--test", "model"]];

/// `rustup run <pinned nightly> cargo miri test -p stack-state`, with `args` after it.
fn cargo_miri(args: &[&str]) -> Command {
    let mut command = Command::new("rustup");
    command
        .args([
            "run",
            MIRI_TOOLCHAIN,
            "cargo",
            "miri",
            "test",
            "-p",
            "stack-state",
        ])
        .args(args);
    // `cargo xtask` runs under the pinned stable toolchain: its cargo set `CARGO` and
    // rustup's proxy set `RUSTUP_TOOLCHAIN*` for this process. cargo-miri would take
    // the stable cargo from `CARGO`; the nightly's own cargo sets it afresh.
    for var in ["CARGO", "RUSTUP_TOOLCHAIN", "RUSTUP_TOOLCHAIN_SOURCE"] {
        command.env_remove(var);
    }
    command
}

/// Builds the tests under Miri, then runs both binaries; fails if any of it fails.
/// Every command is printed before it runs, and how long it took after.
pub fn test(ctx: &Ctx) -> Result<()> {
    let start = Instant::now();
    // Verbose: printed first, its output (the sysroot build, when Miri needs one) shown.
    process::run_checked(&mut cargo_miri(&["--no-run"]), &ctx.with_verbose(true))
        .map_err(|e| Error::failure(format!("building the Miri tests failed: {e}")))?;
    println!("miri: built in {} s", start.elapsed().as_secs());

    type Run = thread::JoinHandle<(Result<Captured>, Duration)>;
    let runs: Vec<(String, Run)> = BINARIES
        .iter()
        .map(|args| {
            let mut command = cargo_miri(args);
            let shown = process::display(&command);
            println!("running: {shown}");
            let quiet = ctx.with_verbose(false);
            let run = thread::spawn(move || {
                let start = Instant::now();
                let captured = process::capture(&mut command, RUN_LIMIT, &quiet);
                (captured, start.elapsed())
            });
            (shown, run)
        })
        .collect();
    let mut failed = Vec::new();
    for (shown, run) in runs {
        let (captured, took) = run
            .join()
            .map_err(|_| Error::failure(format!("the thread running `{shown}` panicked")))?;
        let captured = captured?;
        println!("-- {shown} ({} s)", took.as_secs());
        print!("{}", captured.stderr);
        print!("{}", captured.stdout);
        match captured.status {
            Some(status) if status.success() => {}
            Some(status) => failed.push(format!("`{shown}` failed ({status})")),
            None => failed.push(format!(
                "`{shown}` was killed after {} s",
                RUN_LIMIT.as_secs()
            )),
        }
    }
    if !failed.is_empty() {
        return Err(Error::failure(failed.join("; ")));
    }
    println!("miri: passed in {} s", start.elapsed().as_secs());
    Ok(())
}
