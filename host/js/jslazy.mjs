// The lazy stack-state algorithm done on the JavaScript side, as the seed's blog post
// does it: bookkeeping in JS around the await, for comparison with the guest library,
// which does the same inside wasm. Used by bench.mjs with a guest built with strategy
// `none` (whose library leaves __stack_pointer alone) and __stack_pointer exported.
//
// Each task owns [start, stop) of the shadow stack while suspended. Bytes below
// `evictedHi` are saved in `saved`; the rest are still in memory. A resuming task may
// write anywhere below its `stop`, so every other task's bytes below that address are
// saved first; its own saved bytes are copied back. New tasks go below the lowest live
// byte, so tasks resumed in reverse order copy nothing.
//
// Unlike the in-wasm version, the restore here runs in a promise reaction, before the
// engine resumes the task: two tasks settled in the same microtask checkpoint would
// restore, then resume, in an interleaving that breaks this. The benchmark settles one
// promise per turn of the event loop, which keeps it correct there.

export class JsLazyStack {
  constructor(memory, stackPointer) {
    this.memory = memory;
    this.sp = stackPointer;
    this.top = stackPointer.value;
    this.live = []; // tasks with bytes still in memory, highest first
    this.bytesCopied = 0;
  }

  get heap() {
    return new Uint8Array(this.memory.buffer);
  }

  /** Where the host's top level runs: below every live byte. */
  parked() {
    let low = this.top;
    for (const task of this.live) low = Math.min(low, task.evictedHi);
    return low & ~15;
  }

  /** Before a promising call: places the task and sets the stack pointer. */
  enter() {
    const stop = this.parked();
    this.sp.value = stop;
    return { stop, start: stop, evictedHi: stop, saved: null };
  }

  /** The task suspends: record its range, park the stack pointer below it. */
  suspend(task) {
    task.start = this.sp.value;
    task.evictedHi = task.start;
    this.live.push(task);
    this.sp.value = this.parked();
  }

  /** Saves `task`'s bytes below `limit` that are still in memory. */
  evictBelow(task, limit) {
    const hi = Math.min(limit, task.stop);
    if (hi <= task.evictedHi) return;
    const chunk = this.heap.slice(task.evictedHi, hi);
    if (task.saved === null) {
      task.saved = chunk;
    } else {
      const grown = new Uint8Array(task.saved.length + chunk.length);
      grown.set(task.saved);
      grown.set(chunk, task.saved.length);
      task.saved = grown;
    }
    this.bytesCopied += chunk.length;
    task.evictedHi = hi;
  }

  /** After the await, before the task runs again. */
  resume(task) {
    this.live = this.live.filter((t) => t !== task);
    for (const other of this.live) {
      if (other.evictedHi < task.stop) this.evictBelow(other, task.stop);
    }
    this.live = this.live.filter((t) => t.evictedHi < t.stop);
    if (task.saved !== null) {
      this.heap.set(task.saved, task.start);
      this.bytesCopied += task.saved.length;
      task.saved = null;
    }
    task.evictedHi = task.start;
    this.sp.value = task.start;
  }

  /** The task finished: its range is free. */
  done(task) {
    this.live = this.live.filter((t) => t !== task);
    this.sp.value = this.parked();
  }
}
