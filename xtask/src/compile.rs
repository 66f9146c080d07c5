//! Building: for a C example, the guest library once per strategy, then the example's
//! C files with clang-19, linked against that strategy's `libjspi.a`, exactly as
//! docs/abi.md shows; for a Rust example, its crate as a wasm32 `cdylib` with the
//! strategy's feature of `guest/jspi` (rustc links the library in).
//!
//! ```text
//! target/guest-build/                      cargo's own target dir for all guest crates
//! target/guest/<strategy>/libjspi.a        the packaged library (see below)
//! target/guest/<strategy>/parts/           its making: cargo's archive's members, jspi.o
//! target/examples/<name>/obj/<file>.o      a C example's objects (strategy-independent)
//! target/examples/<name>/<strategy>.wasm   the linked guest module
//! ```
//!
//! The library is packaged so that a C link sees only its documented symbols
//! ([`LIBRARY_SYMBOLS`]) and gets nothing else from it: cargo builds the staticlib with
//! fat LTO (the `guest-lib` profile), which makes the crate, `stack-state` and `core`
//! one object whose only globals are the `#[no_mangle]` functions; `wasm-ld-19 -r
//! --strip-debug` merges that object with the two shim objects into one, pulling a
//! member of cargo's archive (compiler-builtins) only if they needed it (today they
//! need none); `wasmobj::localize` makes every other defined symbol of it local; and
//! `llvm-ar-19` archives the one object. cargo's archive also holds every
//! compiler-builtins object (`memcpy`, `__multf3`, ...): those stay out.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::examples::{Example, Kind};
use crate::Ctx;
use crate::{process, project_root, rel, tools, wasmobj, Result};

/// How the guest library keeps suspended tasks' shadow stacks: the scenario crate's,
/// since scenarios name them too.
pub use jspi_scenario::Strategy;

/// clang-19's flags for a C guest source (docs/abi.md), run from the project root.
pub const CLANG_COMPILE: [&str; 8] = [
    "--target=wasm32-unknown-unknown",
    "-mreference-types",
    "-mbulk-memory",
    "-O2",
    "-ffreestanding",
    "-nostdlib",
    "-I",
    "guest/jspi/include",
];

/// clang-19's flags for linking a guest module (docs/abi.md), before its objects.
pub const CLANG_LINK: [&str; 5] = [
    "--target=wasm32-unknown-unknown",
    "-nostdlib",
    "-Wl,--no-entry",
    "-Wl,--stack-first",
    "-Wl,-z,stack-size=1048576",
];

/// clang-19's flags for a C source of a wasi-libc guest (docs/abi.md): Debian's
/// `wasi-libc` is clang's default sysroot for `--target=wasm32-wasi`.
pub const CLANG_COMPILE_WASI: [&str; 6] = [
    "--target=wasm32-wasi",
    "-mreference-types",
    "-mbulk-memory",
    "-O2",
    "-I",
    "guest/jspi/include",
];

/// clang-19's flags for linking a wasi-libc guest: a reactor (a library module whose
/// `_initialize` the host calls once, with no `main`), libc and clang's builtins
/// linked in.
pub const CLANG_LINK_WASI: [&str; 4] = [
    "--target=wasm32-wasi",
    "-mexec-model=reactor",
    "-Wl,--stack-first",
    "-Wl,-z,stack-size=1048576",
];

/// The linker flags a C module linked with `libjspi.a` needs (docs/abi.md): the hooks
/// export themselves (`.export_name` in the shim), `jspi_stat` and `jspi_debug_tasks`
/// must be asked for.
pub const LIBRARY_EXPORTS: [&str; 2] = ["-Wl,--export=jspi_stat", "-Wl,--export=jspi_debug_tasks"];

