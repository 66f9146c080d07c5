// Types of jspi-stack (index.js): the host side of the guest library for JavaScript
// engines with JSPI.

/** A wasm value as JavaScript passes it: i32, f32 and f64 as numbers, i64 as a
 * BigInt, externref as any value. */
export type WasmValue = unknown;

/** What a guest module is given as: its bytes, a compiled module, or a Response
 * (or a promise of one, such as `fetch(url)`). */
export type GuestSource =
  | ArrayBuffer
  | ArrayBufferView
  | WebAssembly.Module
  | Response
  | PromiseLike<Response>;

/** The guest library's counters (jspi.h's `jspi_stat_id`), as plain numbers. */
export interface Stats {
  /** Bytes copied from the shadow stack into saved blocks. */
  bytesSaved: number;
  /** Bytes copied from saved blocks back to the shadow stack. */
  bytesRestored: number;
  /** Times a task's bytes were saved (a whole range under eager, a part under lazy). */
  evictions: number;
  /** Tasks alive now. */
  liveTasks: number;
  /** Most saved bytes held at once. */
  peakSavedBytes: number;
  /** Saved bytes held now. */
  savedBytes: number;
  /** Suspends so far. */
  suspends: number;
  /** Resumes so far. */
  resumes: number;
  /** Tasks entered so far. */
  tasksEntered: number;
  /** Most tasks alive at once. */
  peakLiveTasks: number;
  /** Bytes the library's allocator has obtained for saved bytes. */
  heapReservedBytes: number;
}

/** The names of `Stats`, in `jspi_stat` id order. */
export const STAT_NAMES: readonly (keyof Stats)[];

/** A failure the guest reported through `jspi.fail`; its message is the guest's. */
export class GuestError extends Error {
  constructor(message: string);
}

/** What `jspi.await` hands the guest for a rejected promise; a host never makes one. */
export class Rejection {
  constructor(reason: unknown);
  readonly reason: unknown;
}

/** A task's memory as it is now, for a host that reads or writes a suspended task's
 * stack buffers (their bytes may be saved elsewhere while it is suspended). */
export class TaskMemory {
  private constructor();
  /** The library's id of the task. */
  readonly id: number;
  /** `len` bytes of the task's memory at `addr`, wherever they are now. */
  read(addr: number, len: number): Uint8Array;
  /** Writes `bytes` into the task's memory at `addr`, wherever each byte is now. */
  write(addr: number, bytes: ArrayBuffer | ArrayBufferView): void;
}

/** A guest instance and the host side of the guest library for it. */
export class Guest {
  private constructor();
  /** The WebAssembly.Instance. */
  readonly instance: WebAssembly.Instance;
  /** The instance's exports. */
  readonly exports: WebAssembly.Exports;
  /** The exported `memory`. */
  readonly memory: WebAssembly.Memory;
  /** Whether the module was linked with the guest library. */
  readonly linked: boolean;
  /** Pooled workers made so far. */
  readonly workers: number;
  /** An async function running export `name` as a promising task with the library's
   * hooks; made once per name. Throws if the module lacks the export or the library. */
  promising<R = unknown>(name: string): (...args: WasmValue[]) => Promise<R>;
  /** Runs export `name` as a task on a pooled worker; it starts in a later microtask. */
  spawn<R = unknown>(name: string, ...args: WasmValue[]): Promise<R>;
  /** Calls export `name` plainly; a failure leaves the shadow stack where it began. */
  call<R = unknown>(name: string, ...args: WasmValue[]): R;
  /** The task running now (inside an import it called), or null outside any task. */
  currentTask(): TaskMemory | null;
  /** Throws, naming what is missing, unless the module was linked with the guest
   * library (what `promising` and `spawn` need). */
  checkLinked(): void;
  /** The library's counters. */
  stats(): Stats;
  /** Export `name` as a function, or an error naming the exports there are. */
  exportedFunction(name: string): Function;
}

/** Whether this engine has JSPI. */
export function hasJspi(): boolean;

/** Compiles a guest module; a module compiled here can run pooled tasks (`spawn`). A
 * `WebAssembly.Module` is returned as it is. */
export function compile(source: GuestSource): Promise<WebAssembly.Module>;

/** `compile` for bytes, synchronously. */
export function compileSync(source: ArrayBuffer | ArrayBufferView | WebAssembly.Module): WebAssembly.Module;

/** Compiles (if needed) and instantiates a guest; the guest library's `jspi` import
 * module is added to `imports`. */
export function instantiate(source: GuestSource, imports?: WebAssembly.Imports): Promise<Guest>;

/** `instantiate` for bytes or a compiled module, synchronously. */
export function instantiateSync(
  source: ArrayBuffer | ArrayBufferView | WebAssembly.Module,
  imports?: WebAssembly.Imports,
): Guest;

/** For code that instantiates the module itself (wasm-bindgen's glue). */
export interface Link {
  /** The `jspi` import module to give the code that instantiates. */
  readonly jspi: WebAssembly.ModuleImports;
  /** The Guest for the instance that code made (it cannot `spawn`). */
  attach(instance: WebAssembly.Instance): Guest;
}

/** Starts a Link. */
export function link(): Link;
