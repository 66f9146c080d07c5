//! The schedules of `cargo xtask torture`: what a step is, the generator that turns a
//! seed into steps (the same on every machine), and the one-change-smaller variants
//! the shrinker tries.

use jspi_scenario::{self as scenario, transcript};

use super::verdict::Expect;

/// Frame sizes a task's levels start from (each level adds 8 bytes).
const SIZES: [i32; 7] = [0, 1, 24, 100, 512, 1500, 4000];
/// Sizes of the `scribble` calls' frames.
pub(super) const SCRIBBLE_SIZES: [i32; 4] = [16, 256, 2048, 8192];
/// Frame sizes of each level of a `deep` call: at most 32 levels of them stay well
/// inside the 16 KiB room below (jspi.h) that a plain call may rely on.
const DEEP_SIZES: [i32; 5] = [0, 1, 24, 100, 300];
/// Room a task needs below it (`configure`): the 1 MiB shadow stack less 128, 32 or 4
/// KiB, so that a few suspended tasks' live bytes leave too little and the library
/// flushes (evicts every live byte); its default is 16 KiB.
const MIN_TASK_STACKS: [i32; 3] = [
    1024 * 1024 - 128 * 1024,
    1024 * 1024 - 32 * 1024,
    1024 * 1024 - 4096,
];
/// At most this many tasks per schedule, children of `plan` steps included (the guest
/// library's default limit is far higher; the shadow stack holds them all even at the
/// largest shapes).
pub(super) const MAX_TASKS: u64 = 14;
/// At most this many levels per task (the guest takes up to 8).
const MAX_DEPTH: u64 = 6;
/// Faults a task can be given (`inject` in torture.c), 1 to this.
const FAULTS: u64 = 6;

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
pub(super) struct Shape {
    /// Its id; the task is named `T<id>`.
    pub id: i32,
    /// Levels of recursion, 1-8.
    pub depth: i32,
    /// Bytes of the first level's array (each level adds 8).
    pub size: i32,
    /// Bit 2k: await at level k going down; bit 2k+1: coming back.
    pub awaits: i32,
    /// Two bits per await: how many ms its promise takes.
    pub delays: i32,
    /// Bit k: a synchronous call at level k.
    pub churn: i32,
    /// 0, or the fault the task fails with at its deepest level (see `inject` in
    /// torture.c): 1 a rejection, 2 a trap, 3 a host import that throws, 4 a call that
    /// runs off the bottom of the shadow stack, 5 the host's `jspi_task_leave` called
    /// from a resumed segment, 6 the host's `jspi_task_done` with a made-up id.
    pub fault: i32,
    /// Two bits per await: 0 an int, 1 bytes through `jspi_await_bytes`, 2 and 3 a host
    /// write into the suspended task's frames (see `await_and_check` in torture.c).
    pub io: i32,
}

/// The guest's made-up library id for task or target `id` (`BOGUS_ID` in torture.c).
fn bogus_id(id: i32) -> u32 {
    0x7fff_0000 | (id as u32 & 0xffff)
}

