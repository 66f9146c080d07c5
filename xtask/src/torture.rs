//! `cargo xtask torture`, and the torture budget of `cargo xtask test`: seeded random
//! schedules for the torture guest (`torture/torture.c`) on every host and strategy.
//!
//! A *schedule* is a list of scenario steps: tasks started (plainly, on pooled workers
//! or from inside a call) with random shapes (depth,
//! frame size, where they await, how long each promise takes, synchronous calls inside
//! them), plain `scribble` calls in between, and waits in random order. Seed `S` always
//! gives the same schedule. Thousands of schedules go into one scenario, each after a
//! `reset` step (a fresh instance and clock), so one runner process runs them all.
//!
//! The guest checks its own frames after every await and fails the task on the first
//! wrong byte. On top of that every transcript is compared with the eager one on the
//! first host: eager and lazy must agree with it everywhere, and `none` must agree with
//! itself across hosts (the hosts are deterministic, corruption included). A failing
//! schedule is shrunk, step by step and argument by argument, to a minimal one that
//! still fails, which is printed and saved as a plain scenario.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::compile::{Builder, Strategy};
use crate::examples::{Example, Kind};
use crate::hosts::Host;
use crate::run::check_hosts;
use crate::{process, project_root, rel, tools, Error, Options, Result};

/// Seeds `cargo xtask test` runs: `TEST_COUNT` schedules per host and strategy from
/// `TEST_SEED` on, the same every run (`cargo xtask torture` explores further).
pub const TEST_SEED: u64 = 1;
/// See [`TEST_SEED`]: 15 host x strategy pairs x 1,500 = 22,500 schedules per test run
/// (per 1,500: Node about 7 s, Firefox about 12 s; Chromium runs the first
/// [`CHROMIUM_COUNT`] only).
pub const TEST_COUNT: u64 = 1_500;

/// At most this many schedules per strategy run in Chromium. Its renderer does not
/// give back the instances that `reset` steps leave behind in one page: with V8's
/// trap handler on, a few hundred schedules in, instantiation fails with "Out of
/// memory: Cannot allocate Wasm memory for new instance"; with it off (as the
/// browser hosts run it, see host/js/browser/browsers.mjs) runs slow down sharply
/// instead: eager takes 4 s for 300 schedules and 160 s for 600, lazy 140 s for 300,
/// where Node and Firefox run all 1,500 in 7-12 s. Every other host runs them all.
const CHROMIUM_COUNT: u64 = 300;

/// How many of `count` schedules `host` runs.
fn count_on(host: Host, count: u64) -> u64 {
    match host {
        Host::Chromium => count.min(CHROMIUM_COUNT),
        _ => count,
    }
}

/// How long one batch may run before the runner is taken for stuck.
const BATCH_LIMIT: Duration = Duration::from_secs(600);

/// Frame sizes a task's levels start from (each level adds 8 bytes).
const SIZES: [i32; 7] = [0, 1, 24, 100, 512, 1500, 4000];
/// Sizes of the `scribble` calls' frames.
const SCRIBBLE_SIZES: [i32; 4] = [16, 256, 2048, 8192];
/// Room a task needs below it (`configure`): the 1 MiB shadow stack less 128, 32 or 4
/// KiB, so that a few suspended tasks' live bytes leave too little and the library
/// flushes (evicts every live byte); its default is 16 KiB.
const MIN_TASK_STACKS: [i32; 3] = [
    1024 * 1024 - 128 * 1024,
    1024 * 1024 - 32 * 1024,
    1024 * 1024 - 4096,
];
/// At most this many tasks per schedule (the guest library's default limit is far
/// higher; the shadow stack holds them all even at the largest shapes).
const MAX_TASKS: u64 = 14;
/// At most this many levels per task (the guest takes up to 8).
const MAX_DEPTH: u64 = 6;

