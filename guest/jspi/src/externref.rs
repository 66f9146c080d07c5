//! [`ExternRef`]: an owned host value (a JS value on Node), kept in the C shim's
//! externref slot table because stable Rust has no `externref` type for wasm32.

use core::fmt;
use core::marker::PhantomData;
use core::num::NonZeroU32;

use crate::sys;

/// An owned host value: a slot of the guest library's externref table.
///
/// The handle owns its slot. Dropping it frees the slot (the host may then collect the
/// value); moving it moves the ownership. It is neither `Copy` nor `Clone` (two handles
/// never share a slot), and neither `Send` nor `Sync`: the slot table belongs to one
/// wasm instance and its one thread.
///
/// Handles come from awaiting a [`Promise<ExternRef>`](crate::Promise), from a
/// rejection ([`Rejected::reason`](crate::Rejected::reason)), and from host imports
/// declared with [`build::Imports`](crate::build::Imports) that return a value.
/// A handle can cross the host as a plain integer with [`ExternRef::into_raw`] and
/// come back with [`ExternRef::from_raw`], which checks it.
pub struct ExternRef {
    slot: NonZeroU32,
    /// Not `Send`, not `Sync`: the table is per instance and single-threaded.
    _not_send: PhantomData<*const ()>,
}

/// Why [`ExternRef::from_raw`] refused a raw handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignHandle(pub u32);

impl fmt::Display for ForeignHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "jspi: raw externref handle {:#x} is not live in this instance (never released \
             here, already taken back, or made by another instance)",
            self.0
        )
    }
}

impl ExternRef {
    /// Takes ownership of `slot`, which the C shim just filled.
    ///
    /// # Safety
    ///
    /// `slot` must be a live slot of this instance's table that no other handle owns
    /// (the C shim returns such slots from `jspi_ref_store_or_fail`).
    #[doc(hidden)]
    pub unsafe fn __from_slot(slot: u32) -> ExternRef {
        ExternRef {
            // The shim never returns slot 0 (it fails the task instead).
            slot: NonZeroU32::new(slot)
                .unwrap_or_else(|| panic!("jspi: the C shim returned slot 0 for a live value")),
            _not_send: PhantomData,
        }
    }

    /// The slot, for the shim and generated import adapters; the handle keeps it.
    #[doc(hidden)]
    pub fn __slot(&self) -> u32 {
        self.slot.get()
    }

    /// Gives up the handle as a plain integer that the host can carry (for example an
    /// argument of a later export call). The slot stays alive until the integer is
    /// taken back with [`ExternRef::from_raw`].
    pub fn into_raw(self) -> u32 {
        let slot = self.slot.get();
        core::mem::forget(self);
        // SAFETY: `slot` is live and owned by the handle just forgotten.
        unsafe { sys::jspi_ref_into_raw(slot) }
    }

    /// Takes back a handle given up with [`ExternRef::into_raw`] in this instance.
    ///
    /// Refuses, instead of aliasing a live value, a number that is not such a handle:
    /// one already taken back, one whose slot was reused, or one from another instance
    /// of the module (raw handles carry the slot's generation; an instance that
    /// happens to have released the very same slot and generation is the only case
    /// that cannot be told apart).
    pub fn from_raw(raw: u32) -> Result<ExternRef, ForeignHandle> {
        // SAFETY: the shim only reads its own table and flags.
        match unsafe { sys::jspi_ref_from_raw(raw) } {
            0 => Err(ForeignHandle(raw)),
            // SAFETY: the shim checked that `slot` is live and released to a raw
            // handle, and cleared that flag, so this handle is its only owner.
            slot => Ok(unsafe { ExternRef::__from_slot(slot) }),
        }
    }
}

impl Drop for ExternRef {
    fn drop(&mut self) {
        // SAFETY: this handle owns the slot and is going away.
        unsafe { sys::jspi_ref_drop(self.slot.get()) }
    }
}

impl fmt::Debug for ExternRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExternRef(slot {})", self.slot)
    }
}
