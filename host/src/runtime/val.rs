//! Values that cross between host and guest: [`Val`], host objects ([`HostRef`]) and
//! the futures suspending imports return.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::adapter::Ty;

use super::Result;

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
