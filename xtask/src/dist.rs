//! `cargo xtask dist`: what a C user needs, in `target/dist/`, and its step of
//! `cargo xtask test`.
//!
//! ```text
//! target/dist/libjspi-<strategy>.a   the packaged guest library (compile.rs), per strategy
//! target/dist/jspi.h, jspi_host.h    guest/jspi/include/
//! target/dist/jspi-stack-<v>.tgz     `npm pack` of host/js/jspi-stack
//! target/dist/README.md              docs/dist.md: the compile and link lines
//! target/dist-test/                  the test's modules, and the tarball unpacked
//! ```
//!
//! The test builds `tests/dist/app.c` (freestanding) and `tests/dist/wasi.c`
//! (wasi-libc) with exactly the two command lines of the dist's README, run from
//! `target/dist/`, for every strategy, runs each module on the Node hosts through the
//! unpacked tarball (`tests/dist/run.mjs`) and compares the output with
//! `tests/dist/expected.txt`; checks that each library defines exactly
//! [`LIBRARY_SYMBOLS`] as globals and needs nothing but its imports and wasm-ld's
//! symbols (so no `memcpy`, no builtins), that a freestanding file using `long double`
//! (`tests/dist/builtins.c`) fails to link on `__multf3` and links with the
//! compiler-rt archive the README names, that each module stays under [`MAX_MODULE`]
//! bytes, and that the list of symbols matches jspi.h, docs/abi.md and docs/dist.md.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::compile::{Builder, Strategy, LIBRARY_SYMBOLS};
use crate::hosts::Host;
use crate::Ctx;
use crate::{process, rel, tidy, tools, Error, Result};

/// The JS package, relative to the project root.
const PACKAGE: &str = "host/js/jspi-stack";

/// The dist's README, relative to the project root.
const README: &str = "docs/dist.md";

/// The strategy the README's lines name; the test substitutes each strategy for it.
const README_STRATEGY: &str = "libjspi-lazy.a";

/// A generous bound on the freestanding test module (about 20 lines of C and the
/// library; it is a size, not a time).
const MAX_MODULE: u64 = 128 * 1024;

/// Symbols a library may leave undefined besides its imports (`jspi_host_*`, module
/// `jspi`): those wasm-ld defines.
const LINKER_SYMBOLS: [&str; 4] = [
    "__stack_pointer",
    "__stack_low",
    "__stack_high",
    "__indirect_function_table",
];

/// `cargo xtask dist`.
pub fn dist(ctx: &Ctx) -> Result<()> {
    tools::ensure(ctx)?;
    let mut builder = Builder::new(ctx);
    let dir = make(&mut builder).map_err(Error::failure)?;
    let mut files: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| Error::failure(format!("reading {}: {e}", rel(&dir).display())))?
        .filter_map(|entry| entry.ok())
        .collect();
    files.sort_by_key(|entry| entry.file_name());
    println!("{}:", rel(&dir).display());
    for entry in files {
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        println!(
            "  {:<28} {size:>9} bytes",
            entry.file_name().to_string_lossy()
        );
    }
    Ok(())
}

/// Makes `target/dist/` afresh; returns its path.
pub fn make(builder: &mut Builder) -> Result<PathBuf, String> {
    let ctx = builder.ctx();
    let root = &ctx.root;
    let dir = root.join("target/dist");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", rel(&dir).display()))?;
    let copy = |from: &Path, to: &Path| {
        fs::copy(from, to).map(drop).map_err(|e| {
            format!(
                "copying {} to {}: {e}",
                rel(from).display(),
                rel(to).display()
            )
        })
    };
    for strategy in Strategy::ALL {
        let library = builder.library(strategy)?;
        copy(
            &library,
            &dir.join(format!("libjspi-{}.a", strategy.name())),
        )?;
    }
    for header in ["jspi.h", "jspi_host.h"] {
        copy(
            &root.join("guest/jspi/include").join(header),
            &dir.join(header),
        )?;
    }
    copy(&root.join(README), &dir.join("README.md"))?;
    let mut npm = Command::new("npm");
    npm.args(["pack", PACKAGE, "--pack-destination"])
        .arg(rel(&dir));
    process::stdout_of(&mut npm, ctx).map_err(|e| e.to_string())?;
    tarball(&dir)?;
    Ok(dir)
}

/// The one `jspi-stack-*.tgz` in `dir`.
fn tarball(dir: &Path) -> Result<PathBuf, String> {
    let found: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", rel(dir).display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("jspi-stack-") && name.ends_with(".tgz")
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "expected one jspi-stack-*.tgz in {}, found {}",
            rel(dir).display(),
            found.len()
        )),
    }
}

