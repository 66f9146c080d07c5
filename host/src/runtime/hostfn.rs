//! The host functions the adapter and the guest import, made so that no crossing
//! converts its values through `wasmtime::Val` vectors: typed (`Func::wrap`) where the
//! signature is fixed (the adapter's `host.arg`, `host.raise`, `host.result_*`), raw
//! (`Func::new_unchecked`, one path for every signature) where it is a guest import's
//! own (`host.lower<i>`, `host.start<i>`, and the imports the guest takes directly).
//!
//! A raw function reads its parameters from wasmtime's `ValRaw` slots as the types of
//! its [`Sig`] say (an object id, an `i32`, for an externref on the host's side of the
//! adapter) and writes its result, of the type its `Sig` says, into slot 0: the one
//! place where the host trusts a function type it built itself. Every import's
//! arguments are lifted into a buffer kept in the store's data, so a call allocates
//! nothing of its own.

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use wasmtime::{Caller, Engine, Extern, Func, FuncType, Store, ValRaw};

use super::{Begin, Cx, Data, Entry, Pending};
use crate::adapter::{GuestShape, ImportRoute, Sig, Ty};
use crate::value::JsValue;
use crate::{Error, Result, Val};

/// The wasmtime type of a host-side value (ids for refs).
fn lowered(ty: Ty) -> wasmtime::ValType {
    match ty {
        Ty::I32 | Ty::Ref => wasmtime::ValType::I32,
        Ty::I64 => wasmtime::ValType::I64,
        Ty::F32 => wasmtime::ValType::F32,
        Ty::F64 => wasmtime::ValType::F64,
    }
}

/// The function type of `params -> results` on the host's side of the adapter.
fn lowered_type(engine: &Engine, params: &[Ty], results: &[Ty]) -> FuncType {
    FuncType::new(
        engine,
        params.iter().map(|&t| lowered(t)),
        results.iter().map(|&t| lowered(t)),
    )
}

/// The adapter's imports, in the order `adapter::build` declares them.
pub(super) fn adapter_imports<T: 'static>(
    store: &mut Store<Data<T>>,
    shape: &GuestShape,
    routes: &[ImportRoute],
) -> Vec<Extern> {
    let mut imports: Vec<Extern> = vec![arg_func(store).into(), raise_func(store).into()];
    imports.extend(result_funcs(store).map(Extern::from));
    imports.extend(begin_funcs(store).map(Extern::from));
    let engine = store.engine().clone();
    for (i, (import, route)) in shape.imports.iter().zip(routes).enumerate() {
        let sig = import.sig.clone();
        match route {
            ImportRoute::Direct => {}
            ImportRoute::Lowered => imports.push(sync_func(store, &engine, i, sig).into()),
            ImportRoute::Suspending => imports.push(start_func(store, &engine, i, sig).into()),
        }
    }
    imports
}

/// `host.arg`: argument `i` of the call being made.
fn arg_func<T: 'static>(store: &mut Store<Data<T>>) -> Func {
    Func::wrap(&mut *store, |caller: Caller<'_, Data<T>>, i: i32| {
        let arg = caller.data().args.get(i as usize).copied();
        arg.ok_or_else(|| Error::msg(format!("no argument {i}")))
    })
}

/// `host.raise`: fails the running task with error `id` (a suspending import's).
fn raise_func<T: 'static>(store: &mut Store<Data<T>>) -> Func {
    Func::wrap(
        &mut *store,
        |mut caller: Caller<'_, Data<T>>, id: i32| -> Result<()> {
            Err(caller
                .data_mut()
                .errors
                .remove(id)
                .unwrap_or_else(|| Error::msg(format!("unknown error id {id}"))))
        },
    )
}

/// `host.result_<ty>`, for I32, I64, F32, F64, Ref: `adapter::build`'s order.
fn result_funcs<T: 'static>(store: &mut Store<Data<T>>) -> [Func; 5] {
    [
        Func::wrap(&mut *store, |mut caller: Caller<'_, Data<T>>, v: i32| {
            caller.data_mut().result = Some(Val::I32(v));
        }),
        Func::wrap(&mut *store, |mut caller: Caller<'_, Data<T>>, v: i64| {
            caller.data_mut().result = Some(Val::I64(v));
        }),
        Func::wrap(&mut *store, |mut caller: Caller<'_, Data<T>>, v: f32| {
            caller.data_mut().result = Some(Val::F32(v));
        }),
        Func::wrap(&mut *store, |mut caller: Caller<'_, Data<T>>, v: f64| {
            caller.data_mut().result = Some(Val::F64(v));
        }),
        Func::wrap(
            &mut *store,
            |mut caller: Caller<'_, Data<T>>, id: i32| -> Result<()> {
                let object = caller.data().object(id)?;
                caller.data_mut().result = Some(Val::Ref(object));
                Ok(())
            },
        ),
    ]
}

