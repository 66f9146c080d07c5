// The browser hosts' side of a run: plays one scenario with the shared core
// (../play.mjs) and hands back what the Node runner would print. The driver
// (driver.mjs) loads this page afresh for every run and calls `window.jspiRun`.

import { hasJspi } from "../jspi-stack/index.js";
import { BadInput, play } from "../play.mjs";

/** A file the server has for us, or a BadInput in the Node runner's words (the server
 * answers 404 with the error's code). */
async function fetchFile(url, path, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new BadInput(`${path}: cannot read the ${what}: ${error.message}`);
  }
  if (!response.ok) throw new BadInput(`${path}: cannot read the ${what}: ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Runs module `modulePath` through scenario `scenarioPath` (the paths as errors name
 * them; `urls` says where the server has each). Resolves to `{ stdout, stderr, code }`.
 */
window.jspiRun = async (modulePath, scenarioPath, urls) => {
  const stdout = [];
  const stderr = [];
  if (!hasJspi()) {
    return { stdout: "", stderr: `error: ${navigator.userAgent} has no JSPI (WebAssembly.Suspending / WebAssembly.promising)\n`, code: 2 };
  }
  const code = await play({
    modulePath,
    scenarioPath,
    read: (path, what) => fetchFile(path === modulePath ? urls.module : urls.scenario, path, what),
    print: (line) => stdout.push(`${line}\n`),
    printError: (line) => stderr.push(`${line}\n`),
  });
  return { stdout: stdout.join(""), stderr: stderr.join(""), code };
};
window.jspiReady = true;
