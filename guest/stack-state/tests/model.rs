//! Model-based property test: random schedules of tasks that enter, fill their frames
//! with canaries, suspend, resume in random order, make synchronous calls in between
//! (some trapping, some running off the bottom), start nested tasks, exit, die, get
//! ended while suspended, and meet hooks with bad ids (the whole space `sim::Op`
//! covers). The state's bookkeeping is checked after every step. Eager, lazy and adaptive
//! must keep every frame byte-identical; with no strategy the
//! same harness must find corruption, which shows that the check can fail.

use proptest::prelude::*;
use proptest::strategy::{Strategy as _, ValueTree as _};
use stack_state::sim::{check_schedule, ops_from_bytes, Op, Report, Sim};
use stack_state::Strategy;

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u8>(), any::<u8>(), prop::bool::weighted(0.2), prop::bool::weighted(0.05))
            .prop_map(|(depth, size, exit, trap)| Op::Start { depth, size, exit, trap }),
        5 => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(),
              prop::bool::weighted(0.25), prop::bool::weighted(0.05))
            .prop_map(|(which, pop, push, size, exit, trap)| Op::Resume { which, pop, push, size, exit, trap }),
        1 => (any::<u8>(), any::<u8>(), prop::bool::weighted(0.3))
            .prop_map(|(which, size, exit)| Op::ResumeNested { which, size, exit }),
        2 => (any::<u8>(), any::<u8>(), prop::bool::weighted(0.2), prop::bool::weighted(0.1))
            .prop_map(|(size, depth, trap, huge)| Op::SyncCall { size, depth, trap, huge }),
        1 => (any::<u8>(), any::<u8>(), prop::bool::weighted(0.3), prop::bool::weighted(0.1))
            .prop_map(|(outer, size, exit, trap)| Op::NestedStart { outer, size, exit, trap }),
        2 => Just(Op::Reaction),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(kind, salt)| Op::BadHook { kind, salt }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(which, resume)| Op::Cancel { which, resume }),
    ]
}

/// Steps of a schedule whose every resume takes the newest suspended task: whether
/// to start a task (else resume the newest), then its depth, frame size, frames
/// pushed and whether it finishes. Turned into ops against the simulator as it runs
/// ([`run_newest_first`]), since whether a task is still suspended depends on room.
fn newest_first() -> impl proptest::strategy::Strategy<Value = Vec<(bool, u8, u8, u8, bool)>> {
    let step = (
        any::<bool>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<bool>(),
    );
    prop::collection::vec(step, 1..MAX_OPS)
}

/// Runs newest-first steps with `strategy`, then finishes every task newest first, so
/// that the oldest-first drain of `Sim::run` has nothing left to resume.
fn run_newest_first(strategy: Strategy, steps: &[(bool, u8, u8, u8, bool)]) -> Report {
    let mut sim = Sim::new(strategy);
    for &(start, depth, size, push, exit) in steps {
        let which = match sim.suspended_count().checked_sub(1) {
            Some(newest) if !start => newest as u8,
            _ => {
                sim.step(&Op::Start {
                    depth,
                    size,
                    exit: false,
                    trap: false,
                });
                continue;
            }
        };
        sim.step(&Op::Resume {
            which,
            pop: 0,
            push,
            size,
            exit,
            trap: false,
        });
    }
    while let Some(newest) = sim.suspended_count().checked_sub(1) {
        let which = newest as u8;
        sim.step(&Op::Resume {
            which,
            pop: 255,
            push: 0,
            size: 0,
            exit: true,
            trap: false,
        });
    }
    sim.run(&[])
}

fn schedule() -> impl proptest::strategy::Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..MAX_OPS)
}

/// Cases per property. Miri interprets about one schedule step per second here (eight
/// cases of one property took eight minutes), so under Miri each property runs once,
/// on a short schedule, to keep `cargo xtask test`'s Miri step to a few minutes.
const CASES: u32 = if cfg!(miri) { 1 } else { 512 };
/// One more than the longest schedule, in steps (raw bytes: about five per step).
const MAX_OPS: usize = if cfg!(miri) { 24 } else { 120 };

