//! A simulator of C code on a shadow stack, driven by schedules, that checks every
//! suspended task's frames after every resume.
//!
//! It plays both sides exactly as they behave in a guest: compiled C (a call reads
//! `__stack_pointer`, moves it down by its frame and writes it back; a return sets it
//! to the value the call saw on entry; nothing else is restored on resume) and the host
//! (top-level synchronous calls, promising tasks started at top level or from inside a
//! synchronous call, promise reactions that report a task's end some time later, and
//! tasks that die). Every frame is filled with bytes that depend on its task and
//! position (canaries); after every resume the task checks all its frames.
//!
//! The same [`Op`] schedules drive the property test and, later, fuzz targets. With
//! [`Strategy::None`] the simulator must find corruption: that is the proof the check
//! can fail.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{Config, Error, HeapSource, StackState, Strategy, TaskId, VecMemory};

/// Task records the simulated guest has room for.
pub const CAPACITY: usize = 64;

/// One step of a schedule. Numbers are taken modulo what makes sense, so any values
/// form a valid schedule (a fuzzer can produce them from raw bytes).
#[derive(Clone, Debug)]
pub enum Op {
    /// The host starts a promising task at top level. Its first segment calls down
    /// `depth` frames of `size` bytes each, then awaits (or returns, if `exit`).
    Start {
        /// Frames to push before the first await (0 to 3).
        depth: u8,
        /// Frame size in 16-byte units (1 to 64).
        size: u8,
        /// Return instead of awaiting.
        exit: bool,
    },
    /// A pending promise settles and its task resumes: it checks its frames, returns
    /// from `pop` of them, calls `push` new ones, then awaits again (or finishes).
    Resume {
        /// Which suspended task (index modulo their number).
        which: u8,
        /// Frames to return from (modulo depth + 1).
        pop: u8,
        /// Frames to push (0 to 2).
        push: u8,
        /// Frame size in 16-byte units.
        size: u8,
        /// Return from everything and finish.
        exit: bool,
        /// Die (trap) after pushing, instead of awaiting.
        trap: bool,
    },
    /// A synchronous export called from the host's top level: writes a frame of
    /// `size` units of garbage below the stack pointer, and returns.
    SyncCall {
        /// Frame size in 16-byte units.
        size: u8,
    },
    /// A synchronous export that, from inside its own frame, starts a promising task
    /// (nested), then calls another function that writes garbage, then returns.
    NestedStart {
        /// The synchronous caller's frame size in 16-byte units.
        outer: u8,
        /// The nested task's first-segment frame size in units.
        size: u8,
        /// The nested task returns instead of awaiting.
        exit: bool,
    },
    /// The host's reaction to the oldest settled task runs (`jspi_task_done`).
    Reaction,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    addr: u32,
    len: u32,
    entry_sp: u32,
    salt: u32,
}

#[derive(Debug)]
struct SimTask {
    id: TaskId,
    name: u32,
    frames: Vec<Frame>,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Descriptions of corrupted frames (empty when every check passed).
    pub corruptions: Vec<String>,
    /// Tasks that could not start (placement or limit errors), with the error.
    pub refused: Vec<Error>,
    /// Tasks started.
    pub started: u32,
    /// Resumes performed.
    pub resumes: u32,
    /// Bytes copied (saved + restored).
    pub bytes_copied: u64,
}

/// The simulated guest and host.
pub struct Sim {
    state: StackState<VecMemory, CAPACITY>,
    /// The `__stack_pointer` global.
    sp: u32,
    suspended: Vec<SimTask>,
    /// Tasks that ended; the host's reaction (`done`) has not run yet.
    settled: Vec<TaskId>,
    next_name: u32,
    garbage: u32,
    report: Report,
}

/// Bytes of shadow stack in the simulated guest.
pub const STACK_BYTES: u32 = 64 * 1024;
/// `min_task_stack` in the simulated guest.
pub const MIN_TASK_STACK: u32 = 8 * 1024;

fn canary(name: u32, salt: u32, offset: u32) -> u8 {
    let mut x = name.wrapping_mul(0x9e37_79b9) ^ salt.wrapping_mul(0x85eb_ca6b) ^ offset;
    x ^= x >> 15;
    x = x.wrapping_mul(0x2c1b_3c6d);
    x ^= x >> 12;
    (x & 0xff) as u8
}