/// SplitMix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// What a task does: the arguments of the guest's `task` export.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Shape {
    /// Its id; the task is named `T<id>`.
    id: i32,
    /// Levels of recursion, 1-8.
    depth: i32,
    /// Bytes of the first level's array (each level adds 8).
    size: i32,
    /// Bit 2k: await at level k going down; bit 2k+1: coming back.
    awaits: i32,
    /// Two bits per await: how many ms its promise takes.
    delays: i32,
    /// Bit k: a synchronous call at level k.
    churn: i32,
    /// 0, or the fault the task fails with at its deepest level (see `inject` in
    /// torture.c): 1 a rejection, 2 a trap, 3 a host import that throws.
    fault: i32,
    /// Two bits per await: 0 an int, 1 bytes through `jspi_await_bytes`, 2 and 3 a host
    /// write into the suspended task's frames (see `await_and_check` in torture.c).
    io: i32,
}

impl Shape {
    fn args(&self) -> [i32; 8] {
        [
            self.id,
            self.depth,
            self.size,
            self.awaits,
            self.delays,
            self.churn,
            self.fault,
            self.io,
        ]
    }

    /// The message the task fails with when its fault is injected.
    fn fault_message(&self) -> Option<String> {
        match self.fault {
            1 => Some(format!("rejected with code {}", self.id)),
            2 => Some("trap: unreachable".to_string()),
            3 => Some(format!("host import failed with code {}", self.id)),
            _ => None,
        }
    }

    /// Every shape one change simpler.
    fn simpler(&self) -> Vec<Shape> {
        let mut out = Vec::new();
        if self.depth > 1 {
            let depth = self.depth - 1;
            out.push(Shape {
                depth,
                awaits: (i64::from(self.awaits) & ((1 << (2 * depth)) - 1)) as i32,
                churn: self.churn & ((1 << depth) - 1),
                ..*self
            });
        }
        if self.size > 0 {
            out.push(Shape {
                size: self.size / 2,
                ..*self
            });
        }
        for bit in 0..2 * self.depth {
            if self.awaits & (1 << bit) != 0 {
                out.push(Shape {
                    awaits: self.awaits & !(1 << bit),
                    ..*self
                });
            }
        }
        if self.delays != 0 {
            out.push(Shape { delays: 0, ..*self });
        }
        if self.churn != 0 {
            out.push(Shape { churn: 0, ..*self });
        }
        if self.fault != 0 {
            out.push(Shape { fault: 0, ..*self });
        }
        if self.io != 0 {
            out.push(Shape { io: 0, ..*self });
        }
        out
    }
}

/// One step of a schedule.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// `task(...)` as a promising task.
    Start(Shape),
    /// `task(...)` as a pooled task (a `spawn` step): it starts a microtask later, on
    /// a long-lived worker.
    Pooled(Shape),
    /// `spawner(..., frame)`, a plain call that starts the task from inside itself
    /// (`env.start`) on top of `frame` bytes of its own; it is never waited for by
    /// name (a scenario cannot name it), the end of the run waits for it.
    Nested(Shape, i32),
    /// `scribble(seed, size)`, a plain call.
    Scribble { seed: i32, size: i32 },
    /// `configure(min_task_stack)`, a plain call before any task starts.
    Configure { min_task_stack: i32 },
    /// Run the event loop until task `id` settles.
    Wait { id: i32 },
}

