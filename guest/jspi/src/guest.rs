//! The wasm32 side: the state in a `static`, the functions the shim calls, and the
//! linear memory behind the [`Memory`] trait.
//!
//! Everything here runs on the shim's scratch stack (see `shim/jspi_shim.s`) except
//! `jspi_can_suspend`, `jspi_stat` and `jspi_strategy`, which only read.

use core::fmt::Write as _;

use stack_state::{Config, Error, HeapSource, Memory, StackState, Strategy};

#[cfg(not(any(
    feature = "strategy-none",
    feature = "strategy-eager",
    feature = "strategy-lazy",
    feature = "strategy-adaptive"
)))]
compile_error!("choose a strategy: build with exactly one of the features strategy-none, strategy-eager, strategy-lazy, strategy-adaptive");

#[cfg(any(
    all(feature = "strategy-none", feature = "strategy-eager"),
    all(feature = "strategy-none", feature = "strategy-lazy"),
    all(feature = "strategy-none", feature = "strategy-adaptive"),
    all(feature = "strategy-eager", feature = "strategy-lazy"),
    all(feature = "strategy-eager", feature = "strategy-adaptive"),
    all(feature = "strategy-lazy", feature = "strategy-adaptive"),
))]
compile_error!(
    "choose exactly one of the features strategy-none, strategy-eager, strategy-lazy, strategy-adaptive"
);

#[cfg(feature = "strategy-none")]
const STRATEGY: (Strategy, &str) = (Strategy::None, "none\0");
#[cfg(feature = "strategy-eager")]
const STRATEGY: (Strategy, &str) = (Strategy::Eager, "eager\0");
#[cfg(feature = "strategy-lazy")]
const STRATEGY: (Strategy, &str) = (Strategy::Lazy, "lazy\0");
#[cfg(feature = "strategy-adaptive")]
const STRATEGY: (Strategy, &str) = (Strategy::Adaptive, "adaptive\0");

/// Task records; also the default limit of tasks alive at once.
const CAPACITY: usize = 1024;
/// A task is placed only where at least this much shadow stack is left below it,
/// unless the guest defines `jspi_min_task_stack` (`JSPI_MIN_TASK_STACK` in `jspi.h`)
/// or calls `jspi_configure`.
const MIN_TASK_STACK: u32 = 16 * 1024;

unsafe extern "C" {
    /// Bounds of the shadow stack, defined by wasm-ld.
    static __stack_low: u8;
    static __stack_high: u8;
    /// `memory.copy` (from the shim).
    fn jspi_shim_copy(dst: u32, src: u32, len: u32);
    /// `jspi.fail` (from `jspi_api.c`): never returns.
    fn jspi_fail_with(message: *const u8, len: u32) -> !;
    /// The room below each task, in bytes, from the link: a weak 0 in `jspi_api.c`
    /// (the default), or the guest's own definition (`JSPI_MIN_TASK_STACK`).
    static jspi_min_task_stack: u32;
    /// Plain calls running: `jspi_call_enter` counts up, `jspi_call_leave` down
    /// (`jspi_shim.s`; the word lives in `jspi_api.c`).
    static jspi_plain_calls: u32;
}

/// The one-line error for a module linked without a shadow stack.
const EMPTY_STACK: &str = "jspi: this module has no shadow stack (__stack_low == __stack_high: \
     linked with -Wl,-z,stack-size=0?); tasks and the C code they run need one: link with \
     -Wl,-z,stack-size=N, at least 64 KiB (cargo xtask links 1 MiB)";

/// The module's linear memory.
struct LinearMemory;

impl Memory for LinearMemory {
    fn copy(&mut self, src: u32, dst: u32, len: u32) {
        // SAFETY: the stack state copies only within the shadow stack and blocks it got
        // from `grow`, all inside memory; the shim's `memory.copy` forms no pointers, so
        // address 0 (the bottom of the stack) is fine.
        unsafe { jspi_shim_copy(dst, src, len) }
    }

    fn read_u32(&self, addr: u32) -> u32 {
        // SAFETY: only called on heap blocks, which lie above the shadow stack (never
        // address 0), inside memory, and 16-aligned.
        unsafe { core::ptr::read(addr as usize as *const u32) }
    }

