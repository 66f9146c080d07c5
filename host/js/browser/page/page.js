// The page of `cargo xtask serve`: plays an example's scenario step by step with the
// shared core (../../play.mjs, the same code the browser hosts run), and after every
// transcript line and every turn of the event loop takes a snapshot of the guest
// library's own stack state (its read-only export `jspi_debug_tasks`, docs/abi.md)
// and draws it (picture.js). A suspended task's bytes are remembered when it
// suspends; a byte still in place that changes before it resumes is drawn red.

import { Player, BadInput, oneLine } from "../../play.mjs";
import { STAT_NAMES } from "../../jspi-stack/index.js";
import { draw } from "./picture.js";

const $ = (id) => document.getElementById(id);
const STATES = { 1: "running", 2: "suspended", 3: "running (below a nested task)" };
const PAUSE_MS = 250;

let examples = [];
let player = null;
let view = null; // what the snapshots remember across one load

async function read(path, what) {
  const response = await fetch(`/${path}`);
  if (!response.ok) throw new BadInput(`${path}: cannot read the ${what}: ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** A fresh record of names, colours and remembered bytes for one load. */
function newView() {
  return { names: new Map(), numbers: new Map(), pending: [], expected: new Map(), corrupted: new Map(), last: new Map(), buffers: new WeakMap(), seen: 0 };
}

/** The guest library's state now, with what the page remembers about each task. */
function snapshot() {
  const guest = player.guest;
  const exports = guest.exports;
  if (typeof exports.jspi_debug_tasks !== "function") return null;
  let buf = view.buffers.get(guest);
  if (buf === undefined) {
    // A page of its own for the records: no task's frames or saved bytes are there.
    buf = guest.memory.grow(1) * 65536;
    view.buffers.set(guest, buf);
  }
  const cap = 1000;
  const count = exports.jspi_debug_tasks(buf, cap);
  const memory = () => new Uint8Array(guest.memory.buffer);
  const words = new Uint32Array(guest.memory.buffer, buf, 4 + 6 * Math.min(count, cap));
  const [low, high, parked] = words;
  const tasks = [];
  for (let i = 0; i < Math.min(count, cap); i++) {
    const [id, state, start, stop, evictedHi, block] = words.subarray(4 + 6 * i, 10 + 6 * i);
    if (!view.names.has(id)) {
      view.names.set(id, view.pending.shift() ?? `task ${id & 0xffff}`);
      view.numbers.set(id, view.seen++);
    }
    const bytes = memory();
    const saved = block ? bytes.slice(block, block + Math.max(0, evictedHi - start)) : new Uint8Array(0);
    const task = {
      id, name: view.names.get(id), number: view.numbers.get(id), state: STATES[state] ?? String(state),
      start, stop, evictedHi: state === 2 ? evictedHi : start, block, saved, corrupted: new Set(),
    };
    const key = `${id}:${start}`;
    if (state === 2) {
      // Remember what a suspended task should find when it resumes: saved bytes from
      // its block, the rest from memory.
      if (!view.expected.has(id) || view.expected.get(id).key !== key) {
        const content = new Uint8Array(stop - start);
        content.set(saved.subarray(0, content.length));
        content.set(bytes.subarray(start + saved.length, stop), saved.length);
        view.expected.set(id, { key, content });
      }
      const { content } = view.expected.get(id);
      for (let addr = task.evictedHi; addr < stop; addr++) {
        if (bytes[addr] !== content[addr - start]) task.corrupted.add(addr);
      }
      view.corrupted.set(id, Math.max(view.corrupted.get(id) ?? 0, task.corrupted.size));
    } else {
      view.expected.delete(id);
    }
    tasks.push(task);
  }
  const stat = exports.jspi_stat;
  const stats = Object.fromEntries(STAT_NAMES.map((name, i) => [name, Number(stat(i))]));
  return { low, high, parked, tasks, stats, byteAt: (addr) => memory()[addr] };
}

/** Stack events since the last snapshot: tasks entered and gone, bytes saved and
 * restored. */
function events(snap) {
  const out = [];
  const now = new Map(snap.tasks.map((t) => [t.id, t]));
  for (const task of snap.tasks) {
    const before = view.last.get(task.id);
    const saved = task.state === "suspended" ? task.evictedHi - task.start : 0;
    const savedBefore = before && before.state === "suspended" ? before.evictedHi - before.start : 0;
    if (!before) out.push(`${task.name} entered: its frames begin at ${task.stop}`);
    if (before && before.state !== task.state) out.push(`${task.name} ${task.state}${task.state === "suspended" ? ` at ${task.start}` : ""}`);
    if (saved > savedBefore) out.push(`${task.name}: ${saved - savedBefore} bytes saved to heap block ${task.block} (evicted)`);
    if (before && savedBefore > 0 && task.state !== "suspended") out.push(`${task.name}: ${savedBefore} bytes restored from its heap block`);
    if (task.corrupted.size > 0 && !(before && before.corrupted.size >= task.corrupted.size)) {
      out.push(`${task.name}: ${task.corrupted.size} of its bytes overwritten while suspended`);
    }
  }
  for (const [id, task] of view.last) if (!now.has(id)) out.push(`${task.name} done: its record is free`);
  view.last = now;
  return out;
}

function show(snap) {
  if (!snap) return;
  draw($("stack"), snap);
  const t = player.clock.now;
  for (const text of events(snap)) {
    const li = document.createElement("li");
    li.textContent = `[t=${t}] ${text}`;
    $("events").append(li);
  }
  $("events").scrollTop = $("events").scrollHeight;
  const body = $("tasks").querySelector("tbody");
  body.replaceChildren();
  for (const task of snap.tasks) {
    const tr = document.createElement("tr");
    const saved = task.state === "suspended" ? task.evictedHi - task.start : 0;
    const over = view.corrupted.get(task.id) ?? 0;
    tr.className = `${task.state.startsWith("running") ? "running" : ""} ${over ? "corrupted" : ""}`;
    Object.assign(tr.dataset, { name: task.name, state: task.state, start: task.start, stop: task.stop, saved, overwritten: task.corrupted.size });
    for (const cell of [task.name, task.state, `[${task.start}, ${task.stop})`, task.stop - task.start - saved, saved, task.corrupted.size]) {
      const td = document.createElement("td");
      td.textContent = String(cell);
      tr.append(td);
    }
    body.append(tr);
  }
  const s = snap.stats;
  $("status").textContent = `step ${player.next} of ${player.steps.length}, t=${t}; saved ${s.bytesSaved} B, restored ${s.bytesRestored} B, evictions ${s.evictions}`;
}

function describeStep(step) {
  if (!step) return "(the scenario is over)";
  const args = (step.args ?? []).join(", ");
  if (step.kind === "start" || step.kind === "spawn") return `${step.kind} ${step.as} = ${step.export}(${args})`;
  if (step.kind === "call") return `call ${step.export}(${args})`;
  if (step.kind === "wait") return `wait ${step.task}: run the event loop until it settles`;
  return `reset ${step.label}`;
}

let pauseMs = PAUSE_MS;
let pausing = false;
const tick = () => {
  show(snapshot());
  return pausing ? new Promise((done) => setTimeout(done, pauseMs)) : undefined;
};

function print(line) {
  const match = /^\[t=\d+\] (?:start|spawn) (\S+) = /.exec(line);
  if (match) view.pending.push(match[1]);
  const settled = /^\[t=\d+\] (\S+) (?:fulfilled|rejected)/.exec(line);
  if (settled) view.pending = view.pending.filter((name) => name !== settled[1]);
  $("transcript").textContent += `${line}\n`;
  $("transcript").scrollTop = $("transcript").scrollHeight;
  if (player) show(snapshot());
}

async function load() {
  const example = examples.find((e) => e.name === $("example").value);
  const strategy = $("strategy").value;
  $("transcript").textContent = "";
  $("events").replaceChildren();
  view = newView();
  player = null;
  try {
    player = await Player.load({ modulePath: example.modules[strategy], scenarioPath: example.scenario, read, print, tick });
  } catch (error) {
    $("status").textContent = `error: ${oneLine(error.message)}`;
    return;
  }
  document.body.dataset.loaded = `${example.name}/${strategy}`;
  document.body.dataset.done = "false";
  $("next").textContent = describeStep(player.steps[0]);
  show(snapshot());
  $("step").disabled = $("run").disabled = false;
}

async function play(all) {
  $("step").disabled = $("run").disabled = true;
  pausing = pauseMs > 0;
  do {
    const stuck = await player.step();
    if (stuck) $("status").textContent = `error: ${stuck}`;
    $("next").textContent = describeStep(player.steps[player.next]);
  } while (all && !player.done);
  if (player.done) {
    await player.finish();
    document.body.dataset.done = "true";
    $("next").textContent = describeStep(null);
  } else {
    $("step").disabled = $("run").disabled = false;
  }
  pausing = false;
}

/** For the page test: no pauses. */
window.jspiPage = { fast: () => { pauseMs = 0; } };

function fillStrategies() {
  const example = examples.find((e) => e.name === $("example").value);
  $("strategy").replaceChildren(...example.strategies.map((s) => new Option(s, s)));
  $("description").textContent = example.description ?? "";
}

async function main() {
  const response = await fetch("/target/serve/examples.json");
  if (!response.ok) {
    $("status").textContent = "no target/serve/examples.json: start the page with cargo xtask serve";
    return;
  }
  examples = await response.json();
  $("example").replaceChildren(...examples.map((e) => new Option(e.name, e.name)));
  const wanted = new URLSearchParams(location.search);
  if (wanted.has("example")) $("example").value = wanted.get("example");
  $("example").onchange = fillStrategies;
  fillStrategies();
  if (wanted.has("strategy")) $("strategy").value = wanted.get("strategy");
  $("load").onclick = load;
  $("step").onclick = () => play(false);
  $("run").onclick = () => play(true);
  $("status").textContent = "pick an example and a strategy, then load";
  document.body.dataset.ready = "true";
}

main();