impl Step {
    fn json(&self) -> String {
        let list = |args: &[i32]| {
            let items: Vec<String> = args.iter().map(i32::to_string).collect();
            items.join(", ")
        };
        match self {
            Step::Start(shape) => format!(
                r#"{{"start": "task", "args": [{}], "as": "T{}"}}"#,
                list(&shape.args()),
                shape.id
            ),
            Step::Pooled(shape) => format!(
                r#"{{"spawn": "task", "args": [{}], "as": "T{}"}}"#,
                list(&shape.args()),
                shape.id
            ),
            Step::Nested(shape, frame) => format!(
                r#"{{"call": "spawner", "args": [{}, {frame}]}}"#,
                list(&shape.args())
            ),
            Step::Scribble { seed, size } => {
                format!(r#"{{"call": "scribble", "args": [{seed}, {size}]}}"#)
            }
            Step::Wait { id } => format!(r#"{{"wait": "T{id}"}}"#),
            Step::Configure { min_task_stack } => {
                format!(r#"{{"call": "configure", "args": [{min_task_stack}]}}"#)
            }
        }
    }

    /// The task this step starts.
    fn shape(&self) -> Option<&Shape> {
        match self {
            Step::Start(shape) | Step::Pooled(shape) | Step::Nested(shape, _) => Some(shape),
            _ => None,
        }
    }
}

/// The steps of the schedule of `seed`.
fn generate(seed: u64) -> Vec<Step> {
    let mut rng = Rng(seed);
    let tasks = 2 + rng.below(MAX_TASKS - 1) as i32;
    let (mut steps, mut started, mut unwaited) = (Vec::new(), 0, Vec::new());
    // A quarter of the schedules make the library flush the shadow stack often. They
    // start no task from inside a call: one nested in a call's frames would rightly
    // fail to start, finding less room below them than it was told to need.
    let flushing = rng.below(4) == 0;
    if flushing {
        steps.push(Step::Configure {
            min_task_stack: rng.pick(&MIN_TASK_STACKS),
        });
    }
    while started < tasks || (!unwaited.is_empty() && rng.below(2) == 0) {
        let roll = rng.below(100);
        if started < tasks && roll < 50 {
            started += 1;
            let depth = 1 + rng.below(MAX_DEPTH);
            let shape = Shape {
                id: started,
                depth: depth as i32,
                size: rng.pick(&SIZES),
                awaits: (rng.next() & ((1 << (2 * depth)) - 1)) as i32,
                delays: rng.next() as i32,
                churn: rng.below(1 << depth) as i32,
                // One task in twelve fails on purpose, each way as often.
                fault: if rng.below(12) == 0 {
                    1 + rng.below(3) as i32
                } else {
                    0
                },
                // Half the tasks bring bytes into their frames at some awaits.
                io: if rng.below(2) == 0 { rng.next() as i32 } else { 0 },
            };
            let how = rng.below(20);
            if !flushing && how < 4 {
                steps.push(Step::Nested(shape, rng.pick(&SCRIBBLE_SIZES)));
            } else if how >= 15 {
                // A quarter run on pooled workers.
                steps.push(Step::Pooled(shape));
                unwaited.push(started);
            } else {
                steps.push(Step::Start(shape));
                unwaited.push(started);
            }
        } else if roll < 70 {
            steps.push(Step::Scribble {
                seed: rng.next() as i32 & 0xffff,
                size: rng.pick(&SCRIBBLE_SIZES),
            });
        } else if !unwaited.is_empty() {
            let i = rng.below(unwaited.len() as u64) as usize;
            steps.push(Step::Wait {
                id: unwaited.swap_remove(i),
            });
        }
    }
    steps
}

/// A batch of schedules as one scenario: each schedule after a `reset` step labelled
/// with its key.
fn batch_scenario(schedules: &[(String, Vec<Step>)]) -> String {
    let mut text = String::from(
        "{\"description\": \"torture schedules (generated by cargo xtask torture)\", \"steps\": [\n",
    );
    let mut first = true;
    for (key, steps) in schedules {
        for step in
            std::iter::once(format!(r#"{{"reset": "{key}"}}"#)).chain(steps.iter().map(Step::json))
        {
            if !first {
                text.push_str(",\n");
            }
            first = false;
            text.push_str(&step);
        }
    }
    text.push_str("\n]}\n");
    text
}

/// A single schedule as a plain scenario (no reset step), to replay by hand.
fn plain_scenario(description: &str, steps: &[Step]) -> String {
    let lines: Vec<String> = steps.iter().map(|s| format!("    {}", s.json())).collect();
    format!(
        "{{\n  \"description\": \"{description}\",\n  \"steps\": [\n{}\n  ]\n}}\n",
        lines.join(",\n")
    )
}

/// The transcript of each schedule of a batch, by key, without the reset line.
fn split(transcript: &str) -> HashMap<String, String> {
    let mut parts = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in transcript.lines() {
        let reset = line
            .strip_prefix("[t=0] reset ")
            .filter(|_| line.starts_with("[t=0] reset "));
        if let Some(key) = reset {
            if let Some((key, text)) = current.take() {
                parts.insert(key, text);
            }
            current = Some((key.to_string(), String::new()));
        } else if let Some((_, text)) = &mut current {
            text.push_str(line);
            text.push('\n');
        }
    }
    if let Some((key, text)) = current {
        parts.insert(key, text);
    }
    parts
}

/// The first line that shows a failure: a task that failed (other than with the fault
/// injected into it) or never settled, a plain call that failed.
fn failure_line<'t>(text: &'t str, steps: &[Step]) -> Option<&'t str> {
    let injected = |line: &str| {
        steps.iter().filter_map(Step::shape).any(|shape| {
            shape.fault_message().is_some_and(|message| {
                line.split_once("] ")
                    .is_some_and(|(_, rest)| rest == format!("T{} rejected: {message}", shape.id))
            })
        })
    };
    text.lines().find(|line| {
        (line.contains(" rejected: ") && !injected(line))
            || line.contains(" failed: ")
            || line.contains("] end: ")
    })
}

/// What a schedule's transcript is checked for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Check {
    /// No failure line, and the same transcript as eager on the first host.
    Intact,
    /// The same transcript as `none` on the first host (corrupted or not: the hosts
    /// are deterministic, so they must corrupt alike).
    Agrees,
}

impl Check {
    /// Why `text`, the transcript of `steps`, fails the check against `reference`,
    /// if it does.
    fn verdict(self, steps: &[Step], text: &str, reference: &str) -> Option<String> {
        if self == Check::Intact {
            if let Some(line) = failure_line(text, steps) {
                return Some(line.to_string());
            }
        }
        (text != reference).then(|| first_difference(reference, text))
    }
}

/// `expected LINE, got LINE` at the first line where two transcripts part.
fn first_difference(expected: &str, got: &str) -> String {
    let (mut a, mut b) = (expected.lines(), got.lines());
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return format!(
                    "transcript differs: expected {:?}, got {:?}",
                    x.unwrap_or("(end)"),
                    y.unwrap_or("(end)")
                )
            }
        }
    }
}