    fn write_u32(&mut self, addr: u32, value: u32) {
        // SAFETY: as for `read_u32`; the heap owns these words.
        unsafe { core::ptr::write(addr as usize as *mut u32, value) }
    }

    fn grow(&mut self, bytes: u32) -> Option<(u32, u32)> {
        let pages = bytes.div_ceil(65536) as usize;
        let old = core::arch::wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return None;
        }
        Some(((old * 65536) as u32, (pages * 65536) as u32))
    }
}

type State = StackState<LinearMemory, CAPACITY>;

/// The placeholder configuration the static starts with; `state()` installs the real
/// one (the linker's stack bounds are not constants) before first use.
const UNCONFIGURED: Config = Config {
    stack_low: 0,
    stack_high: MIN_TASK_STACK,
    min_task_stack: MIN_TASK_STACK,
    max_tasks: CAPACITY as u32,
    heap: HeapSource::Grow,
};

static mut STATE: State = State::new(LinearMemory, STRATEGY.0, UNCONFIGURED);
static mut CONFIGURED: bool = false;

/// The module's state.
///
/// # Safety
///
/// Single-threaded wasm: the caller must not hold another reference from an earlier
/// call (each exported function takes it once and drops it before returning).
unsafe fn state() -> &'static mut State {
    // SAFETY: wasm32 guests run on one thread and the shim never re-enters the Rust
    // side, so no other reference to STATE is alive (the caller's contract).
    let state = unsafe { &mut *core::ptr::addr_of_mut!(STATE) };
    // SAFETY: as above, for the flag.
    let configured = unsafe { &mut *core::ptr::addr_of_mut!(CONFIGURED) };
    if !*configured {
        configure_from_link(state);
        *configured = true;
    }
    state
}

/// Installs the configuration the link decided: the shadow stack's bounds and the
/// room below each task. Fails the call with one line when nothing could run.
#[cold]
fn configure_from_link(state: &mut State) {
    // Taking the addresses of linker-defined symbols reads nothing.
    let (low, high) = (
        core::ptr::addr_of!(__stack_low) as u32,
        core::ptr::addr_of!(__stack_high) as u32,
    );
    if high <= low {
        // No formatting: this may run on the guest's own (empty) stack.
        // SAFETY: a static string; the call does not return.
        unsafe { jspi_fail_with(EMPTY_STACK.as_ptr(), EMPTY_STACK.len() as u32) }
    }
    // SAFETY: a plain `u32` the link defines (weakly in `jspi_api.c`), never written.
    let linked = unsafe { core::ptr::read(core::ptr::addr_of!(jspi_min_task_stack)) };
    let min_task_stack = match linked {
        // A small stack (`-z stack-size`) gets a proportionally smaller default.
        0 => MIN_TASK_STACK.min((high - low) / 4),
        bytes => bytes,
    };
    let config = Config {
        stack_low: low,
        stack_high: high,
        min_task_stack,
        ..UNCONFIGURED
    };
    if let Err(why) = state.configure(config) {
        fail(format_args!(
            "jspi: JSPI_MIN_TASK_STACK asks for {min_task_stack} bytes of room below each task, \
             but the shadow stack has {} ({why})",
            high - low
        ));
    }
}

/// The last error's message, for `jspi.fail`.
struct Message {
    buf: [u8; 512],
    len: usize,
}

