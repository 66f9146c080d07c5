//! [`Imports`]: declares host imports that take or return host values (promises
//! above all), for a guest's `build.rs` (feature `build`).
//!
//! Why a build step: stable Rust has no `externref` type for wasm32 and no inline or
//! global assembly there, so Rust cannot declare an import that returns a promise.
//! [`Imports::generate`] writes, from one list of Rust-like signatures, both sides of
//! a tiny adapter per import:
//!
//! - `$OUT_DIR/jspi_imports.s`: for each import, the wasm import with its real type
//!   (`(i32) -> externref`) and an adapter function that calls it and keeps the
//!   externref in the guest library's slot table (`jspi_ref_store_or_fail`), returning
//!   the slot; an `&ExternRef` parameter goes the other way (`jspi_ref_load`). It is
//!   assembled with clang (`JSPI_CLANG`, default `clang-19`), only for wasm32.
//! - `$OUT_DIR/jspi_imports.rs`: for each import, a safe Rust function with the typed
//!   signature (`fn fake_fetch(x: i32) -> Promise<i32>`) that calls its adapter.
//!
//! Both come from the same declaration, so they cannot disagree.

use std::fmt::Write as _;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, fs, println};

/// A list of host imports to generate adapters for; see the [module docs](self).
///
/// ```no_run
/// // build.rs of a guest crate (with `jspi = { ..., features = ["build"] }` under
/// // [build-dependencies]):
/// jspi::build::Imports::new("env")
///     .declare("fn delay(ms: i32) -> Promise<()>")
///     .declare("fn fake_fetch(x: i32) -> Promise<i32>")
///     .declare("fn log_ref(value: &ExternRef)")
///     .generate();
/// // src/lib.rs then has:
/// //   mod host { include!(concat!(env!("OUT_DIR"), "/jspi_imports.rs")); }
/// ```
#[derive(Debug, Clone)]
pub struct Imports {
    module: String,
    imports: Vec<Import>,
    errors: Vec<String>,
}

#[derive(Debug, Clone)]
struct Import {
    module: String,
    name: String,
    params: Vec<(String, Type)>,
    ret: Option<Type>,
}

/// The types a declaration may use.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Type {
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    /// `&ExternRef` (parameters only).
    RefParam,
    /// `ExternRef` (results only).
    Ref,
    /// `Promise<T>` (results only); the text is `i32`, `ExternRef` or `()`.
    Promise(&'static str),
}

impl Type {
    fn parse(text: &str) -> Option<Type> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        Some(match compact.as_str() {
            "i32" => Type::I32,
            "u32" => Type::U32,
            "i64" => Type::I64,
            "u64" => Type::U64,
            "f32" => Type::F32,
            "f64" => Type::F64,
            "&ExternRef" => Type::RefParam,
            "ExternRef" => Type::Ref,
            "Promise<i32>" => Type::Promise("i32"),
            "Promise<ExternRef>" => Type::Promise("::jspi::ExternRef"),
            "Promise<()>" => Type::Promise("()"),
            "Promise<Bytes>" => Type::Promise("::jspi::Bytes"),
            _ => return None,
        })
    }

    /// The type in the generated Rust function.
    fn rust(self) -> String {
        match self {
            Type::I32 => "i32".into(),
            Type::U32 => "u32".into(),
            Type::I64 => "i64".into(),
            Type::U64 => "u64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::RefParam => "&::jspi::ExternRef".into(),
            Type::Ref => "::jspi::ExternRef".into(),
            Type::Promise(inner) => format!("::jspi::Promise<{inner}>"),
        }
    }

    /// The type at the adapter's C ABI (what Rust passes and gets).
    fn abi(self) -> &'static str {
        match self {
            Type::I32 => "i32",
            Type::U32 | Type::RefParam | Type::Ref | Type::Promise(_) => "u32",
            Type::I64 => "i64",
            Type::U64 => "u64",
            Type::F32 => "f32",
            Type::F64 => "f64",
        }
    }

    /// The adapter's wasm type.
    fn wasm_adapter(self) -> &'static str {
        match self {
            Type::I32 | Type::U32 | Type::RefParam | Type::Ref | Type::Promise(_) => "i32",
            Type::I64 | Type::U64 => "i64",
            Type::F32 => "f32",
            Type::F64 => "f64",
        }
    }

    /// The import's own wasm type.
    fn wasm_import(self) -> &'static str {
        match self {
            Type::RefParam | Type::Ref | Type::Promise(_) => "externref",
            other => other.wasm_adapter(),
        }
    }
}

