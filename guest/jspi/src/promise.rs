//! [`Promise<T>`], the [`Task`] token that allows waiting on one, and the
//! [`promising!`](crate::promising) macro that marks the exports a host starts as
//! promising tasks.

use core::fmt;
use core::marker::PhantomData;

use crate::{sys, ExternRef};

/// A host promise whose value is a `T`: `i32`, [`ExternRef`], `()` or [`Bytes`].
///
/// The type is part of the import's declaration, so waiting yields a `T` and nothing
/// else: a `Promise<i32>` gives an `i32`, a `Promise<ExternRef>` an owned handle, a
/// `Promise<()>` nothing (its value is dropped). Waiting consumes the promise, so a
/// promise is awaited at most once; one that is dropped unawaited only frees its slot
/// (the host's work goes on). Like [`ExternRef`], it is neither `Copy`, `Send` nor
/// `Sync`.
#[must_use = "a promise does nothing for the guest unless it is awaited with `wait`"]
pub struct Promise<T: Awaitable> {
    handle: ExternRef,
    _value: PhantomData<fn() -> T>,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for crate::ExternRef {}
    impl Sealed for () {}
    impl Sealed for super::Bytes {}
}

/// What a [`Promise`] can be declared to settle to: the [`Settled`] values, taken with
/// [`Promise::wait`], and [`Bytes`], taken into a buffer with [`Promise::wait_into`].
/// Sealed.
pub trait Awaitable: sealed::Sealed {}
impl Awaitable for i32 {}
impl Awaitable for ExternRef {}
impl Awaitable for () {}
impl Awaitable for Bytes {}

/// The value of a `Promise<Bytes>`: bytes (a `Uint8Array`, an `ArrayBuffer` or another
/// typed-array view on JS hosts, a byte buffer on wasmtime), which
/// [`Promise::wait_into`] copies into a buffer of the caller's after the task's stack
/// is restored, so the buffer may be on the task's own stack.
#[derive(Debug)]
pub enum Bytes {}

/// Why [`Promise::try_wait_into`] took no bytes, or not all.
#[derive(Debug)]
pub enum BytesError {
    /// The promise rejected.
    Rejected(Rejected),
    /// It fulfilled with a value that is not bytes.
    NotBytes,
    /// It fulfilled with `total` bytes, more than the buffer holds; the buffer got the
    /// first part.
    TooLong {
        /// How many bytes there were.
        total: usize,
    },
}

impl fmt::Display for BytesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BytesError::Rejected(_) => f.write_str("the promise rejected"),
            BytesError::NotBytes => {
                f.write_str("the promise fulfilled with a value that is not bytes")
            }
            BytesError::TooLong { total } => {
                write!(
                    f,
                    "the promise fulfilled with {total} bytes, more than the buffer holds"
                )
            }
        }
    }
}

/// What a [`Promise`] can settle to: `i32`, [`ExternRef`] or `()`. Sealed: the guest
/// library knows how to take each of these out of a settled JS value.
pub trait Settled: Awaitable + Sized {
    #[doc(hidden)]
    /// Waits on the promise in `promise`; the shim frees that slot.
    fn __wait(promise: u32) -> Self;
    #[doc(hidden)]
    fn __try_wait(promise: u32) -> Result<Self, Rejected>;
}

/// A rejected promise: the rejection's reason, owned.
#[derive(Debug)]
pub struct Rejected {
    /// The value the promise rejected with (an `Error` on Node, most often).
    pub reason: ExternRef,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the promise rejected")
    }
}

/// Splits a packed try result into a fulfilled slot/int or a rejection.
fn settle(packed: u64) -> Result<u32, Rejected> {
    match sys::unpack(packed) {
        (sys::STATUS_OK, value) => Ok(value),
        (_, reason) => Err(Rejected {
            // SAFETY: on a rejection the shim stored the reason in a fresh slot.
            reason: unsafe { ExternRef::__from_slot(reason) },
        }),
    }
}

impl Settled for i32 {
    fn __wait(promise: u32) -> i32 {
        // SAFETY: `promise` is a live slot that the waiting promise gave up.
        unsafe { sys::jspi_slot_await_int(promise) }
    }
    fn __try_wait(promise: u32) -> Result<i32, Rejected> {
        // SAFETY: as in `__wait`.
        settle(unsafe { sys::jspi_slot_try_await_int(promise) }).map(|v| v as i32)
    }
}

