// 1,000,000 pooled tasks through one instance, 64 alive at a time: the process's
// resident memory and address space must stay flat (within 10%) between task 50,000
// and task 200,000 and between task 250,000 and task 1,000,000, and every task must get
// its frame back intact.
//
//   node host/js/test/pool-memory.mjs MODULE.wasm     (06-lazy-fix, any strategy)
//
// Prints the figures; exits 1 with a one-line reason when a check fails.

import { readFileSync } from "node:fs";
import { instantiateSync } from "../jspi-stack/index.js";
import { VirtualClock, drainMicrotasks } from "../clock.mjs";
import { makeImports } from "../hostenv.mjs";

const TOTAL = 1_000_000;
/** The windows whose two ends are compared, in tasks started. */
const WINDOWS = [
  [50_000, 200_000],
  [250_000, TOTAL],
];
const BATCH = 64; // 1,000,000 is a multiple of it
const MARGIN = 0.1;

/** VmRSS and VmSize of this process, in KiB. */
function memory() {
  const status = readFileSync("/proc/self/status", "utf8");
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))[1]);
  return { rss: field("VmRSS"), size: field("VmSize") };
}

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

const clock = new VirtualClock();
let guest;
let resumed = 0;
let wrong = null;
const imports = makeImports({
  clock,
  memory: () => guest.memory,
  log: (text) => {
    resumed += 1;
    const id = (resumed - 1) % 10;
    const expected = `C: resumed: holder ${id} keeps this buffer across its await`;
    if (text !== expected && wrong === null) wrong = `task ${resumed}: ${JSON.stringify(text)}`;
  },
});
guest = instantiateSync(readFileSync(process.argv[2]), imports);

let started = 0;
const readings = new Map(); // task count -> memory()
while (started < TOTAL) {
  const batch = [];
  for (let i = 0; i < BATCH; i++) batch.push(guest.spawn("holder", started++ % 10, 1));
  await drainMicrotasks();
  while (clock.fireNext()) await drainMicrotasks();
  await Promise.all(batch);
  for (const mark of WINDOWS.flat()) {
    if (!readings.has(mark) && started >= mark) readings.set(mark, memory());
  }
}
if (wrong !== null) fail(`a pooled task lost its frame: ${wrong}`);
if (resumed !== TOTAL) fail(`${resumed} of ${TOTAL} tasks resumed`);
const stats = guest.stats();
const shown = [...readings].map(([n, m]) => `at task ${n}: RSS ${m.rss} KiB, VmSize ${m.size} KiB`);
console.log(`pooled tasks: ${TOTAL} in batches of ${BATCH}, ${guest.workers} workers; ${shown.join("; ")}; live tasks ${stats.liveTasks}`);
for (const [first, last] of WINDOWS) {
  const [at, end] = [readings.get(first), readings.get(last)];
  for (const [name, before, after] of [
    ["RSS", at.rss, end.rss],
    ["VmSize", at.size, end.size],
  ]) {
    if (after > before * (1 + MARGIN)) {
      fail(`${name} grew from ${before} KiB at task ${first} to ${after} KiB at task ${last} (more than ${MARGIN * 100}%)`);
    }
  }
}
if (stats.liveTasks !== 0) fail(`${stats.liveTasks} tasks still alive at the end`);
if (stats.tasksEntered !== TOTAL) fail(`the library entered ${stats.tasksEntered} tasks, not ${TOTAL}`);
