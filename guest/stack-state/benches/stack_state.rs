//! Native benchmarks of the stack state: the cost of one suspend/resume round trip per
//! strategy, over the schedules of issue 5, with no wasm engine in the way.
//!
//! One iteration of a schedule over `n` tasks: enter `n` tasks, each using `size` bytes
//! of shadow stack and suspending; then resume them in the schedule's order, each
//! returning and being reported done. Per round trip = iteration time / `n`.
//! Ping-pong: two tasks suspended for good, resumed alternately; one round trip per
//! resume. Bytes copied per round trip come from the state's own counters, computed
//! once outside the timed loop (printed as `bytes/rt` lines that `cargo xtask bench`
//! reads).
//!
//! `done/1023`: the cost of one `done` (the host's `jspi_task_done`) while 1,023 lazy
//! tasks are suspended with live bytes, at pseudo-random positions of the live list.

#![expect(
    missing_docs,
    reason = "criterion_group! defines an undocumented function"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use stack_state::sim::{resume_order, BENCH_SCHEDULES, BENCH_SIZES, BENCH_TASKS};
use stack_state::{Config, HeapSource, StackState, Strategy, TaskId, VecMemory};

type State = StackState<VecMemory, 512>;

/// Host-side view: the stack pointer the host's top level runs with.
struct Bench {
    state: State,
    sp: u32,
}

impl Bench {
    fn new(strategy: Strategy, tasks: u32, size: u32) -> Self {
        let stack = (tasks + 1) * (size + 64) + 4096;
        let config = Config {
            stack_low: 0,
            stack_high: stack,
            min_task_stack: 64,
            max_tasks: 512,
            heap: HeapSource::Grow,
        };
        let memory = VecMemory::new(stack as usize, 1 << 30);
        Bench {
            state: StackState::new(memory, strategy, config),
            sp: stack,
        }
    }

    /// Enters a task that uses `size` bytes and suspends; returns its id and stop.
    fn start(&mut self, size: u32) -> (TaskId, u32) {
        let (id, place) = self.state.enter(self.sp).expect("enter");
        let (_, sp) = self.state.suspend(place - size).expect("suspend");
        self.sp = sp;
        if let Some(sp) = self.state.leave(id).expect("leave") {
            self.sp = sp;
        }
        (id, place)
    }

    /// Resumes a task, which suspends again at once at the same depth.
    fn bounce(&mut self, id: TaskId) {
        let task_sp = self.state.resume(id, self.sp).expect("resume");
        let (_, sp) = self.state.suspend(task_sp).expect("suspend");
        self.sp = sp;
    }

    /// Resumes a task, which returns to `stop`; the host then reports it done.
    fn finish(&mut self, id: TaskId, stop: u32) {
        self.state.resume(id, self.sp).expect("resume");
        self.sp = stop;
        if let Some(sp) = self.state.done(id).expect("done") {
            self.sp = sp;
        }
    }

    fn copied(&self) -> u64 {
        let stats = self.state.stats();
        stats.bytes_saved + stats.bytes_restored
    }
}

/// Runs `rounds` rounds of `schedule`; returns round trips made.
fn run(bench: &mut Bench, schedule: &str, n: u32, size: u32, rounds: u64, pair: &[TaskId]) -> u64 {
    if schedule == "pingpong" {
        for _ in 0..rounds {
            bench.bounce(pair[0]);
            bench.bounce(pair[1]);
        }
        return rounds * 2;
    }
    for round in 0..rounds {
        let tasks: Vec<(TaskId, u32)> = (0..n).map(|_| bench.start(size)).collect();
        for i in resume_order(schedule, n as usize, round) {
            let (id, stop) = tasks[i];
            bench.finish(id, stop);
        }
    }
    rounds * u64::from(n)
}

fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::None => "none",
        Strategy::Eager => "eager",
        Strategy::Lazy => "lazy",
        Strategy::Adaptive => "adaptive",
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("stack_state");
    group
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(300))
        .sample_size(10);
    for schedule in BENCH_SCHEDULES {
        let task_counts: &[u32] = if schedule == "pingpong" {
            &[2]
        } else {
            &BENCH_TASKS
        };
        for &n in task_counts {
            for size in BENCH_SIZES {
                for strategy in [
                    Strategy::None,
                    Strategy::Eager,
                    Strategy::Lazy,
                    Strategy::Adaptive,
                ] {
                    let name = strategy_name(strategy);
                    // Bytes copied per round trip, measured once, outside the timing.
                    let mut probe = Bench::new(strategy, n, size);
                    let pair: Vec<TaskId> = if schedule == "pingpong" {
                        vec![probe.start(size).0, probe.start(size).0]
                    } else {
                        Vec::new()
                    };
                    let before = probe.copied();
                    let trips = run(&mut probe, schedule, n, size, 4, &pair);
                    println!(
                        "bytes/rt stack_state/{schedule}/{n}/{size}/{name} {}",
                        (probe.copied() - before) / trips
                    );
                    let id = BenchmarkId::new(format!("{schedule}/{n}/{size}"), name);
                    group.bench_function(id, |b| {
                        b.iter_custom(|iters| {
                            // Setup (the state and, for ping-pong, its two tasks) stays
                            // out of the timed part; the time is per round trip.
                            let mut bench = Bench::new(strategy, n, size);
                            let pair: Vec<TaskId> = if schedule == "pingpong" {
                                vec![bench.start(size).0, bench.start(size).0]
                            } else {
                                Vec::new()
                            };
                            let start = Instant::now();
                            let trips = run(&mut bench, schedule, n, size, iters, &pair);
                            let elapsed = start.elapsed();
                            black_box(&bench.state);
                            elapsed / (trips / iters) as u32
                        })
                    });
                }
            }
        }
    }
    group.finish();
}

/// Live tasks in the `done` benchmark (one record is left free for replacements).
const DONE_LIVE: usize = 1023;
/// Tasks ended per timed batch; the same number are started again, untimed.
const DONE_BATCH: usize = 64;

/// `done` with about 1,023 live tasks: each batch ends `DONE_BATCH` tasks picked by a
/// xorshift (timed), then starts as many replacements (untimed), so the live list stays
/// between 959 and 1,023 tasks.
fn done_bench(c: &mut Criterion) {
    type Big = StackState<VecMemory, 1024>;
    // 16 bytes per task; room for many replacements before a flush would empty the list.
    let stack: u32 = 32 << 20;
    let new_state = || {
        let config = Config {
            stack_low: 0,
            stack_high: stack,
            min_task_stack: 64,
            max_tasks: 1024,
            heap: HeapSource::Grow,
        };
        Big::new(
            VecMemory::new(stack as usize, 1 << 30),
            Strategy::Lazy,
            config,
        )
    };
    let start = |state: &mut Big, sp: &mut u32| -> TaskId {
        let (id, place) = state.enter(*sp).expect("enter");
        let (_, parked) = state.suspend(place - 16).expect("suspend");
        *sp = state.leave(id).expect("leave").unwrap_or(parked);
        id
    };
    let mut group = c.benchmark_group("stack_state");
    group
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(500))
        .sample_size(10);
    group.bench_function(BenchmarkId::new("done", DONE_LIVE), |b| {
        b.iter_custom(|iters| {
            // Setup: the state and its 1,023 suspended tasks, outside the timing.
            let mut state = new_state();
            let mut sp = stack;
            let mut live: Vec<TaskId> =
                (0..DONE_LIVE).map(|_| start(&mut state, &mut sp)).collect();
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(DONE_BATCH as u64) as usize;
                let picked: Vec<TaskId> = (0..batch)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        live.swap_remove((x % live.len() as u64) as usize)
                    })
                    .collect();
                let begin = Instant::now();
                for &id in &picked {
                    if let Some(parked) = state.done(black_box(id)).expect("done") {
                        sp = parked;
                    }
                }
                total += begin.elapsed();
                for _ in 0..batch {
                    live.push(start(&mut state, &mut sp));
                }
                left -= batch as u64;
            }
            black_box(&state);
            total
        })
    });
    group.finish();
}

criterion_group!(stack_state, benches, done_bench);
criterion_main!(stack_state);
