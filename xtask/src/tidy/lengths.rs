//! The size limits of issue 17, held by a test: no source file in guest/, host/,
//! scenario/ and xtask/ over [`MAX_FILE_LINES`] lines, and no function over
//! [`MAX_FN_LINES`] (a function counts from its `fn` or `function` to its closing
//! brace).
//!
//! Rust functions are found by parsing each file with syn, so strings and macros
//! cannot confuse the count. JavaScript has no parser here: its functions are found
//! by their openers (`function`, an arrow with a block, a method) and their ends by
//! counting braces outside strings and comments, which is exact for the code this
//! project writes (no regular expression literal holds a brace).

use std::fs;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

use crate::project_root;

/// The most lines a source file may have.
pub const MAX_FILE_LINES: usize = 800;
/// The most lines a function may have.
pub const MAX_FN_LINES: usize = 80;

/// The folders held to the limits.
const ROOTS: [&str; 4] = ["guest", "host", "scenario", "xtask"];
/// Source files, by extension.
const EXTENSIONS: [&str; 7] = ["rs", "c", "h", "s", "js", "mjs", "ts"];

/// Every source file under [`ROOTS`], skipping build output and npm packages.
fn sources() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = ROOTS.iter().map(|r| project_root().join(r)).collect();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "node_modules" {
                    pending.push(path);
                }
            } else if path
                .extension()
                .is_some_and(|e| EXTENSIONS.iter().any(|x| e == *x))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `path` relative to the project root, for messages.
fn shown(path: &Path) -> String {
    let root = project_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The functions of Rust source `text`: (name, first line, lines).
pub fn rust_functions(text: &str) -> Result<Vec<(String, usize, usize)>, String> {
    /// Collects every function with a body: free, in an impl, or a trait's default.
    struct Fns(Vec<(String, usize, usize)>);
    impl Fns {
        fn add(&mut self, sig: &syn::Signature, block: &syn::Block) {
            let first = sig.fn_token.span.start().line;
            let last = block.brace_token.span.close().end().line;
            self.0
                .push((sig.ident.to_string(), first, last + 1 - first));
        }
    }
    impl<'ast> Visit<'ast> for Fns {
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            self.add(&f.sig, &f.block);
            syn::visit::visit_item_fn(self, f);
        }
        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            self.add(&f.sig, &f.block);
            syn::visit::visit_impl_item_fn(self, f);
        }
        fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
            if let Some(block) = &f.default {
                self.add(&f.sig, block);
            }
            syn::visit::visit_trait_item_fn(self, f);
        }
    }
    let file = syn::parse_file(text).map_err(|e| e.to_string())?;
    let mut fns = Fns(Vec::new());
    fns.visit_file(&file);
    Ok(fns.0)
}

/// `line` without its strings, template literals and `//` comment (a block comment
/// is rare enough in this code to count its braces, and has none).
fn js_code(line: &str) -> String {
    let mut code = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => code.push(c),
        }
    }
    code
}

/// Whether `line` opens a JavaScript function: a `function`, an arrow function
/// whose block starts on the line, or a method (`name(...) {`).
fn js_opens_function(line: &str) -> bool {
    let code = js_code(line);
    let trimmed = code.trim();
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let keyword_function = code.match_indices("function").any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + "function".len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    });
    if keyword_function || trimmed.ends_with("=> {") {
        return true;
    }
    let Some(paren) = trimmed.find('(') else {
        return false;
    };
    let head = trimmed[..paren]
        .trim_start_matches("async ")
        .trim_start_matches("static ")
        .trim_start_matches('*')
        .trim();
    let keyword = ["if", "for", "while", "switch", "catch", "return", "else if"];
    trimmed.ends_with(") {")
        && !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        && !keyword.contains(&head)
}

/// The functions of JavaScript source `text`: (first line of the opener, first line,
/// lines).
pub fn js_functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !js_opens_function(line) {
            continue;
        }
        let (mut depth, mut opened) = (0i64, false);
        for (j, later) in lines.iter().enumerate().skip(i) {
            let code = js_code(later);
            let opens = code.matches('{').count() as i64;
            depth += opens - code.matches('}').count() as i64;
            opened |= opens > 0;
            if opened && depth <= 0 {
                found.push((line.trim().chars().take(50).collect(), i + 1, j + 1 - i));
                break;
            }
        }
    }
    found
}

/// Every file over [`MAX_FILE_LINES`] and every function over [`MAX_FN_LINES`], one
/// line each.
pub fn too_long() -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    for path in sources() {
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", shown(&path)))?;
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!(
                "{}: {lines} lines (at most {MAX_FILE_LINES}): split it by concept",
                shown(&path)
            ));
        }
        let functions = match path.extension().and_then(|e| e.to_str()) {
            Some("rs") => rust_functions(&text).map_err(|e| format!("{}: {e}", shown(&path)))?,
            Some("js" | "mjs") => js_functions(&text),
            _ => Vec::new(),
        };
        for (name, line, length) in functions {
            if length > MAX_FN_LINES {
                problems.push(format!(
                    "{}:{line}: `{name}` is {length} lines (at most {MAX_FN_LINES}): split it into named steps",
                    shown(&path)
                ));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_or_function_is_too_long() {
        let problems = too_long().unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn functions_are_measured_from_fn_to_closing_brace() {
        let rust = "/// doc\nfn a() {\n    let s = \"}\";\n}\nimpl X {\n    fn b(&self)\n    {\n    }\n}\n";
        let found = rust_functions(rust).unwrap();
        assert_eq!(found, [("a".into(), 2, 3), ("b".into(), 6, 3)]);
        let js = "const myfunction = 1;\nfunction a() {\n  const s = \"}\"; // }\n}\nclass C {\n  m(x) {\n    if (x) {\n    }\n  }\n}\nconst f = (x) => {\n  return `}`;\n};\n";
        let found: Vec<(usize, usize)> = js_functions(js)
            .into_iter()
            .map(|(_, at, n)| (at, n))
            .collect();
        assert_eq!(found, [(2, 3), (6, 4), (11, 3)]);
    }

    #[test]
    fn a_long_function_is_reported() {
        let body = "    x();\n".repeat(MAX_FN_LINES);
        let found = rust_functions(&format!("fn long() {{\n{body}}}\n")).unwrap();
        assert_eq!(found[0].2, MAX_FN_LINES + 2);
        let found = js_functions(&format!("function long() {{\n{body}}}\n"));
        assert_eq!(found[0].2, MAX_FN_LINES + 2);
    }
}
