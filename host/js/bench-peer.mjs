// Node benchmark of one await against its peer and its floor: long-lived tasks that
// each hold `size` bytes of shadow stack and await `bench.next()` again and again,
// settled one at a time in a LIFO, FIFO or random order, in three kinds of guest:
//
// - `floor`: raw JSPI with no library, a module generated here whose `task` calls a
//   Suspending import in a loop (no shadow stack handling at all);
// - `wbg`: host/benches/bindgen-guest built with wasm-bindgen 0.2.130's own JSPI
//   (a `#[wasm_bindgen(jspi)]` export, a `suspending` import: an eager copy of the
//   task's stack at every suspend, made by the CLI);
// - one per strategy: the same guest awaiting with this library
//   (`jspi::bindgen::wait`), through the JS package, as the Node runner loads it.
//
//   node host/js/bench-peer.mjs DIR [FILTER]
//
// DIR/bindgen/<variant>/guest.js is each guest's glue (built by `cargo xtask bench`);
// every folder there is a variant. Prints `time peer/<schedule>/<tasks>/<size>/<variant>
// <ns per await>`. A round settles every task's pending promise once, in the
// schedule's order: `bench.next` itself, called by the task that just resumed,
// settles the next one's, so the time is the switch and the bookkeeping, not a
// driver or the event loop. The variants of a row run side by side, in turns. The
// tasks end by a rejection.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { link } from "./jspi-stack/index.js";
import { Code, EXTERNREF, I32, encodeModule } from "./jspi-stack/wasm.js";
import { loadGlue } from "./bindgen.mjs";
import { order } from "./bench-order.mjs";

const SCHEDULES = ["lifo", "fifo", "random"];
const TASKS = [1, 2, 16];
const SIZES = [64, 1024, 16 * 1024, 64 * 1024];
const MEASURE_NS = 100_000_000n; // per variant and row
const FOREVER = 0x7fffffff;

/**
 * `bench.next` as a scheduler: each call (by the task that just resumed) records that
 * task's new pending promise and settles the next task's in the schedule's order, so a
 * batch runs as one chain of awaits with no driver in between. A batch ends after
 * `left` awaits, with every task pending again.
 */
class Calls {
  constructor() {
    this.pending = []; // by task: the resolver of the promise it waits on
    this.current = 0; // the task that runs now
    this.order = [];
    this.orders = [];
    this.schedule = null;
    this.at = 0;
    this.round = 0;
    this.left = 0;
    this.finish = null;
    this.next = () =>
      new Promise((resolve, reject) => {
        this.pending[this.current] = { resolve, reject };
        if (this.finish) this.advance();
      });
  }

  /** Settles the next task's promise, or ends the batch. */
  advance() {
    if (this.left-- === 0) {
      const finish = this.finish;
      this.finish = null;
      finish();
      return;
    }
    if (this.at === this.order.length) {
      this.order = this.orders[this.round++ % this.orders.length];
      this.at = 0;
    }
    this.current = this.order[this.at++];
    this.pending[this.current].resolve(null);
  }

  /** Runs `awaits` awaits of the tasks in `schedule`'s order. */
  batch(schedule, awaits) {
    if (this.schedule !== schedule || this.orders.length === 0 || this.orders[0].length !== this.pending.length) {
      // The orders of 64 rounds, made beforehand: a random one costs microseconds.
      this.orders = Array.from({ length: 64 }, (_, r) => order(schedule, this.pending.length, r));
    }
    this.schedule = schedule;
    this.left = awaits;
    return new Promise((resolve) => {
      this.finish = resolve;
      this.advance();
    });
  }
}

/** The floor: `task(size, awaits)` calls the Suspending `b.next` `awaits` times. */
function floorTask(calls) {
  // Locals: 0 size (unused), 1 awaits left.
  const body = new Code().block().loop();
  body.localGet(1).byte(0x45).byte(0x0d).u32(1); // i32.eqz; br_if 1: done
  body.call(0).byte(0x1a); // next(); drop
  body.localGet(1).i32Const(1).byte(0x6b).localSet(1); // awaits -= 1
  body.br(0).end().end();
  const bytes = encodeModule({
    types: [
      { params: [], results: [EXTERNREF] },
      { params: [I32, I32], results: [] },
    ],
    imports: [{ module: "b", name: "next", type: 0 }],
    funcs: [{ type: 1, locals: [], body }],
    exports: [{ name: "task", func: 1 }],
  });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    b: { next: new WebAssembly.Suspending(calls.next) },
  });
  return WebAssembly.promising(instance.exports.task);
}

