//! The strategy goals of issue 16 in the summary: adaptive against the better of
//! eager and lazy in every row, and lazy and adaptive over the baseline in LIFO at
//! 64 KiB, each with its worst row per host.

use std::fmt::Write as _;

use super::{size_name, Results};

/// The smaller of two times, when both ran.
pub(super) fn min_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a?.min(b?))
}

/// Issue 16's goal for the adaptive strategy: at most this times min(eager, lazy).
const ADAPTIVE_GOAL: f64 = 1.1;
/// Issue 16's goal for lazy and adaptive over the baseline in LIFO at 64 KiB.
const LIFO_GOAL: f64 = 1.05;

/// The strategy goals per host, each with its worst row: adaptive against the better
/// of eager and lazy in every row, and lazy and adaptive over none in LIFO at 64 KiB.
pub(super) fn strategy_goals(results: &Results, combos: &[(String, u32, u32)], out: &mut String) {
    let _ = writeln!(out, "\n### Strategy goals (worst row per host)\n");
    let _ = writeln!(
        out,
        "| host | goal | worst ratio | row | holds |\n|---|---|---|---|---|"
    );
    for host in ["native", "wasmtime", "node"] {
        let get = |s: &str, n: u32, size: u32, v: &str| results.ns_of(host, s, n, size, v);
        let worst = |rows: Vec<(f64, String)>| rows.into_iter().max_by(|a, b| a.0.total_cmp(&b.0));
        let adaptive = worst(
            combos
                .iter()
                .filter_map(|(s, n, size)| {
                    let min = min_of(get(s, *n, *size, "eager"), get(s, *n, *size, "lazy"))?;
                    let r = get(s, *n, *size, "adaptive")? / min;
                    Some((r, format!("{s}/{n}/{}", size_name(*size))))
                })
                .collect(),
        );
        let goals = [
            (
                format!("adaptive <= {ADAPTIVE_GOAL}x min(eager, lazy)"),
                adaptive,
                ADAPTIVE_GOAL,
            ),
            (
                format!("lazy over none, LIFO 64 KiB <= {LIFO_GOAL}"),
                lifo_over_none(results, host, "lazy"),
                LIFO_GOAL,
            ),
            (
                format!("adaptive over none, LIFO 64 KiB <= {LIFO_GOAL}"),
                lifo_over_none(results, host, "adaptive"),
                LIFO_GOAL,
            ),
        ];
        for (goal, worst, limit) in goals {
            let Some((r, row)) = worst else { continue };
            let holds = if r <= limit { "yes" } else { "no" };
            let _ = writeln!(out, "| {host} | {goal} | {r:.2} | {row} | {holds} |");
        }
    }
}

/// The worst ratio of `variant` over `none` in the LIFO rows at 64 KiB, with its row.
fn lifo_over_none(results: &Results, host: &str, variant: &str) -> Option<(f64, String)> {
    results
        .ns
        .iter()
        .filter(|((h, s, _, size, v), _)| {
            h == host && s == "lifo" && *size == 65536 && v == variant
        })
        .filter_map(|((_, s, n, size, _), ns)| {
            let none = results.ns_of(host, s, *n, *size, "none")?;
            Some((ns / none, format!("{s}/{n}/{}", size_name(*size))))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
}
