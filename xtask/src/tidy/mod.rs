//! Tidy checks, in the style of rust-analyzer's `tidy` test: each contract that crosses
//! a language boundary has one source of truth, and these tests hold every other copy
//! to it. They read the files as text and run with `cargo test --workspace` (so in
//! `cargo xtask test`); each failure names the file to fix.
//!
//! - **Stats ids**: `Stats::get_mut` in `guest/stack-state/src/stats.rs` is the source;
//!   jspi.h's `jspi_stat_id`, docs/abi.md's table of counters, the JS package's
//!   `STAT_NAMES` and its `Stats` type must list the same counters in the same order.
//! - **Strategies**: `Strategy::ALL` in the scenario crate (`scenario/src/strategy.rs`,
//!   which the wasmtime runner's parser and xtask use) is the source; the guest
//!   library's features and its `STRATEGY` constants, the Node runner's scenario
//!   parser and jspi.h's comment must name the same ones.
//! - **The link recipe**: `CLANG_COMPILE`, `CLANG_LINK` and `LIBRARY_EXPORTS` in
//!   `compile.rs` are the source; docs/abi.md's recipe must show exactly those flags.
//! - **The library's exports**: [`crate::compile::LIBRARY_SYMBOLS`] against jspi.h,
//!   docs/abi.md and docs/dist.md ([`symbol_list`], also run by the dist checks).
//! - **Sizes** ([`lengths`]): no file over 800 lines and no function over 80 in
//!   guest/, host/, scenario/ and xtask/.
//! - **No module circles** ([`circles`]): each crate's top-level modules form layers.

#[cfg(test)]
mod circles;
#[cfg(test)]
mod lengths;

use std::collections::BTreeSet;
use std::fs;

use crate::compile::LIBRARY_SYMBOLS;
use crate::project_root;

/// The file at `path` (relative to the project root).
fn read(path: &str) -> Result<String, String> {
    fs::read_to_string(project_root().join(path)).map_err(|e| format!("{path}: {e}"))
}

/// [`LIBRARY_SYMBOLS`] against the docs: every function jspi.h declares and every
/// export of docs/abi.md's table is in it, and each of its names is in one of those
/// and in the dist's README (docs/dist.md).
pub fn symbol_list() -> Result<(), String> {
    let header = read("guest/jspi/include/jspi.h")?;
    let abi = read("docs/abi.md")?;
    let readme = read("docs/dist.md")?;
    let mut documented = BTreeSet::new();
    // `jspi_name(` in jspi.h: a declaration (comments name functions without `(`).
    for (at, _) in header.match_indices("jspi_") {
        let name: String = header[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if header[at + name.len()..].starts_with('(') {
            documented.insert(name);
        }
    }
    documented.insert("jspi_min_task_stack".to_string());
    let exports = section(&abi, "## Exports the guest library adds")?;
    for row in first_table(exports) {
        if let Some(cell) = row.strip_prefix("| `") {
            documented.insert(cell.split('`').next().unwrap_or_default().to_string());
        }
    }
    let listed: BTreeSet<String> = LIBRARY_SYMBOLS.iter().map(|s| s.to_string()).collect();
    if documented != listed {
        return Err(format!(
            "jspi.h and docs/abi.md's exports name {:?} beyond LIBRARY_SYMBOLS (xtask/src/compile.rs), which names {:?} beyond them",
            documented.difference(&listed).collect::<Vec<_>>(),
            listed.difference(&documented).collect::<Vec<_>>()
        ));
    }
    if let Some(name) = LIBRARY_SYMBOLS
        .iter()
        .find(|name| !readme.contains(&format!("`{name}`")))
    {
        return Err(format!("docs/dist.md does not list `{name}`"));
    }
    Ok(())
}

/// The text of `doc` after the heading `heading`.
fn section<'a>(doc: &'a str, heading: &str) -> Result<&'a str, String> {
    doc.split(heading)
        .nth(1)
        .ok_or_else(|| format!("no section `{heading}`"))
}

