//! `cargo xtask`: builds the guest library and the C examples, runs them on every host
//! and checks their transcripts (the pattern of <https://github.com/matklad/cargo-xtask>).
//!
//! Each command lives in its own module (`run`, `test`, `bless`, `tools` for `install`,
//! `bench`), as do the steps of `test` beyond the examples (`miri`, `badmod`);
//! `compile`, `examples`, `hosts`, `process` and `diff` are what they share. Every
//! external command runs with the project root as its working directory.

mod badmod;
mod bench;
mod bless;
mod browser;
mod compile;
mod diff;
mod dist;
mod examples;
mod hosts;
mod jstest;
mod miri;
mod process;
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

use compile::Strategy;
use hosts::Host;

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

/// The parsed command line of `run`, `test`, `bless` and `install`.
#[derive(Debug, PartialEq)]
pub struct Options {
    /// Example names, prefixes or paths as given (empty: every example).
    pub examples: Vec<String>,
    /// Hosts to run on, in a fixed order.
    pub hosts: Vec<Host>,
    /// Strategies asked for, in a fixed order.
    pub strategies: Vec<Strategy>,
    /// Whether `--strategy` named one strategy (then an excluded one is reported).
    pub strategy_explicit: bool,
    /// Print each external command before running it.
    pub verbose: bool,
    /// `test` runs the Miri step (`--no-miri` turns it off).
    pub miri: bool,
}

#[derive(Debug, PartialEq)]
enum Command {
    Run(Options),
    Test(Options),
    Bless(Options),
    Install(Options),
    Dist {
        verbose: bool,
    },
    Bench {
        verbose: bool,
        quick: bool,
        steps_only: bool,
        sqlite_only: bool,
    },
    Serve {
        verbose: bool,
        port: u16,
    },
    Torture {
        options: Options,
        seed: u64,
        count: u64,
    },
    Help,
}

