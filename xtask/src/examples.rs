//! Finding example folders (by name, unique prefix or path) and reading what xtask
//! needs from their `scenario.json`: the description and the allowed strategies.
//!
//! An example is either C (`*.c` files, in `c-examples/`) or Rust (a `Cargo.toml`,
//! in `rust-examples/`); both kinds build to one module per strategy and run on every
//! host through the same scenario and transcript formats.
//!
//! The scenario is read with the runners' own parser (the `jspi-scenario` crate, which
//! the wasmtime runner uses and the Node runner mirrors), so a missing or bad one is
//! reported early, with its path, before anything is built.

use std::fs;
use std::path::{Path, PathBuf};

use jspi_scenario::{Scenario, Strategy};

use crate::hosts::Host;
use crate::{project_root, rel, Error, Result};

/// How an example's module is built.
#[derive(Debug, Clone)]
pub enum Kind {
    /// C: its `*.c` files, sorted, compiled with clang and linked with `libjspi.a`.
    C(Vec<PathBuf>),
    /// Rust: a crate built as a wasm32 `cdylib` that depends on `guest/jspi`.
    Rust {
        /// Its `Cargo.toml`.
        manifest: PathBuf,
        /// Whether it depends on wasm-bindgen: then `wasm-bindgen --target nodejs`
        /// post-processes the module and only Node hosts run it (through the glue;
        /// see [`Example::runs_on`]).
        bindgen: bool,
    },
}

/// One example folder: sources plus a scenario.
#[derive(Debug, Clone)]
pub struct Example {
    /// The folder's name; names the build outputs in `target/examples/`.
    pub name: String,
    /// The folder itself (absolute).
    pub dir: PathBuf,
    /// What it is written in.
    pub kind: Kind,
    /// Its `scenario.json`.
    pub scenario: PathBuf,
    /// The scenario's one-line description, if it has one.
    pub description: Option<String>,
    /// The strategies the scenario allows (all by default), in [`Strategy::ALL`] order.
    pub strategies: Vec<Strategy>,
    /// Whether it is built against wasi-libc (the scenario's `"libc": "wasi"`): then
    /// the hosts give it WASI preview 1, which the browser hosts do not have.
    pub wasi: bool,
    /// `packages/Cargo.toml`, if the example has one: a manifest outside the
    /// workspace whose dependencies are C sources from crates.io (the SQLite
    /// amalgamation, say), fetched and pinned by its `Cargo.lock`; each dependency's
    /// folder goes on the include path.
    pub packages: Option<PathBuf>,
}

impl Example {
    /// Where the expected transcript for `strategy` lives, whether or not it exists:
    /// `expected.<strategy>.txt` if the example has one, else `expected.txt`.
    pub fn expected_path(&self, strategy: Strategy) -> PathBuf {
        let specific = self.expected_for(strategy);
        if specific.is_file() {
            specific
        } else {
            self.expected_shared()
        }
    }

    /// How to name this example on the command line: its name when it is a folder of
    /// `c-examples/` or `rust-examples/`, else its path.
    pub fn arg(&self) -> String {
        if self
            .dir
            .parent()
            .is_some_and(|parent| examples_roots().iter().any(|root| root == parent))
        {
            self.name.clone()
        } else {
            rel(&self.dir).display().to_string()
        }
    }

    /// Whether `host` can run this example. A wasm-bindgen guest needs Node: its glue
    /// is `wasm-bindgen --target nodejs` output, CommonJS that `require`s its import
    /// modules by name (`env`, `jspi`); a browser would need a second build with
    /// `--target web` and an import map for those names, which no example needs yet.
    ///
    /// A wasi-libc guest needs WASI preview 1, which Node (`node:wasi`) and wasmtime
    /// (wasmtime-wasi) provide and the browsers do not.
    pub fn runs_on(&self, host: Host) -> bool {
        match self.kind {
            Kind::Rust { bindgen: true, .. } => host.node().is_some(),
            _ if self.wasi => !host.is_browser(),
            _ => true,
        }
    }

    /// The hosts among `hosts` that run this example, in order.
    pub fn hosts(&self, hosts: &[Host]) -> Vec<Host> {
        hosts.iter().copied().filter(|&h| self.runs_on(h)).collect()
    }

    /// `expected.txt`: the transcript shared by all strategies.
    pub fn expected_shared(&self) -> PathBuf {
        self.dir.join("expected.txt")
    }

    /// `expected.<strategy>.txt`.
    pub fn expected_for(&self, strategy: Strategy) -> PathBuf {
        self.dir.join(format!("expected.{}.txt", strategy.name()))
    }
}

