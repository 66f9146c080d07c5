// Node benchmarks of the benchmark guest (host/benches/guest/bench.c), same schedules
// and sizes as the Rust ones, plus `jslazy`: the `none` guest with the lazy
// bookkeeping done in JavaScript (jslazy.mjs).
//
//   node host/js/bench.mjs DIR [FILTER]
//
// DIR holds none.wasm, eager.wasm, lazy.wasm, adaptive.wasm (built by `cargo xtask
// bench`). Prints
// `time node/<schedule>/<tasks>/<size>/<variant> <ns per suspend/resume round trip>`
// and `bytes/rt ...` lines. One promise is settled at a time, and the driver waits
// for exactly the reaction it needs (the task finishing, or suspending again), so the
// time is the switch and the bookkeeping, not the event loop.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { instantiateSync, link } from "./jspi-stack/index.js";
import { JsLazyStack } from "./jslazy.mjs";
import { VirtualClock } from "./clock.mjs";
import { makeImports } from "./hostenv.mjs";
import { order } from "./bench-order.mjs";

const SCHEDULES = ["lifo", "fifo", "random", "pingpong"];
const SIZES = [64, 1024, 16 * 1024, 64 * 1024];
const TASKS = [2, 16, 256];
const VARIANTS = ["none", "eager", "lazy", "adaptive", "jslazy"];
const MEASURE_NS = 200_000_000n;

class Driver {
  constructor(dir, variant) {
    this.variant = variant;
    const file = variant === "jslazy" ? "none" : variant;
    const bytes = readFileSync(join(dir, `${file}.wasm`));
    this.waiting = []; // resolvers of bench.next promises, oldest first
    this.onNext = null;
    let guest;
    const imports = makeImports({ log: () => {}, clock: new VirtualClock(), memory: () => guest.memory });
    const ready = Promise.resolve(null);
    imports.bench = {
      next: () =>
        new Promise((resolve) => {
          this.waiting.push(resolve);
          if (this.onNext) this.onNext();
        }),
      // For the guest's awaitLoop, which bench-start.mjs times (not used here).
      ready: () => ready,
      ready_bytes: () => ready,
    };
    if (variant === "jslazy") {
      // The package's own imports, but an await that does the lazy bookkeeping in
      // JavaScript around the JS `await`, as the seed's blog post does.
      const linked = link();
      const jspiAwait = new WebAssembly.Suspending(async (promise) => {
        const task = this.running;
        this.stack.suspend(task);
        const value = await promise;
        this.stack.resume(task);
        this.running = task;
        return value;
      });
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
        ...imports,
        jspi: { ...linked.jspi, await: jspiAwait },
      });
      guest = linked.attach(instance);
    } else {
      guest = instantiateSync(bytes, imports);
    }
    this.guest = guest;
    this.task = guest.promising("task");
    this.sp = guest.exports.__stack_pointer;
    this.top = this.sp.value;
    if (variant === "jslazy") this.stack = new JsLazyStack(guest.memory, this.sp);
  }

  /** Starts task(size, awaits); returns its completion promise. */
  start(size, awaits) {
    // jslazy places the task itself; the `none` library's hooks, which the package
    // still runs, leave the stack pointer where they find it.
    const task = this.variant === "jslazy" ? this.stack.enter() : null;
    this.running = task;
    const promise = this.task(size, awaits);
    return task ? promise.then(() => this.stack.done(task)) : promise;
  }

  /** A promise of the next bench.next call. */
  nextCall() {
    return new Promise((resolve) => {
      this.onNext = () => {
        this.onNext = null;
        resolve();
      };
    });
  }

  async round(schedule, n, size, round) {
    if (schedule === "pingpong") {
      if (!this.pair) {
        this.pair = [this.start(size, 0x7fffffff), this.start(size, 0x7fffffff)];
      }
      for (let k = 0; k < 2; k++) {
        const next = this.nextCall();
        this.waiting.shift()(null);
        await next;
      }
      return 2;
    }
    const done = [];
    for (let i = 0; i < n; i++) done.push(this.start(size, 1));
    const resolvers = this.waiting.splice(0);
    for (const i of order(schedule, n, round)) {
      resolvers[i](null);
      await done[i];
    }
    if (this.variant === "none") this.sp.value = this.top;
    return n;
  }

  copied() {
    if (this.variant === "jslazy") return this.stack.bytesCopied;
    const stats = this.guest.stats();
    return stats.bytesSaved + stats.bytesRestored;
  }
}

async function main([dir, filter]) {
  if (!dir) {
    process.stderr.write("usage: bench.mjs DIR [FILTER]\n");
    process.exitCode = 2;
    return;
  }
  for (const schedule of SCHEDULES) {
    for (const n of schedule === "pingpong" ? [2] : TASKS) {
      for (const size of SIZES) {
        for (const variant of VARIANTS) {
          const id = `node/${schedule}/${n}/${size}/${variant}`;
          if (filter && !id.includes(filter)) continue;
          const driver = new Driver(dir, variant);
          // Warm up, and count the bytes copied per round trip.
          let before = driver.copied();
          let trips = 0;
          for (let round = 0; round < 4; round++) trips += await driver.round(schedule, n, size, round);
          console.log(`bytes/rt ${id} ${Math.floor((driver.copied() - before) / trips)}`);
          trips = 0;
          let round = 4;
          const start = process.hrtime.bigint();
          let elapsed = 0n;
          while (elapsed < MEASURE_NS) {
            trips += await driver.round(schedule, n, size, round++);
            elapsed = process.hrtime.bigint() - start;
          }
          console.log(`time ${id} ${(Number(elapsed) / trips).toFixed(1)}`);
        }
      }
    }
  }
}

await main(process.argv.slice(2));
