// jspi-stack: the host side of the guest library (guest/jspi) for JavaScript engines
// with JSPI: Node 24+ and browsers. It owns the library's contract (docs/abi.md): the
// `jspi.*` imports, the task hooks around every promising call, the call hooks around
// every plain call, pooled tasks, and the counters. It imports nothing, so it runs
// wherever WebAssembly.Suspending does.

import { awaitImports } from "./link.js";
import { Pool } from "./pool.js";

/** What `jspi.await` hands the guest for a rejected promise: the library asks
 * `jspi.classify` and `jspi.rejection_reason`, so a rejection never reaches C as a
 * made-up value. A host never makes one. */
export class Rejection {
  constructor(reason) {
    this.reason = reason;
  }
}

/** A failure the guest reported through `jspi.fail` (the guest library's own errors,
 * a Rust panic): its message is the guest's, as is. */
export class GuestError extends Error {
  constructor(message) {
    super(message);
    this.name = "GuestError";
  }
}

/** The counters `stats()` returns, in the order of their `jspi_stat` ids (jspi.h). */
export const STAT_NAMES = Object.freeze([
  "bytesSaved",
  "bytesRestored",
  "evictions",
  "liveTasks",
  "peakSavedBytes",
  "savedBytes",
  "suspends",
  "resumes",
  "tasksEntered",
  "peakLiveTasks",
  "heapReservedBytes",
]);

const TASK_HOOKS = ["jspi_task_enter", "jspi_task_leave", "jspi_task_done"];
const CALL_HOOKS = ["jspi_call_enter", "jspi_call_leave"];

/** Whether this engine has JSPI (WebAssembly.Suspending and WebAssembly.promising). */
export function hasJspi() {
  return typeof WebAssembly.Suspending === "function" && typeof WebAssembly.promising === "function";
}

function requireJspi() {
  if (!hasJspi()) {
    throw new Error(
      "this engine has no JSPI (WebAssembly.Suspending / WebAssembly.promising): early Node 24 " +
        "releases need --experimental-wasm-jspi; Node 26, Chromium 137+ and Firefox 153+ have it on",
    );
  }
}

const utf8 = new TextDecoder();

/** Reads `len` bytes of UTF-8 at `ptr` of `memory`; a range outside memory is the
 * guest's bug and fails loudly. */
function readUtf8(memory, ptr, len) {
  const bytes = new Uint8Array(memory.buffer);
  const start = ptr >>> 0;
  const end = start + (len >>> 0);
  if (end > bytes.length) {
    throw new GuestError(`jspi.fail: the message at ${start}..${end} lies outside memory (${bytes.length} bytes)`);
  }
  return utf8.decode(bytes.subarray(start, end));
}

const int32 = (x) => x | 0;

/** The bytes of a value that is bytes (a Uint8Array, an ArrayBuffer, another typed
 * array or a DataView), or null. A Uint8Array is its own bytes (no new view). */
function bytesOf(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/**
 * A task's memory as it is now, for a host that reads or writes a *suspended* task's
 * stack buffers: while a task is suspended, its stack bytes may be saved in a block
 * rather than at their address (docs/abi.md, "What a host may touch"). Get one with
 * `guest.currentTask()` inside an import the task called; it stays valid until the
 * task ends. Each access is synchronous and asks the library where each byte is.
 */
export class TaskMemory {
  #guest;
  #locate;

  /** @internal */
  constructor(guest, id, locate) {
    this.#guest = guest;
    this.#locate = locate;
    this.id = id;
  }

  /** Calls `visit(where, offset, n)` for each run of [addr, addr + len) as it lies
   * now; checks the range is inside memory first. */
  #runs(what, addr, len, visit) {
    const size = this.#guest.memory.buffer.byteLength;
    const start = addr >>> 0;
    if (!Number.isInteger(len) || len < 0 || start + len > size) {
      throw new RangeError(`task.${what}: ${start}..${start + len} lies outside memory (${size} bytes)`);
    }
    for (let done = 0; done < len; ) {
      const packed = BigInt.asUintN(64, this.#locate(this.id, start + done));
      const where = Number(packed >> 32n);
      const n = Math.min(len - done, Number(packed & 0xffffffffn));
      visit(where, done, n);
      done += n;
    }
  }

  /** `len` bytes of the task's memory at `addr`, wherever they are now. */
  read(addr, len) {
    const out = new Uint8Array(len);
    this.#runs("read", addr, len, (where, offset, n) => {
      out.set(new Uint8Array(this.#guest.memory.buffer, where, n), offset);
    });
    return out;
  }

  /** Writes `bytes` (a Uint8Array, an ArrayBuffer or a view) into the task's memory
   * at `addr`, wherever each byte is now, so the task finds them when it resumes. */
  write(addr, bytes) {
    const source = bytesOf(bytes);
    if (!source) throw new TypeError("task.write needs bytes (a Uint8Array, an ArrayBuffer or a view)");
    this.#runs("write", addr, source.length, (where, offset, n) => {
      new Uint8Array(this.#guest.memory.buffer, where, n).set(source.subarray(offset, offset + n));
    });
  }
}