/// `c-examples/` and `rust-examples/` in the project root, in the order runs use.
pub fn examples_roots() -> [PathBuf; 2] {
    ["c-examples", "rust-examples"].map(|dir| project_root().join(dir))
}

/// The examples named on the command line, or every folder of `c-examples/` and then
/// `rust-examples/` (each sorted) when none is named.
pub fn resolve(args: &[String]) -> Result<Vec<Example>> {
    let available = available()?;
    if args.is_empty() {
        return available.iter().map(|(_, dir)| load(dir)).collect();
    }
    let mut examples: Vec<Example> = Vec::new();
    for arg in args {
        let example = load(&find(arg, &available)?)?;
        if !examples.iter().any(|e| e.dir == example.dir) {
            examples.push(example);
        }
    }
    Ok(examples)
}

/// The folders of `c-examples/`, then those of `rust-examples/`, each sorted by name.
fn available() -> Result<Vec<(String, PathBuf)>> {
    let mut all = Vec::new();
    for root in examples_roots() {
        let entries = match fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::failure(format!("reading {}: {e}", root.display()))),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| Error::failure(format!("reading {}: {e}", root.display())))?;
            if entry.path().is_dir() {
                found.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    entry.path(),
                ));
            }
        }
        found.sort();
        all.extend(found);
    }
    Ok(all)
}

