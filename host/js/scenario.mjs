// Parsing and checking scenario.json (docs/abi.md, "Scenario format"), word for word
// as the wasmtime runner's twin, scenario/src/parse.rs (the jspi-scenario crate). Every
// problem is found before anything runs and reported as one line naming the step.

import { scanJson } from "./jsonscan.mjs";

export class BadInput extends Error {}

/** Longest name a scenario may give (a task, an export, a reset label), in characters. */
export const MAX_NAME = 128;

/** Why `value` cannot be a name printed in transcripts, or null: names are non-empty
 * strings of at most MAX_NAME characters without control characters (a newline in
 * one would forge transcript lines). */
export function nameProblem(value) {
  if (typeof value !== "string" || value === "") return "must be a non-empty string";
  if ([...value].length > MAX_NAME) return `is longer than ${MAX_NAME} characters`;
  const control = value.match(/[\u0000-\u001f\u007f-\u009f]/);
  if (control) {
    const code = control[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    return `contains a control character (U+${code})`;
  }
  return null;
}

const STRATEGIES = ["none", "eager", "lazy", "adaptive"];
/** What a module may be built against: nothing (freestanding), or wasi-libc, whose
 * WASI preview 1 imports the host provides (docs/abi.md). */
const LIBCS = ["none", "wasi"];
const STEP_KEYS = {
  start: ["start", "args", "as"],
  spawn: ["spawn", "args", "as"],
  call: ["call", "args"],
  wait: ["wait"],
  reset: ["reset"],
};

function fail(where, message) {
  throw new BadInput(`${where}: ${message}`);
}

function checkArgs(where, args) {
  if (args === undefined) return [];
  if (!Array.isArray(args)) fail(where, "`args` must be an array of integers");
  args.forEach((arg, i) => {
    if (!Number.isInteger(arg) || arg < -(2 ** 31) || arg >= 2 ** 32) {
      fail(where, `argument ${i + 1} is not a 32-bit integer (-2147483648 to 4294967295)`);
    }
  });
  return args.map((arg) => arg | 0);
}

function checkName(where, key, value) {
  const problem = nameProblem(value);
  if (problem) fail(where, `\`${key}\` ${problem}`);
}

/** Parses the text of a scenario; `name` is how errors refer to the file. */
export function parseScenario(text, name) {
  const problem = scanJson(text);
  if (problem) fail(name, `malformed JSON at ${problem}`);
  let scenario;
  try {
    scenario = JSON.parse(text);
  } catch (error) {
    fail(name, `malformed JSON: ${error.message}`);
  }
  if (scenario === null || typeof scenario !== "object" || Array.isArray(scenario)) {
    fail(name, "must be a JSON object");
  }
  for (const key of Object.keys(scenario)) {
    if (!["description", "strategies", "libc", "steps"].includes(key)) {
      fail(name, `unknown key \`${key}\` (keys: description, strategies, libc, steps)`);
    }
  }
  if (scenario.libc !== undefined && !LIBCS.includes(scenario.libc)) {
    fail(name, `\`libc\` must be one of ${LIBCS.join(", ")}`);
  }
  if (scenario.description !== undefined && typeof scenario.description !== "string") {
    fail(name, "`description` must be a string");
  }
  if (scenario.strategies !== undefined) {
    const list = scenario.strategies;
    if (!Array.isArray(list) || list.length === 0 || !list.every((s) => STRATEGIES.includes(s))) {
      fail(name, `\`strategies\` must be a non-empty array of ${STRATEGIES.join(", ")}`);
    }
  }
  if (!Array.isArray(scenario.steps)) fail(name, "`steps` must be an array");

  let names = new Set();
  const steps = scenario.steps.map((step, index) => {
    const where = `${name}: step ${index + 1}`;
    if (step === null || typeof step !== "object" || Array.isArray(step)) {
      fail(where, "must be an object");
    }
    const kind = Object.keys(STEP_KEYS).find((k) => k in step);
    if (kind === undefined) fail(where, "needs one of `start`, `spawn`, `call`, `wait`, `reset`");
    for (const key of Object.keys(step)) {
      if (!STEP_KEYS[kind].includes(key)) {
        fail(where, `unknown key \`${key}\` in a \`${kind}\` step (keys: ${STEP_KEYS[kind].join(", ")})`);
      }
    }
    const target = step[kind];
    checkName(where, kind, target);
    if (kind === "start" || kind === "spawn") {
      if (step.as === undefined) fail(where, `a \`${kind}\` step needs \`as\`: the task's name`);
      checkName(where, "as", step.as);
      if (names.has(step.as)) fail(where, `task name \`${step.as}\` is used twice`);
      names.add(step.as);
      return { kind, export: target, args: checkArgs(where, step.args), as: step.as };
    }
    if (kind === "call") return { kind, export: target, args: checkArgs(where, step.args) };
    if (kind === "reset") {
      names = new Set(); // a fresh instance: earlier tasks are gone, their names free
      return { kind, label: target };
    }
    if (!names.has(target)) fail(where, `waits for \`${target}\`, which no earlier step starts`);
    return { kind, task: target };
  });
  return { description: scenario.description, libc: scenario.libc ?? "none", steps };
}

/** Checks that the module has what the scenario needs: the guest library if it
 * starts tasks, a memory, and each export it names, as a function taking that many
 * arguments. */
export function checkExports(scenario, guest, moduleName, scenarioName) {
  const exports = guest.exports;
  if (scenario.steps.some((s) => s.kind === "start" || s.kind === "spawn")) {
    try {
      guest.checkLinked();
    } catch (error) {
      fail(moduleName, error.message);
    }
  }
  if (!(exports.memory instanceof WebAssembly.Memory)) {
    fail(moduleName, "exports no `memory`");
  }
  scenario.steps.forEach((step, index) => {
    if (step.kind === "wait" || step.kind === "reset") return;
    const fn = exports[step.export];
    if (typeof fn !== "function") {
      const available = Object.keys(exports)
        .filter((k) => typeof exports[k] === "function" && !k.startsWith("jspi_"))
        .join(", ");
      fail(`${scenarioName}: step ${index + 1}`, `the module has no exported function \`${step.export}\` (it exports: ${available || "none"})`);
    }
    if (fn.length !== step.args.length) {
      fail(`${scenarioName}: step ${index + 1}`, `\`${step.export}\` takes ${fn.length} argument(s), the step gives ${step.args.length}`);
    }
  });
}