/** Whether `value` is a number that is exactly an int32. */
function isInt32(value) {
  return typeof value === "number" && int32(value) === value && !Object.is(value, -0);
}

/**
 * A guest instance and the host side of the guest library for it. Make one with
 * `instantiate`, `instantiateSync` or `link`.
 */
export class Guest {
  #instance = null;
  #bytes = null;
  #promising = new Map();
  #pool = null;
  #task = null; // { enter, leave, done } once checked
  #callEnter = null;
  #callLeave = null;
  #view = null;

  #link;

  /** @internal Use instantiate, instantiateSync or link. */
  constructor() {
    const guest = this;
    // `await` and the wasm-bindgen bridge run in a small wasm adapter (link.js).
    const adapter = awaitImports((reason) => new Rejection(reason));
    this.#link = adapter.link;
    this.jspiImports = {
      await: adapter.await,
      classify(value) {
        if (value instanceof Rejection) return 2;
        return isInt32(value) ? 0 : 1;
      },
      int_value: (value) => int32(value),
      rejection_reason: (value) => value.reason,
      throw(value) {
        throw value;
      },
      fail(ptr, len) {
        throw new GuestError(readUtf8(guest.memory, ptr, len));
      },
      bytes_length: (value) => bytesOf(value)?.length ?? -1,
      bytes_copy(value, dst, len) {
        // The library checked [dst, dst + len) lies inside memory before the await.
        const n = len >>> 0;
        const source = bytesOf(value);
        guest.#memoryBytes().set(n === source.length ? source : source.subarray(0, n), dst >>> 0);
      },
      // The library is done with a value: the garbage collector frees it here (a host
      // without one, wasmtime, frees its id). An empty wasm function, so no JS call.
      release: adapter.release,
      // The wasm-bindgen bridge (docs/abi.md): values between wasm-bindgen's handles
      // and the library's slot table.
      bindgen_store: adapter.bindgen_store,
      bindgen_load: adapter.bindgen_load,
    };
  }