impl Sim {
    /// A guest with a 64 KiB shadow stack at `[0, 64 KiB)` and saved bytes above it.
    pub fn new(strategy: Strategy) -> Self {
        let config = Config {
            stack_low: 0,
            stack_high: STACK_BYTES,
            min_task_stack: MIN_TASK_STACK,
            max_tasks: 32,
            heap: HeapSource::Grow,
        };
        let mem = VecMemory::new(STACK_BYTES as usize, 64 << 20);
        Sim {
            state: StackState::new(mem, strategy, config),
            sp: STACK_BYTES,
            suspended: Vec::new(),
            settled: Vec::new(),
            next_name: 1,
            garbage: 0x1234_5678,
            report: Report::default(),
        }
    }

    /// Runs `ops`, then lets every remaining task resume and finish, then checks that
    /// nothing stale is left. Returns what was found.
    pub fn run(mut self, ops: &[Op]) -> Report {
        for op in ops {
            self.step(op);
        }
        // Drain: resume every task to completion, oldest first.
        while !self.suspended.is_empty() {
            self.step(&Op::Resume {
                which: 0,
                pop: 255,
                push: 0,
                size: 1,
                exit: true,
                trap: false,
            });
        }
        while !self.settled.is_empty() {
            self.step(&Op::Reaction);
        }
        let stats = self.state.stats();
        let leftovers = [
            ("live tasks", stats.live_tasks),
            ("saved bytes", stats.saved_bytes),
            ("heap bytes in use", self.state.heap_in_use()),
        ];
        for (what, n) in leftovers {
            if n != 0 && self.state.strategy() != Strategy::None {
                self.report
                    .corruptions
                    .push(format!("stale state at the end: {n} {what}"));
            }
        }
        self.report.bytes_copied = stats.bytes_saved + stats.bytes_restored;
        self.report
    }

    /// Performs one step.
    pub fn step(&mut self, op: &Op) {
        match *op {
            Op::Start { depth, size, exit } => {
                self.start(depth % 4, size, exit);
            }
            Op::Resume {
                which,
                pop,
                push,
                size,
                exit,
                trap,
            } => {
                if self.suspended.is_empty() {
                    return;
                }
                let i = which as usize % self.suspended.len();
                let task = self.suspended.remove(i);
                self.resume(task, pop, push % 3, size, exit, trap);
            }
            Op::SyncCall { size } => {
                if let Some(f) = self.call(0, 0, size) {
                    self.scribble(f);
                    self.ret(f);
                }
            }
            Op::NestedStart { outer, size, exit } => {
                let Some(f) = self.call(0, 0, outer) else {
                    return;
                };
                self.scribble(f);
                self.start(1, size, exit);
                // The caller goes on: another call below the stack pointer, then return.
                if let Some(g) = self.call(0, 0, size) {
                    self.scribble(g);
                    self.ret(g);
                }
                self.ret(f);
            }
            Op::Reaction => {
                if !self.settled.is_empty() {
                    let id = self.settled.remove(0);
                    if let Some(sp) = self.state.done(id) {
                        self.sp = sp;
                    }
                }
            }
        }
    }

    /// A C call: a frame of `units` × 16 bytes below the stack pointer, filled with the
    /// task's canaries. `None` when it would run off the bottom of the stack.
    fn call(&mut self, name: u32, salt: u32, units: u8) -> Option<Frame> {
        let len = (u32::from(units) % 64 + 1) * 16;
        let addr = self.sp.checked_sub(len)?;
        if addr < self.state.config().stack_low {
            return None;
        }
        let frame = Frame {
            addr,
            len,
            entry_sp: self.sp,
            salt,
        };
        self.sp = addr;
        let mem = &mut self.state.memory_mut().bytes;
        for off in 0..len {
            mem[(addr + off) as usize] = canary(name, salt, off);
        }
        Some(frame)
    }

    fn ret(&mut self, frame: Frame) {
        self.sp = frame.entry_sp;
    }

    fn scribble(&mut self, frame: Frame) {
        let mem = &mut self.state.memory_mut().bytes;
        for off in 0..frame.len {
            self.garbage ^= self.garbage << 13;
            self.garbage ^= self.garbage >> 17;
            self.garbage ^= self.garbage << 5;
            mem[(frame.addr + off) as usize] = self.garbage as u8;
        }
    }