/// `CASES` cases (or `PROPTEST_CASES`); under Miri without saving failing seeds, as Miri isolates the test
/// from the file system where proptest keeps them.
fn config() -> ProptestConfig {
    // PROPTEST_CASES asks for more (or fewer) cases, as proptest's own default does.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    let mut config = ProptestConfig::with_cases(cases);
    if cfg!(miri) {
        config.failure_persistence = None;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn eager_keeps_every_frame(ops in schedule()) {
        let report = Sim::new(Strategy::Eager).run(&ops);
        prop_assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
    }

    #[test]
    fn lazy_keeps_every_frame(ops in schedule()) {
        let report = Sim::new(Strategy::Lazy).run(&ops);
        prop_assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
    }

    #[test]
    fn adaptive_keeps_every_frame(ops in schedule()) {
        let report = Sim::new(Strategy::Adaptive).run(&ops);
        prop_assert!(report.corruptions.is_empty(), "{:?}", report.corruptions);
    }

    /// Tasks that always resume newest-first: adaptive never saves at suspend and
    /// copies exactly what lazy copies (nothing, unless a flush made room).
    #[test]
    fn adaptive_is_lazy_when_resumes_come_newest_first(steps in newest_first()) {
        let lazy = run_newest_first(Strategy::Lazy, &steps);
        let adaptive = run_newest_first(Strategy::Adaptive, &steps);
        prop_assert!(adaptive.corruptions.is_empty(), "{:?}", adaptive.corruptions);
        prop_assert_eq!(adaptive.bytes_saved_at_suspend, 0);
        prop_assert_eq!(adaptive.bytes_copied, lazy.bytes_copied);
        prop_assert_eq!(lazy.refused.len(), adaptive.refused.len());
    }

    /// Eager, lazy and adaptive intact, neither lazy nor adaptive copying more than
    /// eager: the check the fuzz
    /// target runs (`guest/stack-state/fuzz`).
    #[test]
    fn every_schedule_passes_the_shared_check(ops in schedule()) {
        prop_assert_eq!(check_schedule(&ops), Ok(()));
    }

    /// Arbitrary bytes decode to schedules that pass too: the fuzz target's own path.
    #[test]
    fn schedules_from_bytes_pass(bytes in prop::collection::vec(any::<u8>(), 0..MAX_OPS * 5)) {
        prop_assert_eq!(check_schedule(&ops_from_bytes(&bytes)), Ok(()));
    }
}

/// The same random schedules without a strategy: corruption must be found.
#[test]
fn no_strategy_is_caught_corrupting() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let cases = if cfg!(miri) { 4 } else { 512 };
    let mut corrupted = 0;
    for _ in 0..cases {
        let ops = schedule()
            .new_tree(&mut runner)
            .expect("a schedule")
            .current();
        if !Sim::new(Strategy::None).run(&ops).corruptions.is_empty() {
            corrupted += 1;
        }
    }
    println!("no strategy: {corrupted} of {cases} random schedules corrupted a frame");
    assert!(
        corrupted > cases / 10,
        "only {corrupted} of {cases} schedules found corruption"
    );
}

/// The random schedules do exercise eviction, partial eviction and restore.
#[test]
#[cfg_attr(miri, ignore = "needs many long schedules: hours under Miri")]
fn schedules_exercise_the_lazy_paths() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut copied, mut resumes, mut started, mut refused, mut hook_errors) = (0, 0, 0, 0, 0);
    for _ in 0..64 {
        let ops = schedule()
            .new_tree(&mut runner)
            .expect("a schedule")
            .current();
        let r = Sim::new(Strategy::Lazy).run(&ops);
        copied += r.bytes_copied;
        resumes += r.resumes;
        started += r.started;
        refused += r.refused.len();
        hook_errors += r.hook_errors;
    }
    println!(
        "lazy: {started} tasks, {resumes} resumes, {copied} bytes copied, {refused} refused, \
         {hook_errors} bad hooks refused"
    );
    assert!(copied > 0 && resumes > 100 && started > 100 && hook_errors > 10);
}