/// Resolves one argument: a path (anything with a `/` or starting with `.`), else a
/// folder of `c-examples/` or `rust-examples/` by exact name or unique prefix, else a
/// folder of that name in the current directory.
fn find(arg: &str, available: &[(String, PathBuf)]) -> Result<PathBuf> {
    let as_path = Path::new(arg);
    let looks_like_path =
        arg.contains(std::path::MAIN_SEPARATOR) || arg.contains('/') || arg.starts_with('.');
    if !looks_like_path {
        if let Some((_, dir)) = available.iter().find(|(name, _)| name == arg) {
            return Ok(dir.clone());
        }
        let matches: Vec<&(String, PathBuf)> = available
            .iter()
            .filter(|(name, _)| name.starts_with(arg))
            .collect();
        match matches.as_slice() {
            [(_, dir)] => return Ok(dir.clone()),
            [] => {}
            many => {
                return Err(Error::usage(format!(
                    "`{arg}` matches several examples: {}",
                    many.iter()
                        .map(|(name, _)| name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }
    if as_path.is_dir() {
        return as_path
            .canonicalize()
            .map_err(|e| Error::usage(format!("{arg}: {e}")));
    }
    if looks_like_path {
        return Err(Error::usage(format!("{arg}: no such folder")));
    }
    let listing = if available.is_empty() {
        "c-examples/ and rust-examples/ have none".to_string()
    } else {
        let names: Vec<&str> = available.iter().map(|(name, _)| name.as_str()).collect();
        format!("available: {}", names.join(", "))
    };
    Err(Error::usage(format!("unknown example `{arg}` ({listing})")))
}

/// Reads an example folder: its `Cargo.toml` or its `.c` files, and its scenario.
pub fn load(dir: &Path) -> Result<Example> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::usage(format!("{}: not an example folder", dir.display())))?;
    let shown = rel(dir);
    let mut sources = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|e| Error::usage(format!("{}: {e}", shown.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| Error::usage(format!("{}: {e}", shown.display())))?
            .path();
        if path.extension().is_some_and(|ext| ext == "c") && path.is_file() {
            sources.push(path);
        }
    }
    let manifest = dir.join("Cargo.toml");
    let kind = match (manifest.is_file(), sources.is_empty()) {
        (true, true) => {
            let text = fs::read_to_string(&manifest)
                .map_err(|e| Error::usage(format!("{}: {e}", rel(&manifest).display())))?;
            Kind::Rust {
                manifest,
                bindgen: depends_on_wasm_bindgen(&text),
            }
        }
        (true, false) => {
            return Err(Error::usage(format!(
                "{}: has both a Cargo.toml and C sources; an example is one or the other",
                shown.display()
            )))
        }
        (false, true) => {
            return Err(Error::usage(format!(
                "{}: no guest source (expected *.c files, or a Cargo.toml for a Rust guest)",
                shown.display()
            )))
        }
        (false, false) => {
            sources.sort();
            Kind::C(sources)
        }
    };
    let scenario = dir.join("scenario.json");
    let (
        Scenario {
            description, wasi, ..
        },
        strategies,
    ) = read_scenario(&scenario)?;
    if wasi && !matches!(kind, Kind::C(_)) {
        return Err(Error::usage(format!(
            "{}: \"libc\": \"wasi\" is for C examples",
            rel(&scenario).display()
        )));
    }
    let packages = Some(dir.join("packages/Cargo.toml")).filter(|p| p.is_file());
    Ok(Example {
        name,
        dir: dir.to_path_buf(),
        kind,
        scenario,
        description,
        strategies,
        wasi,
        packages,
    })
}

/// Whether a manifest has a dependency line `wasm-bindgen = ...` (in any table): that
/// marks a wasm-bindgen guest.
fn depends_on_wasm_bindgen(manifest: &str) -> bool {
    manifest.lines().any(|line| {
        line.trim_start()
            .strip_prefix("wasm-bindgen")
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    })
}

/// Reads and parses `scenario.json`; see [`parse_scenario`].
fn read_scenario(path: &Path) -> Result<(Scenario, Vec<Strategy>)> {
    let shown = rel(path);
    let shown = shown.display();
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage(format!(
                "{shown}: missing (every example needs a scenario)"
            )))
        }
        Err(e) => return Err(Error::usage(format!("{shown}: {e}"))),
    };
    parse_scenario(&text, &shown.to_string()).map_err(Error::usage)
}

/// The scenario in `text` as the runners read it ([`jspi_scenario::parse`]; errors
/// name the file `shown`), and the strategies it allows by xtask's rule on top: each
/// named at most once, in [`Strategy::ALL`] order, every one when it names none.
fn parse_scenario(text: &str, shown: &str) -> Result<(Scenario, Vec<Strategy>), String> {
    let scenario = jspi_scenario::parse(text, shown)?;
    let Some(named) = &scenario.strategies else {
        return Ok((scenario, Strategy::ALL.to_vec()));
    };
    let mut allowed: Vec<Strategy> = Vec::new();
    for &strategy in named {
        if allowed.contains(&strategy) {
            return Err(format!(
                "{shown}: `strategies` names `{}` twice",
                strategy.name()
            ));
        }
        allowed.push(strategy);
    }
    allowed.sort();
    Ok((scenario, allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Scenario, Vec<Strategy>), String> {
        parse_scenario(text, "s.json")
    }

    #[test]
    fn scenario_defaults_to_every_strategy() {
        let (scenario, strategies) = parse(r#"{"steps": []}"#).unwrap();
        assert_eq!(scenario.description, None);
        assert_eq!(strategies, Strategy::ALL);
        assert!(!scenario.wasi);
    }

    #[test]
    fn scenario_names_its_libc() {
        assert!(parse(r#"{"libc": "wasi", "steps": []}"#).unwrap().0.wasi);
        assert!(!parse(r#"{"libc": "none", "steps": []}"#).unwrap().0.wasi);
    }

    #[test]
    fn scenario_strategies_come_back_in_canonical_order() {
        let text = r#"{"description": "d", "strategies": ["lazy", "none"], "steps": [{"start": "f", "as": "V"}, {"wait": "V"}]}"#;
        let (scenario, strategies) = parse(text).unwrap();
        assert_eq!(scenario.description.as_deref(), Some("d"));
        assert_eq!(strategies, [Strategy::None, Strategy::Lazy]);
        assert_eq!(scenario.steps.len(), 2);
    }

    #[test]
    fn a_wasm_bindgen_dependency_marks_a_bindgen_guest() {
        assert!(depends_on_wasm_bindgen(
            "[target.'cfg(target_arch = \"wasm32\")'.dependencies]\nwasm-bindgen = \"=0.2.130\"\n"
        ));
        assert!(!depends_on_wasm_bindgen(
            "[dependencies]\njspi = { path = \"../../guest/jspi\" }\n"
        ));
        assert!(!depends_on_wasm_bindgen(
            "wasm-bindgen-futures = \"0.4\"\n# wasm-bindgen is not used\n"
        ));
    }

    #[test]
    fn bad_scenarios_are_refused() {
        for text in [
            "",
            "[1]",
            r#"{"steps": [], "extra": 1}"#,
            r#"{"steps": {}}"#,
            r#"{"steps": [1]}"#,
            r#"{"description": 3, "steps": []}"#,
            r#"{"strategies": ["greedy"], "steps": []}"#,
            r#"{"strategies": ["lazy", "lazy"], "steps": []}"#,
            r#"{"strategies": [], "steps": []}"#,
            r#"{"description": "no steps"}"#,
            r#"{"libc": "glibc", "steps": []}"#,
            r#"{"libc": true, "steps": []}"#,
            r#"{"steps": [{"wait": "V"}]}"#,
        ] {
            let message = parse(text).unwrap_err();
            assert!(message.starts_with("s.json: "), "{text}: {message}");
        }
        assert_eq!(
            parse(r#"{"strategies": ["lazy", "eager", "lazy"], "steps": []}"#).unwrap_err(),
            "s.json: `strategies` names `lazy` twice"
        );
    }
}