    fn push_frames(&mut self, task: &mut SimTask, count: u8, size: u8) -> bool {
        for _ in 0..count {
            let salt = task.frames.len() as u32 * 7 + u32::from(size);
            match self.call(task.name, salt, size) {
                Some(f) => task.frames.push(f),
                None => return false,
            }
        }
        true
    }

    fn start(&mut self, depth: u8, size: u8, exit: bool) {
        let (id, sp) = match self.state.enter(self.sp) {
            Ok(v) => v,
            Err(e) => {
                self.report.refused.push(e);
                return;
            }
        };
        self.report.started += 1;
        self.sp = sp;
        let mut task = SimTask {
            id,
            name: self.next_name,
            frames: Vec::new(),
        };
        self.next_name += 1;
        // The export's own frame, then `depth` more.
        let fits = self.push_frames(&mut task, depth + 1, size);
        if fits && !exit {
            self.await_(task);
        } else {
            // Returned (or overflowed and died): unwind its frames.
            if let Some(f) = task.frames.first() {
                self.sp = f.entry_sp;
            }
        }
        if let Some(sp) = self.state.leave(id) {
            self.sp = sp;
        }
        if !fits || exit {
            self.settled.push(id);
        }
    }

    fn await_(&mut self, task: SimTask) {
        match self.state.suspend(self.sp) {
            Ok((id, sp)) => {
                assert_eq!(id, task.id, "the suspending task is the running one");
                self.sp = sp;
                self.suspended.push(task);
            }
            Err(e) => panic!("suspend failed in a valid schedule: {e}"),
        }
    }

    fn check(&mut self, task: &SimTask) {
        let mem = &self.state.memory().bytes;
        for f in &task.frames {
            let bad = (0..f.len)
                .filter(|&off| mem[(f.addr + off) as usize] != canary(task.name, f.salt, off));
            let bad = bad.count();
            if bad > 0 {
                self.report.corruptions.push(format!(
                    "task {} frame [{:#x}, {:#x}): {bad} bytes differ",
                    task.name,
                    f.addr,
                    f.addr + f.len
                ));
            }
        }
    }

    fn resume(&mut self, mut task: SimTask, pop: u8, push: u8, size: u8, exit: bool, trap: bool) {
        match self.state.resume(task.id, self.sp) {
            Ok(sp) => self.sp = sp,
            Err(e) => panic!("resume failed in a valid schedule: {e}"),
        }
        self.report.resumes += 1;
        self.check(&task);
        let keep = if exit {
            0
        } else {
            task.frames.len().saturating_sub(pop as usize).max(1)
        };
        while task.frames.len() > keep {
            let f = task.frames.pop().expect("frames above keep");
            self.ret(f);
        }
        let fits = self.push_frames(&mut task, push, size);
        if exit || trap || !fits {
            // Finished or died; the host hears of it in a later reaction. A dead task
            // leaves the stack pointer wherever it was.
            if exit {
                if let Some(f) = task.frames.first() {
                    self.sp = f.entry_sp;
                }
            }
            self.settled.push(task.id);
            return;
        }
        self.await_(task);
    }
}

/// The blog post's reentrancy schedule: a task that awaits with a small frame, a
/// victim below it, the first one resumes and returns, a synchronous call writes a
/// long string, then the victim resumes and checks its frame.
pub fn reentrancy_schedule() -> Vec<Op> {
    alloc::vec![
        Op::Start {
            depth: 0,
            size: 1,
            exit: false
        },
        Op::Start {
            depth: 0,
            size: 2,
            exit: false
        },
        Op::Resume {
            which: 0,
            pop: 0,
            push: 0,
            size: 1,
            exit: true,
            trap: false
        },
        Op::Reaction,
        Op::SyncCall { size: 5 },
        Op::Resume {
            which: 0,
            pop: 0,
            push: 0,
            size: 1,
            exit: true,
            trap: false
        },
    ]
}

