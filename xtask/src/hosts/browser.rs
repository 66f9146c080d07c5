//! The browser hosts (`chromium`, `firefox`): one driver process per browser for a
//! whole xtask command, started on its first run and ended when xtask exits.
//!
//! The driver (`host/js/browser/driver.mjs --jobs`, on Node 26) keeps a static server
//! on 127.0.0.1 and one headless browser, and runs each module there through the
//! shared scenario core (`host/js/play.mjs`). Starting Firefox takes about 4 s and
//! Chromium about 0.5 s, against tens of milliseconds per run once started, so a
//! command that runs a hundred modules starts each browser once:
//!
//! ```text
//! xtask ──stdin──▶ driver.mjs ──CDP / WebDriver BiDi──▶ browser ──HTTP──▶ server
//!   {"module": M, "scenario": S, "limit_ms": N}        run.html: play(M, S)
//! xtask ◀─stdout── {"stdout": ..., "stderr": ..., "code": N}
//! ```
//!
//! When xtask exits, the driver's stdin closes and it closes its browser. A driver that
//! dies or overruns is dropped and the next run starts a new one.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use super::Host;
use crate::Ctx;
use crate::{process, rel, Error, Result};

/// The driver, relative to the project root.
pub const DRIVER: &str = "host/js/browser/driver.mjs";

/// How much longer than a run's own limit xtask waits for the driver's answer (it
/// reports an overrun itself; this covers a driver that hangs).
const GRACE: Duration = Duration::from_secs(30);

/// What one run in a browser printed, as the driver reports it.
pub struct Answer {
    pub stdout: String,
    pub stderr: String,
    /// The exit code the Node runner would have; `None` when the run overran.
    pub code: Option<i32>,
}

struct Session {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

/// The running drivers, by host. A `static` so that one command's many runs share
/// them; never dropped, so each driver lives until xtask exits and its stdin closes.
static SESSIONS: Mutex<Option<HashMap<Host, Session>>> = Mutex::new(None);

/// The binary of a browser host, from its Debian package.
pub fn executable(host: Host) -> Option<&'static str> {
    match host {
        Host::Chromium => Some("/usr/lib/chromium/chromium-headless-shell"),
        Host::Firefox => Some("/usr/lib/firefox-esr/firefox-esr"),
        _ => None,
    }
}

/// The driver's command line for `host`, without the run's files or `--jobs`.
pub fn driver_command(host: Host) -> Command {
    let node = Host::Node26
        .node()
        .expect("Node 26 is a Node host")
        .binary();
    let mut command = Command::new(node);
    command
        .arg(DRIVER)
        .args(["--browser", host.name()])
        .args(["--executable", executable(host).unwrap_or_default()]);
    command
}

fn start(host: Host, ctx: &Ctx) -> Result<Session> {
    let mut command = driver_command(host);
    command.arg("--jobs");
    let dir = ctx.root.join("target/browser");
    fs::create_dir_all(&dir)
        .map_err(|e| Error::failure(format!("creating {}: {e}", rel(&dir).display())))?;
    let log_path = dir.join(format!("{}-driver.log", host.name()));
    let log = File::create(&log_path)
        .map_err(|e| Error::failure(format!("creating {}: {e}", rel(&log_path).display())))?;
    command
        .current_dir(&ctx.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log);
    let shown = process::display(&command);
    if ctx.verbose {
        println!("running: {shown}");
    }
    let mut child = command
        .spawn()
        .map_err(|e| Error::failure(format!("could not start `{shown}`: {e}")))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (send, answers) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    Ok(Session {
        child,
        stdin,
        answers,
    })
}

/// Runs `wasm` through `scenario` in `host`'s browser, starting its driver if none is
/// running. Fails only if the driver cannot be started or gives no answer.
pub fn run(host: Host, wasm: &Path, scenario: &Path, limit: Duration, ctx: &Ctx) -> Result<Answer> {
    let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    let sessions = sessions.get_or_insert_with(HashMap::new);
    let session = match sessions.entry(host) {
        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
        std::collections::hash_map::Entry::Vacant(entry) => entry.insert(start(host, ctx)?),
    };
    // Keys sorted, as serde_json prints them with or without `preserve_order` (which
    // the runners' scenario crate turns on).
    let job = serde_json::json!({
        "limit_ms": limit.as_millis() as u64,
        "module": rel(wasm),
        "scenario": rel(scenario),
    });
    if ctx.verbose {
        println!("running: [{} driver] {job}", host.name());
    }
    let log = format!("target/browser/{}-driver.log", host.name());
    let sent = writeln!(session.stdin, "{job}").and_then(|()| session.stdin.flush());
    let answer = match sent {
        Ok(()) => session.answers.recv_timeout(limit + GRACE),
        Err(_) => Err(RecvTimeoutError::Disconnected),
    };
    let line = match answer {
        Ok(line) => line,
        Err(why) => {
            let mut session = sessions.remove(&host).expect("present");
            // Only this driver, by its own handle; its browser dies with its pipe.
            let _ = session.child.kill();
            let _ = session.child.wait();
            return Err(Error::failure(match why {
                RecvTimeoutError::Timeout => format!(
                    "the {} driver gave no answer in {} s (see {log})",
                    host.name(),
                    (limit + GRACE).as_secs()
                ),
                RecvTimeoutError::Disconnected => {
                    format!("the {} driver stopped (see {log})", host.name())
                }
            }));
        }
    };
    let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
        Error::failure(format!(
            "the {} driver's answer is not JSON: {e}",
            host.name()
        ))
    })?;
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_string();
    let code = value["code"].as_i64().map(|c| c as i32);
    if code.is_none() {
        // It overran and exits; the next run starts a new driver.
        if let Some(mut session) = sessions.remove(&host) {
            let _ = session.child.wait();
        }
    }
    Ok(Answer {
        stdout: text("stdout"),
        stderr: text("stderr"),
        code,
    })
}
