//! `cargo xtask`: builds the guest library and the C examples, runs them on every host
//! and checks their transcripts (the pattern of <https://github.com/matklad/cargo-xtask>).
//!
//! Each command lives in its own module (`run`, `test`, `bless`, `tools` for `install`,
//! `bench`, `torture`, `serve`, `dist`), as do the steps of `test` beyond the examples
//! (`miri`, `badmod`, `jstest`, `scale`, `tidy`); `args` reads the command line, and
//! `ctx` (the root, `--verbose`, cargo and clang), `compile`, `examples`, `hosts`,
//! `process`, `reference` and `diff` are what they share. Every external command runs
//! with the project root as its working directory.

mod args;
mod badmod;
mod bench;
mod bless;
mod compile;
mod ctx;
mod diff;
mod dist;
mod examples;
mod hosts;
mod jstest;
mod miri;
mod process;
mod reference;
mod run;
mod scale;
mod serve;
mod sqlbench;
mod test;
mod tidy;
mod tools;
mod torture;
mod wasmobj;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use args::Options;
use args::{parse_args, Command};
pub use ctx::Ctx;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  run [EXAMPLE...] [--host H] [--strategy S]
                  build and run examples (default: every folder in c-examples/
                  and rust-examples/),
                  print each transcript
  test [EXAMPLE...] [--host H] [--strategy S] [--no-miri]
                  cargo test --workspace, the stack-state tests under Miri, then
                  every example run compared with its expected transcript and
                  every bad module in tests/bad-modules/ refused with its expected
                  error (what CI runs)
  bless [EXAMPLE...]
                  rewrite the expected transcripts from Node 26 (every other host
                  must agree); with no EXAMPLE, also the bad modules' errors
  bench [--quick] [--steps] [--sqlite]
                  run every benchmark (native, wasmtime, Node 26) and print one
                  summary; writes target/bench/summary.md and plot.svg; --quick:
                  only the 16-task schedules; --steps: only 100,000 against
                  1,000,000 scenario steps on every host; --sqlite: only SQLite
                  queries per second with 1, 4 and 16 connections
  torture [--seed S] [--count N] [--host H] [--strategy S]
                  run the torture guest through N seeded random schedules (seeds
                  S..S+N; default 1 and 1000) on each host and strategy (default:
                  eager, lazy and adaptive; eager on the first host always runs,
                  as the reference); exits 1 on any failure and prints the first failing
                  seed with a minimal schedule (saved as target/torture/minimal.json)
  serve [--port P]
                  build the examples and serve the page that draws the shadow
                  stack live on http://127.0.0.1:P (default 8040) until Ctrl-C
  dist            build target/dist/: the guest library per strategy (stripped,
                  only its documented symbols global), jspi.h, jspi_host.h, the
                  JS package's npm tarball and a README with the link lines
  install         install what is missing: wasm32 target, clang-19, lld-19,
                  llvm-19, wasi-libc, compiler-rt for wasm32, Node, the nightly
                  toolchain with Miri, wasm-bindgen-cli

  EXAMPLE is a folder in c-examples/ or rust-examples/ (name or unique prefix,
  like 04 or rs-04) or a path to a folder with a scenario.json and either *.c
  files or a Cargo.toml (a Rust guest crate).

options:
  --host node24|node26|wasmtime|chromium|firefox|all (default: all; repeat
                                    it for several hosts, the first one first)
  --strategy none|eager|lazy|adaptive|all
                                    (default: all the example allows)
  --no-miri                         test: skip Miri (a quick local run; CI runs it)
  -v, --verbose                     print each external command before running it
  -h, --help                        print this help
";

/// Why a command stopped: the message printed after `error: `, and the exit code.
#[derive(Debug)]
pub struct Error {
    /// Printed as `error: MESSAGE`; `None` when everything was already printed.
    message: Option<String>,
    code: u8,
}

impl Error {
    /// Bad input from the user (arguments, example folders, scenarios): exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            message: Some(message.into()),
            code: 2,
        }
    }

    /// Something that was asked for failed (a tool, a build, a run): exit code 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Error {
            message: Some(message.into()),
            code: 1,
        }
    }

    /// A failure already reported in full on the output: exit code 1, nothing more said.
    pub fn reported() -> Self {
        Error {
            message: None,
            code: 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.as_deref().unwrap_or("failed"))
    }
}

/// The result of every fallible xtask step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The workspace root: the parent of this crate's manifest directory.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// `path` relative to the project root when it lies inside it, for messages and
/// command lines; otherwise `path` itself.
pub fn rel(path: &Path) -> PathBuf {
    let root = project_root();
    path.strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

fn main() -> ExitCode {
    let result = parse_args(std::env::args_os().skip(1)).and_then(|command| {
        let ctx = Ctx::new(command.verbose());
        match command {
            Command::Run(options) => run::run(&ctx, &options),
            Command::Test(options) => test::test(&ctx, &options),
            Command::Bless(options) => bless::bless(&ctx, &options),
            Command::Install(_) => tools::install(&ctx),
            Command::Dist { .. } => dist::dist(&ctx),
            Command::Serve { port, .. } => serve::serve(port, &ctx),
            Command::Bench {
                quick,
                steps_only,
                sqlite_only,
                ..
            } => bench::bench(&ctx, quick, steps_only, sqlite_only),
            Command::Torture {
                options,
                seed,
                count,
            } => torture::command(&ctx, &options, seed, count),
            Command::Help => {
                print!("{USAGE}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(message) = &error.message {
                eprintln!("error: {message}");
            }
            ExitCode::from(error.code)
        }
    }
}
