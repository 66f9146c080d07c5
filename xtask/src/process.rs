//! Running external commands: printing them (`running: ...` with `--verbose`),
//! capturing their output, reporting a failure with the command and its stderr, and a
//! time limit for guest runs.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::Ctx;
use crate::{Error, Result};

/// The command line as a shell would take it, for messages.
pub fn display(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| {
            let arg = arg.to_string_lossy();
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=+/.,:@%".contains(c));
            if plain {
                arg.into_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a build or install step from the project root. With `ctx.verbose` the command is
/// printed first and its output goes straight to the terminal; otherwise the output is
/// kept and shown only if the command fails.
pub fn run_checked(command: &mut Command, ctx: &Ctx) -> Result<()> {
    command.current_dir(&ctx.root).stdin(Stdio::null());
    let shown = display(command);
    if ctx.verbose {
        println!("running: {shown}");
        let status = command.status().map_err(|e| not_started(&shown, &e))?;
        return check(&shown, status, "");
    }
    let output = command.output().map_err(|e| not_started(&shown, &e))?;
    check(
        &shown,
        output.status,
        &String::from_utf8_lossy(&output.stderr),
    )
}

/// Runs a command from the project root and returns its stdout, failing (with its
/// stderr) unless it exits with 0. Nothing is printed unless `ctx.verbose`.
pub fn stdout_of(command: &mut Command, ctx: &Ctx) -> Result<String> {
    command.current_dir(&ctx.root).stdin(Stdio::null());
    let shown = display(command);
    if ctx.verbose {
        println!("running: {shown}");
    }
    let output = command.output().map_err(|e| not_started(&shown, &e))?;
    check(
        &shown,
        output.status,
        &String::from_utf8_lossy(&output.stderr),
    )?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn not_started(shown: &str, error: &std::io::Error) -> Error {
    Error::failure(format!("could not start `{shown}`: {error}"))
}

fn check(shown: &str, status: ExitStatus, stderr: &str) -> Result<()> {
    if status.success() {
        return Ok(());
    }
    let stderr = stderr.trim_end();
    let mut message = format!("`{shown}` failed ({status})");
    if !stderr.is_empty() {
        message.push_str(":\n");
        message.push_str(stderr);
    }
    Err(Error::failure(message))
}

/// What a command with a time limit did.
pub struct Captured {
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// Its exit status; `None` if it was killed at the time limit.
    pub status: Option<ExitStatus>,
}

/// Runs a command from the project root with both outputs captured, killing it after
/// `limit`. Fails only if the command cannot be started.
pub fn capture(command: &mut Command, limit: Duration, ctx: &Ctx) -> Result<Captured> {
    command
        .current_dir(&ctx.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = display(command);
    if ctx.verbose {
        println!("running: {shown}");
    }
    let mut child = command.spawn().map_err(|e| not_started(&shown, &e))?;
    // Both pipes are drained on their own threads so neither can fill up and block the
    // child while this thread watches the clock.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                // A read error leaves whatever arrived before it; the exit status tells
                // the rest.
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() < limit => thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => {
                // Only this child, by its own handle.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    Ok(Captured {
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        status,
    })
}

/// Whether an executable called `name` is on `PATH`.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let candidate = dir.join(name);
            candidate.is_file() && is_executable(&candidate)
        })
    })
}

#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &std::path::Path) -> bool {
    true
}
