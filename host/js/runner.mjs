// The Node runner: runs one guest module through one scenario and prints the
// transcript (docs/abi.md) on stdout. The steps, the virtual clock, the environment
// and the transcript are the shared core's (play.mjs, which the browser hosts run
// too); this file owns only what is Node's: reading files, wasm-bindgen glue through
// `require`, the process's output and exit code. The guest library's protocol is the
// jspi-stack package's (jspi-stack/).
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
import { createRequire } from "node:module";
import { hasJspi } from "./jspi-stack/index.js";
import { BadInput, oneLine, play } from "./play.mjs";
import { loadBindgen } from "./bindgen.mjs";

const require = createRequire(import.meta.url);
let wasiClass = null;

/** node:wasi's `WASI`, loaded the first time a scenario needs it. Loading it prints
 * "ExperimentalWarning: WASI is an experimental feature" on stderr, where this
 * runner prints only its one error line; that one notice is dropped. */
function loadWasi() {
  if (wasiClass === null) {
    const emitWarning = process.emitWarning;
    process.emitWarning = (warning, ...rest) => {
      const type = typeof rest[0] === "string" ? rest[0] : rest[0]?.type;
      if (type === "ExperimentalWarning" && String(warning).includes("WASI")) return;
      emitWarning.call(process, warning, ...rest);
    };
    try {
      wasiClass = require("node:wasi").WASI;
    } finally {
      process.emitWarning = emitWarning;
    }
  }
  return wasiClass;
}

function read(path, what) {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new BadInput(`${path}: cannot read the ${what}: ${error.code ?? error.message}`);
  }
}

async function main(argv) {
  if (argv.length !== 2) {
    throw new BadInput("usage: runner.mjs MODULE.wasm SCENARIO.json");
  }
  if (!hasJspi()) {
    throw new BadInput(
      `Node ${process.version} has no JSPI (WebAssembly.Suspending / WebAssembly.promising); ` +
        "Node 24 needs --experimental-wasm-jspi, Node 26 has it on by default",
    );
  }
  const [modulePath, scenarioPath] = argv;
  return play({
    modulePath,
    scenarioPath,
    read,
    loadGlue: loadBindgen,
    // A context with no arguments, environment or files: what a guest sees is the
    // scenario's (stdio is the transcript's, hostenv.mjs's wasiStdio).
    makeWasi() {
      const WASI = loadWasi();
      const wasi = new WASI({ version: "preview1", args: [], env: {}, returnOnExit: true });
      return { imports: wasi.wasiImport, initialize: (instance) => wasi.initialize(instance) };
    },
    print: (line) => process.stdout.write(`${line}\n`),
    printError: (line) => process.stderr.write(`${line}\n`),
  });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof BadInput)) throw error;
  process.stderr.write(`error: ${oneLine(error.message)}\n`);
  process.exitCode = 2;
}