/// `host.began`, `host.ran`: where the adapter's `begin` is ([`Begin`]).
fn begin_funcs<T: 'static>(store: &mut Store<Data<T>>) -> [Func; 2] {
    [
        Func::wrap(&mut *store, |mut caller: Caller<'_, Data<T>>, id: i32| {
            if let Some(top) = caller.data_mut().begins.last_mut() {
                *top = Begin::Running(id);
            }
        }),
        Func::wrap(
            &mut *store,
            |mut caller: Caller<'_, Data<T>>, kind: i32, payload: i32| {
                if let Some(top) = caller.data_mut().begins.last_mut() {
                    if let Begin::Running(id) = *top {
                        *top = Begin::Leaving(id, kind, payload);
                    }
                }
            },
        ),
    ]
}

/// `host.start<i>`: starts suspending import `i`, of signature `sig`, and returns the
/// pending id its task awaits.
fn start_func<T: 'static>(store: &mut Store<Data<T>>, engine: &Engine, i: usize, sig: Sig) -> Func {
    let ty = lowered_type(engine, &sig.params, &[Ty::I32]);
    let start = move |mut caller: Caller<'_, Data<T>>, raw: &mut [MaybeUninit<ValRaw>]| {
        // SAFETY: wasmtime calls this function, of type `ty`, with `sig.params`
        // lowered in its first slots.
        let id = unsafe { start_suspending(&mut caller, i, &sig, raw) }?;
        raw[0] = MaybeUninit::new(ValRaw::i32(id));
        Ok(())
    };
    // SAFETY: `start` reads only the parameters of `ty` (`sig.params` lowered, through
    // `lift`), each as its type, and writes its one result, an i32 as `ty` declares,
    // into slot 0.
    unsafe { Func::new_unchecked(&mut *store, ty, start) }
}

/// The host function behind guest import `i`, a plain one of signature `sig`: what
/// the guest imports directly (numbers only), or what the adapter's wrapper calls with
/// ids in place of externrefs.
pub(super) fn sync_func<T: 'static>(
    store: &mut Store<Data<T>>,
    engine: &Engine,
    i: usize,
    sig: Sig,
) -> Func {
    let ty = lowered_type(engine, &sig.params, &sig.results);
    let call = move |mut caller: Caller<'_, Data<T>>, raw: &mut [MaybeUninit<ValRaw>]| {
        // SAFETY: wasmtime calls this function, of type `ty`, with `sig.params`
        // lowered in its first slots.
        let result = unsafe { call_sync(&mut caller, i, &sig, raw) }?;
        if let Some(value) = result {
            raw[0] = MaybeUninit::new(value);
        }
        Ok(())
    };
    // SAFETY: `call` reads only the parameters of `ty` (through `lift`), each as its
    // type, and writes a result only when `sig` has one, of `sig`'s type lowered:
    // `check_result` compared the host function's value with `sig` first.
    unsafe { Func::new_unchecked(&mut *store, ty, call) }
}

/// Lifts the parameters of a call into `out`, as `sig` types them (ids for refs).
///
/// # Safety
///
/// The first `sig.params.len()` slots of `raw` hold the call's arguments, lowered
/// (what wasmtime passes a function whose type is [`lowered_type`] of `sig`).
unsafe fn lift<T: 'static>(
    data: &Data<T>,
    sig: &Sig,
    raw: &[MaybeUninit<ValRaw>],
    out: &mut Vec<Val>,
) -> Result<()> {
    for (p, &ty) in sig.params.iter().enumerate() {
        // SAFETY: slot `p` is one of the first `sig.params.len()`, initialized with
        // an argument (this function's contract); `ValRaw` is `Copy`.
        let value = unsafe { raw[p].assume_init_read() };
        out.push(match ty {
            Ty::I32 => Val::I32(value.get_i32()),
            Ty::I64 => Val::I64(value.get_i64()),
            Ty::F32 => Val::F32(f32::from_bits(value.get_f32())),
            Ty::F64 => Val::F64(f64::from_bits(value.get_f64())),
            Ty::Ref => Val::Ref(data.object(value.get_i32())?),
        });
    }
    Ok(())
}

/// Frees the guest's ids of the externref arguments of import `index`, if it
/// consumes them.
///
/// # Safety
///
/// As [`lift`].
unsafe fn release<T: 'static>(
    data: &mut Data<T>,
    index: usize,
    sig: &Sig,
    raw: &[MaybeUninit<ValRaw>],
) {
    if !data.consumes.get(index).copied().unwrap_or(false) {
        return;
    }
    for (p, &ty) in sig.params.iter().enumerate() {
        if ty == Ty::Ref {
            // SAFETY: as in `lift`, slot `p` holds an argument (an id, an i32).
            data.release(unsafe { raw[p].assume_init_read() }.get_i32());
        }
    }
}

