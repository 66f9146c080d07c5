//! `cargo xtask bench`'s Node peer and floor (issue 16): the Rust benchmark guest
//! (`host/benches/bindgen-guest`) built with each strategy of this library and with
//! wasm-bindgen's own JSPI, run by `host/js/bench-peer.mjs` on Node 26 beside a raw
//! JSPI floor; the goals' summary; and the plot's per-await panels, with the peer's
//! and the floor's lines.
//!
//! Its rows are `peer/<schedule>/<tasks>/<size>/<variant>` (ns per await), where the
//! variant is `floor`, `wbg` (wasm-bindgen) or a strategy's name.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::plot::Line;
use super::{fmt_ns, ratio, size_name, Results, AWAIT, POOLED_GOAL, START};
use crate::compile::Strategy;
use crate::hosts::Host;
use crate::Ctx;
use crate::{process, rel, tools, Error, Result};

/// The host name of bench-peer.mjs's rows (its own table, not the node one).
pub const PEER: &str = "peer";
/// The variant of the raw-JSPI floor (bench-peer.mjs and bench-start.mjs).
const FLOOR: &str = "floor";
/// The variant of wasm-bindgen's own JSPI.
const WBG: &str = "wbg";
/// The guest crate, built for each variant.
const MANIFEST: &str = "host/benches/bindgen-guest/Cargo.toml";
/// Per await on Node against a raw suspend + resume.
const AWAIT_GOAL: f64 = 1.2;
/// Against wasm-bindgen's JSPI, in every row.
const PEER_GOAL: f64 = 1.0;
const SCHEDULES: [&str; 3] = ["lifo", "fifo", "random"];

/// Builds the guest with each strategy and with wasm-bindgen's JSPI into
/// `<out>/bindgen/<variant>/guest.js`, then runs bench-peer.mjs on Node 26 and
/// returns its output.
pub fn run(out: &Path, filter: Option<&str>, ctx: &Ctx) -> Result<String> {
    let tool = tools::ensure_wasm_bindgen(ctx)?;
    let dir = out.join("bindgen");
    let mut variants: Vec<(String, String)> = Strategy::ALL
        .iter()
        .map(|s| (s.name().to_string(), format!("jspi/strategy-{}", s.name())))
        .collect();
    variants.push((WBG.to_string(), "peer".to_string()));
    for (variant, features) in &variants {
        let wasm = build(features, ctx)?;
        let mut command = Command::new(&tool);
        command
            .arg(rel(&wasm))
            .args(["--target", "nodejs", "--out-name", "guest", "--out-dir"])
            .arg(rel(&dir.join(variant)));
        process::run_checked(&mut command, ctx)
            .map_err(|e| Error::failure(format!("wasm-bindgen on the peer guest failed: {e}")))?;
    }
    let mut command = Command::new(Host::Node26.node().expect("a Node host").binary());
    command.arg("host/js/bench-peer.mjs").arg(rel(out));
    if let Some(filter) = filter {
        command.arg(filter);
    }
    process::stdout_of(&mut command, ctx)
        .map_err(|e| Error::failure(format!("the Node peer benchmark failed: {e}")))
}

/// `cargo rustc` of the guest for wasm32 with `features`; returns a copy of the
/// module (each build overwrites cargo's output).
fn build(features: &str, ctx: &Ctx) -> Result<PathBuf> {
    let root = &ctx.root;
    let target = root.join("target/guest-build");
    let mut command = ctx.cargo();
    command
        .args(["rustc", "--manifest-path", MANIFEST, "--lib", "--release"])
        .args(["--target", "wasm32-unknown-unknown", "--features", features])
        .args(["--crate-type", "cdylib", "--target-dir"])
        .arg(rel(&target))
        // bench.c's shadow stack: 32 MiB, room for its tasks at 64 KiB each.
        .args(["--", "-C", "link-arg=-zstack-size=33554432"]);
    process::run_checked(&mut command, ctx)
        .map_err(|e| Error::failure(format!("building the peer guest ({features}): {e}")))?;
    let built = target.join("wasm32-unknown-unknown/release/bindgen_bench_guest.wasm");
    let copy = root
        .join(super::OUT)
        .join(format!("bindgen-{}.wasm", features.replace('/', "-")));
    fs::copy(&built, &copy)
        .map_err(|e| Error::failure(format!("copying {}: {e}", rel(&built).display())))?;
    Ok(copy)
}

/// The strategies that have peer rows, in `Strategy::ALL`'s order.
fn strategies(results: &Results) -> Vec<&'static str> {
    Strategy::ALL
        .iter()
        .map(|s| s.name())
        .filter(|name| results.ns.keys().any(|k| k.0 == PEER && k.4 == *name))
        .collect()
}

/// The (schedule, tasks, size) rows bench-peer.mjs measured, in table order.
fn rows(results: &Results) -> Vec<(String, u32, u32)> {
    let mut rows: Vec<(String, u32, u32)> = results
        .ns
        .keys()
        .filter(|k| k.0 == PEER)
        .map(|(_, s, n, size, _)| (s.clone(), *n, *size))
        .collect();
    rows.sort_by_key(|(s, n, size)| (SCHEDULES.iter().position(|o| o == s), *n, *size));
    rows.dedup();
    rows
}

