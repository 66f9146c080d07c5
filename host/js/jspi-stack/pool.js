// Pooled tasks (Guest.spawn): long-lived promising worker calls that run one task
// after another, so that no task needs a new JSPI stack.
//
// V8 keeps at most four finished JSPI stacks for reuse; with more tasks alive, every
// WebAssembly.promising call maps a fresh ~1 MiB stack (7-19 µs) and address space
// grows without bound (DESIGN.md). Here a worker is one promising call of a small
// generated adapter module that loops: it suspends on `next` until it is given a task,
// runs that task's export with the guest library's hooks around it, reports the
// result, and suspends again. The adapter calls the guest's exports directly (they are
// its imports), so a task's own awaits suspend the worker's stack like any promising
// call's; it keeps nothing in linear memory.
//
//   worker(w): loop { k = next(w)                     suspends until a task is given
//                     jspi_task_top()                 the host's top level: see below
//                     id = jspi_task_enter(); began(w, id)
//                     result = export_k(arg(w, 0), ...)
//                     jspi_task_done(id)              the task ended: drop its state
//                     ret(w, result) }                the task's promise is fulfilled
//
// A trap or a thrown error (a failed await, a throwing import) ends the worker's call:
// its promise rejects, the host runs done for the task it ran, rejects that task's
// promise, and the worker's number goes to the next new worker. That runs a microtask
// after the death, and another worker may resume first, with the stack pointer where
// the dead task left it; `jspi_task_top` at every resume cleans up.

import { Code, EXTERNREF, F32, F64, I32, I64, encodeModule, exportTypes, typeName } from "./wasm.js";

const PASSABLE = [I32, I64, F32, F64, EXTERNREF];

// The adapter's imports, in order; their function indices are their positions.
const NEXT = 0;
const BEGAN = 1;
const ARG = new Map([I32, I64, F32, F64, EXTERNREF].map((t, i) => [t, 2 + i]));
const RET_VOID = 7;
const RET = new Map([I32, I64, F32, F64, EXTERNREF].map((t, i) => [t, 8 + i]));
const ENTER = 13;
const DONE = 14;
const TOP = 15;
const FIRST_EXPORT = 16;

/** Why export type `type` cannot run on a worker, or null. */
function unsupported(type) {
  const bad = [...type.params, ...type.results].find((t) => !PASSABLE.includes(t));
  if (bad !== undefined) return `it takes or returns a ${typeName(bad)}`;
  if (type.results.length > 1) return "it returns more than one value";
  return null;
}

/** Function types, numbered as they are first asked for. */
class Types {
  constructor() {
    this.list = [];
    this.index = new Map();
  }

  of(params, results) {
    const key = `${params.join(",")}>${results.join(",")}`;
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.list.length;
      this.list.push({ params, results });
      this.index.set(key, i);
    }
    return i;
  }
}

/** The adapter module's bytes for `callable` exports ([{name, type}]). */
function adapterBytes(callable) {
  const types = new Types();
  const imports = [];
  const add = (module, name, params, results) => imports.push({ module, name, type: types.of(params, results) });
  add("p", "next", [I32], [I32]);
  add("p", "began", [I32, I32], []);
  for (const t of ARG.keys()) add("p", `arg_${typeName(t)}`, [I32, I32], [t]);
  add("p", "ret_void", [I32], []);
  for (const t of RET.keys()) add("p", `ret_${typeName(t)}`, [I32, t], []);
  add("g", "enter", [], [I32]);
  add("g", "done", [I32], []);
  add("g", "top", [], []);
  callable.forEach(({ type }, k) => add("g", `f${k}`, type.params, type.results));

  // Locals: 0 the worker's number, 1 the task's export index, 2 the task id.
  const n = callable.length;
  const body = new Code().block().loop();
  // Resumed from the event loop: the host's top level. A task that died on another
  // worker may still wait for its hooks (they run a microtask after its death); the
  // library drops what it left behind before this task is placed.
  body.localGet(0).call(NEXT).localSet(1).call(TOP);
  for (let j = 0; j < n; j++) body.block();
  body.localGet(1).brTable(
    callable.map((_, j) => j),
    n + 1, // anything else ends the worker
  );
  callable.forEach(({ type }, k) => {
    body.end(); // the case for export k starts after its block
    body.call(ENTER).localSet(2);
    body.localGet(0).localGet(2).call(BEGAN);
    body.localGet(0); // ret's first argument, below the result
    type.params.forEach((t, i) => body.localGet(0).i32Const(i).call(ARG.get(t)));
    body.call(FIRST_EXPORT + k);
    // `done` alone, from what is now the top level of the worker's stack: `leave`
    // belongs right after a first run returns to the host, which a task here never
    // does (its first return is into this loop), and `done` drops its segment, in
    // whichever run it ended.
    body.localGet(2).call(DONE);
    body.call(type.results.length === 0 ? RET_VOID : RET.get(type.results[0]));
    body.br(n - 1 - k); // back to the loop
  });
  body.end().end();
  return encodeModule({
    types: types.list,
    imports,
    funcs: [{ type: types.of([I32], []), locals: [I32, I32], body }],
    exports: [{ name: "worker", func: imports.length }],
  });
}

