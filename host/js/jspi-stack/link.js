// The part of the `jspi` import module that runs in wasm: a small adapter module,
// generated here and instantiated once per guest, whose exports the guest imports as
// `jspi.await`, `jspi.release` (which does nothing) and as the wasm-bindgen bridge
// (`jspi.bindgen_*`).
//
// `await` hands the guest's promise to JSPI as it is, with no promise of its own: a
// fulfilled promise resumes the guest with its value, and a rejected one resumes it
// by throwing the reason at the suspending call, which the adapter catches (legacy
// exception handling, with WebAssembly.JSTag) and turns into the same Rejection
// marker the guest library asks `jspi.classify` about. A JS `then` per await would
// cost a promise and a microtask more (docs/abi.md).
//
//   await(p):  try (result externref)
//                suspend(p)          Suspending(p => Promise.resolve(p)): the value
//              catch $js             the reason of a rejection
//                rejected(reason)    new Rejection(reason), or a synchronous throw
//                                    of suspend's own, thrown again
//              catch_all             a rejection whose reason is a wasm exception
//                settle(p)           the old way: p.then(v => v, e => new Rejection(e))
//              end
//
// The bridge functions call the guest's own exports (`jspi_bindgen_store` and
// `jspi_bindgen_load`) through a table filled once the guest is instantiated
// (`link`), so a value moves between wasm-bindgen's handles and the library's slots
// with no call into JavaScript. An engine without WebAssembly.JSTag gets the adapter
// without `await`, and the JavaScript await of old.

import { Code, EXTERNREF, I32, encodeModule } from "./wasm.js";

// Types, imports and table slots of the adapter; function indices count imported
// functions first.
const T_REF_REF = 0; // (externref) -> externref
const T_REF_VOID = 1; // (externref) -> (), the JS tag's type
const T_REF_I32 = 2; // (externref) -> i32
const T_I32_REF = 3; // (i32) -> externref
const SUSPEND = 0;
const REJECTED = 1;
const SETTLE = 2;
const JS_TAG = 0;
const EXPORTS_TABLE = 0;

/** The bridge: export name, its type, and the guest export it calls (its table slot
 * is its position). */
const BRIDGE = [
  ["bindgen_store", T_REF_I32, "jspi_bindgen_store"],
  ["bindgen_load", T_I32_REF, "jspi_bindgen_load"],
];

/** The adapter's bytes; with `await` only when `eh` (the engine has JSTag). */
function adapterBytes(eh) {
  const imports = eh
    ? [
        { module: "s", name: "suspend", type: T_REF_REF },
        { module: "s", name: "rejected", type: T_REF_REF },
        { module: "s", name: "settle", type: T_REF_REF },
        { module: "s", name: "js", kind: "tag", type: T_REF_VOID },
      ]
    : [];
  imports.push({ module: "s", name: "exports", kind: "table", min: BRIDGE.length });
  const imported = eh ? 3 : 0;
  const funcs = BRIDGE.map(([, type], slot) => {
    const body = new Code().localGet(0).i32Const(slot).callIndirect(type, EXPORTS_TABLE);
    return { type, locals: [], body };
  });
  // `release`: the garbage collector frees values, so nothing to do, and in wasm that
  // costs no call into JavaScript (the library calls it after most awaits).
  funcs.push({ type: T_REF_VOID, locals: [], body: new Code() });
  const exports = BRIDGE.map(([name], i) => ({ name, func: imported + i }));
  exports.push({ name: "release", func: imported + BRIDGE.length });
  if (eh) {
    const body = new Code().try(EXTERNREF).localGet(0).call(SUSPEND);
    body.catch(JS_TAG).call(REJECTED);
    body.byte(0x19).localGet(0).call(SETTLE).end(); // catch_all
    funcs.push({ type: T_REF_REF, locals: [], body });
    exports.push({ name: "await", func: imported + BRIDGE.length + 1 });
  }
  return encodeModule({
    types: [
      { params: [EXTERNREF], results: [EXTERNREF] },
      { params: [EXTERNREF], results: [] },
      { params: [EXTERNREF], results: [I32] },
      { params: [I32], results: [EXTERNREF] },
    ],
    imports,
    funcs,
    exports,
  });
}

let adapterModule; // { module, eh }, compiled on first use

function compiledAdapter() {
  if (adapterModule === undefined) {
    const eh = typeof WebAssembly.JSTag === "object" && WebAssembly.JSTag !== null;
    try {
      adapterModule = { module: new WebAssembly.Module(adapterBytes(eh)), eh };
    } catch (error) {
      // An engine with JSTag but without legacy exception handling.
      if (!eh) throw error;
      adapterModule = { module: new WebAssembly.Module(adapterBytes(false)), eh: false };
    }
  }
  return adapterModule;
}

/**
 * The adapter's functions of a guest's `jspi` module (`await`, `release` and the
 * bridge's), and
 * `link(exports)`, to call once the guest's instance exists. `marker(reason)` makes
 * the rejection marker. Where the engine has no WebAssembly.JSTag, `await` is the
 * JavaScript one of old: a `then` of its own per await.
 */
export function awaitImports(marker) {
  const settle = (value) =>
    Promise.resolve(value).then(
      (fulfilled) => fulfilled,
      (reason) => marker(reason),
    );
  const { module, eh } = compiledAdapter();
  // A synchronous throw inside `suspend` (not a rejection) is caught by the adapter
  // too; this flag tells `rejected` to throw it on, as the JS await would have.
  let threw = false;
  const suspend = (value) => {
    try {
      return Promise.resolve(value);
    } catch (error) {
      threw = true;
      throw error;
    }
  };
  const rejected = (reason) => {
    if (threw) {
      threw = false;
      throw reason;
    }
    return marker(reason);
  };
  const table = new WebAssembly.Table({ element: "anyfunc", initial: BRIDGE.length });
  const s = { exports: table };
  if (eh) {
    Object.assign(s, {
      suspend: new WebAssembly.Suspending(suspend),
      rejected,
      settle: new WebAssembly.Suspending(settle),
      js: WebAssembly.JSTag,
    });
  }
  const adapter = new WebAssembly.Instance(module, { s });
  const functions = {
    await: eh ? adapter.exports.await : new WebAssembly.Suspending(settle),
    link(guestExports) {
      BRIDGE.forEach(([, , name], slot) => {
        if (typeof guestExports[name] === "function") table.set(slot, guestExports[name]);
      });
    },
  };
  for (const [name] of BRIDGE) functions[name] = adapter.exports[name];
  functions.release = adapter.exports.release;
  return functions;
}
