//! `cargo xtask serve`: the page that draws the shadow stack live
//! (`host/js/browser/page/`), and its test in `cargo xtask test`.
//!
//! Both build every example that browsers run with each strategy it allows and list
//! them in `target/serve/examples.json` (name, description, strategies, scenario and
//! module paths relative to the project root), which the page reads from the server.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::compile::Builder;
use crate::examples::{self, Example};
use crate::hosts::browser;
use crate::hosts::Host;
use crate::Ctx;
use crate::{process, project_root, rel, tools, Error, Result};

/// The list the page reads, relative to the project root.
const MANIFEST: &str = "target/serve/examples.json";

/// How long the page test may take on one browser.
const PAGE_TEST_LIMIT: Duration = Duration::from_secs(180);

/// Builds `examples` (those a browser runs) and writes [`MANIFEST`]; a build that
/// fails leaves its strategy out, after saying so.
fn manifest(builder: &mut Builder, examples: &[Example]) -> Result<()> {
    let mut list = Vec::new();
    for example in examples.iter().filter(|e| e.runs_on(Host::Chromium)) {
        // Keys sorted, here and below, whether or not serde_json preserves insertion
        // order (the runners' scenario crate turns its `preserve_order` on).
        let mut modules = std::collections::BTreeMap::new();
        for &strategy in &example.strategies {
            match builder.wasm(example, strategy) {
                Ok(wasm) => {
                    modules.insert(strategy.name(), json!(rel(&wasm)));
                }
                Err(message) => eprintln!(
                    "error: {} [{}]: build failed: {message}",
                    example.name,
                    strategy.name()
                ),
            }
        }
        if modules.is_empty() {
            continue;
        }
        let strategies: Vec<&str> = modules.keys().copied().collect();
        list.push(json!({
            "description": example.description,
            "modules": modules,
            "name": example.name,
            "scenario": rel(&example.scenario),
            "strategies": strategies,
        }));
    }
    let path = project_root().join(MANIFEST);
    let dir = path.parent().expect("a file in a folder");
    fs::create_dir_all(dir)
        .map_err(|e| Error::failure(format!("creating {}: {e}", rel(dir).display())))?;
    let text = serde_json::to_string_pretty(&list).expect("JSON values serialize");
    fs::write(&path, text).map_err(|e| Error::failure(format!("writing {MANIFEST}: {e}")))
}

/// `cargo xtask serve [--port P]`: builds the examples, then serves the page until
/// interrupted (the URL is printed; open it in a browser with JSPI).
pub fn serve(port: u16, ctx: &Ctx) -> Result<()> {
    tools::ensure(ctx)?;
    let examples = examples::resolve(&[])?;
    let mut builder = Builder::new(ctx);
    manifest(&mut builder, &examples)?;
    let node = Host::Node26.node().expect("a Node host").binary();
    let mut command = Command::new(node);
    command
        .arg("host/js/browser/serve.mjs")
        .args(["--port", &port.to_string()])
        .current_dir(&ctx.root);
    if ctx.verbose {
        println!("running: {}", process::display(&command));
    }
    let status = command
        .status()
        .map_err(|e| Error::failure(format!("could not start the page's server: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::failure(format!(
            "the page's server failed ({status})"
        )))
    }
}

/// The page test on each browser among `hosts` (`host/js/browser/pagetest.mjs`): 04
/// stepped with none and lazy, the DOM checked, a screenshot saved as
/// `target/page/<browser>.png`. Returns how many passed and the labels that failed.
pub fn page_test(builder: &mut Builder, hosts: &[Host]) -> (usize, Vec<String>) {
    let ctx = builder.ctx();
    let browsers: Vec<Host> = hosts
        .iter()
        .copied()
        .filter(|h| browser::executable(*h).is_some())
        .collect();
    let (mut passed, mut failed) = (0, Vec::new());
    if browsers.is_empty() {
        return (passed, failed);
    }
    let built = examples::resolve(&["04".to_string()]).and_then(|e| manifest(builder, &e));
    for host in browsers {
        let label = format!("page [{}]", host.name());
        let outcome = built.as_ref().map_err(|e| e.to_string()).and_then(|()| {
            let screenshot: PathBuf = ["target/page", &format!("{}.png", host.name())]
                .iter()
                .collect();
            let node = Host::Node26.node().expect("a Node host").binary();
            let mut command = Command::new(node);
            command
                .arg("host/js/browser/pagetest.mjs")
                .args(["--browser", host.name()])
                .args([
                    "--executable",
                    browser::executable(host).unwrap_or_default(),
                ])
                .arg("--screenshot")
                .arg(&screenshot);
            let captured =
                process::capture(&mut command, PAGE_TEST_LIMIT, ctx).map_err(|e| e.to_string())?;
            match captured.status {
                Some(status) if status.success() => Ok(captured.stdout),
                Some(status) => Err(format!(
                    "({status}):\n{}{}",
                    captured.stdout, captured.stderr
                )),
                None => Err(format!(
                    "killed after {} s:\n{}",
                    PAGE_TEST_LIMIT.as_secs(),
                    captured.stdout
                )),
            }
        });
        match outcome {
            Ok(stdout) => {
                if ctx.verbose {
                    print!("{stdout}");
                }
                println!("ok   {label}");
                passed += 1;
            }
            Err(why) => {
                println!("FAIL {label}: {why}");
                failed.push(label);
            }
        }
    }
    (passed, failed)
}