impl core::fmt::Write for Message {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

static mut MESSAGE: Message = Message {
    buf: [0; 512],
    len: 0,
};

fn record(context: &str, error: Error) {
    // SAFETY: single-threaded; no other reference to MESSAGE is alive.
    let message = unsafe { &mut *core::ptr::addr_of_mut!(MESSAGE) };
    message.len = 0;
    let _ = write!(message, "{context}: {error}");
}

fn pack(high: u32, low: u32) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

/// `leave` and `done`'s answer for the shim: high word 1 and the stack pointer to set,
/// 2 to keep the one it came with, 0 for an error (the message is recorded).
fn pack_hook(hook: &str, result: Result<Option<u32>, Error>) -> u64 {
    match result {
        Ok(Some(sp)) => pack(1, sp),
        Ok(None) => pack(2, 0),
        Err(e) => {
            record(hook, e);
            0
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_error_ptr() -> u32 {
    // SAFETY: only the address is taken.
    unsafe { core::ptr::addr_of!(MESSAGE.buf) as u32 }
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_error_len() -> u32 {
    // SAFETY: single-threaded read of a plain integer.
    unsafe { (*core::ptr::addr_of!(MESSAGE)).len as u32 }
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_enter(sp: u32) -> u64 {
    // SAFETY: a plain word in `jspi_api.c`, written only by the shim's
    // `jspi_call_enter`/`jspi_call_leave`, which are not running now.
    let in_plain_call = unsafe { core::ptr::read(core::ptr::addr_of!(jspi_plain_calls)) } != 0;
    // SAFETY: called once per hook from the shim; no reference outlives this call.
    match unsafe { state() }.enter_within(sp, in_plain_call) {
        Ok((id, new_sp)) => pack(id, new_sp),
        Err(e) => {
            record("jspi_task_enter", e);
            0
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_leave(id: u32) -> u64 {
    // SAFETY: as in `jspi_rs_enter`.
    pack_hook("jspi_task_leave", unsafe { state() }.leave(id))
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_done(id: u32) -> u64 {
    // SAFETY: as in `jspi_rs_enter`.
    pack_hook("jspi_task_done", unsafe { state() }.done(id))
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_top() -> u64 {
    // SAFETY: as in `jspi_rs_enter`.
    unsafe { state() }.top_level().map_or(0, |sp| pack(1, sp))
}

/// `jspi_task_locate` (the shim's export): `(where << 32) | run` for the byte at
/// `addr` of task `id`, or `u64::MAX` with the message recorded. Reads only, so it
/// runs on the caller's stack.
#[unsafe(no_mangle)]
extern "C" fn jspi_rs_locate(id: u32, addr: u32) -> u64 {
    // SAFETY: as in `jspi_rs_enter`.
    match unsafe { state() }.locate(id, addr) {
        Ok((place, run)) => pack(place, run),
        Err(e) => {
            record("jspi_task_locate", e);
            u64::MAX
        }
    }
}

/// `jspi_task_current` (the shim's export): the running task's id, or 0.
#[unsafe(no_mangle)]
extern "C" fn jspi_rs_current() -> u32 {
    // SAFETY: as in `jspi_rs_enter`.
    unsafe { state() }.current().unwrap_or(0)
}

/// Registers a task-local region (see `jspi.h`): 0, or -1 when refused (tasks alive,
/// too many or too large regions, overlapping the shadow stack or another region).
#[unsafe(no_mangle)]
pub extern "C" fn jspi_task_local(ptr: *mut u8, len: u32) -> i32 {
    // SAFETY: as in `jspi_rs_enter`.
    match unsafe { state() }.register_local(ptr as u32, len) {
        Ok(()) => 0,
        Err(e) => {
            record("jspi_task_local", e);
            -1
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_suspend(sp: u32) -> u64 {
    // SAFETY: as in `jspi_rs_enter`.
    match unsafe { state() }.suspend(sp) {
        Ok((id, new_sp)) => pack(id, new_sp),
        Err(e) => {
            record("jspi_await", e);
            0
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn jspi_rs_resume(id: u32, sp: u32) -> u64 {
    // SAFETY: as in `jspi_rs_enter`.
    match unsafe { state() }.resume(id, sp) {
        Ok(task_sp) => pack(1, task_sp),
        Err(e) => {
            record("jspi_await (resuming)", e);
            0
        }
    }
}

/// 1 inside a promising task, 0 in a synchronous call (see `jspi.h`).
#[unsafe(no_mangle)]
pub extern "C" fn jspi_can_suspend() -> i32 {
    // SAFETY: as in `jspi_rs_enter`.
    i32::from(unsafe { state() }.can_suspend())
}

/// Counter `which` (see `jspi.h`), or `u64::MAX` for an unknown id. Exported.
#[unsafe(export_name = "jspi_stat")]
pub extern "C" fn jspi_stat(which: i32) -> u64 {
    // SAFETY: as in `jspi_rs_enter`.
    let stats = unsafe { state() }.stats();
    u32::try_from(which)
        .ok()
        .and_then(|w| stats.get(w))
        .unwrap_or(u64::MAX)
}

/// Changes the limits before any task runs (see `jspi.h`): 0 keeps a default.
/// Returns 0, or -1 when refused (tasks alive, or a configuration that cannot work).
#[unsafe(no_mangle)]
pub extern "C" fn jspi_configure(
    min_task_stack: u32,
    max_tasks: u32,
    heap_start: u32,
    heap_len: u32,
) -> i32 {
    // SAFETY: as in `jspi_rs_enter`.
    let state = unsafe { state() };
    let current = *state.config();
    let config = Config {
        min_task_stack: if min_task_stack == 0 {
            current.min_task_stack
        } else {
            min_task_stack
        },
        max_tasks: if max_tasks == 0 {
            current.max_tasks
        } else {
            max_tasks
        },
        heap: match heap_len {
            0 => HeapSource::Grow,
            len => match heap_start.checked_add(len) {
                Some(end) => HeapSource::Region {
                    start: heap_start,
                    end,
                },
                None => return -1,
            },
        },
        ..current
    };
    match state.configure(config) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// The strategy's name, for Rust.
pub fn strategy_name() -> &'static str {
    STRATEGY.1.trim_end_matches('\0')
}

/// The strategy's name, NUL-terminated.
#[unsafe(no_mangle)]
pub extern "C" fn jspi_strategy() -> *const u8 {
    STRATEGY.1.as_ptr()
}

/// Fails the running call or task with `message` (through `jspi.fail`, so the host
/// reports it as is).
pub fn fail(message: core::fmt::Arguments<'_>) -> ! {
    // SAFETY: single-threaded; no other reference to MESSAGE is alive (a failure
    // inside the formatting would abort before getting here again).
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(MESSAGE) };
    buffer.len = 0;
    let _ = buffer.write_fmt(message);
    // SAFETY: the bytes are initialized and stay in static memory; the call does not
    // return.
    unsafe { jspi_fail_with(buffer.buf.as_ptr(), buffer.len as u32) }
}

/// A Rust panic in the guest fails the call or task with its message and location
/// (a guest that links std has std's handler instead: feature `std`).
#[cfg(not(any(test, feature = "std")))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => fail(format_args!("panicked at {at}: {}", info.message())),
        None => fail(format_args!("panicked: {}", info.message())),
    }
}

/// Words in `jspi_debug_tasks`'s header, and in each of its task records.
const DEBUG_HEADER: usize = 4;
const DEBUG_RECORD: usize = 6;

/// Read-only state for debuggers and pictures of the shadow stack (docs/abi.md):
/// writes the header `[stack_low, stack_high, parked, count]` and then the first
/// `cap` of the `count` live tasks as `[id, state, start, stop, evicted_hi, block]`
/// (u32 each; see `stack_state::TaskView`) at `buf`, and returns `count`. Exported.
/// Call it only from the host's top level or synchronously inside an import call.
///
/// # Safety
///
/// `buf` must point to `4 + 6 * cap` writable `u32`s in linear memory that no task's
/// frames or saved bytes use (a host grows memory by a page for it, say).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn jspi_debug_tasks(buf: *mut u32, cap: u32) -> u32 {
    // SAFETY: as in `jspi_rs_enter`; this only reads the state.
    let state = unsafe { state() };
    let config = state.config();
    let mut count = 0;
    for view in state.task_views() {
        if count < cap as usize {
            let record = [
                view.id,
                view.state,
                view.start,
                view.stop,
                view.evicted_hi,
                view.block,
            ];
            for (i, word) in record.into_iter().enumerate() {
                // SAFETY: `count < cap`, so the word lies in the caller's buffer.
                unsafe {
                    buf.add(DEBUG_HEADER + count * DEBUG_RECORD + i)
                        .write_unaligned(word)
                };
            }
        }
        count += 1;
    }
    let header = [
        config.stack_low,
        config.stack_high,
        state.parked(),
        count as u32,
    ];
    for (i, word) in header.into_iter().enumerate() {
        // SAFETY: the buffer holds at least the header (the caller's contract).
        unsafe { buf.add(i).write_unaligned(word) };
    }
    count as u32
}