/// `cargo xtask test`'s dist step: returns how many checks passed and the labels of
/// those that failed.
pub fn test(builder: &mut Builder, hosts: &[Host]) -> (usize, Vec<String>) {
    let ctx = builder.ctx();
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut record = |label: String, outcome: Result<(), String>| match outcome {
        Ok(()) => {
            println!("ok   {label}");
            passed += 1;
        }
        Err(error) => {
            println!("FAIL {label}: {error}");
            failed.push(label);
        }
    };
    record("dist/symbol-list".into(), tidy::symbol_list());
    let dir = match make(builder) {
        Ok(dir) => dir,
        Err(error) => {
            record("dist".into(), Err(error));
            return (passed, failed);
        }
    };
    for strategy in Strategy::ALL {
        record(
            format!("dist/symbols [{}]", strategy.name()),
            symbols(&dir, strategy, ctx),
        );
    }
    record("dist/builtins".into(), builtins(&dir, ctx));
    let package = unpack(&dir, ctx);
    let nodes: Vec<Host> = hosts
        .iter()
        .copied()
        .filter(|h| h.node().is_some())
        .collect();
    for (kind, source) in [("freestanding", "app.c"), ("wasi", "wasi.c")] {
        for strategy in Strategy::ALL {
            let wasm = build(&dir, kind, source, strategy, ctx);
            for &host in &nodes {
                let outcome = match (&package, &wasm) {
                    (Err(e), _) | (_, Err(e)) => Err(e.clone()),
                    (Ok(runner), Ok(wasm)) => run(host, runner, wasm, strategy, ctx),
                };
                record(
                    format!("dist/{kind} [{}, {}]", host.name(), strategy.name()),
                    outcome,
                );
            }
        }
    }
    (passed, failed)
}