impl Settled for ExternRef {
    fn __wait(promise: u32) -> ExternRef {
        // SAFETY: as for i32; the shim stores the value in a fresh slot we now own.
        unsafe { ExternRef::__from_slot(sys::jspi_slot_await_ref(promise)) }
    }
    fn __try_wait(promise: u32) -> Result<ExternRef, Rejected> {
        // SAFETY: as in `__wait`; a fulfilled value comes in a fresh slot.
        settle(unsafe { sys::jspi_slot_try_await_ref(promise) })
            .map(|slot| unsafe { ExternRef::__from_slot(slot) })
    }
}

impl Settled for () {
    fn __wait(promise: u32) {
        // SAFETY: as for i32.
        unsafe { sys::jspi_slot_await_void(promise) }
    }
    fn __try_wait(promise: u32) -> Result<(), Rejected> {
        ExternRef::__try_wait(promise).map(drop)
    }
}

impl<T: Awaitable> Promise<T> {
    /// Takes ownership of a promise the C shim just stored in `slot`, typed as `T` by
    /// the import's declaration.
    ///
    /// # Safety
    ///
    /// As [`ExternRef::__from_slot`]; the value should be a promise (anything else is
    /// treated as already fulfilled with itself, as JS `await` does).
    #[doc(hidden)]
    pub unsafe fn __from_slot(slot: u32) -> Promise<T> {
        Promise {
            // SAFETY: the caller's contract.
            handle: unsafe { ExternRef::__from_slot(slot) },
            _value: PhantomData,
        }
    }

    /// Treats a host value as a promise of a `T` (the caller knows what it holds).
    pub fn from_extern(handle: ExternRef) -> Promise<T> {
        Promise {
            handle,
            _value: PhantomData,
        }
    }

    /// Gives up the slot to the shim, which frees it when it takes the promise out
    /// (so no handle is left in this frame across the suspension).
    fn into_slot(self) -> u32 {
        let slot = self.handle.__slot();
        core::mem::forget(self);
        slot
    }
}

impl Promise<Bytes> {
    /// Suspends the running task until the promise settles with bytes, copies them
    /// into `buf` and returns how many there were. The copy happens inside wasm after
    /// the task's stack is restored, so `buf` may live on the task's own stack. A
    /// rejection fails the task with its reason; more bytes than `buf` holds, or a value
    /// that is not bytes, fail it with a message saying so ([`Promise::try_wait_into`]
    /// reports those instead).
    pub fn wait_into(self, buf: &mut [u8], task: &Task) -> usize {
        let _ = task;
        // SAFETY: the slot is the promise's, given up; `buf` is writable for its length
        // and lives across the call (the shim checks it lies inside memory).
        let n = unsafe {
            sys::jspi_slot_await_bytes(self.into_slot(), buf.as_mut_ptr(), buf.len() as u32)
        };
        n as usize
    }

    /// As [`Promise::wait_into`], but what went wrong comes back as a [`BytesError`]
    /// (with [`BytesError::TooLong`] the buffer holds the first part).
    pub fn try_wait_into(self, buf: &mut [u8], task: &Task) -> Result<usize, BytesError> {
        let _ = task;
        let mut size = 0u32;
        // SAFETY: as in `wait_into`; `size` is a live u32 the shim writes.
        let packed = unsafe {
            sys::jspi_slot_try_await_bytes(
                self.into_slot(),
                buf.as_mut_ptr(),
                buf.len() as u32,
                &mut size,
            )
        };
        match sys::unpack(packed) {
            (sys::STATUS_OK, _) => Ok(size as usize),
            (sys::STATUS_TOO_LONG, _) => Err(BytesError::TooLong {
                total: size as usize,
            }),
            (sys::STATUS_REJECTED, reason) => Err(BytesError::Rejected(Rejected {
                // SAFETY: on a rejection the shim stored the reason in a fresh slot.
                reason: unsafe { ExternRef::__from_slot(reason) },
            })),
            _ => Err(BytesError::NotBytes),
        }
    }
}

impl<T: Settled> Promise<T> {
    /// Suspends the running task until the promise settles, and returns its value.
    ///
    /// Other tasks and synchronous calls run meanwhile; the guest library saves and
    /// restores whatever of this task's shadow stack they would overwrite. A rejection
    /// fails the task with the rejection's reason, as `await` does in JS (use
    /// [`Promise::try_wait`] to handle it); a `Promise<i32>` that fulfills with
    /// something other than an int32 fails the task with a message saying so.
    ///
    /// The [`Task`] proves at compile time that the code runs inside a
    /// [`promising!`](crate::promising) export; if the host nevertheless called that
    /// export synchronously, the wait fails with a message naming the fix.
    pub fn wait(self, task: &Task) -> T {
        let _ = task;
        T::__wait(self.into_slot())
    }

