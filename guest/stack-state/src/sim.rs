//! A simulator of C code on a shadow stack, driven by schedules, that checks every
//! suspended task's frames after every resume and the state's bookkeeping after every
//! step.
//!
//! It plays both sides exactly as they behave in a guest: compiled C (a call reads
//! `__stack_pointer`, moves it down by its frame and writes it back; a return sets it
//! to the value the call saw on entry; a trap leaves it wherever it was, even wrapped
//! past the bottom; nothing else is restored on resume) and the host (top-level
//! synchronous calls bracketed by `jspi_call_enter`/`jspi_call_leave`, promising tasks
//! started at top level or from inside a synchronous call or a running task, promise
//! reactions that report a task's end some time later, tasks that die, hooks called
//! out of order or with bad ids). Every frame is filled with bytes that depend on its
//! task and position (canaries); after every resume the task checks all its frames.
//! Code that runs may write anything below its stack pointer: that space is free.
//!
//! The same [`Op`] schedules drive the property test and the fuzz target. With
//! [`Strategy::None`] the simulator must find corruption: that is the proof the check
//! can fail.

mod ops;

pub use ops::*;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{Config, Error, HeapSource, StackState, Strategy, TaskId, VecMemory};

/// Task records the simulated guest has room for.
pub const CAPACITY: usize = 64;
/// Bytes of shadow stack in the simulated guest (16 KiB under Miri, where every byte
/// a schedule writes or checks costs microseconds).
pub const STACK_BYTES: u32 = if cfg!(miri) { 16 * 1024 } else { 64 * 1024 };
/// `min_task_stack` in the simulated guest: an eighth of the stack.
pub const MIN_TASK_STACK: u32 = STACK_BYTES / 8;
/// Violations kept per run (the first is what matters; later ones often follow it).
const MAX_REPORTED: usize = 16;

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
    /// Descriptions of corrupted frames, broken bookkeeping and hooks that answered
    /// wrongly (empty when every check passed).
    pub corruptions: Vec<String>,
    /// Tasks that could not start (placement or limit errors), with the error.
    pub refused: Vec<Error>,
    /// Tasks started.
    pub started: u32,
    /// Resumes performed.
    pub resumes: u32,
    /// Bytes copied (saved + restored).
    pub bytes_copied: u64,
    /// Adaptive: bytes saved as tasks suspended ([`StackState::bytes_saved_at_suspend`]).
    pub bytes_saved_at_suspend: u64,
    /// Hooks that failed as they should (bad ids, resumes of ended tasks).
    pub hook_errors: u32,
}

/// The simulated guest and host.
pub struct Sim {
    state: StackState<VecMemory, CAPACITY>,
    /// The `__stack_pointer` global.
    sp: u32,
    suspended: Vec<SimTask>,
    /// Tasks that ended; the host's reaction (`done`) has not run yet.
    settled: Vec<TaskId>,
    /// Tasks whose `done` has run: their ids are stale from then on.
    ended: Vec<TaskId>,
    next_name: u32,
    garbage: u32,
    /// Plain calls running (`jspi_call_enter` without its `jspi_call_leave` yet).
    plain_calls: u32,
    report: Report,
}

fn canary(name: u32, salt: u32, offset: u32) -> u8 {
    let mut x = name.wrapping_mul(0x9e37_79b9) ^ salt.wrapping_mul(0x85eb_ca6b) ^ offset;
    x ^= x >> 15;
    x = x.wrapping_mul(0x2c1b_3c6d);
    x ^= x >> 12;
    (x & 0xff) as u8
}

