//! `cargo xtask bench`: every benchmark, one summary.
//!
//! 1. builds the benchmark guest (`host/benches/guest/bench.c`) with each strategy
//!    into `target/bench/<strategy>.wasm` (32 MiB shadow stack, `__stack_pointer`
//!    exported for the JavaScript-side lazy variant);
//! 2. runs the native criterion benchmarks of `guest/stack-state`, the wasmtime ones
//!    of `host` (criterion, release build), and `host/js/bench.mjs`,
//!    `host/js/bench-start.mjs` (task start + finish with N other tasks alive: the JS
//!    package's promising and pooled spawn against a raw-JSPI floor) and
//!    `host/js/bench-peer.mjs` (per await against wasm-bindgen's JSPI and raw JSPI,
//!    `peer`) on Node 26;
//! 3. prints one table per host (ns per suspend/resume round trip, bytes copied per
//!    round trip, lazy/eager, strategy/baseline and in-wasm/JS ratios), writes it to
//!    `target/bench/summary.md`, and draws `target/bench/plot.svg`: time against
//!    live stack size, per strategy and host.
//!
//! It also times a generated scenario of 100,000 and of 1,000,000 steps on every
//! host (`scale::bench_steps`) and prints the two and their ratio, which linear time
//! keeps near 10.
//!
//! And SQLite queries per second with 1, 4 and 16 connections in one instance on
//! Node 26 and wasmtime (`sqlbench`).
//!
//! `--quick` runs only the 16-task schedules (LIFO, FIFO, random); `--steps` only the
//! steps benchmark; `--sqlite` only the SQLite one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::compile::{Builder, Strategy, CLANG_COMPILE};
use crate::hosts::Host;
use crate::Ctx;
use crate::{process, rel, scale, sqlbench, tools, Error, Result};

mod criterion;
mod goals;
mod peer;
mod plot;

use plot::plot;

/// Where the benchmark guests and reports go.
const OUT: &str = "target/bench";

/// (host, schedule, tasks, size, variant)
type Key = (String, String, u32, u32, String);

#[derive(Default)]
struct Results {
    ns: BTreeMap<Key, f64>,
    bytes: BTreeMap<Key, u64>,
}

/// Runs everything; `quick` narrows the schedules, `steps_only` runs only the steps
/// benchmark.
pub fn bench(ctx: &Ctx, quick: bool, steps_only: bool, sqlite_only: bool) -> Result<()> {
    tools::ensure(ctx)?;
    let out = ctx.root.join(OUT);
    fs::create_dir_all(&out).map_err(|e| Error::failure(format!("creating {OUT}: {e}")))?;
    if steps_only || sqlite_only {
        return only(ctx, steps_only, sqlite_only);
    }
    let mut builder = Builder::new(ctx);
    for strategy in Strategy::ALL {
        build_guest(&mut builder, strategy, &out)?;
    }
    let filter = if quick { Some("16/") } else { None };
    let mut results = Results::default();

    println!("== native: cargo bench -p stack-state ==");
    let since = criterion::Since::now();
    let text = cargo_bench("stack-state", "stack_state", filter, ctx)?;
    let dir = criterion::dir();
    read_criterion(&dir, &text, "native", "stack_state", since, &mut results)?;

    println!("== wasmtime: cargo bench -p host ==");
    // The round trip against its floor runs in quick runs too.
    let host_filter = filter.map(|f| format!("{f}|{ROUNDTRIP}/"));
    let since = criterion::Since::now();
    let text = cargo_bench("host", "e2e", host_filter.as_deref(), ctx)?;
    read_criterion(&dir, &text, "wasmtime", "wasmtime", since, &mut results)?;

    node_benches(ctx, &out, filter, &mut results)?;

    println!("== node26: host/js/bench-peer.mjs ==");
    parse_lines(&peer::run(&out, filter, ctx)?, &mut results);

    println!("== steps: every host ==");
    let steps = scale::bench_steps(&Host::ALL, ctx)?;
    println!("== sqlite: node26 and wasmtime ==");
    let sqlite = sqlbench::bench(ctx)?;

    let mut summary = summary(&results);
    steps_summary(&steps, &mut summary);
    summary.push_str(&sqlite);
    print!("{summary}");
    write_reports(&out, &summary, &results)
}