/// Builds `tests/dist/<source>` against `dir` with the README's command line for
/// `kind` (`freestanding` or `wasi`), from `dir`; checks the module's size; returns
/// the module.
fn build(
    dir: &Path,
    kind: &str,
    source: &str,
    strategy: Strategy,
    ctx: &Ctx,
) -> Result<PathBuf, String> {
    let root = &ctx.root;
    let wasm = root
        .join("target/dist-test")
        .join(format!("{kind}-{}.wasm", strategy.name()));
    let source = root.join("tests/dist").join(source);
    let (shown, output) = readme_clang(dir, kind, &source, &wasm, strategy, &[], ctx)?;
    if !output.status.success() {
        return Err(format!(
            "`{shown}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    let size = fs::metadata(&wasm).map_err(|e| e.to_string())?.len();
    if size >= MAX_MODULE {
        return Err(format!(
            "{} is {size} bytes, over the bound of {MAX_MODULE}",
            rel(&wasm).display()
        ));
    }
    Ok(wasm)
}

/// The builtins the library does not supply: `tests/dist/builtins.c` (which uses
/// `long double`) fails to link freestanding with the README's line, on `__multf3`,
/// and links once the compiler-rt archive the README names is added.
fn builtins(dir: &Path, ctx: &Ctx) -> Result<(), String> {
    let root = &ctx.root;
    let readme = fs::read_to_string(dir.join("README.md")).map_err(|e| e.to_string())?;
    let archive = readme
        .split('`')
        .find(|word| word.starts_with('/') && word.ends_with("libclang_rt.builtins-wasm32.a"))
        .ok_or("the dist's README names no libclang_rt.builtins-wasm32.a")?;
    let source = root.join("tests/dist/builtins.c");
    let wasm = root.join("target/dist-test/builtins.wasm");
    let lazy = Strategy::Lazy;
    let (shown, output) = readme_clang(dir, "freestanding", &source, &wasm, lazy, &[], ctx)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() || !stderr.contains("undefined symbol: __multf3") {
        return Err(format!(
            "`{shown}` should fail on an undefined __multf3 (the library supplies no builtins); it printed: {}",
            stderr.trim_end()
        ));
    }
    let (shown, output) = readme_clang(dir, "freestanding", &source, &wasm, lazy, &[archive], ctx)?;
    if !output.status.success() {
        return Err(format!(
            "`{shown}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        ));
    }
    Ok(())
}

/// Runs the README's clang-19 line for `kind` from `dir`, with `source`, `wasm` and
/// `strategy`'s library in place of `app.c`, `app.wasm` and `libjspi-lazy.a`, and
/// `extra` at the end; returns the command as shown and what it did.
fn readme_clang(
    dir: &Path,
    kind: &str,
    source: &Path,
    wasm: &Path,
    strategy: Strategy,
    extra: &[&str],
    ctx: &Ctx,
) -> Result<(String, std::process::Output), String> {
    let readme = fs::read_to_string(dir.join("README.md")).map_err(|e| e.to_string())?;
    let target = if kind == "wasi" {
        "--target=wasm32-wasi"
    } else {
        "--target=wasm32-unknown-unknown"
    };
    let line = command_lines(&readme)
        .into_iter()
        .find(|line| line.split_whitespace().any(|word| word == target))
        .ok_or_else(|| format!("the dist's README has no clang-19 line with {target}"))?;
    if let Some(parent) = wasm.parent() {
        fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let library = format!("libjspi-{}.a", strategy.name());
    let mut words = line.split_whitespace();
    let mut clang = Command::new(words.next().unwrap_or_default());
    for word in words {
        match word {
            "app.c" => clang.arg(source),
            "app.wasm" => clang.arg(wasm),
            README_STRATEGY => clang.arg(&library),
            _ => clang.arg(word),
        };
    }
    clang.args(extra).current_dir(dir);
    let shown = process::display(&clang);
    if ctx.verbose {
        println!("running (in {}): {shown}", rel(dir).display());
    }
    let output = clang
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    Ok((shown, output))
}

/// The `clang-19` command lines of the README's `sh` blocks.
fn command_lines(readme: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
        } else if in_sh && line.starts_with("clang-19 ") {
            lines.push(line.to_string());
        }
    }
    lines
}

/// Unpacks the dist's tarball as `target/dist-test/node_modules/jspi-stack/` beside a
/// copy of `tests/dist/run.mjs`; returns the copy.
fn unpack(dir: &Path, ctx: &Ctx) -> Result<PathBuf, String> {
    let root = &ctx.root;
    let test_dir = root.join("target/dist-test");
    let modules = test_dir.join("node_modules");
    let _ = fs::remove_dir_all(&modules);
    fs::create_dir_all(&modules).map_err(|e| e.to_string())?;
    let mut tar = Command::new("tar");
    tar.arg("-xzf")
        .arg(rel(&tarball(dir)?))
        .arg("-C")
        .arg(rel(&modules));
    process::run_checked(&mut tar, ctx).map_err(|e| e.to_string())?;
    fs::rename(modules.join("package"), modules.join("jspi-stack")).map_err(|e| e.to_string())?;
    let runner = test_dir.join("run.mjs");
    fs::copy(root.join("tests/dist/run.mjs"), &runner).map_err(|e| e.to_string())?;
    Ok(runner)
}

/// Runs `wasm` with `runner` on `host` and compares its output with the expected one.
fn run(
    host: Host,
    runner: &Path,
    wasm: &Path,
    strategy: Strategy,
    ctx: &Ctx,
) -> Result<(), String> {
    let root = &ctx.root;
    let mut node = host.node_command().ok_or("not a Node host")?;
    // node:wasi warns that it is experimental, on stderr only.
    node.arg(rel(runner)).arg(rel(wasm));
    let captured =
        process::capture(&mut node, Duration::from_secs(60), ctx).map_err(|e| e.to_string())?;
    let expected_path = root.join("tests/dist/expected.txt");
    let expected = fs::read_to_string(&expected_path)
        .map_err(|e| format!("reading {}: {e}", rel(&expected_path).display()))?
        .replace("{strategy}", strategy.name());
    match captured.status {
        Some(status) if status.success() && captured.stdout == expected => Ok(()),
        Some(status) if status.success() => Err(format!(
            "printed\n{}expected ({}, with {{strategy}} = {})\n{expected}",
            captured.stdout,
            rel(&expected_path).display(),
            strategy.name()
        )),
        Some(status) => Err(format!("{status}: {}", captured.stderr.trim_end())),
        None => Err("did not finish within 60 s".into()),
    }
}

/// Each packaged library's global symbols are exactly [`LIBRARY_SYMBOLS`], and it
/// needs only its imports and wasm-ld's symbols.
fn symbols(dir: &Path, strategy: Strategy, ctx: &Ctx) -> Result<(), String> {
    let library = dir.join(format!("libjspi-{}.a", strategy.name()));
    let nm = |flags: &[&str]| -> Result<BTreeSet<String>, String> {
        let mut nm = Command::new("llvm-nm-19");
        nm.args(flags)
            .arg("--format=just-symbols")
            .arg(rel(&library));
        let out = process::stdout_of(&mut nm, ctx).map_err(|e| e.to_string())?;
        // An archive's listing names its member first (`jspi.o:`).
        Ok(out
            .lines()
            .filter(|l| !l.is_empty() && !l.ends_with(':'))
            .map(str::to_string)
            .collect())
    };
    let extern_defined = nm(&["--defined-only", "--extern-only"])?;
    let documented: BTreeSet<String> = LIBRARY_SYMBOLS.iter().map(|s| s.to_string()).collect();
    let extra: Vec<_> = extern_defined.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&extern_defined).collect();
    if !extra.is_empty() || !missing.is_empty() {
        return Err(format!(
            "{}: global symbols not in the documented set: {extra:?}; documented ones missing: {missing:?}",
            rel(&library).display()
        ));
    }
    let needed: Vec<String> = nm(&["--undefined-only"])?
        .into_iter()
        .filter(|s| !s.starts_with("jspi_host_") && !LINKER_SYMBOLS.contains(&s.as_str()))
        .collect();
    if !needed.is_empty() {
        return Err(format!(
            "{} needs {needed:?} from the link (it should need only its imports)",
            rel(&library).display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_has_one_line_per_kind() {
        let readme = fs::read_to_string(crate::project_root().join(README)).unwrap();
        let lines = command_lines(&readme);
        assert_eq!(lines.len(), 2, "{lines:?}");
        for line in &lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            for word in ["app.c", "app.wasm", README_STRATEGY] {
                assert!(words.contains(&word), "{word} missing in {line}");
            }
        }
    }
}
