// The scenario-running core shared by the Node runner (runner.mjs) and the browser
// hosts' page (browser/run.js): it parses a scenario, loads the guest through the
// jspi-stack package, checks the module against the scenario, and plays the steps on
// the virtual clock, printing the transcript (docs/abi.md). It imports nothing from
// `node:`, so the same code, and so the same transcript, runs in every engine.
//
// What differs between hosts is given in: how a file is read (`read`), how
// wasm-bindgen glue is loaded (`loadGlue`, Node only), where lines go (`print` for
// the transcript, `printError` for the one error line).
//
// Exit codes, as the runners report them: 0 when the scenario ran (tasks that failed
// are part of the transcript), 1 when it could not finish (a wait on a task that can
// never settle), 2 for bad input (a scenario, a module that does not load or lacks
// what the scenario names), with one `error: ...` line.

import { compileSync, instantiateSync, link } from "./jspi-stack/index.js";
import { VirtualClock, drainMicrotasks } from "./clock.mjs";
import { EnvFailure, formatError, formatValue, makeImports, wasiStdio } from "./hostenv.mjs";
import { BadInput, checkExports, nameProblem, parseScenario } from "./scenario.mjs";

export { BadInput };

/** Lists the module's imports that the host environment lacks. A `jspi_*` function
 * among them means the guest library's own code is missing, not the host's. */
function checkImports(module, imports, name) {
  const missing = WebAssembly.Module.imports(module)
    .filter((imp) => imp.module !== "jspi" && !(imports[imp.module] && imp.name in imports[imp.module]))
    .map((imp) => `${imp.module}.${imp.name}`);
  if (missing.length > 0) {
    const hint = missing.some((qualified) => qualified.split(".").pop().startsWith("jspi_"))
      ? "jspi_* functions are the guest library's: was it linked with libjspi.a?"
      : missing.some((qualified) => qualified.startsWith(`${WASI}.`))
        ? 'a module built against wasi-libc needs "libc": "wasi" in its scenario'
        : "see docs/abi.md for the host environment";
    throw new BadInput(`${name}: imports what the host does not provide: ${missing.join(", ")} (${hint})`);
  }
}

/** Compiles a plain guest module from its bytes and checks that the host environment
 * has its imports. */