/// The guest library's global symbols in `libjspi.a`: the C API of `jspi.h` and the
/// exports a host calls (docs/abi.md, "Exports the guest library adds"). Every other
/// symbol of the library is local; `cargo xtask test` checks the packaged libraries
/// against this list, and this list against jspi.h and docs/abi.md.
pub const LIBRARY_SYMBOLS: [&str; 21] = [
    // jspi.h
    "jspi_await_int",
    "jspi_await_externref",
    "jspi_try_await_int",
    "jspi_try_await_externref",
    "jspi_await_bytes",
    "jspi_try_await_bytes",
    "jspi_task_local",
    "jspi_can_suspend",
    "jspi_stat",
    "jspi_min_task_stack",
    "jspi_configure",
    "jspi_strategy",
    // the hooks and the other exports a host calls
    "jspi_task_enter",
    "jspi_task_leave",
    "jspi_task_done",
    "jspi_call_enter",
    "jspi_call_leave",
    "jspi_task_top",
    "jspi_task_current",
    "jspi_task_locate",
    "jspi_debug_tasks",
];

/// Builds guest libraries and examples on demand, each at most once per xtask run.
///
/// Errors are kept as text: the first time a step fails its full message (command and
/// stderr) is returned; later requests that need the same step get a short reminder.
pub struct Builder<'a> {
    /// The run's context: root, verbosity, cargo and clang.
    ctx: &'a Ctx,
    libraries: HashMap<Strategy, Built<PathBuf>>,
    objects: HashMap<PathBuf, Built<Vec<PathBuf>>>,
    wasm_bindgen: Option<Built<PathBuf>>,
}

/// A build step's result, kept so that it runs once: what it made, or that it failed
/// (its output was printed then).
enum Built<T> {
    Done(T),
    Failed,
}

impl<'a> Builder<'a> {
    /// A builder that runs its commands in `ctx`.
    pub fn new(ctx: &'a Ctx) -> Self {
        Builder {
            ctx,
            libraries: HashMap::new(),
            objects: HashMap::new(),
            wasm_bindgen: None,
        }
    }

    /// The context this builder runs its commands in.
    pub fn ctx(&self) -> &'a Ctx {
        self.ctx
    }

    /// Builds (or reuses) `example` linked with `strategy`'s guest library, returning
    /// the module's path.
    pub fn wasm(&mut self, example: &Example, strategy: Strategy) -> Result<PathBuf, String> {
        if let Kind::Rust { manifest, bindgen } = &example.kind {
            let wasm = build_rust(example, manifest, strategy, self.ctx)?;
            if !bindgen {
                return Ok(wasm);
            }
            let tool = match &self.wasm_bindgen {
                Some(Built::Done(tool)) => tool.clone(),
                Some(Built::Failed) => {
                    return Err("wasm-bindgen-cli is not installed (see above)".into())
                }
                None => {
                    let result = tools::ensure_wasm_bindgen(self.ctx).map_err(|e| e.to_string());
                    self.wasm_bindgen = Some(match &result {
                        Ok(tool) => Built::Done(tool.clone()),
                        Err(_) => Built::Failed,
                    });
                    result?
                }
            };
            return run_wasm_bindgen(example, strategy, &tool, &wasm, self.ctx);
        }
        let library = self.library(strategy)?;
        let objects = self.objects(example)?;
        link(example, strategy, &library, &objects, self.ctx)
    }

    /// Builds (or reuses) the guest library for `strategy`, returning `libjspi.a`.
    pub fn library(&mut self, strategy: Strategy) -> Result<PathBuf, String> {
        match self.libraries.get(&strategy) {
            Some(Built::Done(path)) => return Ok(path.clone()),
            Some(Built::Failed) => {
                return Err(format!(
                    "the guest library for strategy `{}` did not build (see above)",
                    strategy.name()
                ))
            }
            None => {}
        }
        let result = build_library(strategy, self.ctx);
        let step = match &result {
            Ok(path) => Built::Done(path.clone()),
            Err(_) => Built::Failed,
        };
        self.libraries.insert(strategy, step);
        result
    }

    fn objects(&mut self, example: &Example) -> Result<Vec<PathBuf>, String> {
        match self.objects.get(&example.dir) {
            Some(Built::Done(objects)) => return Ok(objects.clone()),
            Some(Built::Failed) => {
                return Err(format!(
                    "{}: the C sources did not compile (see above)",
                    example.name
                ))
            }
            None => {}
        }
        let result = compile_objects(example, self.ctx);
        let step = match &result {
            Ok(objects) => Built::Done(objects.clone()),
            Err(_) => Built::Failed,
        };
        self.objects.insert(example.dir.clone(), step);
        result
    }
}