impl Sim {
    /// A guest with a [`STACK_BYTES`] shadow stack at address 0 and saved bytes above it.
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
            ended: Vec::new(),
            next_name: 1,
            garbage: 0x1234_5678,
            plain_calls: 0,
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
                size: 0,
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
                self.violation(format!("stale state at the end: {n} {what}"));
            }
        }
        self.report.bytes_copied = stats.bytes_saved + stats.bytes_restored;
        self.report.bytes_saved_at_suspend = self.state.bytes_saved_at_suspend();
        self.report
    }

    /// Tasks suspended now; the newest is the last (`which` = count - 1).
    pub fn suspended_count(&self) -> usize {
        self.suspended.len()
    }

    fn violation(&mut self, what: String) {
        if self.report.corruptions.len() < MAX_REPORTED {
            self.report.corruptions.push(what);
        }
    }

    fn strategy(&self) -> Strategy {
        self.state.strategy()
    }

    /// Whether the stack pointer is inside the shadow stack (a trap can leave it
    /// wrapped past the bottom).
    fn sane(&self) -> bool {
        let config = self.state.config();
        (config.stack_low..=config.stack_high).contains(&self.sp)
    }

    /// Performs one step, then checks the state's bookkeeping.
    pub fn step(&mut self, op: &Op) {
        self.apply(op);
        if self.strategy() != Strategy::None {
            if let Err(e) = self.state.check() {
                self.violation(format!("bookkeeping after {op:?}: {e}"));
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Start {
                depth,
                size,
                exit,
                trap,
            } => self.start(depth % 4, size, exit, trap),
            Op::Resume {
                which,
                pop,
                push,
                size,
                exit,
                trap,
            } => {
                if let Some(task) = self.take_suspended(which) {
                    self.resume(task, pop, push % 3, size, exit, trap);
                }
            }
            Op::ResumeNested { which, size, exit } => {
                if let Some(task) = self.take_suspended(which) {
                    self.resume_nested(task, size, exit);
                }
            }
            Op::SyncCall {
                size,
                depth,
                trap,
                huge,
            } => self.sync_call(size, depth % 4, trap, huge),
            Op::NestedStart {
                outer,
                size,
                exit,
                trap,
            } => self.nested_start(outer, size, exit, trap),
            Op::Reaction => {
                if !self.settled.is_empty() {
                    let id = self.settled.remove(0);
                    self.done(id, "a reaction");
                    self.ended.push(id);
                }
            }
            Op::BadHook { kind, salt } => self.bad_hook(kind % 6, salt),
            Op::Cancel { which, resume } => self.cancel(which, resume),
        }
    }

    /// [`Op::NestedStart`]: a plain call with a frame of `outer` starts a task, then
    /// goes on and returns.
    fn nested_start(&mut self, outer: u8, size: u8, exit: bool, trap: bool) {
        if !self.sane() {
            return;
        }
        let token = self.call_enter();
        if let Some(f) = self.call(0, 0, frame_len(outer)) {
            self.scribble(f.addr, f.len);
            self.start(1, size, exit, trap);
            // The caller goes on: another call below the stack pointer, then returns.
            self.temp_call(size);
            self.ret(f);
        }
        self.call_leave(token);
    }

    /// [`Op::Cancel`]: the host reports a suspended task done (its promise dropped),
    /// and with `resume` resumes it anyway.
    fn cancel(&mut self, which: u8, resume: bool) {
        let Some(task) = self.take_suspended(which) else {
            return;
        };
        self.done(task.id, "a cancel");
        if !resume {
            self.ended.push(task.id);
            return;
        }
        match self.state.resume(task.id, self.sp) {
            // The shim puts the host's stack pointer back and fails the task, whose
            // promise then settles: the host reports it done again.
            Err(Error::TaskEnded(_)) => {
                self.report.hook_errors += 1;
                self.settled.push(task.id);
            }
            other => {
                self.violation(format!("resume after done: {other:?}"));
                self.ended.push(task.id);
            }
        }
    }

    fn take_suspended(&mut self, which: u8) -> Option<SimTask> {
        if self.suspended.is_empty() {
            return None;
        }
        let i = which as usize % self.suspended.len();
        Some(self.suspended.remove(i))
    }

    /// `jspi_task_done` for a task that really ended (or is being cancelled).
    fn done(&mut self, id: TaskId, why: &str) {
        match self.state.done(id) {
            Ok(Some(sp)) => self.sp = sp,
            Ok(None) => {}
            Err(e) => self.violation(format!("done for {why} failed: {e}")),
        }
    }

    /// A C call: a frame of `len` bytes below the stack pointer, filled with the
    /// task's canaries. `None` when it would run off the bottom of the stack.
    fn call(&mut self, name: u32, salt: u32, len: u32) -> Option<Frame> {
        if !self.sane() {
            return None;
        }
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

    /// A return: compiled code puts back the stack pointer its call saw, except a
    /// function that keeps nothing on the shadow stack, which never touches it.
    fn ret(&mut self, frame: Frame) {
        if frame.len > 0 {
            self.sp = frame.entry_sp;
        }
    }

    /// The host library's `jspi_call_enter` before a plain call: the token.
    fn call_enter(&mut self) -> u32 {
        self.plain_calls += 1;
        self.sp
    }

    /// `jspi_call_leave` after the plain call returned or trapped.
    fn call_leave(&mut self, token: u32) {
        self.plain_calls -= 1;
        self.sp = token;
    }

    fn scribble(&mut self, addr: u32, len: u32) {
        let mem = &mut self.state.memory_mut().bytes;
        for off in 0..len {
            self.garbage ^= self.garbage << 13;
            self.garbage ^= self.garbage >> 17;
            self.garbage ^= self.garbage << 5;
            mem[(addr + off) as usize] = self.garbage as u8;
        }
    }

    /// A call that writes garbage in its frame and returns: what any code may do below
    /// its stack pointer.
    fn temp_call(&mut self, size: u8) {
        if let Some(g) = self.call(0, 0, frame_len(size.rotate_left(3))) {
            self.scribble(g.addr, g.len);
            self.ret(g);
        }
    }

    /// The running code traps. With `huge` it first writes everything below its stack
    /// pointer down to the bottom (a frame larger than the room left), and the stack
    /// pointer is left wrapped past the bottom; otherwise it stays where the trap was.
    fn die(&mut self, huge: bool) {
        if huge && self.sane() {
            let low = self.state.config().stack_low;
            self.scribble(low, self.sp - low);
            self.sp = low.wrapping_sub(64);
        }
    }

    /// `jspi_call_enter`, a plain call, `jspi_call_leave`.
    fn sync_call(&mut self, size: u8, depth: u8, trap: bool, huge: bool) {
        if !self.sane() {
            // Its first frame would trap at once, writing nothing.
            return;
        }
        let token = self.call_enter();
        for i in 0..=depth {
            match self.call(0, 0, frame_len(size.wrapping_add(i.wrapping_mul(37)))) {
                Some(f) => self.scribble(f.addr, f.len),
                None => break,
            }
        }
        if trap || huge {
            self.die(huge);
        }
        self.call_leave(token);
    }

    fn push_frames(&mut self, task: &mut SimTask, count: u8, size: u8) -> bool {
        for _ in 0..count {
            let salt = task.frames.len() as u32 * 7 + u32::from(size);
            match self.call(task.name, salt, frame_len(size)) {
                Some(f) => task.frames.push(f),
                None => return false,
            }
        }
        true
    }

    /// Starts a task here: at top level, or nested when a segment is running or a
    /// synchronous call has frames on the stack.
    fn start(&mut self, depth: u8, size: u8, exit: bool, trap: bool) {
        let (id, sp) = match self.state.enter_within(self.sp, self.plain_calls > 0) {
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
        let ended = exit || trap || !fits;
        if !ended {
            self.await_(task, size);
        } else if exit && fits {
            self.sp = task.frames[0].entry_sp;
        } else {
            // It dies where it is; the host's leave must put the stack pointer right.
            self.die(trap && size % 2 == 1);
        }
        match self.state.leave(id) {
            Ok(Some(sp)) => self.sp = sp,
            Ok(None) => {}
            Err(e) => self.violation(format!("leave failed: {e}")),
        }
        if ended {
            if self.strategy() != Strategy::None && !self.sane() {
                let sp = self.sp;
                self.violation(format!(
                    "a task died in its first segment and leave left the stack pointer at {sp:#x}"
                ));
            }
            self.settled.push(id);
        }
    }

    fn await_(&mut self, task: SimTask, size: u8) {
        self.temp_call(size);
        match self.state.suspend(self.sp) {
            Ok((id, sp)) => {
                assert_eq!(id, task.id, "the suspending task is the running one");
                self.sp = sp;
                if self.strategy() != Strategy::None && !self.sane() {
                    self.violation(format!("a suspend left the stack pointer at {sp:#x}"));
                }
                self.suspended.push(task);
            }
            Err(e) => {
                // The shim fails the task where it is.
                self.violation(format!("suspend failed in a valid schedule: {e}"));
                self.settled.push(task.id);
            }
        }
    }

    fn check(&mut self, task: &SimTask) {
        let mem = &self.state.memory().bytes;
        let mut bad_frames = Vec::new();
        for f in &task.frames {
            let bad = (0..f.len)
                .filter(|&off| mem[(f.addr + off) as usize] != canary(task.name, f.salt, off))
                .count();
            if bad > 0 {
                bad_frames.push(format!(
                    "task {} frame [{:#x}, {:#x}): {bad} bytes differ",
                    task.name,
                    f.addr,
                    f.addr + f.len
                ));
            }
        }
        for b in bad_frames {
            self.violation(b);
        }
    }

    /// The host resumes `task`; returns whether it runs (a failed resume is reported).
    fn resume_task(&mut self, task: &SimTask) -> bool {
        match self.state.resume(task.id, self.sp) {
            Ok(sp) => {
                self.sp = sp;
                self.report.resumes += 1;
                self.check(task);
                // The bookkeeping too, before the task runs on and hides a slip; after
                // one, the task stops here (it dies) so the run goes on to its end.
                if self.strategy() != Strategy::None {
                    if let Err(e) = self.state.check() {
                        let name = task.name;
                        self.violation(format!("bookkeeping after resuming task {name}: {e}"));
                        self.settled.push(task.id);
                        return false;
                    }
                }
                true
            }
            Err(e) => {
                self.violation(format!("resume failed in a valid schedule: {e}"));
                self.settled.push(task.id);
                false
            }
        }
    }

    /// The task finished or died; the host hears of it in a later reaction. A dead
    /// task leaves the stack pointer wherever it was.
    fn finish(&mut self, task: &SimTask, exit: bool, huge: bool) {
        if exit {
            if let Some(f) = task.frames.first() {
                self.sp = f.entry_sp;
            }
        } else {
            self.die(huge);
        }
        self.settled.push(task.id);
    }

    fn resume(&mut self, mut task: SimTask, pop: u8, push: u8, size: u8, exit: bool, trap: bool) {
        if !self.resume_task(&task) {
            return;
        }
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
            self.finish(&task, exit, trap && size % 2 == 1);
            return;
        }
        self.await_(task, size);
    }

    fn resume_nested(&mut self, mut task: SimTask, size: u8, exit: bool) {
        if !self.resume_task(&task) {
            return;
        }
        // The call out to the host, whose frame is the task's until it returns.
        if !self.push_frames(&mut task, 1, size) {
            self.finish(&task, false, false);
            return;
        }
        self.start(0, size.rotate_left(1), exit, false);
        // Back in the task: its frames must have survived the nested task.
        self.check(&task);
        let call = task.frames.pop().expect("the call out");
        self.ret(call);
        self.await_(task, size);
    }

    /// A made-up id: out of the record range, generation 0, or a generation far ahead
    /// of one that was handed out.
    fn made_up_id(&self, salt: u16) -> TaskId {
        let salt = u32::from(salt);
        match salt % 3 {
            0 => (salt.max(1) << 16) | (CAPACITY as u32 + 1 + salt % 7),
            1 => salt % CAPACITY as u32 + 1,
            _ => match self.ended.last().or(self.suspended.first().map(|t| &t.id)) {
                Some(id) => id.wrapping_add(0x3e8 << 16) | 0x10000,
                None => 0xffff_0000 | (salt % CAPACITY as u32 + 1),
            },
        }
    }

    fn bad_hook(&mut self, kind: u8, salt: u16) {
        if !self.sane() {
            return;
        }
        let before = (self.state.stats(), self.sp);
        let pick = |ids: &[TaskId]| (!ids.is_empty()).then(|| ids[salt as usize % ids.len()]);
        let (hook, id, result) = match kind {
            0 | 5 => {
                let id = if kind == 5 { 0 } else { self.made_up_id(salt) };
                ("done", id, self.state.done(id).map(|_| ()))
            }
            1 => {
                let id = self.made_up_id(salt);
                ("leave", id, self.state.leave(id).map(|_| ()))
            }
            2 | 3 => {
                let Some(id) = pick(&self.ended) else { return };
                let result = if kind == 2 {
                    self.state.done(id).map(|sp| {
                        if let Some(sp) = sp {
                            self.sp = sp;
                        }
                    })
                } else {
                    self.state.leave(id).map(|_| ())
                };
                // An ended task's id is accepted while recognizable (a `done` then only
                // drops dead segments, as any `done` does), else refused as stale,
                // changing nothing.
                if let Err(e) = result {
                    self.expect_unknown("a hook again for an ended task", id, e);
                    self.sp = before.1;
                    self.expect_unchanged(before.0, "a refused hook for an ended task");
                } else if kind == 3 {
                    self.expect_unchanged(before.0, "leave again for an ended task");
                }
                return;
            }
            _ => {
                let ids: Vec<TaskId> = self.suspended.iter().map(|t| t.id).collect();
                let Some(id) = pick(&ids) else { return };
                match self.state.leave(id) {
                    Ok(None) => {}
                    other => self.violation(format!("leave again for a suspended task: {other:?}")),
                }
                self.expect_unchanged(before.0, "leave again for a suspended task");
                return;
            }
        };
        match result {
            Err(e) => self.expect_unknown(hook, id, e),
            Ok(()) => self.violation(format!("{hook}({id:#x}) with a made-up id succeeded")),
        }
        // The shim puts the stack pointer back and fails the call.
        self.sp = before.1;
        self.expect_unchanged(before.0, "a hook with a made-up id");
    }

    fn expect_unknown(&mut self, hook: &str, id: TaskId, e: Error) {
        if e == Error::UnknownTask(id) {
            self.report.hook_errors += 1;
        } else {
            self.violation(format!("{hook}({id:#x}) failed with {e:?}"));
        }
    }

    fn expect_unchanged(&mut self, before: crate::Stats, what: &str) {
        let after = self.state.stats();
        let key = |s: crate::Stats| (s.live_tasks, s.saved_bytes, s.bytes_saved, s.bytes_restored);
        if key(before) != key(after) {
            self.violation(format!("{what} changed the state: {before:?} -> {after:?}"));
        }
    }
}

/// What every schedule must satisfy, shared by the property test and the fuzz target:
/// eager, lazy and adaptive keep every frame intact and their bookkeeping consistent
/// after every step, hooks refuse bad ids without changing anything, and when they all
/// started the same tasks, neither lazy nor adaptive copies more bytes than eager.
/// Returns the first violation.
pub fn check_schedule(ops: &[Op]) -> Result<(), String> {
    let eager = Sim::new(Strategy::Eager).run(ops);
    if let Some(c) = eager.corruptions.first() {
        return Err(alloc::format!("eager: {c}"));
    }
    for strategy in [Strategy::Lazy, Strategy::Adaptive] {
        let other = Sim::new(strategy).run(ops);
        if let Some(c) = other.corruptions.first() {
            return Err(alloc::format!("{strategy:?}: {c}"));
        }
        if other.refused.is_empty()
            && eager.refused.is_empty()
            && other.bytes_copied > eager.bytes_copied
        {
            return Err(alloc::format!(
                "{strategy:?} copied {} bytes, eager {}",
                other.bytes_copied,
                eager.bytes_copied
            ));
        }
    }
    Ok(())
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
        for s in [Strategy::Eager, Strategy::Lazy, Strategy::Adaptive] {
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
                size: 63,
                exit: false,
                trap: false,
            });
        }
        for _ in 0..3 {
            // The newest task is last in `suspended`; resume it and await again.
            for which in (0..4u8).rev() {
                ops.push(Op::Resume {
                    which,
                    pop: 0,
                    push: 0,
                    size: 0,
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