/// The library's one line for an id that names no task (`Error::UnknownTask`), after
/// the hook's name.
const NO_SUCH_TASK: &str =
    " names no task of this instance (a stale or made-up id; pass the id jspi_task_enter returned)";

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
    pub fn fault_message(&self) -> Option<Expect> {
        Some(match self.fault {
            1 => Expect::Exact(format!("rejected with code {}", self.id)),
            2 => Expect::Exact("trap: unreachable".to_string()),
            3 => Expect::Exact(format!("host import failed with code {}", self.id)),
            4 => Expect::Exact("trap: memory access out of bounds".to_string()),
            // The task's own id, which only the library knows, sits in the middle.
            5 => Expect::Around(
                "jspi_task_leave: task 0x",
                " is running a resumed segment, so this call comes from inside it \
                 (jspi_task_leave is the host's, called once right after the promising \
                 call first returns)",
            ),
            6 => Expect::Exact(format!(
                "jspi_task_done: {:#x}{NO_SUCH_TASK}",
                bogus_id(self.id)
            )),
            _ => return None,
        })
    }

    /// How many awaits the task makes (before any fault cuts it short).
    fn await_count(&self) -> i32 {
        (i64::from(self.awaits) & ((1 << (2 * self.depth)) - 1)).count_ones() as i32
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
pub(super) enum ScheduleOp {
    /// `task(...)` as a promising task.
    Start(Shape),
    /// `task(...)` as a pooled task (a `spawn` step): it starts a microtask later, on
    /// a long-lived worker.
    Pooled(Shape),
    /// `spawner(..., frame)`, a plain call that starts the task from inside itself
    /// (`env.start`) on top of `frame` bytes of its own; it is never waited for by
    /// name (a scenario cannot name it), the end of the run waits for it.
    Nested(Shape, i32),
    /// `plan(parent, after, ...)`, a plain call before task `parent` starts: right
    /// after its await number `after` the parent starts the child task from inside
    /// that resumed segment (`env.start`), on top of its own live frames. Like a
    /// nested task, the child is waited for only by the end of the run.
    Plan {
        parent: i32,
        after: i32,
        child: Shape,
    },
    /// `scribble(seed, size)`, a plain call.
    Scribble { seed: i32, size: i32 },
    /// `deep(seed, levels, size, how)`, a plain call while tasks are suspended:
    /// `levels` frames of `size` canaries; at the bottom `how` 0 returns, 1 traps, 2
    /// calls a host import that throws, 3 runs off the bottom of the shadow stack.
    Deep {
        seed: i32,
        levels: i32,
        size: i32,
        how: i32,
    },
    /// `misuse(kind, target)`, a plain call that calls the host's hooks with ids they
    /// must refuse or ignore (see torture.c): 0 `done` and 1 `leave` with a made-up id,
    /// 2 `done` with T<target>'s stale id, 3 `leave` again with T<target>'s id.
    Misuse { kind: i32, target: i32 },
    /// `configure(min_task_stack)`, a plain call before any task starts.
    Configure { min_task_stack: i32 },
    /// `bare(id, awaits, delays)`, a task with no frame on the shadow stack (an empty
    /// range), started plainly or (`pooled`) on a pooled worker.
    Bare {
        id: i32,
        awaits: i32,
        delays: i32,
        pooled: bool,
    },
    /// Run the event loop until task `id` settles.
    Wait { id: i32 },
}

impl ScheduleOp {
    /// The export and arguments of a plain call.
    fn call(&self) -> Option<(&'static str, Vec<i32>)> {
        Some(match self {
            ScheduleOp::Nested(shape, frame) => {
                let mut args = shape.args().to_vec();
                args.push(*frame);
                ("spawner", args)
            }
            ScheduleOp::Plan {
                parent,
                after,
                child,
            } => {
                let mut args = vec![*parent, *after];
                args.extend(child.args());
                ("plan", args)
            }
            ScheduleOp::Scribble { seed, size } => ("scribble", vec![*seed, *size]),
            ScheduleOp::Deep {
                seed,
                levels,
                size,
                how,
            } => ("deep", vec![*seed, *levels, *size, *how]),
            ScheduleOp::Misuse { kind, target } => ("misuse", vec![*kind, *target]),
            ScheduleOp::Configure { min_task_stack } => ("configure", vec![*min_task_stack]),
            ScheduleOp::Start(_)
            | ScheduleOp::Pooled(_)
            | ScheduleOp::Bare { .. }
            | ScheduleOp::Wait { .. } => return None,
        })
    }

    /// The step as the scenario crate's step, which writes it as text.
    pub fn to_scenario(&self) -> scenario::Step {
        let task = |export: &str, args: Vec<i32>, id: i32, pooled: bool| {
            let (export, name) = (export.to_string(), format!("T{id}"));
            match pooled {
                false => scenario::Step::Start { export, args, name },
                true => scenario::Step::Spawn { export, args, name },
            }
        };
        match self {
            ScheduleOp::Start(shape) => task("task", shape.args().to_vec(), shape.id, false),
            ScheduleOp::Pooled(shape) => task("task", shape.args().to_vec(), shape.id, true),
            ScheduleOp::Bare {
                id,
                awaits,
                delays,
                pooled,
            } => task("bare", vec![*id, *awaits, *delays], *id, *pooled),
            ScheduleOp::Wait { id } => scenario::Step::Wait {
                task: format!("T{id}"),
            },
            call => {
                let (export, args) = call.call().expect("every other step is a call");
                let export = export.to_string();
                scenario::Step::Call { export, args }
            }
        }
    }

    /// The id of the task this step starts and a scenario can wait for (not a nested
    /// task or a `plan` step's child).
    pub fn waitable(&self) -> Option<i32> {
        match self {
            ScheduleOp::Start(shape) | ScheduleOp::Pooled(shape) => Some(shape.id),
            ScheduleOp::Bare { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// Whether this step starts a task (or plans one).
    pub fn starts_task(&self) -> bool {
        self.shape().is_some() || self.waitable().is_some()
    }

    /// The task this step starts (a `plan` step's child); none for a bare task.
    pub fn shape(&self) -> Option<&Shape> {
        match self {
            ScheduleOp::Start(shape) | ScheduleOp::Pooled(shape) | ScheduleOp::Nested(shape, _) => {
                Some(shape)
            }
            ScheduleOp::Plan { child, .. } => Some(child),
            _ => None,
        }
    }

    /// How this plain call must fail, if it must: the start of its failure line
    /// (`deep(1, 2, 3, 1) failed: ` as the transcript prints it) and the message.
    pub fn expected_failure(&self) -> Option<(String, Expect)> {
        let expect = match *self {
            ScheduleOp::Deep { how: 1, .. } => Expect::Exact("trap: unreachable".to_string()),
            ScheduleOp::Deep { seed, how: 2, .. } => {
                Expect::Exact(format!("host import failed with code {seed}"))
            }
            ScheduleOp::Deep { how: 3, .. } => {
                Expect::Exact("trap: memory access out of bounds".to_string())
            }
            ScheduleOp::Misuse { kind: 0, target } => Expect::Exact(format!(
                "jspi_task_done: {:#x}{NO_SUCH_TASK}",
                bogus_id(target)
            )),
            ScheduleOp::Misuse { kind: 1, target } => Expect::Exact(format!(
                "jspi_task_leave: {:#x}{NO_SUCH_TASK}",
                bogus_id(target)
            )),
            ScheduleOp::Misuse { kind: 2, .. } => {
                Expect::Around("jspi_task_done: 0x", NO_SUCH_TASK)
            }
            _ => return None,
        };
        Some((transcript::failed(&self.describe()?, ""), expect))
    }

    /// How this plain call may fail without being wrong (besides
    /// [`Self::expected_failure`]): a repeated `leave` for a task that has not
    /// started yet names no task.
    pub fn allowed_failure(&self) -> Option<(String, Expect)> {
        match self {
            ScheduleOp::Misuse { kind: 3, .. } => Some((
                transcript::failed(&self.describe()?, ""),
                Expect::Around("jspi_task_leave: 0x", NO_SUCH_TASK),
            )),
            _ => self.expected_failure(),
        }
    }

    /// `EXPORT(ARGS)` as the transcript prints a plain call.
    fn describe(&self) -> Option<String> {
        let (export, args) = self.call()?;
        Some(transcript::call(export, &args))
    }
}

/// A random task shape; `flushing` schedules give one task in four a fault, the
/// others one in ten.
fn random_shape(rng: &mut Rng, id: i32, flushing: bool) -> Shape {
    let depth = 1 + rng.below(MAX_DEPTH);
    Shape {
        id,
        depth: depth as i32,
        size: rng.pick(&SIZES),
        awaits: (rng.next() & ((1 << (2 * depth)) - 1)) as i32,
        delays: rng.next() as i32,
        churn: rng.below(1 << depth) as i32,
        // Under `configure` the faulting task's bytes have often been flushed (saved
        // whole, or in part under lazy) before it dies.
        fault: if rng.below(if flushing { 4 } else { 10 }) == 0 {
            1 + rng.below(FAULTS) as i32
        } else {
            0
        },
        // Half the tasks bring bytes into their frames at some awaits.
        io: if rng.below(2) == 0 {
            rng.next() as i32
        } else {
            0
        },
    }
}

/// The steps of the schedule of `seed`.
pub(super) fn generate(seed: u64) -> Vec<ScheduleOp> {
    let mut rng = Rng(seed);
    let tasks = 2 + rng.below(MAX_TASKS - 1) as i32;
    let (mut steps, mut started, mut unwaited) = (Vec::new(), 0, Vec::new());
    // A quarter of the schedules make the library flush the shadow stack often. They
    // start no task from inside a call or a resumed task: one nested in frames would
    // rightly fail to start, finding less room below them than it was told to need
    // (or not, depending on where the strategy placed those frames).
    let flushing = rng.below(4) == 0;
    if flushing {
        steps.push(ScheduleOp::Configure {
            min_task_stack: rng.pick(&MIN_TASK_STACKS),
        });
    }
    while started < tasks || (!unwaited.is_empty() && rng.below(2) == 0) {
        let roll = rng.below(100);
        if started < tasks && roll < 50 {
            started += 1;
            if rng.below(8) == 0 {
                // One start in eight is a frameless task; a quarter of those pooled.
                steps.push(ScheduleOp::Bare {
                    id: started,
                    awaits: 1 + rng.below(64) as i32,
                    delays: rng.next() as i32,
                    pooled: rng.below(4) == 0,
                });
                unwaited.push(started);
                continue;
            }
            let shape = random_shape(&mut rng, started, flushing);
            // One task in five that awaits starts a child after one of its awaits.
            if !flushing && started < tasks && shape.await_count() > 0 && rng.below(5) == 0 {
                started += 1;
                steps.push(ScheduleOp::Plan {
                    parent: shape.id,
                    after: rng.below(shape.await_count() as u64) as i32,
                    child: random_shape(&mut rng, started, flushing),
                });
            }
            let how = rng.below(20);
            if !flushing && how < 4 {
                steps.push(ScheduleOp::Nested(shape, rng.pick(&SCRIBBLE_SIZES)));
            } else if how >= 15 {
                // A quarter run on pooled workers.
                steps.push(ScheduleOp::Pooled(shape));
                unwaited.push(shape.id);
            } else {
                steps.push(ScheduleOp::Start(shape));
                unwaited.push(shape.id);
            }
        } else if roll < 62 {
            steps.push(ScheduleOp::Scribble {
                seed: rng.next() as i32 & 0xffff,
                size: rng.pick(&SCRIBBLE_SIZES),
            });
        } else if roll < 67 {
            let how = rng.below(5) as i32;
            steps.push(ScheduleOp::Deep {
                seed: rng.next() as i32 & 0xffff,
                levels: 1 + rng.below(32) as i32,
                size: rng.pick(&DEEP_SIZES),
                // Returns twice as often as each way of failing.
                how: (how - 1).max(0),
            });
        } else if roll < 70 {
            steps.push(ScheduleOp::Misuse {
                kind: rng.below(4) as i32,
                target: 1 + rng.below(u64::from(started.max(1) as u32)) as i32,
            });
        } else if !unwaited.is_empty() {
            let i = rng.below(unwaited.len() as u64) as usize;
            steps.push(ScheduleOp::Wait {
                id: unwaited.swap_remove(i),
            });
        }
    }
    steps
}

/// Every schedule one change smaller than `steps`: a step left out (a start together
/// with its wait), a nested or pooled task started plainly, or one argument made
/// simpler.
pub(super) fn smaller(steps: &[ScheduleOp]) -> Vec<Vec<ScheduleOp>> {
    let mut out: Vec<Vec<ScheduleOp>> = (0..steps.len()).map(|i| without(steps, i)).collect();
    for (i, step) in steps.iter().enumerate() {
        for variant in simpler(step) {
            let mut changed = steps.to_vec();
            changed[i] = variant;
            out.push(changed);
        }
    }
    out
}

/// `steps` without step `i`, and without the waits for the task it started.
fn without(steps: &[ScheduleOp], i: usize) -> Vec<ScheduleOp> {
    let step = &steps[i];
    let mut without: Vec<ScheduleOp> = steps[..i].to_vec();
    without.extend(
        steps[i + 1..]
            .iter()
            .filter(|s| match (step.waitable(), s) {
                (Some(started), ScheduleOp::Wait { id }) => *id != started,
                _ => true,
            })
            .cloned(),
    );
    without
}

/// The simpler versions of one step, each a single change, in the order tried.
fn simpler(step: &ScheduleOp) -> Vec<ScheduleOp> {
    match step {
        ScheduleOp::Start(shape) => shape.simpler().into_iter().map(ScheduleOp::Start).collect(),
        ScheduleOp::Pooled(shape) => std::iter::once(ScheduleOp::Start(*shape))
            .chain(shape.simpler().into_iter().map(ScheduleOp::Pooled))
            .collect(),
        ScheduleOp::Nested(shape, frame) => {
            let mut v = vec![ScheduleOp::Start(*shape)];
            if *frame > 1 {
                v.push(ScheduleOp::Nested(*shape, frame / 2));
            }
            v.extend(
                shape
                    .simpler()
                    .into_iter()
                    .map(|s| ScheduleOp::Nested(s, *frame)),
            );
            v
        }
        ScheduleOp::Plan {
            parent,
            after,
            child,
        } => simpler_plan(*parent, *after, *child),
        ScheduleOp::Bare {
            id,
            awaits,
            delays,
            pooled,
        } => simpler_bare(*id, *awaits, *delays, *pooled),
        ScheduleOp::Scribble { seed, size } if *size > 1 => vec![ScheduleOp::Scribble {
            seed: *seed,
            size: size / 2,
        }],
        ScheduleOp::Deep {
            seed,
            levels,
            size,
            how,
        } => simpler_deep(*seed, *levels, *size, *how),
        _ => Vec::new(),
    }
}

/// A plan's simpler versions: its child started one await earlier, or simpler.
fn simpler_plan(parent: i32, after: i32, child: Shape) -> Vec<ScheduleOp> {
    let mut v = Vec::new();
    if after > 0 {
        v.push(ScheduleOp::Plan {
            parent,
            after: after - 1,
            child,
        });
    }
    v.extend(child.simpler().into_iter().map(|child| ScheduleOp::Plan {
        parent,
        after,
        child,
    }));
    v
}

/// A bare task's simpler versions: not pooled, half the awaits, no delays.
fn simpler_bare(id: i32, awaits: i32, delays: i32, pooled: bool) -> Vec<ScheduleOp> {
    let bare = |awaits, delays, pooled| ScheduleOp::Bare {
        id,
        awaits,
        delays,
        pooled,
    };
    let mut v = Vec::new();
    if pooled {
        v.push(bare(awaits, delays, false));
    }
    if awaits > 1 {
        v.push(bare(awaits / 2, delays, pooled));
    }
    if delays != 0 {
        v.push(bare(awaits, 0, pooled));
    }
    v
}

/// A deep call's simpler versions: half the levels, half the size, a plain return.
fn simpler_deep(seed: i32, levels: i32, size: i32, how: i32) -> Vec<ScheduleOp> {
    let deep = |levels, size, how| ScheduleOp::Deep {
        seed,
        levels,
        size,
        how,
    };
    let mut v = Vec::new();
    if levels > 1 {
        v.push(deep(levels / 2, size, how));
    }
    if size > 0 {
        v.push(deep(levels, size / 2, how));
    }
    if how != 0 {
        v.push(deep(levels, size, 0));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_schedule() {
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7), generate(8));
        let steps = generate(7);
        let tasks = steps.iter().filter(|s| s.starts_task()).count();
        assert!((2..=MAX_TASKS as usize).contains(&tasks), "{steps:?}");
    }

    #[test]
    fn waits_follow_their_starts_and_come_once() {
        for seed in 0..200 {
            let mut started = Vec::new();
            let mut waited = Vec::new();
            for step in generate(seed) {
                if let Some(id) = step.waitable() {
                    started.push(id);
                }
                if let ScheduleOp::Wait { id } = step {
                    assert!(started.contains(&id) && !waited.contains(&id));
                    waited.push(id);
                }
            }
        }
    }

    #[test]
    fn every_new_step_and_fault_comes_up() {
        let steps: Vec<ScheduleOp> = (0..300).flat_map(generate).collect();
        let any = |f: &dyn Fn(&ScheduleOp) -> bool| steps.iter().any(f);
        for how in 0..4 {
            assert!(any(
                &|s| matches!(s, ScheduleOp::Deep { how: h, .. } if *h == how)
            ));
        }
        for kind in 0..4 {
            assert!(any(
                &|s| matches!(s, ScheduleOp::Misuse { kind: k, .. } if *k == kind)
            ));
        }
        assert!(any(&|s| matches!(s, ScheduleOp::Plan { .. })));
        assert!(any(&|s| matches!(s, ScheduleOp::Bare { pooled: true, .. })));
        assert!(any(&|s| matches!(
            s,
            ScheduleOp::Bare { pooled: false, .. }
        )));
        for fault in 1..=FAULTS as i32 {
            assert!(any(&|s| s.shape().is_some_and(|t| t.fault == fault)));
        }
        // Task ids stay unique, children and bare tasks included.
        for seed in 0..300 {
            let steps = generate(seed);
            let shapes = steps.iter().filter_map(ScheduleOp::shape).map(|s| s.id);
            let bare = steps.iter().filter_map(|s| match s {
                ScheduleOp::Bare { id, .. } => Some(*id),
                _ => None,
            });
            let mut ids: Vec<i32> = shapes.chain(bare).collect();
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), n, "seed {seed}");
        }
    }

    #[test]
    fn steps_print_as_the_guest_and_the_transcript_name_them() {
        let deep = ScheduleOp::Deep {
            seed: 9,
            levels: 3,
            size: 24,
            how: 2,
        };
        assert_eq!(
            deep.to_scenario().to_json(),
            r#"{"call": "deep", "args": [9, 3, 24, 2]}"#
        );
        let (head, expect) = deep.expected_failure().unwrap();
        assert_eq!(head, "deep(9, 3, 24, 2) failed: ");
        assert!(expect.matches("host import failed with code 9"));
        let misuse = ScheduleOp::Misuse { kind: 0, target: 5 };
        let (_, expect) = misuse.expected_failure().unwrap();
        assert!(expect.matches(
            "jspi_task_done: 0x7fff0005 names no task of this instance (a stale or made-up id; \
             pass the id jspi_task_enter returned)"
        ));
        assert!(ScheduleOp::Misuse { kind: 3, target: 5 }
            .expected_failure()
            .is_none());
    }

    #[test]
    fn shrinking_candidates_are_smaller_and_keep_waits_valid() {
        for seed in [11, 12, 13] {
            let steps = generate(seed);
            for candidate in smaller(&steps) {
                assert_ne!(candidate, steps);
                let mut started = Vec::new();
                for step in &candidate {
                    if let Some(id) = step.waitable() {
                        started.push(id);
                    }
                    if let ScheduleOp::Wait { id } = step {
                        assert!(started.contains(id));
                    }
                }
            }
        }
    }
}
