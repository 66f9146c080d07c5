//! `target/bench/plot.svg`: time against live stack size, one panel per host and
//! schedule (16 tasks; LIFO and FIFO), one line per strategy, on log-log axes. The
//! last column is Node per await (`peer`), with wasm-bindgen's JSPI and raw JSPI as
//! lines too ([`peer::plot_lines`]).

use std::fmt::Write as _;

use super::{fmt_ns, peer, size_name, Results};

/// The hosts of the columns, left to right.
const HOSTS: [&str; 4] = ["native", "wasmtime", "node", peer::PEER];
/// The schedules of the rows, top to bottom.
const SCHEDULES: [&str; 2] = ["lifo", "fifo"];
/// The strategies' lines (and the JS-side lazy variant's) and their colors.
const VARIANTS: [(&str, &str); 5] = [
    ("none", "#888888"),
    ("eager", "#d62728"),
    ("lazy", "#1f77b4"),
    ("adaptive", "#9467bd"),
    ("jslazy", "#2ca02c"),
];
/// The live stack sizes along the x axis.
const SIZES: [u32; 4] = [64, 1024, 16 * 1024, 64 * 1024];
/// A panel's width.
const PW: f64 = 300.0;
/// A panel's height.
const PH: f64 = 220.0;
/// The margin around each panel.
const MARGIN: f64 = 50.0;

/// One line of a panel: its legend name, its color, and its time per size of
/// [`SIZES`] (`None` where that benchmark did not run).
pub struct Line {
    /// The legend's name for it.
    pub name: &'static str,
    /// An SVG color.
    pub color: &'static str,
    /// ns per size, in the order of the sizes asked for.
    pub ns: Vec<Option<f64>>,
}

/// The whole plot, as an SVG document.
pub fn plot(results: &Results) -> String {
    let width = MARGIN + HOSTS.len() as f64 * (PW + MARGIN);
    let height = MARGIN + SCHEDULES.len() as f64 * (PH + MARGIN) + 30.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (row, schedule) in SCHEDULES.iter().enumerate() {
        for (col, host) in HOSTS.iter().enumerate() {
            let x0 = MARGIN + col as f64 * (PW + MARGIN);
            let y0 = MARGIN + row as f64 * (PH + MARGIN);
            panel(
                &mut svg,
                (x0, y0),
                host,
                schedule,
                &lines(results, host, schedule),
            );
        }
    }
    legend(&mut svg, results, height - 15.0);
    svg.push_str("</svg>\n");
    svg
}

/// The lines of the panel of `host` and `schedule`: one per variant, then the peer's.
fn lines(results: &Results, host: &str, schedule: &str) -> Vec<Line> {
    VARIANTS
        .iter()
        .map(|&(variant, color)| Line {
            name: variant,
            color,
            ns: SIZES
                .iter()
                .map(|s| results.ns_of(host, schedule, 16, *s, variant))
                .collect(),
        })
        .chain(peer::plot_lines(results, host, schedule, &SIZES))
        .collect()
}

/// Where a panel sits and the decades its y axis spans.
struct Axes {
    x0: f64,
    y0: f64,
    /// The lowest and highest power of ten of the y axis.
    lo: f64,
    hi: f64,
}

impl Axes {
    /// The x of the `i`th size.
    fn x_of(&self, i: usize) -> f64 {
        self.x0 + 20.0 + i as f64 * (PW - 40.0) / (SIZES.len() - 1) as f64
    }

    /// The y of `ns` on the log axis.
    fn y_of(&self, ns: f64) -> f64 {
        self.y0 + PH - (ns.max(1.0).log10() - self.lo) / (self.hi - self.lo) * PH
    }
}

/// One panel at `(x0, y0)`: its frame and title, and, if any of `lines` has a point,
/// its axes and lines.
fn panel(svg: &mut String, (x0, y0): (f64, f64), host: &str, schedule: &str, lines: &[Line]) {
    let _ = writeln!(
        svg,
        r#"<rect x="{x0}" y="{y0}" width="{PW}" height="{PH}" fill="none" stroke="black"/><text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}, {schedule}, 16 tasks</text>"#,
        x0 + PW / 2.0,
        y0 - 8.0,
        peer::panel_name(host)
    );
    let points: Vec<f64> = lines
        .iter()
        .flat_map(|line| line.ns.iter().flatten().copied())
        .collect();
    if points.is_empty() {
        return;
    }
    let lo = points
        .iter()
        .cloned()
        .fold(f64::MAX, f64::min)
        .max(1.0)
        .log10()
        .floor();
    let hi = points
        .iter()
        .cloned()
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let axes = Axes { x0, y0, lo, hi };
    grid(svg, &axes);
    for line in lines {
        polyline(svg, &axes, line);
    }
}

/// A panel's decade lines with their labels, and the sizes under it.
fn grid(svg: &mut String, axes: &Axes) {
    let Axes { x0, y0, lo, hi } = *axes;
    for decade in lo as i32..=hi as i32 {
        let y = axes.y_of(10f64.powi(decade));
        let label = fmt_ns(Some(10f64.powi(decade)));
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{label}</text>"##,
            x0 + PW,
            x0 - 3.0,
            y + 4.0
        );
    }
    for (i, size) in SIZES.iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            axes.x_of(i),
            y0 + PH + 14.0,
            size_name(*size)
        );
    }
}

/// `line` through its points on `axes`; nothing if it has none.
fn polyline(svg: &mut String, axes: &Axes, line: &Line) {
    let points: Vec<String> = line
        .ns
        .iter()
        .enumerate()
        .filter_map(|(i, ns)| ns.map(|ns| format!("{:.1},{:.1}", axes.x_of(i), axes.y_of(ns))))
        .collect();
    if !points.is_empty() {
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            points.join(" "),
            line.color
        );
    }
}

/// The legend along the bottom at `y`: every variant, then the peer's lines that ran.
fn legend(svg: &mut String, results: &Results, y: f64) {
    let variants = VARIANTS.iter().map(|&(variant, color)| {
        let name = if variant == "jslazy" {
            "lazy in JS (Node)"
        } else {
            variant
        };
        (name, color)
    });
    let peer = peer::plot_lines(results, peer::PEER, "lifo", &SIZES);
    let peer = peer
        .iter()
        .filter(|line| line.ns.iter().any(Option::is_some))
        .map(|line| (line.name, line.color));
    for (i, (name, color)) in variants.chain(peer).enumerate() {
        let x = MARGIN + i as f64 * 120.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" x2="{}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{name}</text>"#,
            x + 20.0,
            x + 25.0,
            y + 4.0
        );
    }
}