/// One host and strategy.
type Config = (Host, Strategy);

fn config_name((host, strategy): Config) -> String {
    format!("{}/{}", host.name(), strategy.name())
}

/// Builds the torture guest for `strategy`.
fn guest(builder: &mut Builder, strategy: Strategy) -> Result<PathBuf> {
    let dir = project_root().join("torture");
    let example = Example {
        name: "torture".into(),
        kind: Kind::C(vec![dir.join("torture.c")]),
        scenario: dir.join("torture.c"),
        dir,
        description: None,
        strategies: Strategy::ALL.to_vec(),
        wasi: false,
        packages: None,
    };
    builder
        .wasm(&example, strategy)
        .map_err(|e| Error::failure(format!("building the torture guest: {e}")))
}

/// Runs a batch on one configuration; the transcript of every schedule by key.
fn run_batch(
    builder: &mut Builder,
    config: Config,
    scenario: &Path,
    keys: &[String],
    verbose: bool,
) -> Result<HashMap<String, String>> {
    let (host, strategy) = config;
    let wasm = guest(builder, strategy)?;
    let result = host.run_limited(&wasm, scenario, BATCH_LIMIT, verbose)?;
    if let Some(failure) = result.failure {
        return Err(Error::failure(format!(
            "torture batch on {}: {failure}",
            config_name(config)
        )));
    }
    let parts = split(&result.transcript);
    if let Some(missing) = keys.iter().find(|k| !parts.contains_key(*k)) {
        return Err(Error::failure(format!(
            "torture batch on {}: the transcript has no part for `{missing}`",
            config_name(config)
        )));
    }
    Ok(parts)
}

/// A failed schedule: its seed, the configuration it is compared with, the check it
/// failed, and why.
#[derive(Clone)]
struct Failure {
    seed: u64,
    compare: Config,
    check: Check,
    why: String,
}

