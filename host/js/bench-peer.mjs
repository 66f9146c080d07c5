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
// schedule's order, each time waiting until that task awaits again, so the time is
// the switch and the bookkeeping, not the event loop. The tasks end by a rejection.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { link } from "./jspi-stack/index.js";
import { Code, EXTERNREF, I32, encodeModule } from "./jspi-stack/wasm.js";
import { loadGlue } from "./bindgen.mjs";

const SCHEDULES = ["lifo", "fifo", "random"];
const TASKS = [1, 2, 16];
const SIZES = [64, 1024, 16 * 1024, 64 * 1024];
const MEASURE_NS = 150_000_000n;
const FOREVER = 0x7fffffff;

function order(schedule, n, round) {
  const result = [...Array(n).keys()];
  if (schedule === "lifo") return result.reverse();
  if (schedule === "fifo") return result;
  // The same seeded xorshift shuffle as bench.mjs and the Rust benchmarks.
  const mask = (1n << 64n) - 1n;
  let x = (0x9e3779b97f4a7c15n ^ ((BigInt(round) * 0x2545f4914f6cdd1dn) & mask)) & mask;
  for (let i = n - 1; i >= 1; i--) {
    x ^= (x << 13n) & mask;
    x ^= x >> 7n;
    x ^= (x << 17n) & mask;
    const j = Number(x % BigInt(i + 1));
    [result[i], result[j]] = [result[j], result[i]];
  }
  return result;
}

/** `bench.next`'s promises, each handed to whoever waits for the next call. */
class Calls {
  constructor() {
    this.onNext = null;
    this.next = () =>
      new Promise((resolve, reject) => {
        const waiter = this.onNext;
        this.onNext = null;
        waiter({ resolve, reject });
      });
  }

  /** The settlers of the next `bench.next()` call, once it is made. */
  arrival() {
    return new Promise((resolve) => {
      this.onNext = resolve;
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

/** ns per await of `n` tasks of `size` bytes settled in `schedule`'s order. */
async function measure(task, calls, schedule, n, size) {
  const done = [];
  const pending = [];
  for (let i = 0; i < n; i++) {
    const arrived = calls.arrival();
    done.push(task(size, FOREVER).catch(() => {}));
    pending.push(await arrived);
  }
  const round = async (r) => {
    for (const i of order(schedule, n, r)) {
      const arrived = calls.arrival();
      pending[i].resolve(null);
      pending[i] = await arrived;
    }
  };
  let r = 0;
  for (; r < 200; r++) await round(r); // warm up
  let awaits = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < MEASURE_NS) {
    for (let k = 0; k < 20; k++) await round(r++);
    awaits += 20 * n;
    elapsed = process.hrtime.bigint() - start;
  }
  for (const settlers of pending) settlers.reject(new Error("the benchmark is over"));
  await Promise.all(done);
  return Number(elapsed) / awaits;
}

async function main([dir, filter]) {
  if (!dir) {
    process.stderr.write("usage: bench-peer.mjs DIR [FILTER]\n");
    process.exitCode = 2;
    return;
  }
  const built = join(dir, "bindgen");
  const variants = [
    "floor",
    ...readdirSync(built)
      .filter((name) => existsSync(join(built, name, "guest.js")))
      .sort((a, b) => (a === "wbg" ? -1 : b === "wbg" ? 1 : a.localeCompare(b))),
  ];
  const tasks = new Map();
  for (const schedule of SCHEDULES) {
    for (const n of TASKS) {
      for (const size of SIZES) {
        for (const name of variants) {
          const id = `peer/${schedule}/${n}/${size}/${name}`;
          if (filter && !id.includes(filter)) continue;
          if (!tasks.has(name)) {
            const calls = new Calls();
            tasks.set(name, { task: taskOf(dir, name, calls), calls });
          }
          const { task, calls } = tasks.get(name);
          console.log(`time ${id} ${(await measure(task, calls, schedule, n, size)).toFixed(1)}`);
        }
      }
    }
  }
}

await main(process.argv.slice(2));
