//! The command line: which flags each command takes ([`COMMANDS`], the one table the
//! parser follows and USAGE describes), read with `lexopt`.
//!
//! Why lexopt: it reads `--flag value` and `--flag=value` alike, repeated flags, and
//! non-UTF-8 arguments, with no macros and no dependencies, and leaves every message
//! to us, so that each refusal stays the one line README and the tests give (exit
//! code 2). A derive-based parser (clap) would bring its own wording and a long
//! build; xflags's grammar has no room for values such as `--host all`.

use lexopt::{Arg, Parser, ValueExt as _};

use crate::compile::Strategy;
use crate::hosts::Host;
use crate::{Error, Result};

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

/// What to do.
#[derive(Debug, PartialEq)]
pub enum Command {
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

impl Command {
    /// Whether `-v`/`--verbose` was given (`help` prints nothing else).
    pub fn verbose(&self) -> bool {
        match self {
            Command::Run(options)
            | Command::Test(options)
            | Command::Bless(options)
            | Command::Install(options)
            | Command::Torture { options, .. } => options.verbose,
            Command::Dist { verbose }
            | Command::Bench { verbose, .. }
            | Command::Serve { verbose, .. } => *verbose,
            Command::Help => false,
        }
    }
}

/// A flag beyond `-v`/`--verbose` and `-h`/`--help`, which every command takes.
#[derive(Clone, Copy, PartialEq)]
enum Flag {
    Host,
    Strategy,
    NoMiri,
    Quick,
    Steps,
    Sqlite,
    Seed,
    Count,
    Port,
}

impl Flag {
    const ALL: [Flag; 9] = [
        Flag::Host,
        Flag::Strategy,
        Flag::NoMiri,
        Flag::Quick,
        Flag::Steps,
        Flag::Sqlite,
        Flag::Seed,
        Flag::Count,
        Flag::Port,
    ];

    fn name(self) -> &'static str {
        match self {
            Flag::Host => "host",
            Flag::Strategy => "strategy",
            Flag::NoMiri => "no-miri",
            Flag::Quick => "quick",
            Flag::Steps => "steps",
            Flag::Sqlite => "sqlite",
            Flag::Seed => "seed",
            Flag::Count => "count",
            Flag::Port => "port",
        }
    }
}

/// A command: its name, whether it takes examples, and its flags.
struct Spec {
    name: &'static str,
    examples: bool,
    flags: &'static [Flag],
}

/// Every command and what it takes.
const COMMANDS: [Spec; 8] = [
    Spec {
        name: "run",
        examples: true,
        flags: &[Flag::Host, Flag::Strategy],
    },
    Spec {
        name: "test",
        examples: true,
        flags: &[Flag::Host, Flag::Strategy, Flag::NoMiri],
    },
    Spec {
        name: "bless",
        examples: true,
        flags: &[],
    },
    Spec {
        name: "bench",
        examples: false,
        flags: &[Flag::Quick, Flag::Steps, Flag::Sqlite],
    },
    Spec {
        name: "torture",
        examples: false,
        flags: &[Flag::Seed, Flag::Count, Flag::Host, Flag::Strategy],
    },
    Spec {
        name: "serve",
        examples: false,
        flags: &[Flag::Port],
    },
    Spec {
        name: "dist",
        examples: false,
        flags: &[],
    },
    Spec {
        name: "install",
        examples: false,
        flags: &[],
    },
];

/// Everything the command line set, before it becomes a [`Command`].
struct Parsed {
    options: Options,
    host_given: bool,
    strategy_given: bool,
    quick: bool,
    steps_only: bool,
    sqlite_only: bool,
    seed: u64,
    count: u64,
    port: u16,
}

/// Parses the arguments after `cargo xtask`.
pub fn parse_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command> {
    let mut parser = Parser::from_iter(std::iter::once("xtask".into()).chain(args));
    let name = match parser.next().map_err(bad)? {
        None => {
            eprint!("{}", crate::USAGE);
            return Err(Error::usage("no command given"));
        }
        Some(Arg::Short('h') | Arg::Long("help")) => return Ok(Command::Help),
        Some(Arg::Value(name)) => name.string().map_err(bad)?,
        Some(other) => {
            return Err(Error::usage(format!(
                "{} before the command (see --help)",
                shown(&other)
            )))
        }
    };
    if name == "help" {
        return Ok(Command::Help);
    }
    let spec = COMMANDS.iter().find(|c| c.name == name).ok_or_else(|| {
        Error::usage(format!(
            "unknown command `{name}` (commands: run, test, bless, bench, torture, serve, dist, install; see --help)"
        ))
    })?;
    let mut parsed = Parsed {
        options: Options {
            examples: Vec::new(),
            hosts: Host::ALL.to_vec(),
            strategies: Strategy::ALL.to_vec(),
            strategy_explicit: false,
            verbose: false,
            miri: true,
        },
        host_given: false,
        strategy_given: false,
        quick: false,
        steps_only: false,
        sqlite_only: false,
        seed: 1,
        count: 1000,
        port: 8040,
    };
    while let Some(arg) = parser.next().map_err(bad)? {
        match arg {
            Arg::Short('h') | Arg::Long("help") => return Ok(Command::Help),
            Arg::Short('v') | Arg::Long("verbose") => parsed.options.verbose = true,
            Arg::Long(long) => {
                let flag = Flag::ALL
                    .into_iter()
                    .find(|f| f.name() == long && spec.flags.contains(f))
                    .ok_or_else(|| unknown_option(&format!("--{long}"), spec))?;
                apply(flag, &mut parser, &mut parsed)?;
            }
            Arg::Short(short) => return Err(unknown_option(&format!("-{short}"), spec)),
            Arg::Value(value) => {
                let value = value.string().map_err(bad)?;
                if !spec.examples {
                    return Err(Error::usage(format!(
                        "`cargo xtask {name}` takes no argument, got `{value}`"
                    )));
                }
                if !parsed.options.examples.contains(&value) {
                    parsed.options.examples.push(value);
                }
            }
        }
    }
    Ok(command(spec.name, parsed))
}

