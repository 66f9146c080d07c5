// Launching the system's headless browsers with puppeteer-core (installed by xtask
// into tools/puppeteer/; it never downloads a browser): Chromium over the DevTools
// protocol on a pipe (the browser exits when its driver does), Firefox over WebDriver
// BiDi. Each launch gets a new empty profile directory, removed when it closes.

import { createRequire } from "node:module";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (this file is host/js/browser/browsers.mjs). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The browsers, with their Debian binaries (the packages chromium-headless-shell and
 * firefox-esr); `--executable` overrides. */
export const BROWSERS = {
  chromium: "/usr/lib/chromium/chromium-headless-shell",
  firefox: "/usr/lib/firefox-esr/firefox-esr",
};

// Chromium as root needs --no-sandbox; the network here is closed, and without the
// background-networking flags Chromium keeps trying (and failing) to reach its
// services.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Without the sandbox, a wasm trap caught by V8's signal handler (an out-of-bounds
  // memory access) kills the renderer ("Target closed") instead of throwing a
  // RuntimeError; with the handler off, V8 checks bounds explicitly and throws.
  "--disable-features=WebAssemblyTrapHandler",
];

function puppeteer() {
  const require = createRequire(join(ROOT, "tools/puppeteer/node_modules/"));
  try {
    return require("puppeteer-core");
  } catch (error) {
    throw new Error(`puppeteer-core is not installed in tools/puppeteer (cargo xtask install does it): ${error.message}`);
  }
}

/**
 * Launches `name` (`chromium` or `firefox`) headless; resolves to
 * `{ browser, version, close() }`.
 */
export async function launch(name, executable = BROWSERS[name]) {
  if (!(name in BROWSERS)) throw new Error(`unknown browser \`${name}\` (browsers: ${Object.keys(BROWSERS).join(", ")})`);
  const profiles = join(ROOT, "target/browser");
  mkdirSync(profiles, { recursive: true });
  const profile = mkdtempSync(join(profiles, `${name}-profile-`));
  const options =
    name === "chromium"
      ? {
          browser: "chrome",
          executablePath: executable,
          headless: "shell",
          pipe: true,
          args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
        }
      : {
          browser: "firefox",
          executablePath: executable,
          headless: true,
          userDataDir: profile,
          extraPrefsFirefox: {
            // No updates, reports or remote settings: nothing to reach here.
            "app.update.enabled": false,
            "datareporting.policy.dataSubmissionEnabled": false,
            "toolkit.telemetry.enabled": false,
            "services.settings.server": "http://127.0.0.1:9/",
          },
        };
  let browser;
  try {
    // JSPI_BROWSER_DUMPIO=1 shows the browser's own output (on the driver's stderr).
    const dumpio = process.env.JSPI_BROWSER_DUMPIO === "1";
    browser = await puppeteer().launch({ ...options, dumpio, protocolTimeout: 900_000 });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const version = await browser.version();
  return {
    browser,
    version,
    async close() {
      const child = browser.process();
      await Promise.race([browser.close().catch(() => {}), new Promise((done) => setTimeout(done, 5000))]);
      // Only the browser this launch started, by its own handle.
      if (child && child.exitCode === null) child.kill("SIGKILL");
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
