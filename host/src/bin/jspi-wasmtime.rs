//! `jspi-wasmtime MODULE.wasm scenario.json`: runs a scenario on wasmtime and prints
//! its transcript (see `host::runner`).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = host::runner::main(&args);
    std::process::ExitCode::from(code as u8)
}