    /// As [`Promise::wait`], but a rejection comes back as [`Rejected`].
    ///
    /// ```no_run
    /// # // Compiled natively as a check; rust-examples/rs-07-handles runs it in wasm32.
    /// # fn rejecting(code: i32, ms: i32) -> jspi::Promise<jspi::ExternRef> { unimplemented!() }
    /// # fn log_ref(value: &jspi::ExternRef) {}
    /// jspi::promising! {
    ///     #[unsafe(export_name = "catchRejection")]
    ///     pub fn catch_rejection(task: &Task, code: i32) -> i32 {
    ///         match rejecting(code, 10).try_wait(task) {
    ///             Ok(_value) => 0,
    ///             Err(rejected) => {
    ///                 log_ref(&rejected.reason); // C: Error: rejected with code 7
    ///                 1
    ///             }
    ///         }
    ///     }
    /// }
    /// ```
    pub fn try_wait(self, task: &Task) -> Result<T, Rejected> {
        let _ = task;
        T::__try_wait(self.into_slot())
    }
}

impl<T: Awaitable> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Promise<{}>({:?})",
            core::any::type_name::<T>(),
            self.handle
        )
    }
}

/// Proof that the code runs inside a promising export, needed to wait on a
/// [`Promise`].
///
/// Only [`promising!`](crate::promising) makes one, at the top of the export it
/// defines, and lends it to the body as `&Task` for the length of the call: a plain
/// export has none, so it cannot wait. It cannot be stored beyond the call nor sent to
/// another thread.
pub struct Task {
    _not_send: PhantomData<*const ()>,
}

impl Task {
    /// Makes the token at the entry of a promising export.
    ///
    /// # Safety
    ///
    /// Only for [`promising!`](crate::promising): the token must not outlive the
    /// export's call. (Breaking this cannot corrupt memory, since an await outside a
    /// promising task still fails at run time, but it defeats the compile-time check.)
    #[doc(hidden)]
    pub unsafe fn __enter() -> Task {
        Task {
            _not_send: PhantomData,
        }
    }

    /// Whether the host really started this export as a promising task (the
    /// `jspi_task_enter` hook ran); `false` when it called it synchronously, in which
    /// case a [`Promise::wait`] would fail.
    pub fn can_suspend(&self) -> bool {
        sys::can_suspend()
    }
}

/// Defines exports that the host starts as promising tasks (the host libraries'
/// `promising` and `spawn`, which run the task hooks around `WebAssembly.promising`).
///
/// Each function is written as a Rust function whose first parameter is
/// `NAME: &Task`; the macro makes it an `extern "C"` function with the remaining
/// parameters and lends the body a [`Task`] under that name. Attributes pass through,
/// so the export's name is given with `#[unsafe(export_name = "...")]` or
/// `#[unsafe(no_mangle)]`.
///
/// ```no_run
/// # // Compiled natively as a check; it runs in a wasm32 guest (see rust-examples/).
/// use jspi::{promising, Promise};
///
/// # fn delayed_int(value: i32, ms: i32) -> Promise<i32> { unimplemented!() }
/// promising! {
///     /// Waits for a host promise and returns its value plus one.
///     #[unsafe(export_name = "next")]
///     pub fn next(task: &Task, x: i32) -> i32 {
///         delayed_int(x, 100).wait(task) + 1
///     }
/// }
/// ```
#[macro_export]
macro_rules! promising {
    () => {};
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident ( $task:ident : &Task $(, $arg:ident : $ty:ty)* $(,)? )
            $(-> $ret:ty)? $body:block
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        $vis extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: the token lives in this frame and is lent only to the body.
            let __jspi_task = unsafe { $crate::Task::__enter() };
            let $task: &$crate::Task = &__jspi_task;
            $body
        }
        $crate::promising! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident $($rest:tt)*
    ) => {
        ::core::compile_error!(::core::concat!(
            "jspi::promising!: `fn ", ::core::stringify!($name),
            "` must take `task: &Task` as its first parameter (the token that allows \
             waiting), then its own parameters, and have a block body"
        ));
    };
}