/// Runs `f` with the call's arguments lifted into the store's reusable buffer.
///
/// # Safety
///
/// As [`lift`].
unsafe fn with_args<T: 'static, R>(
    caller: &mut Caller<'_, Data<T>>,
    sig: &Sig,
    raw: &[MaybeUninit<ValRaw>],
    f: impl FnOnce(&mut Caller<'_, Data<T>>, &[Val]) -> Result<R>,
) -> Result<R> {
    // Taken out while the import runs: one that calls back into the instance
    // (`Cx::call`) lifts its own imports' arguments into a buffer of its own.
    let mut args = std::mem::take(&mut caller.data_mut().lift_buf);
    // SAFETY: this function's contract is `lift`'s.
    let result =
        unsafe { lift(caller.data(), sig, raw, &mut args) }.and_then(|()| f(caller, &args));
    args.clear();
    caller.data_mut().lift_buf = args;
    result
}

/// Calls plain host import `index` and returns its result, lowered.
///
/// # Safety
///
/// As [`lift`].
unsafe fn call_sync<T: 'static>(
    caller: &mut Caller<'_, Data<T>>,
    index: usize,
    sig: &Sig,
    raw: &[MaybeUninit<ValRaw>],
) -> Result<Option<ValRaw>> {
    // SAFETY: this function's contract is `with_args`'s and `release`'s.
    unsafe {
        with_args(caller, sig, raw, |caller, args| {
            release(caller.data_mut(), index, sig, raw);
            let Some(Some(entry)) = caller.data().imports.get(index).cloned() else {
                return Err(Error::msg("import not linked"));
            };
            let Entry::Sync(f) = &*entry else {
                return Err(Error::msg("import is not a plain function"));
            };
            let result = f(
                &mut Cx {
                    caller,
                    _not_send: PhantomData,
                },
                args,
            )?;
            check_result(sig, &result)?;
            result
                .map(|value| lower(caller.data_mut(), value))
                .transpose()
        })
    }
}

/// Starts suspending host import `index`: its future waits in the store's data under
/// the pending id returned.
///
/// # Safety
///
/// As [`lift`].
unsafe fn start_suspending<T: 'static>(
    caller: &mut Caller<'_, Data<T>>,
    index: usize,
    sig: &Sig,
    raw: &[MaybeUninit<ValRaw>],
) -> Result<i32> {
    // SAFETY: this function's contract is `with_args`'s.
    let pending = unsafe {
        with_args(caller, sig, raw, |caller, args| {
            let Some(Some(entry)) = caller.data().imports.get(index).cloned() else {
                return Err(Error::msg("import not linked"));
            };
            match &*entry {
                Entry::Suspending(f) => Ok(Pending::Future(f(
                    &mut Cx {
                        caller,
                        _not_send: PhantomData,
                    },
                    args,
                )?)),
                // As the boxed future `jspi.await` would be: anything but a promise
                // counts as a fulfilled one (the task still suspends).
                Entry::Await => Ok(match args.first().map(JsValue::from_val) {
                    Some(JsValue::Promise(promise)) => Pending::Promise(promise),
                    Some(other) => Pending::Ready(other.into_val()),
                    None => Pending::Ready(JsValue::Undefined.into_val()),
                }),
                Entry::Sync(_) => Err(Error::msg("import is not suspending")),
            }
        })
    }?;
    // SAFETY: this function's contract is `release`'s.
    unsafe { release(caller.data_mut(), index, sig, raw) };
    let kind = sig.results.first().copied();
    Ok(caller.data_mut().pending.insert((pending, kind)))
}

/// A host value as it crosses back: an id for an object.
fn lower<T: 'static>(data: &mut Data<T>, value: Val) -> Result<ValRaw> {
    Ok(match value {
        Val::I32(v) => ValRaw::i32(v),
        Val::I64(v) => ValRaw::i64(v),
        Val::F32(v) => ValRaw::f32(v.to_bits()),
        Val::F64(v) => ValRaw::f64(v.to_bits()),
        Val::Ref(object) => ValRaw::i32(data.object_id(object)?),
    })
}

/// Whether a host function's value is what its signature says it returns.
fn check_result(sig: &Sig, result: &Option<Val>) -> Result<()> {
    let got = result.as_ref().map(Val::ty);
    if got == sig.results.first().copied() {
        return Ok(());
    }
    let show = |t: Option<Ty>| t.map_or("nothing".to_string(), |t| format!("{t:?}").to_lowercase());
    Err(Error::msg(format!(
        "host function returned {}, its signature {sig} says {}",
        show(got),
        show(sig.results.first().copied())
    )))
}
