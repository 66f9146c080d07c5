//! Builds the C/asm shim with clang for wasm32; nothing to do for other targets.

fn main() {
    for source in [
        "shim/jspi_shim.s",
        "shim/jspi_api.c",
        "shim/jspi_slots.c",
        "shim/jspi_internal.h",
        "include/jspi.h",
    ] {
        println!("cargo:rerun-if-changed={source}");
    }
    println!("cargo:rerun-if-env-changed=JSPI_CLANG");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    // Force clang (the shim uses externref and wasm assembly); xtask installs clang-19.
    let clang = std::env::var("JSPI_CLANG").unwrap_or_else(|_| "clang-19".into());
    let mut build = cc::Build::new();
    if std::env::var_os("CARGO_FEATURE_WASM_BINDGEN").is_some() {
        // The slot-table exports the host's wasm-bindgen bridge calls.
        build.define("JSPI_BINDGEN", None);
    }
    build
        .compiler(clang)
        .include("include")
        .file("shim/jspi_shim.s")
        .file("shim/jspi_api.c")
        .file("shim/jspi_slots.c")
        .flag("-mreference-types")
        .flag("-mbulk-memory")
        .flag("-ffreestanding")
        .flag("-fno-builtin")
        .flag("-Wno-unused-command-line-argument")
        .opt_level(2)
        // No DWARF: llvm-ar 19 cannot index an object whose debug info relocates
        // against the externref table ("invalid data relocation: slots"), which
        // breaks debug builds (cargo check/clippy for wasm32).
        .debug(false)
        .compile("jspi_shim");
}