/// The rows of the first Markdown table in `text`.
fn first_table(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{
        Strategy, CLANG_COMPILE, CLANG_COMPILE_WASI, CLANG_LINK, CLANG_LINK_WASI, LIBRARY_EXPORTS,
    };

    /// `bytes_saved` -> `bytesSaved`.
    fn camel(snake: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in snake.chars() {
            match c {
                '_' => upper = true,
                c if upper => {
                    out.push(c.to_ascii_uppercase());
                    upper = false;
                }
                c => out.push(c),
            }
        }
        out
    }

    /// The quoted strings of the first `[...]` after the `=` that follows `marker` in
    /// `text` (past a Rust type such as `[&str; 4]`).
    fn quoted_list(text: &str, marker: &str) -> Vec<String> {
        let after = &text[text.find(marker).unwrap_or_else(|| panic!("no `{marker}`"))..];
        let after = &after[after.find('=').expect("an initializer")..];
        let after = &after[after.find('[').expect("a list")..];
        let list = &after[..after.find(']').expect("its end")];
        list.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    /// The counters in id order, from `Stats::get_mut`: `N => &mut self.name,`.
    fn stats_source() -> Vec<String> {
        let source = read("guest/stack-state/src/stats.rs").unwrap();
        let mut ids = Vec::new();
        for line in source.lines() {
            let Some((id, rest)) = line.trim().split_once(" => &mut self.") else {
                continue;
            };
            assert_eq!(
                id.parse::<usize>(),
                Ok(ids.len()),
                "stats.rs: ids out of order"
            );
            ids.push(rest.trim_end_matches(',').to_string());
        }
        assert!(
            ids.len() > 5,
            "stats.rs: no `N => &mut self.field` lines found"
        );
        ids
    }

    #[test]
    fn stats_ids_agree_everywhere() {
        let ids = stats_source();
        let header = read("guest/jspi/include/jspi.h").unwrap();
        let in_header: Vec<String> = header
            .lines()
            .filter_map(|l| l.trim().strip_prefix("JSPI_STAT_"))
            .map(|l| {
                let (name, id) = l.split_once(" = ").expect("JSPI_STAT_NAME = N,");
                let id: usize = id.trim_end_matches(',').parse().expect("a number");
                assert_eq!(
                    id,
                    ids.iter()
                        .position(|i| i.eq_ignore_ascii_case(name))
                        .unwrap_or(usize::MAX),
                    "jspi.h: JSPI_STAT_{name} = {id}"
                );
                name.to_ascii_lowercase()
            })
            .collect();
        assert_eq!(in_header, ids, "jspi.h's jspi_stat_id against stats.rs");

        let abi = read("docs/abi.md").unwrap();
        let counters = section(&abi, "The counters (").unwrap();
        let in_abi: Vec<String> = first_table(counters)
            .skip(2)
            .enumerate()
            .map(|(index, row)| {
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                assert_eq!(
                    cells[1].parse(),
                    Ok(index),
                    "docs/abi.md: ids out of order at {row}"
                );
                cells[2].replace(' ', "_")
            })
            .collect();
        assert_eq!(
            in_abi, ids,
            "docs/abi.md's table of counters against stats.rs"
        );

        let js = read("host/js/jspi-stack/index.js").unwrap();
        let camels: Vec<String> = ids.iter().map(|i| camel(i)).collect();
        assert_eq!(
            quoted_list(&js, "export const STAT_NAMES"),
            camels,
            "the JS package's STAT_NAMES (host/js/jspi-stack/index.js) against stats.rs"
        );
        let types = read("host/js/jspi-stack/index.d.ts").unwrap();
        let interface = section(&types, "export interface Stats {").unwrap();
        let fields: Vec<String> = interface[..interface.find('}').expect("its end")]
            .lines()
            .filter_map(|l| l.trim().strip_suffix(": number;"))
            .map(str::to_string)
            .collect();
        assert_eq!(fields, camels, "index.d.ts's Stats against stats.rs");
    }

    #[test]
    fn strategies_agree_everywhere() {
        let names: Vec<String> = Strategy::ALL.iter().map(|s| s.name().to_string()).collect();
        // The Rust parser reads names with `Strategy::parse` itself: no copy to check.
        let (path, marker) = ("host/js/scenario.mjs", "const STRATEGIES");
        let text = read(path).unwrap();
        assert_eq!(quoted_list(&text, marker), names, "{path}: {marker}");
        let manifest = read("guest/jspi/Cargo.toml").unwrap();
        let guest = read("guest/jspi/src/guest.rs").unwrap();
        let header = read("guest/jspi/include/jspi.h").unwrap();
        for name in &names {
            let feature = format!("strategy-{name} = []");
            assert!(
                manifest.contains(&feature),
                "guest/jspi/Cargo.toml lacks `{feature}`"
            );
            let constant = format!("\"{name}\\0\");");
            assert!(
                guest.contains(&constant),
                "guest/jspi/src/guest.rs: no STRATEGY named {name}"
            );
            assert!(
                header.contains(&format!("\"{name}\"")),
                "jspi.h's jspi_strategy comment lacks \"{name}\""
            );
        }
        let features = manifest.matches("\nstrategy-").count();
        assert_eq!(
            features,
            names.len(),
            "guest/jspi/Cargo.toml: strategy features beyond Strategy::ALL"
        );
    }

    /// The flags of a documented clang-19 command: everything but `-c` and `-o` with
    /// their arguments, objects and the library.
    fn flags(words: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        let mut skip = false;
        for &word in words {
            if std::mem::take(&mut skip) {
                continue;
            }
            match word {
                "-c" | "-o" => skip = true,
                w if w.ends_with(".o") || w.ends_with(".a") => {}
                w => out.push(w.to_string()),
            }
        }
        out
    }

    /// The code block `nth` (from 0) of `text` is the two commands `compile` and
    /// `link` + [`LIBRARY_EXPORTS`] give.
    fn check_recipe(text: &str, nth: usize, compile: &[&str], link: &[&str], what: &str) {
        let block = text.split("```").nth(2 * nth + 1).expect("a code block");
        let block = block.replace("\\\n", " ");
        let commands: Vec<Vec<&str>> = block
            .lines()
            .filter_map(|l| l.strip_prefix("clang-19 "))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let [compiled, linked] = &commands[..] else {
            panic!(
                "docs/abi.md: the {what} recipe should be two clang-19 commands, got {commands:?}"
            );
        };
        let strings = |flags: &[&str]| flags.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            flags(compiled),
            strings(compile),
            "docs/abi.md's {what} compile line"
        );
        let link: Vec<&str> = link.iter().chain(&LIBRARY_EXPORTS).copied().collect();
        assert_eq!(
            flags(linked),
            strings(&link),
            "docs/abi.md's {what} link line"
        );
    }

    #[test]
    fn the_link_recipes_are_documented_as_built() {
        let abi = read("docs/abi.md").unwrap();
        let recipes = section(&abi, "## How a guest module is built").unwrap();
        check_recipe(recipes, 0, &CLANG_COMPILE, &CLANG_LINK, "freestanding");
        check_recipe(
            recipes,
            1,
            &CLANG_COMPILE_WASI,
            &CLANG_LINK_WASI,
            "wasi-libc",
        );
    }

    #[test]
    fn the_symbol_list_matches_the_docs() {
        symbol_list().unwrap();
    }
}
