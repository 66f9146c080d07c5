// The Node runner's reading of scenario text against the cases it shares with the
// wasmtime runner (tests/scenario-text/): the scanner (host/js/jsonscan.mjs) on
// scan.json, the whole parse (host/js/scenario.mjs) on parse.json, plus generated
// cases too long to keep in a file.
//
//   node host/js/test/scenario-text.mjs
//
// Prints how many cases passed; exits 1 with the first disagreement.

import { readFileSync } from "node:fs";
import { scanJson } from "../jsonscan.mjs";
import { parseScenario } from "../scenario.mjs";

const load = (file) =>
  JSON.parse(readFileSync(new URL(`../../../tests/scenario-text/${file}`, import.meta.url), "utf8")).cases;

function check(what, text, got, expected) {
  if (got !== expected) {
    process.stderr.write(
      `error: ${what} ${JSON.stringify(text.slice(0, 60))}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}\n`,
    );
    process.exit(1);
  }
}

const scans = [
  ...load("scan.json"),
  ["[".repeat(200), "line 1, column 129: nested deeper than 128 levels"],
  ["[".repeat(128) + "]".repeat(128), null],
  [`[1${"0".repeat(500)}]`, "line 1, column 2: the number 100000000000000000000000... is too large"],
];
for (const [text, expected] of scans) check("scanning", text, scanJson(text), expected);

const parses = load("parse.json");
for (const [text, expected] of parses) {
  let got = null;
  try {
    parseScenario(text, "s.json");
  } catch (error) {
    got = error.message;
  }
  check("parsing", text, got, expected);
}
console.log(`scenario text: ${scans.length} scans and ${parses.length} parses agree`);
