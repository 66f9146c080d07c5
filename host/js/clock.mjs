// Virtual time for the scenario runners, Node's and the browsers' (docs/abi.md,
// "Host environment").
//
// Nothing here uses Node's real timers: a timer is a deadline on a queue, and the
// clock jumps straight to the earliest one. Timers due at the same instant fire
// together, in the order they were created, and only then does the guest run again
// (its resumptions are promise reactions, run when microtasks drain).

/** Lets every queued microtask run, including those they queue in turn: a
 * macrotask runs only once the microtask queue is empty. Node's setImmediate, or in a
 * browser a MessageChannel message (setTimeout(0) would be clamped to 4 ms once
 * nested, which thousands of torture timers cannot afford). */
export const drainMicrotasks =
  typeof setImmediate === "function" ? () => new Promise((resolve) => setImmediate(resolve)) : messageDrain();

function messageDrain() {
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => waiting.shift()();
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      channel.port2.postMessage(null);
    });
}

/** Whether timer `a` fires before timer `b`: earlier deadline, then creation order. */
const before = (a, b) => a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);

export class VirtualClock {
  constructor() {
    this.now = 0;
    this.timers = []; // a binary min-heap in firing order
    this.seq = 0;
  }

  /** Runs `fn` when the clock reaches now + `ms` (negative counts as 0). */
  after(ms, fn) {
    const deadline = this.now + Math.max(0, ms);
    const heap = this.timers;
    heap.push({ deadline, seq: this.seq++, fn });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  /** The earliest timer, taken off the heap. */
  #pop() {
    const heap = this.timers;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let least = i;
        if (l < heap.length && before(heap[l], heap[least])) least = l;
        if (r < heap.length && before(heap[r], heap[least])) least = r;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least], heap[i]];
        i = least;
      }
    }
    return top;
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
   * order (each in O(log n)). Returns false when no timer was left. */
  fireNext() {
    if (this.timers.length === 0) return false;
    const deadline = this.timers[0].deadline;
    const due = [];
    while (this.timers.length > 0 && this.timers[0].deadline === deadline) due.push(this.#pop());
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
