//! The one context every xtask step shares: the project root, whether to print each
//! external command (`--verbose`), and the cargo and clang it runs. `main` builds it
//! once from the parsed command line and hands `&Ctx` down.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// What every step needs to know about this run of `cargo xtask`.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The workspace root, every external command's working directory
    /// ([`crate::project_root`]).
    pub root: PathBuf,
    /// Print each external command before running it (`-v`, `--verbose`).
    pub verbose: bool,
    /// The cargo to run: `CARGO` (set by the cargo that runs `cargo xtask`), else `cargo`.
    cargo: OsString,
    /// The C compiler: `JSPI_CLANG` if set (the variable `guest/jspi/build.rs` honours
    /// too), else `clang-19`, which `cargo xtask install` puts on PATH.
    clang: OsString,
}

impl Ctx {
    /// The context of this process: the root from this crate's manifest, cargo and
    /// clang from the environment.
    pub fn new(verbose: bool) -> Self {
        Ctx {
            root: crate::project_root(),
            verbose,
            cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            clang: std::env::var_os("JSPI_CLANG").unwrap_or_else(|| "clang-19".into()),
        }
    }

    /// This context with `verbose` in place of `--verbose`, for a step that always
    /// (or never) prints its commands.
    pub fn with_verbose(&self, verbose: bool) -> Ctx {
        Ctx {
            verbose,
            ..self.clone()
        }
    }

    /// A new `cargo` command.
    pub fn cargo(&self) -> Command {
        Command::new(&self.cargo)
    }

    /// A new clang command.
    pub fn clang(&self) -> Command {
        Command::new(&self.clang)
    }
}
