// The browser hosts (`--host chromium`, `--host firefox`): runs guest modules through
// scenarios in a headless browser and prints what the Node runner prints, byte for
// byte: the transcript on stdout, one `error: ...` line on stderr, the same exit code.
//
//   node host/js/browser/driver.mjs --browser B [--executable PATH] MODULE.wasm SCENARIO.json
//   node host/js/browser/driver.mjs --browser B [--executable PATH] --jobs
//
// It starts a static server on 127.0.0.1 (server.mjs) and the browser (browsers.mjs),
// loads run.html afresh for each run and plays the scenario there with the shared
// core (../play.mjs), then stops both. With --jobs it stays up, so that one browser
// runs many modules (xtask keeps one driver per browser for a whole command): each
// line on stdin is a run, `{"module": PATH, "scenario": PATH, "limit_ms": N}`, and
// each answer one line on stdout, `{"stdout": ..., "stderr": ..., "code": N}`, with
// `"code": null` when the run took longer than its limit (then the driver exits).
// The end of stdin ends it.

import { createInterface } from "node:readline";
import { ROOT, launch } from "./browsers.mjs";
import { startServer } from "./server.mjs";

function usage(message) {
  process.stderr.write(
    `error: ${message} (usage: driver.mjs --browser chromium|firefox [--executable PATH] (MODULE SCENARIO | --jobs))\n`,
  );
  process.exit(2);
}

function parse(argv) {
  const options = { browser: null, executable: undefined, jobs: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--browser") options.browser = argv[++i];
    else if (arg === "--executable") options.executable = argv[++i];
    else if (arg === "--jobs") options.jobs = true;
    else if (arg.startsWith("--")) usage(`unknown option \`${arg}\``);
    else options.files.push(arg);
  }
  if (!options.browser) usage("--browser is required");
  if (options.jobs ? options.files.length !== 0 : options.files.length !== 2) usage("give a module and a scenario, or --jobs");
  return options;
}

/** One browser, one server, one tab that is reloaded for every run. */
class Host {
  static async start(name, executable) {
    const host = new Host();
    host.server = await startServer(ROOT);
    try {
      host.launched = await launch(name, executable);
    } catch (error) {
      await host.server.close();
      throw error;
    }
    host.page = await host.launched.browser.newPage();
    return host;
  }

  /** Runs one module through one scenario: `{ stdout, stderr, code }`, or `code:
   * null` past `limit` ms. */
  async run(modulePath, scenarioPath, limit) {
    const urls = { module: this.server.register(modulePath), scenario: this.server.register(scenarioPath) };
    await this.page.goto(`${this.server.url}/host/js/browser/run.html`);
    await this.page.waitForFunction(() => window.jspiReady === true);
    let timer;
    const expired = new Promise((done) => {
      timer = setTimeout(() => done({ stdout: "", stderr: `the run took more than ${limit} ms\n`, code: null }), limit);
    });
    try {
      return await Promise.race([
        this.page.evaluate((m, s, u) => window.jspiRun(m, s, u), modulePath, scenarioPath, urls),
        expired,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop() {
    await this.launched.close();
    await this.server.close();
  }
}

async function main() {
  const options = parse(process.argv.slice(2));
  const host = await Host.start(options.browser, options.executable);
  try {
    if (!options.jobs) {
      const [modulePath, scenarioPath] = options.files;
      const result = await host.run(modulePath, scenarioPath, 600_000);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      return result.code ?? 1;
    }
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      if (line.trim() === "") continue;
      const job = JSON.parse(line);
      const result = await host.run(job.module, job.scenario, job.limit_ms ?? 60_000);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      if (result.code === null) break; // the page may be stuck for good: start afresh
    }
    return 0;
  } finally {
    await host.stop();
  }
}

process.exitCode = await main();
