//! The steps of a schedule, how raw bytes become a schedule, and the fixed schedules
//! (the blog post's reentrancy case and the benchmarks' resume orders).
//!
//! Every field is taken modulo what makes sense, so any values form a valid schedule:
//! the property test draws them at random, the fuzz target decodes them from bytes.
//! The space is meant to be the whole space a real guest produces: frames of 0 bytes
//! (an export that keeps nothing on the shadow stack), 1 byte and odd sizes; tasks that
//! push and pop frames between awaits, so each suspend is at another depth; tasks
//! started from inside a running task; plain calls that trap deep or use more stack
//! than is left below them; hooks called out of order or with stale or made-up ids;
//! tasks ended while suspended and partly evicted.

use alloc::vec::Vec;

/// One step of a schedule.
#[derive(Clone, Debug)]
pub enum Op {
    /// The host starts a promising task at top level. Its first segment calls down
    /// `depth` frames (plus the export's own) of [`frame_len`]`(size)` bytes each, then
    /// awaits, returns (`exit`), or traps where it is (`trap`; with an odd `size` it
    /// first writes over everything below it, as a frame larger than the room left).
    Start {
        /// Frames to push besides the export's own (0 to 3).
        depth: u8,
        /// Frame size, through [`frame_len`].
        size: u8,
        /// Return instead of awaiting.
        exit: bool,
        /// Die in the first segment.
        trap: bool,
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
        /// Frame size, through [`frame_len`].
        size: u8,
        /// Return from everything and finish.
        exit: bool,
        /// Die (trap) after pushing, instead of awaiting; with an odd `size` after
        /// writing over everything below its stack pointer.
        trap: bool,
    },
    /// A suspended task resumes and, from inside a synchronous call out of it (the
    /// host's `env.start`), starts a nested task that runs until it awaits or ends;
    /// then the call returns, the task checks its frames and awaits again.
    ResumeNested {
        /// Which suspended task.
        which: u8,
        /// Frame size of the call out and of the nested task's frames.
        size: u8,
        /// The nested task returns instead of awaiting.
        exit: bool,
    },
    /// A plain (synchronous) export called from the host's top level: `depth` + 1
    /// frames of garbage below the stack pointer. It may trap deep (`trap`), or use
    /// more stack than is left below it (`huge`: it writes down to the bottom, then
    /// traps); the host library puts the stack pointer back either way.
    SyncCall {
        /// Frame size, through [`frame_len`].
        size: u8,
        /// Frames besides the first (0 to 3).
        depth: u8,
        /// Trap in the deepest frame.
        trap: bool,
        /// Run off the bottom of the shadow stack.
        huge: bool,
    },
    /// A synchronous export that, from inside its own frame, starts a promising task
    /// (nested), then calls another function that writes garbage, then returns.
    NestedStart {
        /// The synchronous caller's frame size, through [`frame_len`].
        outer: u8,
        /// The nested task's first-segment frame size.
        size: u8,
        /// The nested task returns instead of awaiting.
        exit: bool,
        /// The nested task dies in its first segment.
        trap: bool,
    },
    /// The host's reaction to the oldest settled task runs (`jspi_task_done`).
    Reaction,
    /// A hook called out of order or with a bad id, from the host's top level; `kind`
    /// picks which (modulo 6): `done` or `leave` with a made-up id, `done` or `leave`
    /// again for a task that ended, `leave` again for a suspended task, `done(0)`.
    /// `salt` shapes the id.
    BadHook {
        /// Which misuse.
        kind: u8,
        /// Picks or shapes the id.
        salt: u16,
    },
    /// The host ends a suspended task (`jspi_task_done` before its promise settled):
    /// it dies where it is, whether live or partly evicted. With `resume`, its promise
    /// settles anyway: the resume must fail, and the host reports the task done again.
    Cancel {
        /// Which suspended task.
        which: u8,
        /// Resume it afterwards.
        resume: bool,
    },
}

/// The bytes of a frame of `size`: 0 (about one in six: the export keeps nothing on
/// the shadow stack), 1 to 16 (tiny and odd), multiples of 16 up to 2,304, or odd
/// sizes up to 3,001.
pub fn frame_len(size: u8) -> u32 {
    match size {
        0..=39 => 0,
        40..=55 => u32::from(size - 39),
        56..=199 => u32::from(size - 55) * 16,
        _ => (u32::from(size) * 97) % 3001 + 1,
    }
}

/// The blog post's reentrancy schedule: a task that awaits with a small frame, a
/// victim below it, the first one resumes and returns, a synchronous call writes a
/// long string, then the victim resumes and checks its frame.
pub fn reentrancy_schedule() -> Vec<Op> {
    let resume_and_exit = Op::Resume {
        which: 0,
        pop: 0,
        push: 0,
        size: 60,
        exit: true,
        trap: false,
    };
    alloc::vec![
        Op::Start {
            depth: 0,
            size: 60,
            exit: false,
            trap: false
        },
        Op::Start {
            depth: 0,
            size: 70,
            exit: false,
            trap: false
        },
        resume_and_exit.clone(),
        Op::Reaction,
        Op::SyncCall {
            size: 120,
            depth: 0,
            trap: false,
            huge: false
        },
        resume_and_exit,
    ]
}

/// Decodes arbitrary bytes into a schedule, so a fuzzer's inputs are schedules: one
/// byte picks the operation (weighted about as in the property test), the next ones
/// fill its fields; a truncated last operation is dropped.
pub fn ops_from_bytes(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut rest = bytes;
    while let Some((&kind, tail)) = rest.split_first() {
        let need = match kind % 16 {
            0..=2 => 3,
            3..=6 | 15 => 6,
            7..=10 | 13 => 3,
            14 => 2,
            _ => 0,
        };
        if tail.len() < need {
            break;
        }
        let (f, next) = tail.split_at(need);
        rest = next;
        ops.push(match kind % 16 {
            0..=2 => Op::Start {
                depth: f[0],
                size: f[1],
                exit: f[2] % 5 == 0,
                trap: f[2] % 11 == 1,
            },
            3..=6 | 15 => Op::Resume {
                which: f[0],
                pop: f[1],
                push: f[2],
                size: f[3],
                exit: f[4] % 4 == 0,
                trap: f[5] % 20 == 0,
            },
            7 => Op::ResumeNested {
                which: f[0],
                size: f[1],
                exit: f[2] % 3 == 0,
            },
            8..=9 => Op::SyncCall {
                size: f[0],
                depth: f[1],
                trap: f[2] % 4 == 1,
                huge: f[2] % 9 == 2,
            },
            10 => Op::NestedStart {
                outer: f[0],
                size: f[1],
                exit: f[2] % 3 == 0,
                trap: f[2] % 7 == 1,
            },
            13 => Op::BadHook {
                kind: f[0],
                salt: u16::from_le_bytes([f[1], f[2]]),
            },
            14 => Op::Cancel {
                which: f[0],
                resume: f[1] % 2 == 0,
            },
            _ => Op::Reaction,
        });
    }
    ops
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