impl Imports {
    /// An empty list whose imports come from the wasm module `module` (`env` for the
    /// host environment of docs/abi.md).
    pub fn new(module: &str) -> Imports {
        Imports {
            module: module.to_string(),
            imports: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Imports declared after this come from `module`.
    pub fn module(mut self, module: &str) -> Imports {
        self.module = module.to_string();
        self
    }

    /// Declares one import, as `fn NAME(PARAM: TYPE, ...) [-> RESULT]`.
    ///
    /// Parameter types: `i32`, `u32`, `i64`, `u64`, `f32`, `f64`, `&ExternRef`.
    /// Results: those numbers, `ExternRef`, `Promise<i32>`, `Promise<ExternRef>` or
    /// `Promise<()>`. A mistake is reported by [`Imports::generate`].
    pub fn declare(mut self, signature: &str) -> Imports {
        match parse(&self.module, signature) {
            Ok(import) => {
                if self
                    .imports
                    .iter()
                    .any(|i| i.name == import.name && i.module == import.module)
                {
                    self.errors
                        .push(format!("`{}` is declared twice", import.name));
                } else {
                    self.imports.push(import);
                }
            }
            Err(message) => self.errors.push(format!("`{signature}`: {message}")),
        }
        self
    }

    /// The generated Rust source, or the first declaration error.
    ///
    /// ```
    /// let imports = jspi::build::Imports::new("env")
    ///     .declare("fn fake_fetch(x: i32) -> Promise<i32>");
    /// let rust = imports.rust_source().unwrap();
    /// assert!(rust.contains("pub fn fake_fetch(x: i32) -> ::jspi::Promise<i32>"));
    ///
    /// let typo = jspi::build::Imports::new("env").declare("fn f(x: String)");
    /// assert_eq!(
    ///     typo.rust_source().unwrap_err(),
    ///     "jspi::build::Imports: `fn f(x: String)`: parameter `x`: unsupported type \
    ///      `String` (use i32, u32, i64, u64, f32, f64 or &ExternRef)"
    /// );
    /// ```
    pub fn rust_source(&self) -> Result<String, String> {
        self.check()?;
        let mut out = String::from(
            "// Generated by jspi::build::Imports from the guest's build.rs: do not edit.\n",
        );
        for import in &self.imports {
            let params: Vec<String> = import
                .params
                .iter()
                .map(|(name, ty)| format!("{name}: {}", ty.rust()))
                .collect();
            let abi_params: Vec<String> = import
                .params
                .iter()
                .map(|(name, ty)| format!("{name}: {}", ty.abi()))
                .collect();
            let args: Vec<String> = import
                .params
                .iter()
                .map(|(name, ty)| match ty {
                    Type::RefParam => format!("{name}.__slot()"),
                    _ => name.clone(),
                })
                .collect();
            let ret = import
                .ret
                .map(|ty| format!(" -> {}", ty.rust()))
                .unwrap_or_default();
            let abi_ret = import
                .ret
                .map(|ty| format!(" -> {}", ty.abi()))
                .unwrap_or_default();
            let call = format!("adapter({})", args.join(", "));
            let (safety, body) = match import.ret {
                Some(Type::Promise(_)) => (
                    "the adapter stored the promise in a fresh slot, which the handle now owns",
                    format!("::jspi::Promise::__from_slot({call})"),
                ),
                Some(Type::Ref) => (
                    "the adapter stored the value in a fresh slot, which the handle now owns",
                    format!("::jspi::ExternRef::__from_slot({call})"),
                ),
                _ => ("the adapter was generated from this very declaration", call),
            };
            let _ = write!(
                out,
                "\n/// The host import `{module}.{name}` (declared in build.rs).\n\
                 pub fn {name}({params}){ret} {{\n    \
                     unsafe extern \"C\" {{\n        \
                         #[link_name = \"{adapter}\"]\n        \
                         fn adapter({abi_params}){abi_ret};\n    \
                     }}\n    \
                     // SAFETY: {safety}.\n    \
                     unsafe {{ {body} }}\n\
                 }}\n",
                module = import.module,
                name = import.name,
                params = params.join(", "),
                adapter = symbol("adapter", import),
                abi_params = abi_params.join(", "),
            );
        }
        Ok(out)
    }

    /// The generated wasm assembly, or the first declaration error.
    ///
    /// ```
    /// let imports = jspi::build::Imports::new("env")
    ///     .declare("fn delay(ms: i32) -> Promise<()>");
    /// let asm = imports.asm_source().unwrap();
    /// // The import keeps its real type; the adapter returns a slot number.
    /// assert!(asm.contains(".functype __jspi_import__env__delay (i32) -> (externref)"));
    /// assert!(asm.contains(".functype __jspi_adapter__env__delay (i32) -> (i32)"));
    /// ```
    pub fn asm_source(&self) -> Result<String, String> {
        self.check()?;
        let mut out = String::from(
            "# Generated by jspi::build::Imports from the guest's build.rs: do not edit.\n\
             # Each adapter calls its import and moves externrefs through the guest\n\
             # library's slot table, so Rust only ever sees slot numbers.\n\
             \n        .functype jspi_ref_store_or_fail (externref) -> (i32)\n\
             \x20       .functype jspi_ref_load (i32) -> (externref)\n",
        );
        for import in &self.imports {
            let import_sym = symbol("import", import);
            let adapter = symbol("adapter", import);
            let types = |wasm: fn(Type) -> &'static str| {
                let params: Vec<&str> = import.params.iter().map(|(_, ty)| wasm(*ty)).collect();
                let results = import.ret.map(wasm).unwrap_or("");
                format!("({}) -> ({results})", params.join(", "))
            };
            let _ = write!(
                out,
                "\n# {module}.{name}\n\
                 \x20       .functype {import_sym} {import_type}\n\
                 \x20       .import_module {import_sym}, {module}\n\
                 \x20       .import_name {import_sym}, {name}\n\
                 \x20       .section .text.{adapter},\"\",@\n\
                 \x20       .globl {adapter}\n\
                 \x20       .type {adapter},@function\n\
                 {adapter}:\n\
                 \x20       .functype {adapter} {adapter_type}\n",
                module = import.module,
                name = import.name,
                import_type = types(Type::wasm_import),
                adapter_type = types(Type::wasm_adapter),
            );
            for (index, (name, ty)) in import.params.iter().enumerate() {
                let _ = writeln!(out, "        local.get {index:<22}# {name}");
                if *ty == Type::RefParam {
                    out.push_str("        call jspi_ref_load           # the value in that slot\n");
                }
            }
            let _ = writeln!(out, "        call {import_sym}");
            if matches!(import.ret, Some(Type::Ref | Type::Promise(_))) {
                out.push_str("        call jspi_ref_store_or_fail  # into a fresh slot\n");
            }
            out.push_str("        end_function\n");
        }
        Ok(out)
    }

    fn check(&self) -> Result<(), String> {
        match self.errors.first() {
            Some(error) => Err(format!("jspi::build::Imports: {error}")),
            None => Ok(()),
        }
    }

    /// In a build script: writes both files to `OUT_DIR` and, for a wasm32 target,
    /// assembles the adapters into a static library linked into the crate. Stops the
    /// build with a one-line message on a bad declaration or a missing tool.
    pub fn generate(self) {
        let fail = |message: String| -> ! { panic!("{message}") };
        let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| {
            fail(
                "jspi::build::Imports::generate: OUT_DIR is not set (call it from build.rs)".into(),
            )
        });
        let out_dir = Path::new(&out_dir);
        let rust = self.rust_source().unwrap_or_else(|e| fail(e));
        let asm = self.asm_source().unwrap_or_else(|e| fail(e));
        let write = |name: &str, text: &str| {
            let path = out_dir.join(name);
            fs::write(&path, text)
                .unwrap_or_else(|e| fail(format!("writing {}: {e}", path.display())));
            path
        };
        write("jspi_imports.rs", &rust);
        let asm_path = write("jspi_imports.s", &asm);
        println!("cargo:rerun-if-env-changed=JSPI_CLANG");
        if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
            return;
        }
        let clang = std::env::var("JSPI_CLANG").unwrap_or_else(|_| "clang-19".into());
        let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
        let library: String = format!("jspi_imports_{package}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        cc::Build::new()
            .compiler(clang)
            .file(asm_path)
            .flag("-mreference-types")
            .flag("-Wno-unused-command-line-argument")
            .debug(false)
            .compile(&library);
    }
}