/// What a torture run found on one configuration.
pub struct Tally {
    config: Config,
    /// Schedules whose tasks' frames did not come through intact.
    corrupted: Vec<Failure>,
    /// `none` only: schedules whose transcript differs from the first host's.
    disagreed: Vec<Failure>,
}

impl Tally {
    /// The host and strategy, as `host/strategy`.
    pub fn name(&self) -> String {
        config_name(self.config)
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.config.1
    }

    /// How many schedules came out corrupted.
    pub fn corrupted(&self) -> usize {
        self.corrupted.len()
    }

    /// How many schedules (`none` only) differed from the first host's.
    pub fn disagreed(&self) -> usize {
        self.disagreed.len()
    }

    /// What is wrong here: any failure with eager or lazy, a disagreement with none.
    fn problems(&self) -> impl Iterator<Item = &Failure> {
        let corrupted = match self.config.1 {
            Strategy::None => &[][..],
            _ => &self.corrupted[..],
        };
        corrupted.iter().chain(&self.disagreed)
    }
}

/// What [`torture`] found.
pub struct Outcome {
    /// One per configuration asked for.
    pub tallies: Vec<Tally>,
    /// Tasks per configuration.
    pub tasks: usize,
    /// Of those, tasks that fail on purpose (a fault injected).
    pub faults: usize,
}

/// Runs the schedules of seeds `seed..seed + count` on every host x strategy of
/// `hosts` x `strategies`; eager on the first host always runs, as the reference.
/// Prints a line per configuration, with its first failure.
pub fn torture(
    builder: &mut Builder,
    hosts: &[Host],
    strategies: &[Strategy],
    seed: u64,
    count: u64,
    verbose: bool,
) -> Result<Outcome> {
    let dir = project_root().join("target/torture");
    fs::create_dir_all(&dir)
        .map_err(|e| Error::failure(format!("creating {}: {e}", rel(&dir).display())))?;
    let seeds: Vec<u64> = (seed..seed.saturating_add(count)).collect();
    let schedules: Vec<(String, Vec<Step>)> = seeds
        .iter()
        .map(|&s| (format!("seed {s}"), generate(s)))
        .collect();
    let keys: Vec<String> = schedules.iter().map(|(k, _)| k.clone()).collect();
    let scenario = dir.join("batch.json");
    fs::write(&scenario, batch_scenario(&schedules))
        .map_err(|e| Error::failure(format!("writing {}: {e}", rel(&scenario).display())))?;
    let tasks: usize = schedules
        .iter()
        .map(|(_, steps)| steps.iter().filter_map(Step::shape).count())
        .sum();
    let faults: usize = schedules
        .iter()
        .map(|(_, steps)| {
            let faulty = |shape: &&Shape| shape.fault != 0;
            steps.iter().filter_map(Step::shape).filter(faulty).count()
        })
        .sum();

    // The reference first, then every configuration asked for, first host first.
    let first = hosts[0];
    let reference: Config = (first, Strategy::Eager);
    let mut configs = vec![reference];
    for &strategy in strategies {
        for &host in hosts {
            if !configs.contains(&(host, strategy)) {
                configs.push((host, strategy));
            }
        }
    }
    let mut transcripts: HashMap<Config, HashMap<String, String>> = HashMap::new();
    let mut tallies = Vec::new();
    for &config in &configs {
        let started = Instant::now();
        let own = count_on(config.0, count);
        let batch = if own < count {
            // The first `own` schedules, in a batch of their own.
            let path = dir.join(format!("batch-{own}.json"));
            fs::write(&path, batch_scenario(&schedules[..own as usize])).map_err(|e| {
                Error::failure(format!("writing {}: {e}", rel(&path).display()))
            })?;
            path
        } else {
            scenario.clone()
        };
        transcripts.insert(
            config,
            run_batch(builder, config, &batch, &keys[..own as usize], verbose)?,
        );
        let elapsed = started.elapsed();
        let check = |compare: Config, check: Check| -> Vec<Failure> {
            let checked = own.min(count_on(compare.0, count)) as usize;
            seeds
                .iter()
                .zip(&schedules)
                .take(checked)
                .filter_map(|(&seed, (key, steps))| {
                    let (text, reference) =
                        (&transcripts[&config][key], &transcripts[&compare][key]);
                    let why = check.verdict(steps, text, reference)?;
                    Some(Failure {
                        seed,
                        compare,
                        check,
                        why,
                    })
                })
                .collect()
        };
        let mut tally = Tally {
            config,
            corrupted: check(reference, Check::Intact),
            disagreed: Vec::new(),
        };
        if config.1 == Strategy::None && config.0 != first {
            tally.disagreed = check((first, Strategy::None), Check::Agrees);
        }
        let mut line = format!(
            "torture {:<15} {own} schedules, {tasks} tasks ({faults} failing on purpose): {} corrupted",
            tally.name(),
            tally.corrupted()
        );
        if config.1 == Strategy::None && config.0 != first {
            let _ = write!(line, ", {} differ from {}", tally.disagreed(), first.name());
        }
        let _ = write!(line, " ({:.1} s)", elapsed.as_secs_f64());
        println!("{line}");
        let shown = tally.disagreed.first().or(tally.corrupted.first());
        if let Some(failure) = shown {
            println!("    first: seed {}: {}", failure.seed, failure.why);
        }
        tallies.push(tally);
    }
    Ok(Outcome {
        tallies,
        tasks,
        faults,
    })
}

