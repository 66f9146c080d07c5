//! JavaScript-like values for hosts of the guest library: what `jspi.await` awaits
//! ([`Promise`]), what it resumes a task with ([`JsValue`], a rejection marker for a
//! rejected promise), and what a task fails with when the guest or a host function
//! throws ([`Exception`]).
//!
//! They cross to the guest as externrefs ([`JsValue::into_val`]); the guest holds them
//! and passes them back (to `jspi.await`, `jspi.classify`, ...) but cannot read them.
//! Every value that crosses is a [`Val`]: a number, or a host object ([`HostRef`]).

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::adapter::Ty;
use crate::{Error, Result};

/// A host object as the guest sees it: an `externref`. The guest can only hold it and
/// pass it back; the host downcasts it.
pub type HostRef = Rc<dyn Any>;

/// A value crossing between host and guest.
#[derive(Clone)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`.
    F32(f32),
    /// `f64`.
    F64(f64),
    /// `externref`: a host object, or null.
    Ref(Option<HostRef>),
}

impl Val {
    pub(crate) fn ty(&self) -> Ty {
        match self {
            Val::I32(_) => Ty::I32,
            Val::I64(_) => Ty::I64,
            Val::F32(_) => Ty::F32,
            Val::F64(_) => Ty::F64,
            Val::Ref(_) => Ty::Ref,
        }
    }

    /// The value if it is an `i32`.
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The value if it is an `i64`.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The host object if this is a non-null `externref`.
    pub fn object(&self) -> Option<&HostRef> {
        match self {
            Val::Ref(r) => r.as_ref(),
            _ => None,
        }
    }
}

impl fmt::Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::I32(v) => write!(f, "I32({v})"),
            Val::I64(v) => write!(f, "I64({v})"),
            Val::F32(v) => write!(f, "F32({v})"),
            Val::F64(v) => write!(f, "F64({v})"),
            Val::Ref(None) => write!(f, "Ref(null)"),
            Val::Ref(Some(_)) => write!(f, "Ref(object)"),
        }
    }
}

/// The future a suspending import returns.
pub type ImportFuture = Pin<Box<dyn Future<Output = Result<Option<Val>>>>>;

/// A value as JavaScript would hold it.
#[derive(Clone)]
pub enum JsValue {
    /// `null` (crosses to the guest as a null externref).
    Null,
    /// `undefined`.
    Undefined,
    /// A number that is an int32.
    Int(i32),
    /// A string.
    Str(String),
    /// An `Error` with its message.
    Error(String),
    /// A promise.
    Promise(Promise),
    /// What `jspi.await` returns for a rejected promise: the reason.
    Rejection(Rc<JsValue>),
    /// Bytes (a `Uint8Array` in JavaScript): what `jspi_await_bytes` takes.
    Bytes(Rc<[u8]>),
}

impl fmt::Display for JsValue {
    /// As transcripts print values (`formatValue` in the Node runner).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsValue::Null => f.write_str("null"),
            JsValue::Undefined => f.write_str("undefined"),
            JsValue::Int(v) => write!(f, "{v}"),
            JsValue::Str(s) => f.write_str(s),
            JsValue::Error(message) => write!(f, "Error: {message}"),
            JsValue::Promise(_) => f.write_str("[object Promise]"),
            JsValue::Rejection(reason) => write!(f, "rejection({reason})"),
            // As `String(uint8Array)`: the bytes in decimal, comma-separated.
            JsValue::Bytes(bytes) => {
                let shown: Vec<String> = bytes.iter().map(u8::to_string).collect();
                f.write_str(&shown.join(","))
            }
        }
    }
}

impl fmt::Debug for JsValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl JsValue {
    /// The message of a failure caused by throwing this value (`formatError` in the
    /// Node runner): an error's own message, anything else as it prints.
    pub fn error_message(&self) -> String {
        match self {
            JsValue::Error(message) => message.clone(),
            other => other.to_string(),
        }
    }

    /// The value as it crosses to the guest: an externref (null for `Null`).
    pub fn into_val(self) -> Val {
        match self {
            JsValue::Null => Val::Ref(None),
            other => Val::Ref(Some(Rc::new(other) as HostRef)),
        }
    }

    /// The value a guest passed to the host. An externref that holds no `JsValue`
    /// (another host object) reads as `Undefined`; numbers become numbers or strings.
    pub fn from_val(value: &Val) -> JsValue {
        match value {
            Val::Ref(None) => JsValue::Null,
            Val::Ref(Some(object)) => object
                .downcast_ref::<JsValue>()
                .cloned()
                .unwrap_or(JsValue::Undefined),
            Val::I32(v) => JsValue::Int(*v),
            Val::I64(v) => JsValue::Str(v.to_string()),
            Val::F32(v) => JsValue::Str(v.to_string()),
            Val::F64(v) => JsValue::Str(v.to_string()),
        }
    }
}

/// A thrown value, by its message: what a task or call fails with when the guest
/// throws (`jspi.throw` of a value, as the guest library does on a rejected await;
/// `jspi.fail` of a message) or a host function throws. Its `Display` is the message a
/// JavaScript host would print for it. (It holds the message, not the value: errors
/// are `Send`, values are not.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exception(pub String);

impl Exception {
    /// The error of throwing `Error(message)`, for returning from a host function.
    pub fn error(message: impl Into<String>) -> Error {
        Error::new(Exception(message.into()))
    }

    /// The error of throwing `value` ([`JsValue::error_message`]).
    pub fn thrown(value: &JsValue) -> Error {
        Error::new(Exception(value.error_message()))
    }

    /// The message, as a JavaScript host prints it.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Exception {}

/// A JavaScript-style promise: settles once, and any number of futures await it.
///
/// Cloning gives another handle to the same promise.
#[derive(Clone, Default)]
pub struct Promise(Rc<RefCell<PromiseState>>);

#[derive(Default)]
struct PromiseState {
    outcome: Option<Result<JsValue, JsValue>>,
    wakers: Vec<Waker>,
}

impl Promise {
    /// A pending promise.
    pub fn new() -> Self {
        Self::default()
    }

    /// A promise already fulfilled with `value`.
    pub fn resolved(value: JsValue) -> Self {
        let promise = Self::new();
        promise.settle(Ok(value));
        promise
    }

    /// Fulfils (`Ok`) or rejects (`Err`) the promise; later calls do nothing. Futures
    /// waiting on it are woken in the order they started waiting.
    pub fn settle(&self, outcome: Result<JsValue, JsValue>) {
        let wakers = {
            let mut state = self.0.borrow_mut();
            if state.outcome.is_some() {
                return;
            }
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether the promise has settled.
    pub fn is_settled(&self) -> bool {
        self.0.borrow().outcome.is_some()
    }

    /// A future of the promise's outcome.
    pub fn wait(&self) -> impl Future<Output = Result<JsValue, JsValue>> + 'static {
        PromiseFuture(self.clone())
    }
}

struct PromiseFuture(Promise);

impl Future for PromiseFuture {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = (self.0).0.borrow_mut();
        match &state.outcome {
            Some(outcome) => Poll::Ready(outcome.clone()),
            None => {
                state.wakers.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
