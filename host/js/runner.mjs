// The Node runner: runs one guest module through one scenario and prints the
// transcript (docs/abi.md) on stdout.
//
//   node [--experimental-wasm-jspi] host/js/runner.mjs MODULE.wasm scenario.json
//   node [--experimental-wasm-jspi] host/js/runner.mjs GLUE.js scenario.json
//
// GLUE.js is wasm-bindgen output (`--target nodejs`) for a guest that uses
// wasm-bindgen; the glue instantiates the module, with this host's environment.
//
// Exit codes: 0 when the scenario ran (tasks that failed are part of the transcript),
// 1 when it could not finish (a wait on a task that can never settle), 2 for bad input
// (arguments, scenario, a module that does not load or lacks what the scenario names).
// Errors are one line on stderr.

import { readFileSync } from "node:fs";
import { VirtualClock, drainMicrotasks } from "./clock.mjs";
import { GuestFailure, formatError, formatValue, makeImports } from "./hostenv.mjs";
import { BadInput, checkExports, parseScenario } from "./scenario.mjs";
import { bindgenBridge, loadBindgen } from "./bindgen.mjs";

function readInput(path, what) {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new BadInput(`${path}: cannot read the ${what}: ${error.code ?? error.message}`);
  }
}

function checkJspi() {
  if (typeof WebAssembly.Suspending !== "function" || typeof WebAssembly.promising !== "function") {
    throw new BadInput(
      `Node ${process.version} has no JSPI (WebAssembly.Suspending / WebAssembly.promising); ` +
        "Node 24 needs --experimental-wasm-jspi, Node 26 has it on by default",
    );
  }
}

/** Lists the module's imports that the host environment lacks. A `jspi_*` function
 * among them means the guest library's own code is missing, not the host's. */
function checkImports(module, imports, name) {
  const missing = WebAssembly.Module.imports(module)
    .filter((imp) => !(imports[imp.module] && imp.name in imports[imp.module]))
    .map((imp) => `${imp.module}.${imp.name}`);
  if (missing.length > 0) {
    const hint = missing.some((qualified) => qualified.split(".").pop().startsWith("jspi_"))
      ? "jspi_* functions are the guest library's: was it linked with libjspi.a?"
      : "see docs/abi.md for the host environment";
    throw new BadInput(`${name}: imports what the host does not provide: ${missing.join(", ")} (${hint})`);
  }
}