/// `cargo xtask torture`: fails when any schedule failed (with `none` that is
/// expected), after printing the first failure shrunk.
pub fn command(options: &Options, seed: u64, count: u64) -> Result<()> {
    tools::ensure(options.verbose)?;
    check_hosts(&options.hosts, options.verbose)?;
    let mut builder = Builder::new(options.verbose);
    let outcome = torture(
        &mut builder,
        &options.hosts,
        &options.strategies,
        seed,
        count,
        options.verbose,
    )?;
    let total = count * outcome.tallies.len() as u64;
    let failed: usize = outcome
        .tallies
        .iter()
        .map(|t| t.corrupted() + t.disagreed())
        .sum();
    if failed == 0 {
        println!(
            "no failure in {total} schedules (seeds {seed}..={} on each of {} host/strategy pairs)",
            seed + count - 1,
            outcome.tallies.len()
        );
        return Ok(());
    }
    report_first_failure(&mut builder, &outcome, options.verbose)?;
    Err(Error::failure(format!(
        "{failed} of {total} schedules failed"
    )))
}

/// Shrinks the first failure of `outcome` to a minimal schedule; prints it, saves it,
/// and says how to replay it. Real problems (eager or lazy corrupted, hosts that
/// disagree) come before `none`'s expected corruption; then the lowest seed.
pub fn report_first_failure(builder: &mut Builder, outcome: &Outcome, verbose: bool) -> Result<()> {
    let problems = outcome
        .tallies
        .iter()
        .flat_map(|t| t.problems().map(move |f| (f, t.config)))
        .collect::<Vec<_>>();
    let expected = outcome
        .tallies
        .iter()
        .flat_map(|t| t.corrupted.iter().map(move |f| (f, t.config)))
        .collect::<Vec<_>>();
    let Some((failure, config)) = lowest(problems).or_else(|| lowest(expected)) else {
        return Ok(());
    };
    let Failure {
        seed,
        mut compare,
        check,
        ..
    } = failure.clone();
    if compare == config {
        // Eager on the first host failed on its own; compare with lazy there.
        compare = (config.0, Strategy::Lazy);
    }
    println!(
        "shrinking seed {seed} on {} (compared with {})",
        config_name(config),
        config_name(compare)
    );
    let original = generate(seed);
    let (steps, why, rounds) = shrink(builder, config, compare, check, original.clone(), verbose)?;
    let path = project_root().join("target/torture/minimal.json");
    let description = format!(
        "seed {seed} shrunk from {} to {} steps; on {}: {why}",
        original.len(),
        steps.len(),
        config_name(config)
    );
    fs::write(
        &path,
        plain_scenario(&description.replace(['"', '\\'], "'"), &steps),
    )
    .map_err(|e| Error::failure(format!("writing {}: {e}", rel(&path).display())))?;
    println!(
        "first failing seed: {seed} on {}: {why}",
        config_name(config)
    );
    println!(
        "minimal schedule ({} steps, from {}; {rounds} shrinking rounds), saved as {}:",
        steps.len(),
        original.len(),
        rel(&path).display()
    );
    for step in &steps {
        println!("    {}", step.json());
    }
    let wasm = guest(builder, config.1)?;
    println!(
        "replay: {}\n    or: cargo xtask torture --seed {seed} --count 1 --host {} --strategy {}",
        process::display(&config.0.command(&wasm, &path)),
        config.0.name(),
        config.1.name()
    );
    Ok(())
}

