// Virtual time for the Node runner (docs/abi.md, "Host environment").
//
// Nothing here uses Node's real timers: a timer is a deadline on a queue, and the
// clock jumps straight to the earliest one. Timers due at the same instant fire
// together, in the order they were created, and only then does the guest run again
// (its resumptions are promise reactions, run when microtasks drain).

/** Lets every queued microtask run, including those they queue in turn. */
export function drainMicrotasks() {
  // setImmediate runs after the microtask queue is empty.
  return new Promise((resolve) => setImmediate(resolve));
}

export class VirtualClock {
  constructor() {
    this.now = 0;
    this.timers = [];
    this.seq = 0;
  }

  /** Runs `fn` when the clock reaches now + `ms` (negative counts as 0). */
  after(ms, fn) {
    const deadline = this.now + Math.max(0, ms);
    this.timers.push({ deadline, seq: this.seq++, fn });
  }

  /** Back to t=0 for a fresh run (after the last timer has fired). */
  restart() {
    if (this.timers.length > 0) throw new Error("restart with timers left");
    this.now = 0;
    this.seq = 0;
  }

  /** Whether any timer is left. */
  get pending() {
    return this.timers.length > 0;
  }

  /** Jumps to the earliest deadline and fires every timer due then, in creation
   * order. Returns false when no timer was left. */
  fireNext() {
    if (this.timers.length === 0) return false;
    const deadline = Math.min(...this.timers.map((t) => t.deadline));
    const due = this.timers
      .filter((t) => t.deadline === deadline)
      .sort((a, b) => a.seq - b.seq);
    this.timers = this.timers.filter((t) => t.deadline !== deadline);
    this.now = deadline;
    for (const timer of due) timer.fn();
    return true;
  }

  /** A promise fulfilled with `value` after `ms`. */
  resolveAfter(ms, value) {
    return new Promise((resolve) => this.after(ms, () => resolve(value)));
  }

  /** A promise rejected with `reason` after `ms`. */
  rejectAfter(ms, reason) {
    return new Promise((_, reject) => this.after(ms, () => reject(reason)));
  }
}