fn symbol(kind: &str, import: &Import) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    format!(
        "__jspi_{kind}__{}__{}",
        clean(&import.module),
        clean(&import.name)
    )
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse(module: &str, signature: &str) -> Result<Import, String> {
    let rest = signature
        .trim()
        .trim_end_matches(';')
        .strip_prefix("fn ")
        .ok_or("must start with `fn `")?;
    let open = rest.find('(').ok_or("missing `(`")?;
    // Parameter types hold no parentheses; the result may (`Promise<()>`).
    let close = open + rest[open..].find(')').ok_or("missing `)`")?;
    let name = rest[..open].trim();
    if !is_ident(name) {
        return Err(format!("`{name}` is not a Rust identifier"));
    }
    let mut params = Vec::new();
    let inside = rest[open + 1..close].trim();
    if !inside.is_empty() {
        for param in inside.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (pname, ty) = param
                .split_once(':')
                .ok_or_else(|| format!("parameter `{param}` needs a type (`name: i32`)"))?;
            let pname = pname.trim();
            if !is_ident(pname) || pname == "adapter" {
                return Err(format!("`{pname}` cannot name a parameter"));
            }
            match Type::parse(ty) {
                Some(ty @ (Type::Ref | Type::Promise(_))) => {
                    return Err(format!(
                        "parameter `{pname}`: {} is a result type; pass `&ExternRef`",
                        ty.rust()
                    ))
                }
                Some(ty) => params.push((pname.to_string(), ty)),
                None => {
                    return Err(format!(
                        "parameter `{pname}`: unsupported type `{}` (use i32, u32, i64, u64, f32, f64 or &ExternRef)",
                        ty.trim()
                    ))
                }
            }
        }
    }
    let after = rest[close + 1..].trim();
    let ret = if after.is_empty() {
        None
    } else {
        let ty = after
            .strip_prefix("->")
            .ok_or_else(|| format!("unexpected `{after}` after the parameters"))?;
        match Type::parse(ty) {
            Some(Type::RefParam) | None => {
                return Err(format!(
                    "unsupported result type `{}` (use a number type, ExternRef, Promise<i32>, Promise<ExternRef>, Promise<()> or Promise<Bytes>)",
                    ty.trim()
                ))
            }
            some => some,
        }
    };
    Ok(Import {
        module: module.to_string(),
        name: name.to_string(),
        params,
        ret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_typed_wrappers_and_adapters() {
        let imports = Imports::new("env")
            .declare("fn delay(ms: i32) -> Promise<()>")
            .declare("fn fake_fetch(x: i32) -> Promise<i32>")
            .declare("fn log_ref(value: &ExternRef)");
        let rust = imports.rust_source().unwrap();
        assert!(rust.contains("pub fn fake_fetch(x: i32) -> ::jspi::Promise<i32>"));
        assert!(rust.contains("fn adapter(x: i32) -> u32;"));
        assert!(rust.contains("pub fn delay(ms: i32) -> ::jspi::Promise<()>"));
        assert!(rust.contains("adapter(value.__slot())"));
        let asm = imports.asm_source().unwrap();
        assert!(asm.contains(".functype __jspi_import__env__fake_fetch (i32) -> (externref)"));
        assert!(asm.contains(".functype __jspi_adapter__env__fake_fetch (i32) -> (i32)"));
        assert!(asm.contains(".functype __jspi_import__env__log_ref (externref) -> ()"));
        assert!(asm.contains(".import_name __jspi_import__env__log_ref, log_ref"));
    }

    #[test]
    fn bad_declarations_are_reported() {
        for (signature, message) in [
            ("delay(ms: i32)", "must start with `fn `"),
            ("fn delay(ms: String)", "unsupported type `String`"),
            ("fn delay(ms) -> Promise<()>", "needs a type"),
            (
                "fn delay(ms: i32) -> Promise<u8>",
                "unsupported result type",
            ),
            ("fn f(p: Promise<i32>)", "is a result type"),
            ("fn 9x()", "not a Rust identifier"),
            ("fn f(x: i32) i32", "unexpected `i32`"),
        ] {
            let error = Imports::new("env")
                .declare(signature)
                .rust_source()
                .unwrap_err();
            assert!(error.contains(message), "{signature}: {error}");
        }
        let twice = Imports::new("env")
            .declare("fn a()")
            .declare("fn a()")
            .asm_source();
        assert!(twice.unwrap_err().contains("declared twice"));
    }
}