fn main() -> ExitCode {
    let result = parse_args(std::env::args_os().skip(1)).and_then(|command| match command {
        Command::Run(options) => run::run(&options),
        Command::Test(options) => test::test(&options),
        Command::Bless(options) => bless::bless(&options),
        Command::Install(options) => tools::install(options.verbose),
        Command::Dist { verbose } => dist::dist(verbose),
        Command::Serve { verbose, port } => serve::serve(port, verbose),
        Command::Bench {
            verbose,
            quick,
            steps_only,
            sqlite_only,
        } => bench::bench(verbose, quick, steps_only, sqlite_only),
        Command::Torture {
            options,
            seed,
            count,
        } => torture::command(&options, seed, count),
        Command::Help => {
            print!("{USAGE}");
            Ok(())
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

fn parse_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command> {
    let mut args = args
        .into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| Error::usage(format!("argument is not valid UTF-8: {arg:?}")))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter();
    let Some(name) = args.next() else {
        eprint!("{USAGE}");
        return Err(Error::usage("no command given"));
    };
    if name == "-h" || name == "--help" || name == "help" {
        return Ok(Command::Help);
    }
    let (takes_examples, takes_matrix) = match name.as_str() {
        "run" | "test" => (true, true),
        "torture" => (false, true),
        "bless" => (true, false),
        "install" | "bench" | "serve" | "dist" => (false, false),
        other => {
            return Err(Error::usage(format!(
                "unknown command `{other}` (commands: run, test, bless, bench, torture, serve, dist, install; see --help)"
            )))
        }
    };
    let mut port = 8040u16;
    let (mut quick, mut steps_only, mut sqlite_only) = (false, false, false);
    let (mut seed, mut count) = (1u64, 1000u64);
    let (mut strategy_given, mut host_given) = (false, false);
    let mut options = Options {
        examples: Vec::new(),
        hosts: Host::ALL.to_vec(),
        strategies: Strategy::ALL.to_vec(),
        strategy_explicit: false,
        verbose: false,
        miri: true,
    };
    while let Some(arg) = args.next() {
        // `--flag=value` and `--flag value` are both accepted.
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |flag: &str| {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| Error::usage(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-v" | "--verbose" if inline_value.is_none() => options.verbose = true,
            "--quick" if name == "bench" && inline_value.is_none() => quick = true,
            "--steps" if name == "bench" && inline_value.is_none() => steps_only = true,
            "--sqlite" if name == "bench" && inline_value.is_none() => sqlite_only = true,
            "--seed" | "--count" if name == "torture" => {
                let text = value(&flag)?;
                let number: u64 = text.parse().map_err(|_| {
                    Error::usage(format!("{flag} takes a whole number, got `{text}`"))
                })?;
                if flag == "--seed" {
                    seed = number;
                } else if number == 0 {
                    return Err(Error::usage("--count must be at least 1"));
                } else {
                    count = number;
                }
            }
            "--port" if name == "serve" => {
                let text = value(&flag)?;
                port = text.parse().map_err(|_| {
                    Error::usage(format!("--port takes a port number, got `{text}`"))
                })?;
            }
            "--no-miri" if name == "test" && inline_value.is_none() => options.miri = false,
            "--host" if takes_matrix => {
                let value = value("--host")?;
                let given = match value.as_str() {
                    "all" => Host::ALL.to_vec(),
                    one => vec![Host::parse(one).ok_or_else(|| {
                        Error::usage(format!(
                            "unknown host `{one}` (hosts: {}, all)",
                            Host::names()
                        ))
                    })?],
                };
                // The first --host replaces the default; more of them add hosts, in order.
                if !host_given {
                    options.hosts.clear();
                    host_given = true;
                }
                for host in given {
                    if !options.hosts.contains(&host) {
                        options.hosts.push(host);
                    }
                }
            }
            "--strategy" if takes_matrix => {
                strategy_given = true;
                let value = value("--strategy")?;
                (options.strategies, options.strategy_explicit) = match value.as_str() {
                    "all" => (Strategy::ALL.to_vec(), false),
                    one => (
                        vec![Strategy::parse(one).ok_or_else(|| {
                            Error::usage(format!(
                                "unknown strategy `{one}` (strategies: {}, all)",
                                Strategy::names()
                            ))
                        })?],
                        true,
                    ),
                };
            }
            _ if arg.starts_with('-') => {
                return Err(Error::usage(format!(
                    "unknown option `{arg}` for `cargo xtask {name}` (see --help)"
                )))
            }
            _ if takes_examples => {
                if !options.examples.contains(&arg) {
                    options.examples.push(arg);
                }
            }
            _ => {
                return Err(Error::usage(format!(
                    "`cargo xtask {name}` takes no argument, got `{arg}`"
                )))
            }
        }
    }
    Ok(match name.as_str() {
        "run" => Command::Run(options),
        "test" => Command::Test(options),
        "bless" => Command::Bless(options),
        "bench" => Command::Bench {
            verbose: options.verbose,
            quick,
            steps_only,
            sqlite_only,
        },
        "dist" => Command::Dist {
            verbose: options.verbose,
        },
        "serve" => Command::Serve {
            verbose: options.verbose,
            port,
        },
        "torture" => Command::Torture {
            options: Options {
                // `none` always fails; it runs only when asked for.
                strategies: if strategy_given {
                    options.strategies
                } else {
                    vec![Strategy::Eager, Strategy::Lazy, Strategy::Adaptive]
                },
                ..options
            },
            seed,
            count,
        },
        _ => Command::Install(options),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command> {
        parse_args(args.iter().map(Into::into))
    }

    #[test]
    fn defaults_are_every_host_and_strategy() {
        let Ok(Command::Run(options)) = parse(&["run"]) else {
            panic!()
        };
        assert_eq!(options.hosts, Host::ALL);
        assert_eq!(options.strategies, Strategy::ALL);
        assert!(!options.strategy_explicit && !options.verbose && options.examples.is_empty());
        assert!(options.miri);
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let Ok(Command::Test(options)) = parse(&[
            "test",
            "04",
            "--host=node26",
            "--strategy",
            "lazy",
            "-v",
            "04",
            "--no-miri",
        ]) else {
            panic!()
        };
        assert_eq!(options.examples, ["04"]);
        assert_eq!(options.hosts, [Host::Node26]);
        assert_eq!(options.strategies, [Strategy::Lazy]);
        assert!(options.strategy_explicit && options.verbose && !options.miri);
    }

    #[test]
    fn repeated_hosts_add_up_in_order() {
        let Ok(Command::Torture { options, .. }) = parse(&[
            "torture",
            "--host",
            "node26",
            "--host=wasmtime",
            "--host",
            "node26",
        ]) else {
            panic!()
        };
        assert_eq!(options.hosts, [Host::Node26, Host::Wasmtime]);
    }

    #[test]
    fn serve_takes_a_port_and_hosts_include_the_browsers() {
        assert_eq!(
            parse(&["serve", "--port=9000"]).unwrap(),
            Command::Serve {
                verbose: false,
                port: 9000
            }
        );
        let Ok(Command::Run(options)) = parse(&["run", "--host", "firefox"]) else {
            panic!()
        };
        assert_eq!(options.hosts, [Host::Firefox]);
        assert!(Host::ALL.contains(&Host::Chromium));
    }

    #[test]
    fn bad_input_exits_with_2() {
        for args in [
            &["run", "--frobnicate"][..],
            &["run", "--host"],
            &["run", "--host", "node20"],
            &["test", "--strategy=greedy"],
            &["bless", "--host", "node24"],
            &["run", "--no-miri"],
            &["install", "extra"],
            &["torture", "--count", "0"],
            &["torture", "--seed", "-1"],
            &["torture", "04"],
            &["run", "--seed", "3"],
            &["serve", "--port", "http"],
            &["serve", "04"],
            &["run", "--port", "8040"],
            &["run", "--host", "safari"],
            &["launch"],
            &[],
        ] {
            let error = parse(args).expect_err("should be refused");
            assert_eq!(error.code, 2, "{args:?}");
        }
    }
}