function compile(bytes, imports, wasmPath) {
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

/** WASI preview 1's import module. */
const WASI = "wasi_snapshot_preview1";

/**
 * A fresh instance of a module built against wasi-libc: the host's WASI (`makeWasi()`
 * gives `{imports, initialize(instance)}`, a new context each time) under the
 * environment's own stdio (`wasiStdio`), then the reactor's `_initialize`. Returns
 * the guest and the stdio's `flush`.
 */
function instantiateWasi(module, imports, wasmPath, makeWasi, log) {
  const wasi = makeWasi();
  let memory = null;
  const stdio = wasiStdio({ log, memory: () => memory });
  const guest = instantiate(module, { ...imports, [WASI]: { ...wasi.imports, ...stdio.imports } }, wasmPath);
  memory = guest.exports.memory;
  if (!(memory instanceof WebAssembly.Memory)) throw new BadInput(`${wasmPath}: exports no \`memory\``);
  try {
    wasi.initialize(guest.instance);
  } catch (error) {
    throw new BadInput(`${wasmPath}: the guest's _initialize failed: ${formatError(error)}`);
  }
  return { guest, flush: stdio.flush };
}

/** One run of a scenario: the guest, the tasks started so far, the clock. */
class Run {
  constructor(clock, log) {
    this.clock = clock;
    this.log = log;
    this.guest = null;
    this.tasks = new Map(); // name -> { settled }
    this.flushStdio = () => {}; // a wasi-libc guest's last partial lines
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

  /** Runs the event loop until `done()` holds or no timer is left; `tick()` runs
   * after every drain (the page redraws there). */
  async runUntil(done, tick) {
    await drainMicrotasks();
    let paused = tick();
    if (paused) await paused;
    while (!done() && this.clock.fireNext()) {
      await drainMicrotasks();
      paused = tick();
      if (paused) await paused;
    }
  }

  /** The end of a run: the event loop until no timer is left, then what never settled. */
  async finish(tick) {
    await this.runUntil(() => false, tick);
    this.flushStdio();
    for (const [name, task] of this.tasks) {
      if (!task.settled) this.log(`end: ${name} still pending`);
    }
  }
}

const describe = (exportName, args) => `${exportName}(${args.join(", ")})`;


const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A scenario loaded and checked, ready to play step by step (the page) or at once
 * (`play`). Make one with `Player.load`; every problem with the input is a BadInput
 * thrown from there, before anything runs.
 */
export class Player {
  /**
   * `modulePath` and `scenarioPath` name the files as errors show them;
   * `read(path, what)` gives a file's bytes (a Uint8Array) or throws a BadInput;
   * `loadGlue(path, imports)` (Node only) runs wasm-bindgen glue with the host's
   * import modules and returns the instance it made; `makeWasi()` (hosts with WASI) gives a
   * fresh WASI preview 1 context as `{imports, initialize(instance)}`, for a scenario
   * with `"libc": "wasi"`; `print(line)` takes each
   * transcript line (`[t=<ms>] <text>`, no newline); `tick()`, if given, runs after
   * every step's microtasks have drained and after every timer (if it returns a
   * promise, the run waits for it: the page animates so).
   */
  static async load({ modulePath, scenarioPath, read, loadGlue, makeWasi, print, tick = () => {} }) {
    const player = new Player();
    player.tick = tick;
    player.scenario = parseScenario(utf8.decode(await read(scenarioPath, "scenario")), scenarioPath);
    const clock = new VirtualClock();
    player.clock = clock;
    player.run = new Run(clock, (text) => print(`[t=${clock.now}] ${text}`));
    const imports = makeImports({
      log: (text) => player.run.log(text),
      clock,
      memory: () => player.run.guest.memory,
      start: (...args) => player.run.startNested(...args),
      currentTask: () => player.run.guest.currentTask(),
      callPlain: (exportName, arg) => {
        const guest = player.run.guest;
        if (typeof guest.exports[exportName] !== "function") {
          throw new EnvFailure(`env.call_plain: the module has no exported function \`${exportName}\``);
        }
        guest.call(exportName, arg);
      },
    });
    player.imports = imports;
    const usesReset = player.scenario.steps.some((s) => s.kind === "reset");
    if (player.scenario.libc === "wasi") {
      if (!makeWasi) {
        throw new BadInput(`${scenarioPath}: "libc": "wasi" needs a host with WASI preview 1 (Node or wasmtime); this one has none`);
      }
      if (modulePath.endsWith(".js")) {
        throw new BadInput(`${scenarioPath}: "libc": "wasi" needs a plain .wasm module, not wasm-bindgen glue`);
      }
      const module = compile(await read(modulePath, "module"), { ...imports, [WASI]: makeWasi().imports }, modulePath);
      player.again = () => {
        const { guest, flush } = instantiateWasi(module, imports, modulePath, makeWasi, (text) => player.run.log(text));
        player.run.flushStdio = flush;
        return guest;
      };
      player.run.guest = player.again();
    } else if (!modulePath.endsWith(".js")) {
      const module = compile(await read(modulePath, "module"), imports, modulePath);
      player.again = () => instantiate(module, imports, modulePath);
      player.run.guest = player.again();
    } else {
      if (!loadGlue) {
        throw new BadInput(`${modulePath}: wasm-bindgen glue (--target nodejs) runs on Node only`);
      }
      if (usesReset) {
        throw new BadInput(`${scenarioPath}: \`reset\` steps need a plain .wasm module, not wasm-bindgen glue`);
      }
      const linked = link();
      let instance;
      try {
        instance = loadGlue(modulePath, { ...imports, jspi: linked.jspi });
      } catch (error) {
        throw new BadInput(`${modulePath}: loading the wasm-bindgen glue failed: ${formatError(error)}`);
      }
      player.run.guest = linked.attach(instance);
      player.again = null;
    }
    checkExports(player.scenario, player.run.guest, modulePath, scenarioPath);
    player.next = 0;
    return player;
  }

  /** The guest of the current run (a `reset` step makes a new one). */
  get guest() {
    return this.run.guest;
  }

  /** The steps, as parsed (`{kind, ...}`). */
  get steps() {
    return this.scenario.steps;
  }

  /** Whether every step has been played. */
  get done() {
    return this.next >= this.scenario.steps.length;
  }

  /**
   * Plays the next step. Returns null, or the one-line error that ends the run (a
   * wait on a task that can never settle), or a promise of either. A start, spawn or
   * call step returns at once (unless the page's tick pauses): awaiting between two
   * steps would let microtasks run there, which the runners never do.
   */
  step() {
    const step = this.scenario.steps[this.next++];
    const run = this.run;
    if (step.kind === "start") {
      run.start(step.as, step.export, step.args);
    } else if (step.kind === "spawn") {
      run.spawn(step.as, step.export, step.args);
    } else if (step.kind === "call") {
      run.call(step.export, step.args);
    } else if (step.kind === "reset") {
      return (async () => {
        await run.finish(this.tick);
        this.clock.restart();
        this.run = new Run(this.clock, run.log);
        this.run.guest = this.again();
        this.run.log(`reset ${step.label}`);
        await this.tick();
        return null;
      })();
    } else {
      return (async () => {
        const task = run.tasks.get(step.task);
        await run.runUntil(() => task.settled, this.tick);
        if (!task.settled) {
          return `wait ${step.task}: the task can never settle (no timer is left at t=${this.clock.now})`;
        }
        await this.tick();
        return null;
      })();
    }
    const paused = this.tick();
    return paused ? paused.then(() => null) : null;
  }

  /** The end of the scenario: the event loop until no timer is left, then the tasks
   * still pending. */
  async finish() {
    await this.run.finish(this.tick);
    const paused = this.tick();
    if (paused) await paused;
  }
}

/** Longest error line, in characters after `error: `. */
const MAX_ERROR = 300;

/** An error message as one line of at most MAX_ERROR characters, whatever an
 * engine's or a file's text holds. */
export function oneLine(message) {
  const line = message
    .split("\n")
    .map((part) => part.trim())
    .filter(Boolean)
    .join(" ");
  const chars = [...line];
  return chars.length > MAX_ERROR ? `${chars.slice(0, MAX_ERROR - 3).join("")}...` : line;
}

/**
 * Plays a whole scenario (the options are `Player.load`'s, plus `printError(line)`
 * for the error line, `error: ...` without a newline). Returns the exit code.
 */
export async function play(options) {
  let player;
  try {
    player = await Player.load(options);
  } catch (error) {
    if (!(error instanceof BadInput)) throw error;
    options.printError(`error: ${oneLine(error.message)}`);
    return 2;
  }
  while (!player.done) {
    let stuck = player.step();
    if (stuck instanceof Promise) stuck = await stuck;
    if (stuck) {
      options.printError(`error: ${stuck}`);
      return 1;
    }
  }
  await player.finish();
  return 0;
}
