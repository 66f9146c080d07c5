//! `cargo xtask test`'s step for the JS package (`host/js/jspi-stack`): its API tests
//! (`host/js/test/package.mjs`) on every Node host, the pooled-task memory test (1,000,000 tasks)
//! (`host/js/test/pool-memory.mjs`) on Node 26, README's "Embedding in JavaScript"
//! example on every Node host with its output compared with the one README shows, the
//! runner's scenario reading on the cases shared with the wasmtime runner
//! (`host/js/test/scenario-text.mjs`, `tests/scenario-text/`), and
//! `tsc --noEmit` on a TypeScript user file (`host/js/test/types.ts`) against the
//! package's `index.d.ts`, resolved through its `exports` map.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::badmod;
use crate::compile::{Builder, Strategy};
use crate::hosts::Host;
use crate::Ctx;
use crate::{diff, examples, process, project_root, rel, tools, Error, Result};

/// The package, relative to the project root.
const PACKAGE: &str = "host/js/jspi-stack";

/// How long one of these tests may take.
const LIMIT: Duration = Duration::from_secs(300);

/// The examples and bad modules the API test uses, by the names it knows them by.
const EXAMPLES: [(&str, &str); 3] = [
    ("04", "04-reentrancy"),
    ("07", "07-faults"),
    ("09", "09-trapped-calls"),
];
const BAD_MODULES: [(&str, &str); 2] = [
    ("no-library", "no-guest-library"),
    ("unlinked", "unlinked-library-calls"),
];

/// Runs every check on the Node hosts among `hosts`; returns how many passed and the
/// labels of those that failed.
pub fn test(builder: &mut Builder, hosts: &[Host]) -> (usize, Vec<String>) {
    let ctx = builder.ctx();
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut record = |label: String, outcome: Result<()>| match outcome {
        Ok(()) => {
            println!("ok   {label}");
            passed += 1;
        }
        Err(error) => {
            println!("FAIL {label}: {error}");
            failed.push(label);
        }
    };
    let nodes: Vec<Host> = hosts
        .iter()
        .copied()
        .filter(|h| h.node().is_some())
        .collect();
    if nodes.is_empty() {
        return (passed, failed);
    }
    let modules = modules(builder);
    for &host in &nodes {
        record(
            format!("js/package [{}]", host.name()),
            modules
                .as_ref()
                .map_err(|e| Error::failure(e.clone()))
                .and_then(|modules| package_test(host, modules, ctx)),
        );
        record(
            format!("js/readme [{}]", host.name()),
            readme_example(host, builder),
        );
        record(
            format!("js/scenario-text [{}]", host.name()),
            scenario_text(host, ctx),
        );
    }
    if nodes.contains(&Host::Node26) {
        record("js/pool-memory [node26]".into(), pool_memory(builder));
        record("js/types [tsc]".into(), types(ctx));
    }
    (passed, failed)
}

/// `name=path` arguments for package.mjs: the lazy builds of its examples and bad
/// modules.
fn modules(builder: &mut Builder) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    for (name, folder) in EXAMPLES {
        let example = lazy_example(folder, builder)?;
        args.push(format!("{name}={}", rel(&example).display()));
    }
    let cases = badmod::cases().map_err(|e| e.to_string())?;
    for (name, folder) in BAD_MODULES {
        let case = cases
            .iter()
            .find(|c| c.name() == folder)
            .ok_or_else(|| format!("tests/bad-modules/{folder} is missing"))?;
        let wasm = badmod::module(case, builder)?;
        args.push(format!("{name}={}", rel(&wasm).display()));
    }
    Ok(args)
}

/// The lazy build of example `folder`.
fn lazy_example(folder: &str, builder: &mut Builder) -> Result<PathBuf, String> {
    let example = examples::resolve(&[folder.to_string()])
        .map_err(|e| e.to_string())?
        .remove(0);
    builder.wasm(&example, Strategy::Lazy)
}

/// Runs `command` (a Node test script): passes on exit code 0, else fails with what it
/// printed.
fn run_script(mut command: Command, ctx: &Ctx) -> Result<String> {
    let captured = process::capture(&mut command, LIMIT, ctx)?;
    match captured.status {
        Some(status) if status.success() => Ok(captured.stdout),
        Some(status) => Err(Error::failure(format!(
            "{} ({status}):\n{}{}",
            process::display(&command),
            captured.stdout,
            captured.stderr.trim_end()
        ))),
        None => Err(Error::failure(format!(
            "{}: killed after {} s",
            process::display(&command),
            LIMIT.as_secs()
        ))),
    }
}

