// The Node runner: runs one guest module through one scenario and prints the
// transcript (docs/abi.md) on stdout. It is a user of the jspi-stack package
// (jspi-stack/), which owns the guest library's protocol; this file owns only the
// scenario's steps, the virtual clock and the transcript.
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
import { compileSync, hasJspi, instantiateSync, link } from "./jspi-stack/index.js";
import { VirtualClock, drainMicrotasks } from "./clock.mjs";
import { EnvFailure, formatError, formatValue, makeImports } from "./hostenv.mjs";
import { BadInput, checkExports, nameProblem, parseScenario } from "./scenario.mjs";
import { loadBindgen } from "./bindgen.mjs";

/** Longest error line, in characters after `error: `. */
const MAX_ERROR = 300;

function readInput(path, what) {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new BadInput(`${path}: cannot read the ${what}: ${error.code ?? error.message}`);
  }
}

function checkJspi() {
  if (!hasJspi()) {
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
    .filter((imp) => imp.module !== "jspi" && !(imports[imp.module] && imp.name in imports[imp.module]))
    .map((imp) => `${imp.module}.${imp.name}`);
  if (missing.length > 0) {
    const hint = missing.some((qualified) => qualified.split(".").pop().startsWith("jspi_"))
      ? "jspi_* functions are the guest library's: was it linked with libjspi.a?"
      : "see docs/abi.md for the host environment";
    throw new BadInput(`${name}: imports what the host does not provide: ${missing.join(", ")} (${hint})`);
  }
}

/** Compiles a plain guest module and checks that the host environment has its imports. */
function compile(wasmPath, imports) {
  const bytes = readInput(wasmPath, "module");
  let module;
  try {
    module = compileSync(bytes);
  } catch (error) {
    const message = error instanceof WebAssembly.CompileError ? `not a valid wasm module: ${error.message}` : error.message;
    throw new BadInput(`${wasmPath}: ${message}`);
  }
  checkImports(module, imports, wasmPath);
  return module;
}

/** A fresh guest instance of a compiled module. */
function instantiate(module, imports, wasmPath) {
  try {
    return instantiateSync(module, imports);
  } catch (error) {
    throw new BadInput(`${wasmPath}: instantiation failed: ${formatError(error)}`);
  }
}

/** One run of a scenario: the guest, the tasks started so far, the clock. */
class Run {
  constructor(clock, log) {
    this.clock = clock;
    this.log = log;
    this.guest = null;
    this.tasks = new Map(); // name -> { settled }
  }

  /** Registers task `name` and returns what settles it. */
  track(name) {
    const task = { settled: false };
    this.tasks.set(name, task);
    return (text) => {
      task.settled = true;
      this.log(`${name} ${text}`);
    };
  }

  /** Reports how `promise`, the task's, settles. */
  report(promise, settle) {
    promise.then(
      (value) => settle(value === undefined ? "fulfilled" : `fulfilled: ${formatValue(value)}`),
      (error) => settle(`rejected: ${formatError(error)}`),
    );
  }

  /** A `start` step, or `env.start`: a promising task, running now until it first
   * suspends or ends. */
  start(name, exportName, args) {
    this.log(`start ${name} = ${describe(exportName, args)}`);
    const settle = this.track(name);
    this.report(this.guest.promising(exportName)(...args), settle);
  }

  /** A `spawn` step: a pooled task, starting in a later microtask. */
  spawn(name, exportName, args) {
    this.log(`spawn ${name} = ${describe(exportName, args)}`);
    const settle = this.track(name);
    this.report(this.guest.spawn(exportName, ...args), settle);
  }

  /** `env.start`: a task started from inside the guest, checked as a `start` step is
   * before anything runs; a problem fails the calling export. */
  startNested(name, exportName, args) {
    for (const [what, value] of [
      ["task name", name],
      ["export name", exportName],
    ]) {
      const problem = nameProblem(value);
      if (problem) throw new EnvFailure(`env.start: the ${what} ${problem}`);
    }
    if (this.tasks.has(name)) throw new EnvFailure(`env.start: task name \`${name}\` is used twice`);
    const fn = this.guest.exports[exportName];
    if (typeof fn !== "function") {
      throw new EnvFailure(`env.start: the module has no exported function \`${exportName}\``);
    }
    if (fn.length !== args.length) {
      throw new EnvFailure(`env.start: \`${exportName}\` takes ${fn.length} argument(s), got ${args.length}`);
    }
    this.start(name, exportName, args);
  }

  /** A `call` step: a plain call. */
  call(exportName, args) {
    const call = describe(exportName, args);
    this.log(`call ${call}`);
    try {
      const value = this.guest.call(exportName, ...args);
      this.log(`${call} returned${value === undefined ? "" : ` ${formatValue(value)}`}`);
    } catch (error) {
      this.log(`${call} failed: ${formatError(error)}`);
    }
  }

  /** Runs the event loop until `done()` holds or no timer is left. */
  async runUntil(done) {
    await drainMicrotasks();
    while (!done() && this.clock.fireNext()) {
      await drainMicrotasks();
    }
  }

  /** The end of a run: the event loop until no timer is left, then what never settled. */
  async finish() {
    await this.runUntil(() => false);
    for (const [name, task] of this.tasks) {
      if (!task.settled) this.log(`end: ${name} still pending`);
    }
  }
}

const describe = (exportName, args) => `${exportName}(${args.join(", ")})`;

/** The guest for `path`: a plain module (compiled once, instantiated per run) or
 * wasm-bindgen glue (which instantiates itself, once). */
function loadGuest(path, imports, scenarioPath, usesReset) {
  if (!path.endsWith(".js")) {
    const module = compile(path, imports);
    return { guest: instantiate(module, imports, path), again: () => instantiate(module, imports, path) };
  }
  if (usesReset) {
    throw new BadInput(`${scenarioPath}: \`reset\` steps need a plain .wasm module, not wasm-bindgen glue`);
  }
  const linked = link();
  let instance;
  try {
    instance = loadBindgen(path, { ...imports, jspi: linked.jspi });
  } catch (error) {
    throw new BadInput(`${path}: loading the wasm-bindgen glue failed: ${formatError(error)}`);
  }
  return { guest: linked.attach(instance), again: null };
}

async function main(argv) {
  if (argv.length !== 2) {
    throw new BadInput("usage: runner.mjs MODULE.wasm SCENARIO.json");
  }
  const [wasmPath, scenarioPath] = argv;
  checkJspi();
  const scenario = parseScenario(readInput(scenarioPath, "scenario").toString("utf8"), scenarioPath);

  const clock = new VirtualClock();
  let run = new Run(clock, (text) => process.stdout.write(`[t=${clock.now}] ${text}\n`));
  const imports = makeImports({
    log: (text) => run.log(text),
    clock,
    memory: () => run.guest.memory,
    start: (...args) => run.startNested(...args),
    currentTask: () => run.guest.currentTask(),
    callPlain: (exportName, arg) => {
      if (typeof run.guest.exports[exportName] !== "function") {
        throw new EnvFailure(`env.call_plain: the module has no exported function \`${exportName}\``);
      }
      run.guest.call(exportName, arg);
    },
  });
  const loaded = loadGuest(wasmPath, imports, scenarioPath, scenario.steps.some((s) => s.kind === "reset"));
  run.guest = loaded.guest;
  checkExports(scenario, run.guest, wasmPath, scenarioPath);

  for (const step of scenario.steps) {
    if (step.kind === "start") {
      run.start(step.as, step.export, step.args);
    } else if (step.kind === "spawn") {
      run.spawn(step.as, step.export, step.args);
    } else if (step.kind === "call") {
      run.call(step.export, step.args);
    } else if (step.kind === "reset") {
      await run.finish();
      clock.restart();
      const log = run.log;
      run = new Run(clock, log);
      run.guest = loaded.again();
      log(`reset ${step.label}`);
    } else {
      const task = run.tasks.get(step.task);
      await run.runUntil(() => task.settled);
      if (!task.settled) {
        process.stderr.write(
          `error: wait ${step.task}: the task can never settle (no timer is left at t=${clock.now})\n`,
        );
        return 1;
      }
    }
  }
  await run.finish();
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof BadInput)) throw error;
  // One line of at most MAX_ERROR characters, whatever an engine's or a file's text
  // holds.
  const line = error.message.split("\n").map((part) => part.trim()).filter(Boolean).join(" ");
  const chars = [...line];
  const shown = chars.length > MAX_ERROR ? `${chars.slice(0, MAX_ERROR - 3).join("")}...` : line;
  process.stderr.write(`error: ${shown}\n`);
  process.exitCode = 2;
}