/// Decodes arbitrary bytes into a schedule, so a fuzzer's inputs are schedules: one
/// byte picks the operation (weighted as in the property test), the next ones fill its
/// fields; a truncated last operation is dropped.
pub fn ops_from_bytes(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut rest = bytes;
    while let Some((&kind, tail)) = rest.split_first() {
        let need = match kind % 13 {
            0..=2 => 3,
            3..=7 => 6,
            8..=9 => 1,
            10 => 3,
            _ => 0,
        };
        if tail.len() < need {
            break;
        }
        let (f, next) = tail.split_at(need);
        rest = next;
        ops.push(match kind % 13 {
            0..=2 => Op::Start {
                depth: f[0],
                size: f[1],
                exit: f[2] % 5 == 0,
            },
            3..=7 => Op::Resume {
                which: f[0],
                pop: f[1],
                push: f[2],
                size: f[3],
                exit: f[4] % 4 == 0,
                trap: f[5] % 20 == 0,
            },
            8..=9 => Op::SyncCall { size: f[0] },
            10 => Op::NestedStart {
                outer: f[0],
                size: f[1],
                exit: f[2] % 3 == 0,
            },
            _ => Op::Reaction,
        });
    }
    ops
}

/// What every schedule must satisfy, shared by the property test and the fuzz target:
/// eager and lazy keep every frame intact, and when both started the same tasks, lazy
/// copies no more bytes than eager. Returns the first violation.
pub fn check_schedule(ops: &[Op]) -> Result<(), String> {
    let eager = Sim::new(Strategy::Eager).run(ops);
    if let Some(c) = eager.corruptions.first() {
        return Err(alloc::format!("eager: {c}"));
    }
    let lazy = Sim::new(Strategy::Lazy).run(ops);
    if let Some(c) = lazy.corruptions.first() {
        return Err(alloc::format!("lazy: {c}"));
    }
    if lazy.refused.is_empty() && eager.refused.is_empty() && lazy.bytes_copied > eager.bytes_copied
    {
        return Err(alloc::format!(
            "lazy copied {} bytes, eager {}",
            lazy.bytes_copied,
            eager.bytes_copied
        ));
    }
    Ok(())
}

/// The benchmark schedules (shared by the native and the wasmtime benchmarks; the
/// Node one, `host/js/bench.mjs`, has the same in JavaScript).
pub const BENCH_SCHEDULES: [&str; 4] = ["lifo", "fifo", "random", "pingpong"];
/// Live shadow stack per task in the benchmarks, in bytes.
pub const BENCH_SIZES: [u32; 4] = [64, 1024, 16 * 1024, 64 * 1024];
/// Task counts in the benchmarks (ping-pong always has two).
pub const BENCH_TASKS: [u32; 3] = [2, 16, 256];

/// The order in which `n` tasks, started `0..n`, resume in round `round` of a
/// benchmark schedule: newest first (`lifo`), oldest first (`fifo`), or a seeded
/// xorshift shuffle that differs each round (anything else).
pub fn resume_order(schedule: &str, n: usize, round: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    match schedule {
        "lifo" => order.reverse(),
        "fifo" => {}
        _ => {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ round.wrapping_mul(0x2545_F491_4F6C_DD1D);
            for i in (1..order.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reentrancy_corrupts_without_a_strategy_and_not_with_one() {
        let none = Sim::new(Strategy::None).run(&reentrancy_schedule());
        assert!(
            !none.corruptions.is_empty(),
            "the baseline must show the bug"
        );
        for s in [Strategy::Eager, Strategy::Lazy] {
            let r = Sim::new(s).run(&reentrancy_schedule());
            assert!(r.corruptions.is_empty(), "{s:?}: {:?}", r.corruptions);
        }
    }

    #[test]
    fn lifo_copies_nothing_when_lazy() {
        let mut ops = Vec::new();
        for _ in 0..4 {
            ops.push(Op::Start {
                depth: 1,
                size: 8,
                exit: false,
            });
        }
        for _ in 0..3 {
            // The newest task is last in `suspended`; resume it and await again.
            for which in (0..4u8).rev() {
                ops.push(Op::Resume {
                    which,
                    pop: 0,
                    push: 0,
                    size: 1,
                    exit: false,
                    trap: false,
                });
            }
        }
        let lazy = Sim::new(Strategy::Lazy).run(&ops[..ops.len()]);
        assert!(lazy.corruptions.is_empty(), "{:?}", lazy.corruptions);
        let eager = Sim::new(Strategy::Eager).run(&ops);
        assert!(eager.corruptions.is_empty());
        assert!(eager.bytes_copied > 0);
        // The drain at the end resumes oldest first, which does copy; compare the
        // lazy run's copies against eager's, which copies at every suspend.
        assert!(lazy.bytes_copied < eager.bytes_copied);
    }
}