/// The peer table: per await, the floor, wasm-bindgen and each strategy.
pub fn table(results: &Results, out: &mut String) {
    let rows = rows(results);
    if rows.is_empty() {
        return;
    }
    let strategies = strategies(results);
    let _ = write!(
        out,
        "\n### node: per await, this library against wasm-bindgen's JSPI and raw JSPI\n\n\
         | schedule | tasks | live stack | raw JSPI floor | wasm-bindgen |"
    );
    for s in &strategies {
        let _ = write!(out, " {s} |");
    }
    for s in &strategies {
        let _ = write!(out, " {s}/wasm-bindgen |");
    }
    let _ = write!(out, "\n|---|---|---|---|---|");
    out.push_str(&"---|".repeat(2 * strategies.len()));
    out.push('\n');
    for (s, n, size) in &rows {
        let get = |v: &str| results.ns_of(PEER, s, *n, *size, v);
        let _ = write!(
            out,
            "| {s} | {n} | {} | {} | {} |",
            size_name(*size),
            fmt_ns(get(FLOOR)),
            fmt_ns(get(WBG))
        );
        for v in &strategies {
            let _ = write!(out, " {} |", fmt_ns(get(v)));
        }
        for v in &strategies {
            let _ = write!(out, " {} |", ratio(get(v), get(WBG)));
        }
        out.push('\n');
    }
}

fn verdict(ratio: f64, goal: f64) -> &'static str {
    if ratio <= goal {
        "met"
    } else {
        "missed"
    }
}

/// Each goal of issue 16 that these benchmarks measure, with its ratio.
pub fn goals(results: &Results, out: &mut String) {
    let mut lines = Vec::new();
    let floor = results.ns_of("node", AWAIT, 1, 0, FLOOR);
    let plain = results.ns_of("node", AWAIT, 1, 0, "plain");
    if let (Some(f), Some(p)) = (floor, plain) {
        lines.push(format!(
            "- per await on Node <= {AWAIT_GOAL}x the raw JSPI suspend+resume (one task, \
             settled promises, lazy): {} against {}: {:.2}x, {}",
            fmt_ns(plain),
            fmt_ns(floor),
            p / f,
            verdict(p / f, AWAIT_GOAL)
        ));
    }
    let rows = rows(results);
    for v in strategies(results) {
        let worst = rows
            .iter()
            .filter_map(|(s, n, size)| {
                let ours = results.ns_of(PEER, s, *n, *size, v)?;
                let peer = results.ns_of(PEER, s, *n, *size, WBG)?;
                Some((ours / peer, s, n, size))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((r, s, n, size)) = worst {
            lines.push(format!(
                "- {v} <= {PEER_GOAL}x wasm-bindgen's time in every row: worst {s}/{n} tasks/{}: \
                 {r:.2}x, {}",
                size_name(*size),
                verdict(r, PEER_GOAL)
            ));
        }
    }
    let pooled = results
        .ns
        .iter()
        .filter(|(k, _)| k.0 == "node" && k.1 == START && k.4 == "pooled")
        .filter_map(|(k, pooled)| {
            let floor = results.ns_of("node", START, k.2, 0, FLOOR)?;
            Some((pooled / floor, k.2))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((r, alive)) = pooled {
        lines.push(format!(
            "- pooled spawn (start + finish) <= {POOLED_GOAL}x raw JSPI's, with any number \
             of other tasks alive: worst with {alive} alive: {r:.2}x, {}",
            verdict(r, POOLED_GOAL)
        ));
    }
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### goals (Node 26; ratios from this run)\n");
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

/// The title of a plot panel's host: the peer rows are Node's, per await (the node
/// panels are per round trip, which includes a task's start and finish).
pub fn panel_name(host: &str) -> &str {
    if host == PEER {
        "node per await"
    } else {
        host
    }
}

/// The peer's and the floor's lines for a plot panel of `host` and `schedule` (16
/// tasks), over `sizes`. Only the peer panels have them, beside the strategies' own
/// per-await lines.
pub fn plot_lines(results: &Results, host: &str, schedule: &str, sizes: &[u32]) -> Vec<Line> {
    if host != PEER {
        return Vec::new();
    }
    [
        ("wasm-bindgen (Node)", "#9467bd", WBG),
        ("raw JSPI (Node)", "#000000", FLOOR),
    ]
    .into_iter()
    .map(|(name, color, v)| Line {
        name,
        color,
        ns: sizes
            .iter()
            .map(|s| results.ns_of(PEER, schedule, 16, *s, v))
            .collect(),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{parse_lines, plot, summary};
    use super::*;

    #[test]
    fn peer_rows_get_their_table_and_goals() {
        let text = "\
time peer/lifo/16/65536/floor 150.0
time peer/lifo/16/65536/wbg 3000.0
time peer/lifo/16/65536/lazy 600.0
time peer/fifo/16/64/floor 150.0
time peer/fifo/16/64/wbg 300.0
time peer/fifo/16/64/lazy 450.0
time node/await/1/0/floor 120.0
time node/await/1/0/plain 132.0
time node/start/16/0/floor 500.0
time node/start/16/0/pooled 700.0
";
        let mut results = Results::default();
        parse_lines(text, &mut results);
        let summary = summary(&results);
        assert!(
            summary.contains("| lifo | 16 | 64 KiB | 150 ns | 3000 ns | 600 ns | 0.20 |"),
            "{summary}"
        );
        assert!(
            summary.contains("132 ns against 120 ns: 1.10x, met"),
            "{summary}"
        );
        assert!(
            summary.contains("worst fifo/16 tasks/64 B: 1.50x, missed"),
            "{summary}"
        );
        assert!(
            summary.contains("worst with 16 alive: 1.40x, met"),
            "{summary}"
        );
        assert!(
            !summary.contains("| lifo | 16 | 64 KiB | - |"),
            "not in the other tables: {summary}"
        );
        assert!(plot(&results).contains("wasm-bindgen (Node)"));
    }
}