export class Pool {
  /** `guest` is the Guest, `hooks` its task hooks, `bytes` the module's bytes. */
  constructor(guest, hooks, bytes) {
    if (typeof hooks.top !== "function") {
      throw new Error("spawn needs the guest library's jspi_task_top export: relink the module with this version of libjspi.a");
    }
    this.guest = guest;
    this.hooks = hooks;
    this.index = new Map(); // export name -> k
    this.reasons = new Map(); // export name -> why it cannot be spawned
    const callable = [];
    let types;
    try {
      types = exportTypes(bytes);
    } catch (error) {
      throw new Error(`spawn cannot read the module's export types: ${error.message}`);
    }
    for (const [name, type] of types) {
      if (name.startsWith("jspi_")) continue;
      const why = unsupported(type);
      if (why) {
        this.reasons.set(name, why);
        continue;
      }
      this.index.set(name, callable.length);
      callable.push({ name, type });
    }
    this.slots = []; // by worker number: { item, wake }
    this.free = []; // numbers of dead workers, for new ones
    this.idle = []; // numbers of workers waiting in `next`
    this.workers = 0;

    const slots = this.slots;
    const current = (w) => slots[w].item;
    const p = {
      next: new WebAssembly.Suspending((w) => this.next(w)),
      began(w, id) {
        slots[w].item.id = id;
      },
      ret_void(w) {
        settle(slots[w], undefined);
      },
    };
    for (const t of ARG.keys()) p[`arg_${typeName(t)}`] = (w, i) => current(w).args[i];
    for (const t of RET.keys()) p[`ret_${typeName(t)}`] = (w, value) => settle(slots[w], value);
    const g = { enter: hooks.enter, done: hooks.done, top: hooks.top };
    const exports = guest.exports;
    callable.forEach(({ name }, k) => {
      g[`f${k}`] = exports[name];
    });
    const adapter = new WebAssembly.Instance(new WebAssembly.Module(adapterBytes(callable)), { p, g });
    this.worker = WebAssembly.promising(adapter.exports.worker);
  }

  /** A task of export `name`; its promise settles with the export's result. */
  spawn(name, args) {
    const k = this.index.get(name);
    if (k === undefined) {
      const why = this.reasons.get(name);
      if (why) throw new Error(`export \`${name}\` cannot be spawned: ${why}`);
      this.guest.exportedFunction(name); // throws, naming the exports there are
      throw new Error(`export \`${name}\` cannot be spawned`);
    }
    return new Promise((resolve, reject) => {
      const item = { k, args, resolve, reject, id: 0 };
      const w = this.idle.pop();
      if (w === undefined) {
        this.start(item);
        return;
      }
      const slot = this.slots[w];
      const wake = slot.wake;
      slot.item = item;
      slot.wake = null;
      wake(k);
    });
  }

  /** A new worker, given `item` as its first task. */
  start(item) {
    const w = this.free.length > 0 ? this.free.pop() : this.slots.length;
    this.slots[w] = { item, wake: null };
    this.workers += 1;
    // Runs now until the worker first waits in `next`.
    this.worker(w).then(
      () => {},
      (error) => this.died(w, error),
    );
  }

  /** `next(w)`: the export index of worker w's next task, once there is one. */
  next(w) {
    const slot = this.slots[w];
    if (slot.item) return slot.item.k; // a new worker's first task (still suspends once)
    this.idle.push(w);
    return new Promise((wake) => {
      slot.wake = wake;
    });
  }

  /** Worker w died running its task: end that task and free the worker's number. */
  died(w, error) {
    const item = this.slots[w].item;
    this.slots[w] = null;
    this.free.push(w);
    if (!item) return;
    // `done` from the top level drops whatever the dead task left, in whichever
    // segment it died (`leave` belongs right after a first run returns, which a
    // worker's task never does to the host).
    if (item.id !== 0) this.hooks.done(item.id);
    item.reject(error);
  }
}

/** The task on `slot` returned `value`. */
function settle(slot, value) {
  const item = slot.item;
  slot.item = null;
  item.resolve(value);
}