/** How variant `name` starts a task: `task(size, awaits)` returns its promise. */
function taskOf(dir, name, calls) {
  if (name === "floor") return floorTask(calls);
  const gluePath = join(dir, "bindgen", name, "guest.js");
  if (name === "wbg") {
    // wasm-bindgen's glue wraps its jspi export in WebAssembly.promising itself.
    const { glue } = loadGlue(gluePath, { bench: { next: calls.next } });
    return glue.task;
  }
  const linked = link();
  const { instance } = loadGlue(gluePath, { jspi: linked.jspi, bench: { next: calls.next } });
  return linked.attach(instance).promising("task");
}

/** `n` tasks of `size` bytes of one variant, each waiting in `bench.next()`. */
async function startTasks({ task, calls }, n, size) {
  calls.pending = [];
  calls.order = [];
  calls.orders = [];
  calls.at = 0;
  calls.round = 0;
  calls.left = 0;
  const done = [];
  for (let i = 0; i < n; i++) {
    calls.current = i;
    const promise = task(size, FOREVER);
    if (!calls.pending[i]) {
      // It ended before its first await: that is the benchmark's bug, say why.
      return promise.then(
        () => Promise.reject(new Error(`task ${i} of ${n} (${size} bytes) ended at once`)),
        (error) => Promise.reject(new Error(`task ${i} of ${n} (${size} bytes) failed: ${error.message}`)),
      );
    }
    done.push(promise.catch(() => {}));
  }
  return { calls, done, best: Infinity };
}

/** ns per await of `n` tasks of `size` bytes settled in `schedule`'s order, for each
 * variant. The variants are timed in turns, a batch of 2000 awaits each, and each
 * keeps its fastest batch: on a shared machine the ratios between variants then
 * compare the code, not the neighbours' load. */
async function measure(variants, schedule, n, size) {
  const runs = [];
  for (const variant of variants) runs.push(await startTasks(variant, n, size));
  const awaits = 2000;
  for (const run of runs) await run.calls.batch(schedule, 10 * awaits); // warm up
  const start = process.hrtime.bigint();
  const budget = MEASURE_NS * BigInt(runs.length);
  for (let turn = 0; turn < 5 || process.hrtime.bigint() - start < budget; turn++) {
    for (const run of runs) {
      const began = process.hrtime.bigint();
      await run.calls.batch(schedule, awaits);
      run.best = Math.min(run.best, Number(process.hrtime.bigint() - began) / awaits);
    }
  }
  for (const run of runs) {
    for (const settlers of run.calls.pending) settlers.reject(new Error("the benchmark is over"));
    await Promise.all(run.done);
  }
  return runs.map((run) => run.best);
}

async function main([dir, filter]) {
  if (!dir) {
    process.stderr.write("usage: bench-peer.mjs DIR [FILTER]\n");
    process.exitCode = 2;
    return;
  }
  const built = join(dir, "bindgen");
  const names = [
    "floor",
    ...readdirSync(built)
      .filter((name) => existsSync(join(built, name, "guest.js")))
      .sort((a, b) => (a === "wbg" ? -1 : b === "wbg" ? 1 : a.localeCompare(b))),
  ];
  const variants = names.map((name) => {
    const calls = new Calls();
    return { name, task: taskOf(dir, name, calls), calls };
  });
  for (const schedule of SCHEDULES) {
    for (const n of TASKS) {
      for (const size of SIZES) {
        const row = `peer/${schedule}/${n}/${size}`;
        const chosen = variants.filter(({ name }) => !filter || `${row}/${name}`.includes(filter));
        if (chosen.length === 0) continue;
        const times = await measure(chosen, schedule, n, size);
        chosen.forEach(({ name }, i) => console.log(`time ${row}/${name} ${times[i].toFixed(1)}`));
      }
    }
  }
}

await main(process.argv.slice(2));