/// The failure with the lowest seed.
fn lowest(failures: Vec<(&Failure, Config)>) -> Option<(&Failure, Config)> {
    failures.into_iter().min_by_key(|(f, _)| f.seed)
}

/// Greedy shrinking: each round runs every one-change-smaller variant of `steps` in
/// one batch (on the failing configuration and the one it is compared with) and keeps
/// the first that still fails `check`; stops when none does. Returns the steps, why
/// they fail, and the number of rounds.
fn shrink(
    builder: &mut Builder,
    config: Config,
    compare: Config,
    check: Check,
    steps: Vec<Step>,
    verbose: bool,
) -> Result<(Vec<Step>, String, usize)> {
    let scenario = project_root().join("target/torture/shrink.json");
    // Runs candidates in one batch; the first that fails, with why.
    let mut first_failing = |candidates: Vec<Vec<Step>>,
                             reported: bool|
     -> Result<Option<(Vec<Step>, String)>> {
        let batch: Vec<(String, Vec<Step>)> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| (format!("candidate {i}"), c))
            .collect();
        let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
        fs::write(&scenario, batch_scenario(&batch))
            .map_err(|e| Error::failure(format!("writing {}: {e}", rel(&scenario).display())))?;
        let failing = run_batch(builder, config, &scenario, &keys, verbose)?;
        let reference = run_batch(builder, compare, &scenario, &keys, verbose)?;
        Ok(batch.into_iter().find_map(|(key, c)| {
            let text = &failing[&key];
            if reported && failure_line(text, &c).is_none() {
                return None;
            }
            check
                .verdict(&c, text, &reference[&key])
                .map(|why| (c, why))
        }))
    };
    let Some((mut steps, mut why)) = first_failing(vec![steps], false)? else {
        return Err(Error::failure(
            "the failing schedule passes when run alone: it depends on what ran before it \
             in the batch, which a reset should have made impossible",
        ));
    };
    // A failure the guest reported itself stays one: a smaller schedule that merely
    // differs (in timing, say, after a corrupted delay) would say less.
    let reported = !why.starts_with("transcript differs");
    for round in 0.. {
        match first_failing(smaller(&steps), reported)? {
            Some((smaller, reason)) => (steps, why) = (smaller, reason),
            None => return Ok((steps, why, round)),
        }
    }
    unreachable!("the loop returns")
}

