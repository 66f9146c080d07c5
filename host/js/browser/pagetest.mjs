// The page's test (`cargo xtask test`): a headless browser loads the page, steps
// 04-reentrancy through with `none` and with `lazy`, checks what the page shows (the
// tasks and their ranges, the victim's string overwritten with none and intact with
// lazy, a picture that is not blank) and saves a screenshot. Prints one line per
// check; exits 1 on the first failure.
//
//   node host/js/browser/pagetest.mjs --browser B [--executable PATH] --screenshot OUT.png

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ROOT, launch } from "./browsers.mjs";
import { startServer } from "./server.mjs";

const arg = (name) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const name = arg("--browser");
const screenshot = arg("--screenshot");

function check(condition, what, detail = "") {
  if (!condition) throw new Error(`${what}${detail ? `: ${detail}` : ""}`);
  process.stdout.write(`ok   ${what}\n`);
}

/** Loads 04 with `strategy` and plays it up to the victim's second line; returns
 * what the page showed then. */
async function stepThrough(page, url, strategy) {
  await page.goto(`${url}/host/js/browser/page/?example=04-reentrancy&strategy=${strategy}`);
  await page.waitForSelector("body[data-ready=true]");
  await page.evaluate(() => window.jspiPage.fast());
  await page.click("#load");
  await page.waitForSelector(`body[data-loaded="04-reentrancy/${strategy}"]`);
  const state = () =>
    page.evaluate(() => ({
      tasks: [...document.querySelectorAll("#tasks tbody tr")].map((tr) => ({ ...tr.dataset })),
      transcript: document.getElementById("transcript").textContent,
      events: document.getElementById("events").textContent,
      next: document.getElementById("next").textContent,
      cells: [...document.querySelectorAll("#stack rect[data-kind]")].map((r) => r.dataset.kind),
    }));
  // Steps: start A, start V, wait A, call overwritesVictimsStack: V is suspended, A gone.
  const seen = [];
  for (let i = 0; i < 4; i++) {
    await page.click("#step");
    await page.waitForFunction((n) => document.getElementById("status").textContent.startsWith(`step ${n} `), {}, i + 1);
    seen.push(await state());
  }
  return seen;
}

async function main() {
  const server = await startServer(ROOT);
  const launched = await launch(name, arg("--executable"));
  try {
    process.stdout.write(`${name}: ${launched.version}\n`);
    const page = await launched.browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    for (const strategy of ["none", "lazy"]) {
      const seen = await stepThrough(page, server.url, strategy);
      const afterTwo = seen[1];
      const victim = (s) => s.tasks.find((t) => t.name === "V");
      check(afterTwo.tasks.length === 2 && afterTwo.tasks.every((t) => t.state === "suspended"), `${strategy}: two suspended tasks after two steps`, JSON.stringify(afterTwo.tasks));
      const a = afterTwo.tasks.find((t) => t.name === "A");
      const v = victim(afterTwo);
      check(a && v && Number(v.stop) <= Number(a.start) && Number(v.start) < Number(v.stop), `${strategy}: V placed below A, [start, stop) ordered`, JSON.stringify(afterTwo.tasks));
      const last = seen[3];
      const v3 = victim(last);
      check(last.tasks.length === 1 && v3 && v3.state === "suspended", `${strategy}: after the plain call only V is alive, suspended`, JSON.stringify(last.tasks));
      check(last.cells.length > 0 && last.cells.some((k) => k !== "free"), `${strategy}: the picture is drawn`);
      if (strategy === "none") {
        check(Number(v3.overwritten) > 0 && last.cells.includes("overwritten"), "none: V's bytes drawn overwritten", JSON.stringify(v3));
        check(/overwritten while suspended/.test(last.events), "none: the overwrite is listed among the stack events");
      } else {
        check(Number(v3.overwritten) === 0 && Number(v3.saved) > 0 && last.cells.includes("saved"), "lazy: V's bytes saved in a heap block, none overwritten", JSON.stringify(v3));
        check(/bytes saved to heap block/.test(last.events), "lazy: the eviction is listed among the stack events");
      }
      // One more step (wait V): the victim prints its string.
      await page.click("#step");
      await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("step 5 "));
      const transcript = await page.evaluate(() => document.getElementById("transcript").textContent);
      const line = transcript.split("\n").find((l) => l.includes("C: victim2"));
      if (strategy === "none") {
        check(line && !line.endsWith("victim's important string"), "none: the transcript shows the corrupted string", line);
      } else {
        check(line && line.endsWith("victim2 victim's important string"), "lazy: the transcript shows the string intact", line);
      }
      if (strategy === "none" && screenshot) {
        // The picture of the bug: back to the moment after the plain call.
        await stepThrough(page, server.url, "none");
        mkdirSync(dirname(screenshot), { recursive: true });
        const png = await page.screenshot({ path: screenshot, fullPage: true });
        // A blank page compresses to almost nothing; this one has hundreds of cells.
        check(png.length > 20_000, `none: screenshot ${screenshot} is not blank`, `${png.length} bytes`);
      }
    }
    return 0;
  } catch (error) {
    process.stdout.write(`FAIL ${error.message}\n`);
    return 1;
  } finally {
    await launched.close();
    await server.close();
  }
}

process.exitCode = await main();