  /** @internal */
  attach(instance, bytes) {
    if (this.#instance) throw new Error("this guest is already attached to an instance");
    if (!(instance instanceof WebAssembly.Instance)) {
      throw new TypeError("attach needs a WebAssembly.Instance");
    }
    this.#instance = instance;
    this.#bytes = bytes ?? null;
    const ex = instance.exports;
    this.#link(ex);
    if (CALL_HOOKS.every((name) => typeof ex[name] === "function")) {
      this.#callEnter = ex.jspi_call_enter;
      this.#callLeave = ex.jspi_call_leave;
    }
    return this;
  }

  /** The WebAssembly.Instance. */
  get instance() {
    if (!this.#instance) throw new Error("the guest is not instantiated yet");
    return this.#instance;
  }

  /** The instance's exports. */
  get exports() {
    return this.instance.exports;
  }

  /** A byte view of the exported memory, kept until memory grows (which gives it a
   * new buffer), so an await into a buffer makes no view of its own. */
  #memoryBytes() {
    const buffer = this.memory.buffer;
    if (this.#view === null || this.#view.buffer !== buffer) this.#view = new Uint8Array(buffer);
    return this.#view;
  }

  /** The exported `memory`. */
  get memory() {
    const memory = this.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error("the module exports no `memory`");
    return memory;
  }

  /** Whether the module was linked with the guest library (it exports the task
   * hooks). */
  get linked() {
    return TASK_HOOKS.every((name) => typeof this.exports[name] === "function");
  }

  /** Throws, naming what is missing, unless the module was linked with the guest
   * library (what `promising` and `spawn` need). */
  checkLinked() {
    const missing = TASK_HOOKS.filter((name) => typeof this.exports[name] !== "function");
    if (missing.length > 0) {
      throw new Error(
        `the module was not linked with the guest library: it exports no ${missing.join(", ")} ` +
          "(link it with libjspi.a, see docs/abi.md)",
      );
    }
  }

  /** The task hooks, or an error naming what is missing. */
  #hooks() {
    if (this.#task) return this.#task;
    this.checkLinked();
    const ex = this.exports;
    this.#task = { enter: ex.jspi_task_enter, leave: ex.jspi_task_leave, done: ex.jspi_task_done, top: ex.jspi_task_top };
    return this.#task;
  }

  /** Export `name` as a function, or an error naming the exports there are. */
  exportedFunction(name) {
    const fn = this.exports[name];
    if (typeof fn !== "function") {
      const available = Object.keys(this.exports)
        .filter((key) => typeof this.exports[key] === "function" && !key.startsWith("jspi_"))
        .join(", ");
      throw new Error(`the module has no exported function \`${name}\` (it exports: ${available || "none"})`);
    }
    return fn;
  }

  /**
   * An async function that runs export `name` as a promising task, with the guest
   * library's hooks around it; made once per name. The task runs at once until it
   * first suspends or ends; the returned promise settles with its result. A task
   * that cannot start (too many alive, no room) gives a rejected promise.
   */
  promising(name) {
    let run = this.#promising.get(name);
    if (run) return run;
    const { enter, leave, done } = this.#hooks();
    const raw = WebAssembly.promising(this.exportedFunction(name));
    run = (...args) => {
      let id;
      try {
        id = enter();
      } catch (error) {
        return Promise.reject(error);
      }
      let promise;
      try {
        promise = raw(...args);
      } catch (error) {
        promise = Promise.reject(error);
      } finally {
        leave(id);
      }
      // A side chain, registered first: `done` runs in the same microtask as the
      // caller's own reaction to the promise, just before it.
      const finish = () => done(id);
      promise.then(finish, finish);
      return promise;
    };
    this.#promising.set(name, run);
    return run;
  }

  /**
   * Runs export `name(...args)` as a task on a pooled worker: like
   * `promising(name)(...args)`, but the task starts in a later microtask (not
   * synchronously), and on one of a few long-lived JSPI stacks instead of a new one
   * per call. A trap or a failed await ends its worker, which is replaced, and fails
   * only this task.
   */
  spawn(name, ...args) {
    if (!this.#pool) {
      if (!this.#bytes) {
        throw new Error(
          "spawn needs the export types of the module, which the JS API does not tell: compile it with this package's compile (or instantiate it from bytes or a Response)",
        );
      }
      this.#pool = new Pool(this, this.#hooks(), this.#bytes);
    }
    return this.#pool.spawn(name, args);
  }

  /** Pooled workers made so far (the most pooled tasks alive at once, plus those
   * lost to traps). */
  get workers() {
    return this.#pool ? this.#pool.workers : 0;
  }

  /**
   * Calls export `name(...args)` plainly (synchronously). If it fails, the shadow
   * stack is put back where the call began, so a trap deep inside leaves nothing
   * behind. A suspending import reached from here is an error.
   */
  call(name, ...args) {
    const fn = this.exportedFunction(name);
    const callEnter = this.#callEnter;
    if (!callEnter) return plain(fn, name, args);
    const token = callEnter();
    let value;
    try {
      value = plain(fn, name, args);
    } catch (error) {
      // If even the token is refused (the stack pointer was already outside the
      // shadow stack when the call began: a module the `none` strategy let corrupt
      // itself), the call's own error is the one to report.
      try {
        this.#callLeave(token);
      } catch {}
      throw error;
    }
    this.#callLeave(token);
    return value;
  }

  /** The task running now (inside an import it called), as a TaskMemory that can
   * read and write its memory later, while it is suspended; null outside any task. */
  currentTask() {
    const ex = this.exports;
    if (typeof ex.jspi_task_current !== "function" || typeof ex.jspi_task_locate !== "function") {
      throw new Error("the module was not linked with this guest library's task memory exports (jspi_task_current, jspi_task_locate)");
    }
    const id = ex.jspi_task_current();
    return id === 0 ? null : new TaskMemory(this, id, ex.jspi_task_locate);
  }

  /** The guest library's counters as plain numbers (see STAT_NAMES). */
  stats() {
    const stat = this.exports.jspi_stat;
    if (typeof stat !== "function") {
      throw new Error("the module was not linked with the guest library: it exports no jspi_stat");
    }
    const result = {};
    STAT_NAMES.forEach((key, id) => {
      result[key] = Number(stat(id));
    });
    return result;
  }
}

function plain(fn, name, args) {
  try {
    return fn(...args);
  } catch (error) {
    if (typeof WebAssembly.SuspendError === "function" && error instanceof WebAssembly.SuspendError) {
      throw new Error(
        `cannot suspend: \`${name}\` was called plainly and reached a suspending import; start it as a task (promising or spawn)`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The user's import object with the guest library's `jspi` module added. */
function mergeImports(guest, imports) {
  if (imports === null || typeof imports !== "object") {
    throw new TypeError("the import object must be an object of modules");
  }
  if (Object.hasOwn(imports, "jspi")) {
    throw new Error("import module `jspi` is the guest library's own: the package provides it, leave it out");
  }
  return { ...imports, jspi: guest.jspiImports };
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** The bytes each module compiled here came from, for `spawn` (the JS API does not
 * tell an export's type). */
const sources = new WeakMap();

function asBytes(source) {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return null;
}

/** Refuses what is not wasm at all, in the same words on every engine. */
function checkMagic(bytes) {
  if (bytes.length < WASM_MAGIC.length || WASM_MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw new Error('not a wasm module: it does not start with the bytes 00 61 73 6d ("\\0asm")');
  }
}

/** The jspi_* functions the module imports from a module other than `jspi`: the
 * guest library's code, which the module was meant to be linked with. */
function checkUnlinked(module) {
  const unlinked = WebAssembly.Module.imports(module)
    .filter((imp) => imp.module !== "jspi" && imp.name.startsWith("jspi_"))
    .map((imp) => `${imp.module}.${imp.name}`);
  if (unlinked.length > 0) {
    throw new Error(
      `the module imports the guest library's own functions (${unlinked.join(", ")}): link it with libjspi.a`,
    );
  }
}

/**
 * Compiles a guest module from its bytes (an ArrayBuffer or a view) or a Response (or
 * a promise of one, such as `fetch(url)`); a WebAssembly.Module is returned as it is.
 * A module compiled here can run pooled tasks (`spawn`); one compiled elsewhere
 * cannot, since the JS API does not tell its export types.
 */
export async function compile(source) {
  let resolved = await source;
  if (typeof Response === "function" && resolved instanceof Response) {
    if (!resolved.ok) throw new Error(`fetching the module failed: ${resolved.status} ${resolved.statusText}`);
    resolved = await resolved.arrayBuffer();
  }
  if (resolved instanceof WebAssembly.Module) return resolved;
  const bytes = asBytes(resolved);
  if (!bytes) throw new TypeError("a guest module is given as bytes, a WebAssembly.Module or a Response");
  checkMagic(bytes);
  const module = await WebAssembly.compile(bytes);
  sources.set(module, bytes.slice());
  return module;
}

/** `compile` for bytes, synchronously (engines limit synchronous compilation of
 * large modules on a browser's main thread). */
export function compileSync(source) {
  if (source instanceof WebAssembly.Module) return source;
  const bytes = asBytes(source);
  if (!bytes) throw new TypeError("a guest module is given as bytes or a WebAssembly.Module");
  checkMagic(bytes);
  const module = new WebAssembly.Module(bytes);
  sources.set(module, bytes.slice());
  return module;
}

function instantiateModule(module, imports) {
  requireJspi();
  checkUnlinked(module);
  const guest = new Guest();
  const instance = new WebAssembly.Instance(module, mergeImports(guest, imports));
  return guest.attach(instance, sources.get(module));
}

/**
 * Compiles (if needed) and instantiates a guest. `source` is what `compile` takes;
 * `imports` is the user's import object, to which the guest library's `jspi` module
 * is added (so `{ env, wasi_snapshot_preview1: wasi.wasiImport }` works as it is).
 */
export async function instantiate(source, imports = {}) {
  requireJspi();
  return instantiateModule(await compile(source), imports);
}

/** `instantiate` for bytes or a WebAssembly.Module, synchronously. */
export function instantiateSync(source, imports = {}) {
  requireJspi();
  return instantiateModule(compileSync(source), imports);
}

/**
 * For code that instantiates the module itself (wasm-bindgen's glue, say): the guest
 * library's `jspi` import module to give it, and `attach(instance)` to call once the
 * instance exists, which returns the Guest.
 */
export function link() {
  requireJspi();
  const guest = new Guest();
  return {
    jspi: guest.jspiImports,
    attach: (instance) => guest.attach(instance, null),
  };
}