/// Every schedule one change smaller than `steps`: a step left out (a start together
/// with its wait), a nested or pooled task started plainly, or one argument made
/// simpler.
fn smaller(steps: &[Step]) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let mut without: Vec<Step> = steps[..i].to_vec();
        without.extend(
            steps[i + 1..]
                .iter()
                .filter(|s| match (step, s) {
                    (Step::Start(shape) | Step::Pooled(shape), Step::Wait { id }) => {
                        *id != shape.id
                    }
                    _ => true,
                })
                .cloned(),
        );
        out.push(without);
    }
    for (i, step) in steps.iter().enumerate() {
        let variants: Vec<Step> = match step {
            Step::Start(shape) => shape.simpler().into_iter().map(Step::Start).collect(),
            Step::Pooled(shape) => std::iter::once(Step::Start(*shape))
                .chain(shape.simpler().into_iter().map(Step::Pooled))
                .collect(),
            Step::Nested(shape, frame) => {
                let mut v = vec![Step::Start(*shape)];
                if *frame > 1 {
                    v.push(Step::Nested(*shape, frame / 2));
                }
                v.extend(shape.simpler().into_iter().map(|s| Step::Nested(s, *frame)));
                v
            }
            Step::Scribble { seed, size } if *size > 1 => vec![Step::Scribble {
                seed: *seed,
                size: size / 2,
            }],
            _ => Vec::new(),
        };
        for variant in variants {
            let mut changed = steps.to_vec();
            changed[i] = variant;
            out.push(changed);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_schedule() {
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7), generate(8));
        let steps = generate(7);
        let tasks = steps.iter().filter_map(Step::shape).count();
        assert!((2..=MAX_TASKS as usize).contains(&tasks), "{steps:?}");
    }

    #[test]
    fn waits_follow_their_starts_and_come_once() {
        for seed in 0..200 {
            let mut started = Vec::new();
            let mut waited = Vec::new();
            for step in generate(seed) {
                match step {
                    Step::Start(shape) | Step::Pooled(shape) => started.push(shape.id),
                    Step::Wait { id } => {
                        assert!(started.contains(&id) && !waited.contains(&id));
                        waited.push(id);
                    }
                    Step::Scribble { .. } | Step::Nested(..) | Step::Configure { .. } => {}
                }
            }
        }
    }

    #[test]
    fn batches_split_back_into_their_schedules() {
        let transcript = "[t=0] reset seed 1\n[t=0] start T1 = task()\n[t=3] T1 fulfilled: 1\n\
                          [t=0] reset seed 2\n[t=0] reset seed 3\n[t=0] call scribble(1, 2)\n";
        let parts = split(transcript);
        assert_eq!(
            parts["seed 1"],
            "[t=0] start T1 = task()\n[t=3] T1 fulfilled: 1\n"
        );
        assert_eq!(parts["seed 2"], "");
        assert_eq!(parts["seed 3"], "[t=0] call scribble(1, 2)\n");
    }

    #[test]
    fn verdicts_catch_failures_and_differences_but_not_injected_faults() {
        let good = "[t=0] start T1 = task()\n[t=1] T1 fulfilled: 5\n";
        let none: &[Step] = &[];
        assert_eq!(Check::Intact.verdict(none, good, good), None);
        let bad = "[t=0] start T1 = task()\n[t=1] T1 rejected: corrupt: task 1\n";
        let why = Check::Intact.verdict(none, bad, good).unwrap();
        assert!(why.contains("corrupt: task 1"), "{why}");
        assert_eq!(Check::Agrees.verdict(none, bad, bad), None);
        assert!(Check::Agrees.verdict(none, bad, good).is_some());
        let off = "[t=0] start T1 = task()\n[t=1] T1 fulfilled: 6\n";
        let why = Check::Intact.verdict(none, off, good).unwrap();
        assert!(why.contains("fulfilled: 6"), "{why}");

        let shape = Shape {
            id: 1,
            depth: 1,
            size: 0,
            awaits: 0,
            delays: 0,
            churn: 0,
            fault: 2,
            io: 0,
        };
        let trapped = "[t=0] start T1 = task()\n[t=0] T1 rejected: trap: unreachable\n";
        assert_eq!(
            Check::Intact.verdict(&[Step::Start(shape)], trapped, trapped),
            None
        );
        let other = Shape { id: 2, ..shape };
        assert!(Check::Intact
            .verdict(&[Step::Start(other)], trapped, trapped)
            .is_some());
    }

    #[test]
    fn shrinking_candidates_are_smaller_and_keep_waits_valid() {
        let steps = generate(11);
        for candidate in smaller(&steps) {
            assert_ne!(candidate, steps);
            let mut started = Vec::new();
            for step in &candidate {
                match step {
                    Step::Start(shape) | Step::Pooled(shape) => started.push(shape.id),
                    Step::Wait { id } => assert!(started.contains(id)),
                    Step::Scribble { .. } | Step::Nested(..) | Step::Configure { .. } => {}
                }
            }
        }
    }
}