/// Sets what `flag` says, reading its value from `parser` when it takes one.
fn apply(flag: Flag, parser: &mut Parser, parsed: &mut Parsed) -> Result<()> {
    let mut value = || -> Result<String> {
        let text = parser
            .value()
            .map_err(|_| Error::usage(format!("--{} needs a value", flag.name())))?;
        text.string().map_err(bad)
    };
    match flag {
        Flag::NoMiri => parsed.options.miri = false,
        Flag::Quick => parsed.quick = true,
        Flag::Steps => parsed.steps_only = true,
        Flag::Sqlite => parsed.sqlite_only = true,
        Flag::Seed => parsed.seed = number(flag, &value()?)?,
        Flag::Count => {
            parsed.count = number(flag, &value()?)?;
            if parsed.count == 0 {
                return Err(Error::usage("--count must be at least 1"));
            }
        }
        Flag::Port => {
            let text = value()?;
            parsed.port = text
                .parse()
                .map_err(|_| Error::usage(format!("--port takes a port number, got `{text}`")))?;
        }
        Flag::Host => add_hosts(&value()?, parsed)?,
        Flag::Strategy => {
            parsed.strategy_given = true;
            (parsed.options.strategies, parsed.options.strategy_explicit) = match value()?.as_str()
            {
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
    }
    Ok(())
}

/// `--host H`: the first replaces the default (every host); more add hosts, in order.
fn add_hosts(value: &str, parsed: &mut Parsed) -> Result<()> {
    let given = match value {
        "all" => Host::ALL.to_vec(),
        one => vec![Host::parse(one).ok_or_else(|| {
            Error::usage(format!(
                "unknown host `{one}` (hosts: {}, all)",
                Host::names()
            ))
        })?],
    };
    if !std::mem::replace(&mut parsed.host_given, true) {
        parsed.options.hosts.clear();
    }
    for host in given {
        if !parsed.options.hosts.contains(&host) {
            parsed.options.hosts.push(host);
        }
    }
    Ok(())
}

/// The [`Command`] named `name`, from what was parsed.
fn command(name: &str, parsed: Parsed) -> Command {
    let Parsed { options, .. } = parsed;
    let verbose = options.verbose;
    match name {
        "run" => Command::Run(options),
        "test" => Command::Test(options),
        "bless" => Command::Bless(options),
        "bench" => Command::Bench {
            verbose,
            quick: parsed.quick,
            steps_only: parsed.steps_only,
            sqlite_only: parsed.sqlite_only,
        },
        "dist" => Command::Dist { verbose },
        "serve" => Command::Serve {
            verbose,
            port: parsed.port,
        },
        "torture" => Command::Torture {
            options: Options {
                // `none` always fails; it runs only when asked for.
                strategies: if parsed.strategy_given {
                    options.strategies
                } else {
                    vec![Strategy::Eager, Strategy::Lazy, Strategy::Adaptive]
                },
                ..options
            },
            seed: parsed.seed,
            count: parsed.count,
        },
        _ => Command::Install(options),
    }
}

fn number(flag: Flag, text: &str) -> Result<u64> {
    text.parse().map_err(|_| {
        Error::usage(format!(
            "--{} takes a whole number, got `{text}`",
            flag.name()
        ))
    })
}

fn unknown_option(option: &str, spec: &Spec) -> Error {
    Error::usage(format!(
        "unknown option `{option}` for `cargo xtask {}` (see --help)",
        spec.name
    ))
}

/// An argument as the user typed it, for messages.
fn shown(arg: &Arg) -> String {
    match arg {
        Arg::Short(c) => format!("-{c}"),
        Arg::Long(l) => format!("--{l}"),
        Arg::Value(v) => v.to_string_lossy().into_owned(),
    }
}

/// lexopt's own errors (a value not UTF-8, `--flag=value` for a flag without one).
fn bad(error: lexopt::Error) -> Error {
    match error {
        lexopt::Error::UnexpectedValue { option, value } => Error::usage(format!(
            "{option} takes no value, got `{}`",
            value.to_string_lossy()
        )),
        lexopt::Error::NonUnicodeValue(value) => {
            Error::usage(format!("argument is not valid UTF-8: {value:?}"))
        }
        other => Error::usage(other.to_string()),
    }
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
