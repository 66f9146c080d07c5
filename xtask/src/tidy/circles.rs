//! No module circles: in each crate, the top-level modules (`src/x.rs` or `src/x/`)
//! must form layers, none reaching back to one that reaches it.
//!
//! Each file is parsed with syn, and every `crate::x` path and `use crate::{...}`
//! outside `#[cfg(test)]` counts as a dependency of its module on `x`, or on the
//! module an item the crate root re-exports comes from (`pub use x::{Item, ...}` in
//! lib.rs or main.rs). Tests may reach anywhere; `super::` stays inside a module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

use crate::project_root;

/// The crates held to it, by their `src` folders.
pub const CRATES: [&str; 5] = [
    "guest/stack-state/src",
    "guest/jspi/src",
    "host/src",
    "scenario/src",
    "xtask/src",
];

/// Modules by name, each with the modules it depends on.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The first names after `crate` in every path and `use` of a file, outside tests.
#[derive(Default)]
struct CrateNames(BTreeSet<String>);

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
    })
}

/// The names a `use` tree below `crate::` brings in first: `x` of `crate::x::...`.
fn first_names(tree: &syn::UseTree, into: &mut BTreeSet<String>) {
    match tree {
        syn::UseTree::Path(p) => {
            into.insert(p.ident.to_string());
        }
        syn::UseTree::Name(n) => {
            into.insert(n.ident.to_string());
        }
        syn::UseTree::Rename(r) => {
            into.insert(r.ident.to_string());
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| first_names(t, into)),
        syn::UseTree::Glob(_) => {}
    }
}

impl<'ast> Visit<'ast> for CrateNames {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if is_test(&u.attrs) {
            return;
        }
        if let syn::UseTree::Path(p) = &u.tree {
            if p.ident == "crate" {
                first_names(&p.tree, &mut self.0);
            }
        }
    }
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next()) {
            if first.ident == "crate" {
                self.0.insert(second.ident.to_string());
            }
        }
        syn::visit::visit_path(self, path);
    }
}

/// What the crate root re-exports, by item name: the top-level module it comes from.
fn reexports(root_file: &syn::File) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for item in &root_file.items {
        let syn::Item::Use(u) = item else { continue };
        let syn::UseTree::Path(p) = &u.tree else {
            continue;
        };
        let mut names = BTreeSet::new();
        first_names(&p.tree, &mut names);
        for name in names {
            found.insert(name, p.ident.to_string());
        }
    }
    found
}

/// The crate in `src`: its top-level modules and what each depends on.
pub fn graph(src: &Path) -> Result<Graph, String> {
    let parse = |path: &Path| -> Result<syn::File, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        syn::parse_file(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let root = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.exists())
        .ok_or_else(|| format!("{}: no lib.rs or main.rs", src.display()))?;
    let reexported = reexports(&parse(&root)?);
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path == root || stem == "bin" {
            continue;
        }
        let files = modules.entry(stem.to_string()).or_default();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    let mut graph = Graph::new();
    for (module, files) in &modules {
        let mut names = CrateNames::default();
        for file in files {
            names.visit_file(&parse(file)?);
        }
        let deps = graph.entry(module.clone()).or_default();
        for name in names.0 {
            let target = reexported.get(&name).unwrap_or(&name);
            if target != module && modules.contains_key(target) {
                deps.insert(target.clone());
            }
        }
    }
    Ok(graph)
}

/// A path of modules from `from` to `to` in `graph`, if there is one.
fn path_between(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from.to_string()]];
    while let Some(path) = stack.pop() {
        let last = path.last().expect("never empty");
        for next in graph.get(last).into_iter().flatten() {
            if next == to {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

/// Every circle in `graph`, once each, named by its members: `a <-> b <-> c`.
pub fn circles(graph: &Graph) -> Vec<String> {
    let mut found = BTreeSet::new();
    for (module, deps) in graph {
        for dep in deps {
            if let Some(mut members) = path_between(graph, dep, module) {
                members.sort();
                members.dedup();
                found.insert(members);
            }
        }
    }
    found.into_iter().map(|m| m.join(" <-> ")).collect()
}

/// Every `.rs` file under `dir`, into `files`.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_module_circles() {
        let mut problems = Vec::new();
        for src in CRATES {
            let graph = graph(&project_root().join(src)).unwrap();
            assert!(graph.len() > 1, "{src}: no modules found");
            for circle in circles(&graph) {
                problems.push(format!("{src}: module circle {circle}"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn a_circle_is_found() {
        let mut graph = Graph::new();
        let edges = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")];
        for (from, to) in edges {
            graph.entry(from.into()).or_default().insert(to.into());
            graph.entry(to.into()).or_default();
        }
        assert_eq!(circles(&graph), ["a <-> b <-> c"]);
        graph.get_mut("c").unwrap().remove("a");
        assert!(circles(&graph).is_empty());
    }
}