/** The bytes every wasm module starts with: "\0asm". */
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Refuses a file that is not wasm at all, in the same words on every host (the
 * engines' own messages for it differ). */
function checkMagic(bytes, name) {
  if (bytes.length < WASM_MAGIC.length || WASM_MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw new BadInput(`${name}: not a wasm module: it does not start with the bytes 00 61 73 6d ("\\0asm")`);
  }
}

/** Compiles a plain guest module and checks that the host environment has its imports. */
function compile(wasmPath, imports) {
  const bytes = readInput(wasmPath, "module");
  checkMagic(bytes, wasmPath);
  let module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (error) {
    if (error instanceof BadInput) throw error;
    throw new BadInput(`${wasmPath}: not a valid wasm module: ${error.message}`);
  }
  checkImports(module, imports, wasmPath);
  return module;
}

/** A fresh instance of a compiled guest module. */
function instantiate(module, imports, wasmPath) {
  try {
    return new WebAssembly.Instance(module, imports);
  } catch (error) {
    throw new BadInput(`${wasmPath}: instantiation failed: ${formatError(error)}`);
  }
}

async function main(argv) {
  if (argv.length !== 2) {
    throw new BadInput("usage: runner.mjs MODULE.wasm SCENARIO.json");
  }
  const [wasmPath, scenarioPath] = argv;
  checkJspi();
  const scenario = parseScenario(readInput(scenarioPath, "scenario").toString("utf8"), scenarioPath);

  const clock = new VirtualClock();
  const log = (text) => process.stdout.write(`[t=${clock.now}] ${text}\n`);
  let module; // compiled once; a `reset` step instantiates it again
  let instance;
  const imports = makeImports({
    log,
    clock,
    memory: () => instance.exports.memory,
    start: (...args) => startNested(...args),
  });

  if (wasmPath.endsWith(".js")) {
    // wasm-bindgen glue: it instantiates the module itself (see bindgen.mjs).
    Object.assign(imports.jspi, bindgenBridge(() => instance));
    try {
      instance = loadBindgen(wasmPath, imports);
    } catch (error) {
      throw new BadInput(`${wasmPath}: loading the wasm-bindgen glue failed: ${formatError(error)}`);
    }
  } else {
    module = compile(wasmPath, imports);
    instance = instantiate(module, imports, wasmPath);
  }
  let exports = instance.exports;
  checkExports(scenario, exports, wasmPath, scenarioPath);
  if (module === undefined && scenario.steps.some((s) => s.kind === "reset")) {
    throw new BadInput(`${scenarioPath}: \`reset\` steps need a plain .wasm module, not wasm-bindgen glue`);
  }

  let tasks = new Map(); // name -> { settled }
  const describe = (step) => `${step.export}(${step.args.join(", ")})`;

  function start(step) {
    log(`start ${step.as} = ${describe(step)}`);
    const task = { settled: false };
    tasks.set(step.as, task);
    const settle = (text) => {
      task.settled = true;
      log(`${step.as} ${text}`);
    };
    let id;
    try {
      id = exports.jspi_task_enter();
    } catch (error) {
      settle(`rejected: ${formatError(error)}`);
      return;
    }
    let promise;
    try {
      promise = WebAssembly.promising(exports[step.export])(...step.args);
    } catch (error) {
      promise = Promise.reject(error);
    } finally {
      exports.jspi_task_leave(id);
    }
    promise.then(
      (value) => {
        exports.jspi_task_done(id);
        settle(value === undefined ? "fulfilled" : `fulfilled: ${formatValue(value)}`);
      },
      (error) => {
        exports.jspi_task_done(id);
        settle(`rejected: ${formatError(error)}`);
      },
    );
  }

  /** `env.start`: a task started from inside the guest, checked as a `start` step is
   * before anything runs; a problem fails the calling export. */
  function startNested(name, exportName, args) {
    if (tasks.has(name)) throw new GuestFailure(`env.start: task name \`${name}\` is used twice`);
    const fn = exports[exportName];
    if (typeof fn !== "function") {
      throw new GuestFailure(`env.start: the module has no exported function \`${exportName}\``);
    }
    if (fn.length !== args.length) {
      throw new GuestFailure(`env.start: \`${exportName}\` takes ${fn.length} argument(s), got ${args.length}`);
    }
    start({ as: name, export: exportName, args });
  }

  function call(step) {
    log(`call ${describe(step)}`);
    try {
      const value = exports[step.export](...step.args);
      log(`${describe(step)} returned${value === undefined ? "" : ` ${formatValue(value)}`}`);
    } catch (error) {
      log(`${describe(step)} failed: ${formatError(error)}`);
    }
  }

  /** Runs the event loop until `done()` holds or no timer is left. */
  async function runUntil(done) {
    await drainMicrotasks();
    while (!done() && clock.fireNext()) {
      await drainMicrotasks();
    }
  }

  /** The end of a run: the event loop until no timer is left, then what never settled. */
  async function finish() {
    await runUntil(() => false);
    for (const [name, task] of tasks) {
      if (!task.settled) log(`end: ${name} still pending`);
    }
  }

  for (const step of scenario.steps) {
    if (step.kind === "start") {
      start(step);
    } else if (step.kind === "call") {
      call(step);
    } else if (step.kind === "reset") {
      await finish();
      clock.restart();
      instance = instantiate(module, imports, wasmPath);
      exports = instance.exports;
      tasks = new Map();
      log(`reset ${step.label}`);
    } else {
      const task = tasks.get(step.task);
      await runUntil(() => task.settled);
      if (!task.settled) {
        process.stderr.write(
          `error: wait ${step.task}: the task can never settle (no timer is left at t=${clock.now})\n`,
        );
        return 1;
      }
    }
  }
  await finish();
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof BadInput)) throw error;
  // One line, whatever an engine's or a file's text holds.
  const line = error.message.split("\n").map((part) => part.trim()).filter(Boolean).join(" ");
  process.stderr.write(`error: ${line}\n`);
  process.exitCode = 2;
}
