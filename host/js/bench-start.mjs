// Node benchmark of starting a task: start + finish of a task that never suspends,
// with N other tasks alive (suspended) meanwhile, three ways:
//
// - `promising`: the package's promising(name), a new JSPI call per task;
// - `pooled`: the package's spawn(name), a task on a pooled worker;
// - `floor`: raw JSPI without the guest library: WebAssembly.promising of an empty
//   export of a module generated here, whose N other tasks wait on a Suspending import.
//
//   node host/js/bench-start.mjs DIR [FILTER]
//
// DIR holds lazy.wasm (the benchmark guest, built by `cargo xtask bench`). Prints
// `time node/start/<N>/0/<variant> <ns per task>` lines, as bench.mjs does, and
// `time node/await/1/<len>/<variant> <ns per await>`: one task awaiting settled
// promises, plainly (`plain`) or `len` bytes into a stack buffer (`bytes`,
// jspi_await_bytes), the cost of an await into a buffer against a plain await, and
// the raw-JSPI floor of a plain await (`floor`: a Suspending import called in a loop,
// no library). The await rows are timed in turns in one process, each its fastest
// batch, so their ratios are side by side.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, encodeModule, EXTERNREF, I32 } from "./jspi-stack/wasm.js";
import { instantiateSync } from "./jspi-stack/index.js";
import { VirtualClock } from "./clock.mjs";
import { makeImports } from "./hostenv.mjs";

const ALIVE = [0, 16, 256, 1023];
const VARIANTS = ["floor", "promising", "pooled"];
const MEASURE_NS = 300_000_000n;

/** The benchmark guest with a bench.next whose promises the driver settles. */
function benchGuest(dir) {
  const waiting = [];
  let guest;
  const imports = makeImports({ log: () => {}, clock: new VirtualClock(), memory: () => guest.memory });
  const ready = Promise.resolve(null);
  const chunks = new Map();
  imports.bench = {
    next: () => new Promise((resolve) => waiting.push(resolve)),
    ready: () => ready,
    ready_bytes: (len) => {
      if (!chunks.has(len)) chunks.set(len, Promise.resolve(new Uint8Array(len)));
      return chunks.get(len);
    },
  };
  guest = instantiateSync(readFileSync(join(dir, "lazy.wasm")), imports);
  return { guest, waiting };
}

/** A module without the guest library: `hold` waits on a Suspending import, `task`
 * returns at once. */
function rawGuest() {
  const waiting = [];
  const bytes = encodeModule({
    types: [{ params: [], results: [] }, { params: [], results: [I32] }],
    imports: [{ module: "b", name: "next", type: 1 }],
    funcs: [
      { type: 0, locals: [], body: new Code().call(0).byte(0x1a) }, // call next; drop
      { type: 0, locals: [], body: new Code() },
    ],
    exports: [
      { name: "hold", func: 1 },
      { name: "task", func: 2 },
    ],
  });
  const next = new WebAssembly.Suspending(() => new Promise((resolve) => waiting.push(resolve)));
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { b: { next } });
  return { hold: WebAssembly.promising(exports.hold), task: WebAssembly.promising(exports.task), waiting };
}

/** How one variant holds N tasks and runs one task to its end. */
function variant(name, dir) {
  if (name === "floor") {
    const raw = rawGuest();
    return { hold: () => raw.hold(), run: () => raw.task(), waiting: raw.waiting };
  }
  const { guest, waiting } = benchGuest(dir);
  if (name === "promising") {
    const task = guest.promising("task");
    return { hold: () => task(64, 1), run: () => task(64, 0), waiting, guest };
  }
  return { hold: () => guest.spawn("task", 64, 1), run: () => guest.spawn("task", 64, 0), waiting, guest };
}

async function measure(name, alive, dir) {
  const v = variant(name, dir);
  const holders = Array.from({ length: alive }, () => v.hold());
  await new Promise((resolve) => setImmediate(resolve)); // pooled holders start later
  for (let i = 0; i < 1000; i++) await v.run(); // warm up
  let tasks = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < MEASURE_NS) {
    for (let i = 0; i < 100; i++) await v.run();
    tasks += 100;
    elapsed = process.hrtime.bigint() - start;
  }
  for (const resolve of v.waiting.splice(0)) resolve(null);
  await Promise.all(holders);
  return Number(elapsed) / tasks;
}

/** Raw JSPI without the guest library: `awaitLoop(n)` calls a Suspending import
 * that returns a settled promise `n` times, with no shadow stack handling at all. */
function rawAwaitLoop() {
  // Locals: 0 awaits left, 1 len (unused).
  const body = new Code().block().loop();
  body.localGet(0).byte(0x45).byte(0x0d).u32(1); // i32.eqz; br_if 1: done
  body.call(0).byte(0x1a); // ready(); drop
  body.localGet(0).i32Const(1).byte(0x6b).localSet(0); // n -= 1
  body.br(0).end().end();
  const bytes = encodeModule({
    types: [
      { params: [], results: [EXTERNREF] },
      { params: [I32, I32], results: [] },
    ],
    imports: [{ module: "b", name: "ready", type: 0 }],
    funcs: [{ type: 1, locals: [], body }],
    exports: [{ name: "awaitLoop", func: 1 }],
  });
  const ready = Promise.resolve(null);
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    b: { ready: new WebAssembly.Suspending(() => ready) },
  });
  return WebAssembly.promising(exports.awaitLoop);
}

/** ns per await in one task, for each of `rows` ([len, name]): plain (`len` -1),
 * `len` bytes into a buffer, or the raw-JSPI floor (`floor`). The rows are timed in
 * turns, a batch of awaits each, and each keeps its fastest batch: on a shared
 * machine the ratios between rows then compare the code, not the neighbours' load. */
async function awaitCosts(dir, rows) {
  const n = 20000;
  const loops = rows.map(([len, name]) => ({
    len,
    loop: name === "floor" ? rawAwaitLoop() : benchGuest(dir).guest.promising("awaitLoop"),
    best: Infinity,
  }));
  for (const { loop, len } of loops) await loop(2000, len); // warm up
  const start = process.hrtime.bigint();
  for (let turn = 0; turn < 5 || process.hrtime.bigint() - start < MEASURE_NS * BigInt(rows.length); turn++) {
    for (const row of loops) {
      const began = process.hrtime.bigint();
      await row.loop(n, row.len);
      row.best = Math.min(row.best, Number(process.hrtime.bigint() - began) / n);
    }
  }
  return loops.map((row) => row.best);
}

async function main([dir, filter]) {
  if (!dir) {
    process.stderr.write("usage: bench-start.mjs DIR [FILTER]\n");
    process.exitCode = 2;
    return;
  }
  for (const alive of ALIVE) {
    for (const name of VARIANTS) {
      const id = `node/start/${alive}/0/${name}`;
      if (filter && !id.includes(filter)) continue;
      console.log(`time ${id} ${(await measure(name, alive, dir)).toFixed(1)}`);
    }
  }
  const rows = [
    [-1, "floor"],
    [-1, "plain"],
    [64, "bytes"],
    [4096, "bytes"],
  ]
    .map(([len, name]) => [len, name, `node/await/1/${Math.max(len, 0)}/${name}`])
    .filter(([, , id]) => !filter || id.includes(filter));
  const costs = await awaitCosts(dir, rows);
  rows.forEach(([, , id], i) => console.log(`time ${id} ${costs[i].toFixed(1)}`));
}

await main(process.argv.slice(2));