/// `--steps` and `--sqlite`: only those benchmarks, and their part of the summary.
fn only(ctx: &Ctx, steps_only: bool, sqlite_only: bool) -> Result<()> {
    let mut summary = String::new();
    if steps_only {
        println!("== steps: every host ==");
        let steps = scale::bench_steps(&Host::ALL, ctx)?;
        steps_summary(&steps, &mut summary);
    }
    if sqlite_only {
        println!("== sqlite: node26 and wasmtime ==");
        summary.push_str(&sqlbench::bench(ctx)?);
    }
    print!("{summary}");
    Ok(())
}

/// `host/js/bench.mjs` (with `filter`) and `host/js/bench-start.mjs` on Node 26, on
/// the guests in `out`.
fn node_benches(ctx: &Ctx, out: &Path, filter: Option<&str>, results: &mut Results) -> Result<()> {
    println!("== node26: host/js/bench.mjs ==");
    let node = Host::Node26.node().expect("a Node host").binary();
    let mut command = Command::new(node);
    command.arg("host/js/bench.mjs").arg(rel(out));
    if let Some(filter) = filter {
        command.arg(filter);
    }
    let text = process::stdout_of(&mut command, ctx)
        .map_err(|e| Error::failure(format!("the Node benchmark failed: {e}")))?;
    parse_lines(&text, results);

    println!("== node26: host/js/bench-start.mjs ==");
    let mut command = Command::new(Host::Node26.node().expect("a Node host").binary());
    command.arg("host/js/bench-start.mjs").arg(rel(out));
    let text = process::stdout_of(&mut command, ctx)
        .map_err(|e| Error::failure(format!("the Node start benchmark failed: {e}")))?;
    parse_lines(&text, results);
    Ok(())
}

/// Writes `summary.md` and `plot.svg` into `out`, and says so.
fn write_reports(out: &Path, summary: &str, results: &Results) -> Result<()> {
    let summary_path = out.join("summary.md");
    fs::write(&summary_path, summary)
        .map_err(|e| Error::failure(format!("writing {}: {e}", rel(&summary_path).display())))?;
    let plot_path = out.join("plot.svg");
    fs::write(&plot_path, plot(results))
        .map_err(|e| Error::failure(format!("writing {}: {e}", rel(&plot_path).display())))?;
    println!(
        "wrote {} and {}",
        rel(&summary_path).display(),
        rel(&plot_path).display()
    );
    Ok(())
}

fn build_guest(builder: &mut Builder, strategy: Strategy, out: &Path) -> Result<()> {
    let ctx = builder.ctx();
    let library = builder
        .library(strategy)
        .map_err(|e| Error::failure(format!("building the guest library: {e}")))?;
    let wasm = out.join(format!("{}.wasm", strategy.name()));
    let mut clang = ctx.clang();
    clang.args(CLANG_COMPILE).args([
        "-Wl,--no-entry",
        "-Wl,--stack-first",
        "-Wl,-z,stack-size=33554432",
        "-Wl,--export=jspi_stat",
        "-Wl,--export=__stack_pointer",
        "host/benches/guest/bench.c",
    ]);
    clang.arg(rel(&library)).arg("-o").arg(rel(&wasm));
    process::run_checked(&mut clang, ctx)
        .map_err(|e| Error::failure(format!("building the benchmark guest: {e}")))
}

fn cargo_bench(package: &str, bench: &str, filter: Option<&str>, ctx: &Ctx) -> Result<String> {
    let mut command = ctx.cargo();
    command
        .args(["bench", "-p", package, "--bench", bench, "--"])
        .env("JSPI_BENCH_DIR", ctx.root.join(OUT));
    if let Some(filter) = filter {
        command.arg(filter);
    }
    process::stdout_of(&mut command, ctx)
        .map_err(|e| Error::failure(format!("`cargo bench -p {package}` failed: {e}")))
}

/// `bytes/rt <group>/<schedule>/<n>/<size>/<variant> <bytes>` and
/// `time <host>/... <ns>` lines.
fn parse_lines(text: &str, results: &mut Results) {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(kind), Some(id), Some(value)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let Some(key) = key_of(id) else { continue };
        match kind {
            "bytes/rt" => {
                if let Ok(v) = value.parse() {
                    results.bytes.insert(key, v);
                }
            }
            "time" => {
                if let Ok(v) = value.parse() {
                    results.ns.insert(key, v);
                }
            }
            _ => {}
        }
    }
}

/// `stack_state/lifo/16/1024/lazy` -> ("native", "lifo", 16, 1024, "lazy").
fn key_of(id: &str) -> Option<Key> {
    let parts: Vec<&str> = id.split('/').collect();
    let [group, schedule, n, size, variant] = parts[..] else {
        return None;
    };
    let host = match group {
        "stack_state" => "native",
        other => other,
    };
    Some((
        host.to_string(),
        schedule.to_string(),
        n.parse().ok()?,
        size.parse().ok()?,
        variant.to_string(),
    ))
}