fn node(host: Host) -> Command {
    host.node_command().expect("a Node host")
}

fn package_test(host: Host, modules: &[String], ctx: &Ctx) -> Result<()> {
    let mut command = node(host);
    command.arg("host/js/test/package.mjs").args(modules);
    run_script(command, ctx).map(|_| ())
}

/// The runner's scanner and scenario parser on the cases shared with the wasmtime
/// runner (`tests/scenario-text/`).
fn scenario_text(host: Host, ctx: &Ctx) -> Result<()> {
    let mut command = node(host);
    command.arg("host/js/test/scenario-text.mjs");
    run_script(command, ctx).map(|_| ())
}

/// 1,000,000 pooled tasks with memory read from /proc (about 5 s). The new space is pinned to its
/// smallest size: V8 grows it in steps up to a cap as it sees the allocation rate,
/// which is bounded growth, not a leak, but can land between the two readings.
fn pool_memory(builder: &mut Builder) -> Result<()> {
    let ctx = builder.ctx();
    let wasm = lazy_example("06-lazy-fix", builder).map_err(Error::failure)?;
    let mut command = node(Host::Node26);
    command
        .arg("--max-semi-space-size=1")
        .arg("host/js/test/pool-memory.mjs")
        .arg(rel(&wasm));
    let out = run_script(command, ctx)?;
    print!("     {out}");
    Ok(())
}

/// The first fenced block of `lang` after `from` in `text`, and where it ends.
fn fenced<'t>(text: &'t str, from: usize, lang: &str) -> Option<(&'t str, usize)> {
    let open = format!("```{lang}\n");
    let start = from + text[from..].find(&open)? + open.len();
    let len = text[start..].find("\n```")?;
    Some((&text[start..start + len + 1], start + len + 4))
}

/// README's embedding example: its `js` block run as a file that imports the package
/// by name, its output compared with the `text` block after it.
fn readme_example(host: Host, builder: &mut Builder) -> Result<()> {
    let ctx = builder.ctx();
    lazy_example("04-reentrancy", builder).map_err(Error::failure)?;
    let readme = fs::read_to_string(ctx.root.join("README.md"))
        .map_err(|e| Error::failure(format!("reading README.md: {e}")))?;
    let section = readme
        .find("## Embedding in JavaScript")
        .ok_or_else(|| Error::failure("README.md has no section \"Embedding in JavaScript\""))?;
    let (code, after) = fenced(&readme, section, "js")
        .ok_or_else(|| Error::failure("README's embedding section has no ```js block"))?;
    let (expected, _) = fenced(&readme, after, "text").ok_or_else(|| {
        Error::failure("README's embedding example has no ```text block of its output")
    })?;
    let dir = ctx.root.join("target/js/readme");
    link_package(&dir)?;
    let script = dir.join("embed.mjs");
    fs::write(&script, code)
        .map_err(|e| Error::failure(format!("writing {}: {e}", rel(&script).display())))?;
    let mut command = node(host);
    command.arg(rel(&script));
    let out = run_script(command, ctx)?;
    let difference = diff::unified(
        expected,
        &out,
        "README.md (the example's output)",
        "its run",
    );
    if difference.is_empty() {
        Ok(())
    } else {
        Err(Error::failure(format!("the output differs:\n{difference}")))
    }
}

/// `dir/node_modules/jspi-stack` -> the package, so that `import "jspi-stack"` in a
/// file in `dir` resolves as it does for a user who installed it.
fn link_package(dir: &Path) -> Result<()> {
    let modules = dir.join("node_modules");
    fs::create_dir_all(&modules)
        .map_err(|e| Error::failure(format!("creating {}: {e}", rel(&modules).display())))?;
    let link = modules.join("jspi-stack");
    if fs::symlink_metadata(&link).is_ok() {
        fs::remove_file(&link)
            .map_err(|e| Error::failure(format!("removing {}: {e}", rel(&link).display())))?;
    }
    std::os::unix::fs::symlink(project_root().join(PACKAGE), &link)
        .map_err(|e| Error::failure(format!("linking {}: {e}", rel(&link).display())))
}

/// `tsc --noEmit -p host/js/test` with the package linked in as a dependency.
fn types(ctx: &Ctx) -> Result<()> {
    link_package(&ctx.root.join("host/js/test"))?;
    let mut command = node(Host::Node26);
    command
        .arg(rel(&tools::tsc()))
        .args(["--noEmit", "-p", "host/js/test/tsconfig.json"]);
    run_script(command, ctx).map(|_| ())
}