/// `cargo rustc -p jspi` for wasm32 with the strategy's feature, as a staticlib in its
/// own target dir (profile `guest-lib`), then packages it as
/// `target/guest/<strategy>/libjspi.a` (see the top of this file).
fn build_library(strategy: Strategy, ctx: &Ctx) -> Result<PathBuf, String> {
    let root = &ctx.root;
    let target_dir = root.join("target/guest-build");
    let mut cargo = ctx.cargo();
    cargo.args([
        "rustc",
        "-p",
        "jspi",
        "--profile",
        "guest-lib",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    cargo
        .arg("--features")
        .arg(format!("strategy-{}", strategy.name()));
    cargo
        .args(["--crate-type", "staticlib", "--target-dir"])
        .arg(rel(&target_dir));
    process::run_checked(&mut cargo, ctx).map_err(|e| e.to_string())?;
    let built = target_dir.join("wasm32-unknown-unknown/guest-lib/libjspi.a");
    package_library(
        &built,
        &root.join("target/guest").join(strategy.name()),
        ctx,
    )
}

/// Packages cargo's `built` staticlib as `dir/libjspi.a`: one object, debug info
/// stripped, only [`LIBRARY_SYMBOLS`] global.
fn package_library(built: &Path, dir: &Path, ctx: &Ctx) -> Result<PathBuf, String> {
    let parts = dir.join("parts");
    let members = parts.join("members");
    let _ = fs::remove_dir_all(&parts);
    fs::create_dir_all(&members)
        .map_err(|e| format!("creating {}: {e}", rel(&members).display()))?;
    let mut extract = Command::new("llvm-ar-19");
    extract
        .arg("x")
        .arg(rel(built))
        .arg("--output")
        .arg(rel(&members));
    process::run_checked(&mut extract, ctx).map_err(|e| e.to_string())?;

    // The crate's one LTO object and the shim's objects (named by cc after sources).
    let mut ours = Vec::new();
    let entries =
        fs::read_dir(&members).map_err(|e| format!("reading {}: {e}", rel(&members).display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let rust = name.starts_with("jspi-") && name.ends_with(".rcgu.o");
        if rust || name.ends_with("-jspi_shim.o") || name.ends_with("-jspi_api.o") {
            ours.push(path);
        }
    }
    ours.sort();
    if ours.len() != 3 {
        return Err(format!(
            "{}: expected the crate's one LTO object and the shim's two objects, found {}",
            rel(built).display(),
            ours.len()
        ));
    }
    let merged = parts.join("merged.o");
    let mut link = Command::new("wasm-ld-19");
    link.args(["-r", "--strip-debug", "-o"]).arg(rel(&merged));
    link.args(ours.iter().map(|o| rel(o))).arg(rel(built));
    process::run_checked(&mut link, ctx).map_err(|e| e.to_string())?;

    let object = parts.join("jspi.o");
    let bytes =
        fs::read(&merged).map_err(|e| format!("reading {}: {e}", rel(&merged).display()))?;
    let (bytes, localized) = wasmobj::localize(&bytes, &LIBRARY_SYMBOLS)
        .map_err(|e| format!("{}: {e}", rel(&merged).display()))?;
    if let Some(missing) = LIBRARY_SYMBOLS
        .iter()
        .find(|s| !localized.kept.contains(**s))
    {
        return Err(format!(
            "{}: the library does not define `{missing}`",
            rel(&merged).display()
        ));
    }
    if ctx.verbose {
        println!(
            "localized: {} symbols hidden, {} global",
            localized.hidden,
            localized.kept.len()
        );
    }
    fs::write(&object, bytes).map_err(|e| format!("writing {}: {e}", rel(&object).display()))?;

    let library = dir.join("libjspi.a");
    let _ = fs::remove_file(&library);
    let mut archive = Command::new("llvm-ar-19");
    archive.arg("rcs").arg(rel(&library)).arg(rel(&object));
    process::run_checked(&mut archive, ctx).map_err(|e| e.to_string())?;
    Ok(library)
}

/// Compiles every `.c` file of the example to `target/examples/<name>/obj/<stem>.o`.
fn compile_objects(example: &Example, ctx: &Ctx) -> Result<Vec<PathBuf>, String> {
    let obj_dir = example_dir(example).join("obj");
    fs::create_dir_all(&obj_dir)
        .map_err(|e| format!("creating {}: {e}", rel(&obj_dir).display()))?;
    let mut objects = Vec::new();
    let Kind::C(sources) = &example.kind else {
        return Ok(Vec::new());
    };
    let includes = match &example.packages {
        Some(manifest) => package_dirs(manifest, ctx)?,
        None => Vec::new(),
    };
    for source in sources {
        let stem = source.file_stem().unwrap_or_default();
        let object = obj_dir.join(stem).with_extension("o");
        let mut clang = ctx.clang();
        if example.wasi {
            clang.args(CLANG_COMPILE_WASI);
        } else {
            clang.args(CLANG_COMPILE);
        }
        for dir in &includes {
            clang.arg("-I").arg(dir);
        }
        let depfile = object.with_extension("d");
        clang.arg("-c");
        clang.arg(rel(source)).arg("-o").arg(rel(&object));
        clang.arg("-MD").arg("-MF").arg(rel(&depfile));
        // The command as it ran, beside the object: a different command (strategy-
        // independent, but libc, flags and include paths count) compiles again.
        let recipe = object.with_extension("cmd");
        let line = format!("{clang:?}");
        if !up_to_date(&object, &depfile, &recipe, &line) {
            let _ = fs::remove_file(&recipe);
            process::run_checked(&mut clang, ctx).map_err(|e| e.to_string())?;
            fs::write(&recipe, &line)
                .map_err(|e| format!("writing {}: {e}", rel(&recipe).display()))?;
        }
        objects.push(object);
    }
    Ok(objects)
}

/// Whether `object` was made by `line` (saved in `recipe`) after every file its
/// depfile (clang's `-MD`) names last changed: then compiling again would make the
/// same object (the amalgamation of 15-sqlite takes a minute).
fn up_to_date(object: &Path, depfile: &Path, recipe: &Path, line: &str) -> bool {
    let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
    let (Some(built), Ok(deps), Ok(saved)) = (
        modified(object),
        fs::read_to_string(depfile),
        fs::read_to_string(recipe),
    ) else {
        return false;
    };
    if saved != line {
        return false;
    }
    // `target.o: a.c b.h \` then `  c.h` on the next line: the inputs after the colon,
    // separated by spaces (no input path here has one of its own; one that did would
    // not be found, and the object would be built again).
    let Some((_, inputs)) = deps.split_once(": ") else {
        return false;
    };
    let root = project_root();
    inputs
        .split_whitespace()
        .filter(|word| *word != "\\")
        .all(|input| {
            let path = root.join(input);
            modified(&path).is_some_and(|time| time <= built)
        })
}

/// Links the objects with the strategy's `libjspi.a` into
/// `target/examples/<name>/<strategy>.wasm`.
fn link(
    example: &Example,
    strategy: Strategy,
    library: &Path,
    objects: &[PathBuf],
    ctx: &Ctx,
) -> Result<PathBuf, String> {
    let wasm = example_dir(example).join(format!("{}.wasm", strategy.name()));
    let mut clang = ctx.clang();
    if example.wasi {
        clang.args(CLANG_LINK_WASI);
    } else {
        clang.args(CLANG_LINK);
    }
    clang.args(LIBRARY_EXPORTS);
    clang.args(objects.iter().map(|o| rel(o)));
    clang.arg(rel(library)).arg("-o").arg(rel(&wasm));
    process::run_checked(&mut clang, ctx).map_err(|e| e.to_string())?;
    Ok(wasm)
}

/// The folders of the packages an example's `packages/Cargo.toml` depends on, fetched
/// by cargo from crates.io as its `Cargo.lock` pins them (checksums included).
fn package_dirs(manifest: &Path, ctx: &Ctx) -> Result<Vec<PathBuf>, String> {
    let cargo = || ctx.cargo();
    let mut fetch = cargo();
    fetch
        .args(["fetch", "--locked", "--manifest-path"])
        .arg(rel(manifest));
    process::run_checked(&mut fetch, ctx).map_err(|e| e.to_string())?;
    let mut metadata = cargo();
    metadata
        .args([
            "metadata",
            "--locked",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(rel(manifest));
    let text = process::stdout_of(&mut metadata, ctx).map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: cargo metadata: {e}", rel(manifest).display()))?;
    let root = value["resolve"]["root"].as_str().unwrap_or_default();
    let direct: Vec<&str> = value["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|node| node["id"] == root)
        .flat_map(|node| node["dependencies"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let dirs: Vec<PathBuf> = value["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|package| {
            package["id"]
                .as_str()
                .is_some_and(|id| direct.contains(&id))
        })
        .filter_map(|package| package["manifest_path"].as_str())
        .filter_map(|path| Path::new(path).parent().map(Path::to_path_buf))
        .collect();
    if dirs.is_empty() {
        return Err(format!(
            "{}: cargo metadata names no dependency",
            rel(manifest).display()
        ));
    }
    Ok(dirs)
}

/// `cargo rustc` on a Rust example's manifest for wasm32 as a `cdylib`, with
/// `jspi/strategy-<strategy>`, then copies the module to
/// `target/examples/<name>/<strategy>.wasm`. The module's path comes from cargo's
/// JSON messages (the crate's name need not match the folder's).
fn build_rust(
    example: &Example,
    manifest: &Path,
    strategy: Strategy,
    ctx: &Ctx,
) -> Result<PathBuf, String> {
    let root = &ctx.root;
    let mut cargo = ctx.cargo();
    cargo
        .args(["rustc", "--manifest-path"])
        .arg(rel(manifest))
        .args(["--lib", "--release", "--target", "wasm32-unknown-unknown"])
        .arg("--features")
        .arg(format!("jspi/strategy-{}", strategy.name()))
        .args(["--crate-type", "cdylib", "--target-dir"])
        .arg(rel(&root.join("target/guest-build")))
        .arg("--message-format=json-render-diagnostics");
    let messages = process::stdout_of(&mut cargo, ctx).map_err(|e| e.to_string())?;
    let manifest = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_path_buf());
    let built = messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["manifest_path"]
                .as_str()
                .and_then(|path| Path::new(path).canonicalize().ok())
                .is_some_and(|path| path == manifest)
        })
        .flat_map(|message| match &message["filenames"] {
            Value::Array(files) => files.clone(),
            _ => Vec::new(),
        })
        .filter_map(|file| file.as_str().map(PathBuf::from))
        .find(|file| file.extension().is_some_and(|ext| ext == "wasm"))
        .ok_or_else(|| {
            format!(
                "{}: cargo built no .wasm module (is it a library crate?)",
                rel(&manifest).display()
            )
        })?;
    let dir = example_dir(example);
    let wasm = dir.join(format!("{}.wasm", strategy.name()));
    fs::create_dir_all(&dir)
        .and_then(|()| fs::copy(&built, &wasm))
        .map_err(|e| {
            format!(
                "copying {} to {}: {e}",
                rel(&built).display(),
                rel(&wasm).display()
            )
        })?;
    Ok(wasm)
}

/// Runs `wasm-bindgen --target nodejs` on a wasm-bindgen guest's module, writing the
/// glue and the processed module to `target/examples/<name>/<strategy>/`; returns the
/// glue (`guest.js`), which the Node runner loads in place of a module.
fn run_wasm_bindgen(
    example: &Example,
    strategy: Strategy,
    tool: &Path,
    wasm: &Path,
    ctx: &Ctx,
) -> Result<PathBuf, String> {
    let out_dir = example_dir(example).join(strategy.name());
    let mut command = Command::new(tool);
    command
        .arg(rel(wasm))
        .args(["--target", "nodejs", "--out-name", "guest", "--out-dir"])
        .arg(rel(&out_dir));
    process::run_checked(&mut command, ctx).map_err(|e| e.to_string())?;
    Ok(out_dir.join("guest.js"))
}

fn example_dir(example: &Example) -> PathBuf {
    project_root().join("target/examples").join(&example.name)
}