/// A criterion benchmark's results under `host`: the `bytes/rt` lines it printed in
/// `text`, and the times criterion wrote in `dir` for `group` since the run started.
fn read_criterion(
    dir: &Path,
    text: &str,
    host: &str,
    group: &str,
    since: criterion::Since,
    results: &mut Results,
) -> Result<()> {
    parse_lines(text, results);
    for (id, ns) in criterion::estimates(dir, group, since)? {
        if let Some(mut key) = key_of(&id) {
            key.0 = host.to_string();
            results.ns.insert(key, ns);
        }
    }
    Ok(())
}

impl Results {
    /// The time of one benchmark, if it ran.
    fn ns_of(&self, host: &str, schedule: &str, n: u32, size: u32, variant: &str) -> Option<f64> {
        let key = (
            host.to_string(),
            schedule.to_string(),
            n,
            size,
            variant.to_string(),
        );
        self.ns.get(&key).copied()
    }
}

fn fmt_ns(ns: Option<f64>) -> String {
    match ns {
        None => "-".into(),
        Some(v) if v >= 10_000.0 => format!("{:.1} µs", v / 1000.0),
        Some(v) => format!("{v:.0} ns"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

fn summary(results: &Results) -> String {
    let mut out = String::new();
    let hosts = ["native", "wasmtime", "node"];
    let mut combos: Vec<(String, u32, u32)> = results
        .ns
        .keys()
        .filter(|(h, s, ..)| s != START && s != AWAIT && s != ROUNDTRIP && h != peer::PEER)
        .map(|(_, s, n, size, _)| (s.clone(), *n, *size))
        .collect();
    combos.sort_by_key(|(s, n, size)| {
        let order = ["lifo", "fifo", "random", "pingpong"];
        (order.iter().position(|o| o == s), *n, *size)
    });
    combos.dedup();
    for host in hosts {
        let get = |s: &str, n: u32, size: u32, v: &str| results.ns_of(host, s, n, size, v);
        let bytes = |s: &str, n: u32, size: u32, v: &str| {
            results
                .bytes
                .get(&(host.to_string(), s.to_string(), n, size, v.to_string()))
                .map_or("-".to_string(), u64::to_string)
        };
        if !combos
            .iter()
            .any(|(s, n, size)| get(s, *n, *size, "lazy").is_some())
        {
            continue;
        }
        let js = host == "node";
        let _ = writeln!(out, "\n### {host}: per suspend/resume round trip\n");
        let _ = write!(
            out,
            "| schedule | tasks | live stack | none | eager | lazy | adaptive |{} bytes eager | bytes lazy | bytes adaptive | lazy/eager | lazy/none | adaptive/min |{}\n|---|---|---|---|---|---|---|{}---|---|---|---|---|---|{}\n",
            if js { " JS lazy |" } else { "" },
            if js { " JS lazy/lazy |" } else { "" },
            if js { "---|" } else { "" },
            if js { "---|" } else { "" },
        );
        for (s, n, size) in &combos {
            let [none, eager, lazy, adaptive, jslazy] =
                ["none", "eager", "lazy", "adaptive", "jslazy"].map(|v| get(s, *n, *size, v));
            let _ = write!(
                out,
                "| {s} | {n} | {} | {} | {} | {} | {} |",
                size_name(*size),
                fmt_ns(none),
                fmt_ns(eager),
                fmt_ns(lazy),
                fmt_ns(adaptive)
            );
            if js {
                let _ = write!(out, " {} |", fmt_ns(jslazy));
            }
            let _ = write!(
                out,
                " {} | {} | {} | {} | {} | {} |",
                bytes(s, *n, *size, "eager"),
                bytes(s, *n, *size, "lazy"),
                bytes(s, *n, *size, "adaptive"),
                ratio(lazy, eager),
                ratio(lazy, none),
                ratio(adaptive, goals::min_of(eager, lazy))
            );
            if js {
                let _ = write!(out, " {} |", ratio(jslazy, lazy));
            }
            out.push('\n');
        }
    }
    goals::strategy_goals(results, &combos, &mut out);
    start_summary(results, &mut out);
    await_summary(results, &mut out);
    roundtrip_summary(results, &mut out);
    peer::table(results, &mut out);
    peer::goals(results, &mut out);
    out
}

/// The schedule name of bench-start.mjs's rows: start + finish of one task, with `n`
/// other tasks alive.
const START: &str = "start";

/// The schedule name of bench-start.mjs's await rows: one task awaiting settled
/// promises, plainly or into a buffer (`jspi_await_bytes`), per await.
const AWAIT: &str = "await";

/// The goal of pooled task starts against the raw-JSPI floor (issue 11).
const POOLED_GOAL: f64 = 1.5;

/// Node's task start + finish: the package's promising and spawn against raw JSPI.
fn start_summary(results: &Results, out: &mut String) {
    let alive: Vec<u32> = results
        .ns
        .keys()
        .filter(|(h, s, ..)| h == "node" && s == START)
        .map(|(_, _, n, ..)| *n)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if alive.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "\n### node: task start + finish, with other tasks alive\n\n\
         | other tasks alive | raw JSPI floor | promising | pooled (spawn) | promising/floor | pooled/floor | pooled <= {POOLED_GOAL}x floor |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for n in alive {
        let get = |v: &str| results.ns_of("node", START, n, 0, v);
        let (floor, promising, pooled) = (get("floor"), get("promising"), get("pooled"));
        let met = match (pooled, floor) {
            (Some(p), Some(f)) if f > 0.0 => {
                if p / f <= POOLED_GOAL {
                    "met"
                } else {
                    "missed"
                }
            }
            _ => "-",
        };
        let _ = writeln!(
            out,
            "| {n} | {} | {} | {} | {} | {} | {met} |",
            fmt_ns(floor),
            fmt_ns(promising),
            fmt_ns(pooled),
            ratio(promising, floor),
            ratio(pooled, floor)
        );
    }
}

/// Node's await into a buffer against a plain await.
fn await_summary(results: &Results, out: &mut String) {
    let plain = results.ns_of("node", AWAIT, 1, 0, "plain");
    let sizes: Vec<u32> = results
        .ns
        .keys()
        .filter(|(h, s, _, _, v)| h == "node" && s == AWAIT && v == "bytes")
        .map(|(_, _, _, size, _)| *size)
        .collect();
    if plain.is_none() && sizes.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "\n### node: one await, plain and into a buffer (jspi_await_bytes)\n\n\
         | await | ns per await | over plain |\n|---|---|---|\n| plain | {} | 1.00 |\n",
        fmt_ns(plain)
    );
    for size in sizes {
        let bytes = results.ns_of("node", AWAIT, 1, size, "bytes");
        let _ = writeln!(
            out,
            "| {} into a buffer | {} | {} |",
            size_name(size),
            fmt_ns(bytes),
            ratio(bytes, plain)
        );
    }
}

/// The schedule name of the wasmtime round-trip rows (host/benches/e2e.rs): one task
/// started, awaiting once and finished, with strategy `none` (variant `none`), against
/// the raw floor of the same crossings on bare wasmtime (`floor`) and the two switches
/// alone (`bare`).
const ROUNDTRIP: &str = "roundtrip";

/// Issue 16's goal: the wasmtime round trip at most this many times its raw floor.
const ROUNDTRIP_GOAL: f64 = 3.0;

/// The wasmtime end-to-end round trip against its raw floor.
fn roundtrip_summary(results: &Results, out: &mut String) {
    let get = |v: &str| results.ns_of("wasmtime", ROUNDTRIP, 1, 64, v);
    let (trip, floor, bare) = (get("none"), get("floor"), get("bare"));
    if trip.is_none() {
        return;
    }
    let met = match (trip, floor) {
        (Some(t), Some(f)) if f > 0.0 && t / f <= ROUNDTRIP_GOAL => "met",
        (Some(_), Some(f)) if f > 0.0 => "missed",
        _ => "-",
    };
    let _ = write!(
        out,
        "\n### wasmtime: one task's round trip (start, one await, finish), strategy none\n\n\
         | round trip | raw floor | switches alone | round trip/floor | round trip/switches | wasmtime round trip <= {ROUNDTRIP_GOAL}x raw floor |\n\
         |---|---|---|---|---|---|\n\
         | {} | {} | {} | {} | {} | {met} |\n",
        fmt_ns(trip),
        fmt_ns(floor),
        fmt_ns(bare),
        ratio(trip, floor),
        ratio(trip, bare)
    );
}

/// The steps benchmark: seconds for each run of the generated scenario, per host,
/// and the ratio of the longest to the shortest (10x the steps: ~10 if linear).
fn steps_summary(rows: &[(Host, usize, f64)], out: &mut String) {
    let Some(&(_, short, _)) = rows.iter().min_by_key(|r| r.1) else {
        return;
    };
    let long = rows.iter().map(|r| r.1).max().unwrap_or(short);
    let _ = write!(
        out,
        "\n### steps: a generated scenario, whole runner process (tests/scale/)\n\n\
         | host | {short} steps | {long} steps | ratio | at most ~{} (linear) |\n|---|---|---|---|---|\n",
        long / short
    );
    for host in Host::ALL {
        let time = |n: usize| rows.iter().find(|r| r.0 == host && r.1 == n).map(|r| r.2);
        let (Some(a), Some(b)) = (time(short), time(long)) else {
            continue;
        };
        let ratio = b / a;
        let met = if ratio <= (long / short) as f64 * 1.2 {
            "met"
        } else {
            "missed"
        };
        let _ = writeln!(
            out,
            "| {} | {a:.2} s | {b:.2} s | {ratio:.1} | {met} |",
            host.name()
        );
    }
}

fn size_name(size: u32) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_estimates_and_printed_bytes() {
        let dir = criterion::tests::scratch("bench");
        let since = criterion::Since::now();
        // Linear sampling (a slope) and flat sampling (the mean) alike.
        criterion::tests::write(&dir, "stack_state/lifo/16/1024/eager", None, 1500.0);
        criterion::tests::write(&dir, "stack_state/lifo/2/64/none", Some(12.5), 13.0);
        criterion::tests::write(&dir, "stack_state/lifo/16/1024/lazy", Some(20.0), 21.0);
        criterion::tests::write(&dir, "stack_state/lifo/16/1024/adaptive", Some(24.0), 25.0);
        let text = "bytes/rt stack_state/lifo/16/1024/eager 2048\n";
        let mut results = Results::default();
        read_criterion(&dir, text, "native", "stack_state", since, &mut results).unwrap();
        let _ = fs::remove_dir_all(&dir);
        let key = |n, size, v: &str| {
            (
                "native".to_string(),
                "lifo".to_string(),
                n,
                size,
                v.to_string(),
            )
        };
        assert_eq!(results.ns.get(&key(16, 1024, "eager")), Some(&1500.0));
        assert_eq!(results.ns.get(&key(2, 64, "none")), Some(&12.5));
        assert_eq!(results.bytes.get(&key(16, 1024, "eager")), Some(&2048));
        let summary = summary(&results);
        assert!(
            summary.contains(
                "| lifo | 16 | 1 KiB | - | 1500 ns | 20 ns | 24 ns | 2048 | - | - | 0.01 | - | 1.20 |"
            ),
            "{summary}"
        );
        assert!(
            summary.contains(
                "| native | adaptive <= 1.1x min(eager, lazy) | 1.20 | lifo/16/1 KiB | no |"
            ),
            "{summary}"
        );
        assert!(plot(&results).starts_with("<svg"));
    }

    #[test]
    fn start_rows_get_their_own_table_with_the_goal() {
        let text = "\
time node/start/16/0/floor 500.0
time node/start/16/0/promising 9000.0
time node/start/16/0/pooled 700.0
time node/start/256/0/floor 500.0
time node/start/256/0/pooled 900.0
";
        let mut results = Results::default();
        parse_lines(text, &mut results);
        let summary = summary(&results);
        assert!(
            summary.contains("| 16 | 500 ns | 9000 ns | 700 ns | 18.00 | 1.40 | met |"),
            "{summary}"
        );
        assert!(
            summary.contains("| 256 | 500 ns | - | 900 ns | - | 1.80 | missed |"),
            "{summary}"
        );
        assert!(
            !summary.contains("| start |"),
            "not in the round-trip tables: {summary}"
        );
    }

    #[test]
    fn the_wasmtime_round_trip_gets_its_goal_row() {
        let dir = criterion::tests::scratch("roundtrip");
        let since = criterion::Since::now();
        criterion::tests::write(&dir, "wasmtime/roundtrip/1/64/none", Some(300.0), 310.0);
        criterion::tests::write(&dir, "wasmtime/roundtrip/1/64/floor", Some(100.0), 110.0);
        criterion::tests::write(&dir, "wasmtime/roundtrip/1/64/bare", Some(50.0), 60.0);
        let mut results = Results::default();
        read_criterion(&dir, "", "wasmtime", "wasmtime", since, &mut results).unwrap();
        let _ = fs::remove_dir_all(&dir);
        let summary = summary(&results);
        assert!(
            summary.contains("| 300 ns | 100 ns | 50 ns | 3.00 | 6.00 | met |"),
            "{summary}"
        );
        assert!(
            !summary.contains("| roundtrip |"),
            "not in the schedule tables: {summary}"
        );
    }
}
