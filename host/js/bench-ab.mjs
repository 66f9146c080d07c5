// A/B benchmark of the JS package's await: bench.c's `awaitLoop` (one task awaiting
// settled promises, plainly or into a buffer) through two checkouts of the package,
// side by side in one process, beside the raw-JSPI floor (a Suspending import called in
// a loop, no library). For before/after figures of a change to host/js/jspi-stack:
//
//   git archive REV host/js | tar -x -C /tmp/before
//   node host/js/bench-ab.mjs /tmp/before . target/bench [LEN] [TURNS]
//
// BEFORE and AFTER are project roots (each with host/js/jspi-stack); DIR holds
// none.wasm and lazy.wasm (built by `cargo xtask bench`); LEN is -1 for a plain await
// (the default) or a byte count for an await into a buffer. The rows are timed in
// turns, 20000 awaits each, and each keeps its fastest turn; prints ns per await and
// the ratio to the floor.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { VirtualClock } from "./clock.mjs";
import { makeImports } from "./hostenv.mjs";
import { Code, encodeModule, EXTERNREF, I32 } from "./jspi-stack/wasm.js";

const [before, after, dir, lenArg = "-1", turnsArg = "40"] = process.argv.slice(2);
if (!dir) {
  process.stderr.write("usage: bench-ab.mjs BEFORE AFTER DIR [LEN] [TURNS]\n");
  process.exit(2);
}
const len = Number(lenArg);
const AWAITS = 20000;

/** `awaitLoop` of the guest `file` instantiated with the package at `root`. */
async function loopOf(root, file) {
  const pkg = await import(resolve(root, "host/js/jspi-stack/index.js"));
  let guest;
  const imports = makeImports({ log: () => {}, clock: new VirtualClock(), memory: () => guest.memory });
  const ready = Promise.resolve(null);
  const chunk = Promise.resolve(new Uint8Array(Math.max(len, 0)));
  imports.bench = { next: () => ready, ready: () => ready, ready_bytes: () => chunk };
  guest = pkg.instantiateSync(readFileSync(resolve(dir, `${file}.wasm`)), imports);
  return guest.promising("awaitLoop");
}

/** The floor: `awaitLoop(n)` calls a Suspending import returning a settled promise. */
function floorLoop() {
  const body = new Code().block().loop();
  body.localGet(0).byte(0x45).byte(0x0d).u32(1); // i32.eqz; br_if 1: done
  body.call(0).byte(0x1a); // ready(); drop
  body.localGet(0).i32Const(1).byte(0x6b).localSet(0).br(0).end().end(); // n -= 1
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

const rows = [["floor", floorLoop()]];
for (const strategy of ["none", "lazy"]) {
  rows.push([`before/${strategy}`, await loopOf(before, strategy)]);
  rows.push([`after/${strategy}`, await loopOf(after, strategy)]);
}
const best = new Map();
for (const [, loop] of rows) await loop(2000, len); // warm up
for (let turn = 0; turn < Number(turnsArg); turn++) {
  for (const [name, loop] of rows) {
    const began = process.hrtime.bigint();
    await loop(AWAITS, len);
    const ns = Number(process.hrtime.bigint() - began) / AWAITS;
    best.set(name, Math.min(best.get(name) ?? Infinity, ns));
  }
}
const floor = best.get("floor");
console.log(`${len < 0 ? "plain await" : `await of ${len} bytes into a buffer`}, ns per await (fastest turn):`);
for (const [name, ns] of best) console.log(`${name.padEnd(12)} ${ns.toFixed(1).padStart(7)}  ${(ns / floor).toFixed(2)}x floor`);
