// `cargo xtask serve`: serves the page (page/) and the built examples on 127.0.0.1
// until interrupted. xtask builds the examples and writes target/serve/examples.json
// first.
//
//   node host/js/browser/serve.mjs [--port N]

import { ROOT } from "./browsers.mjs";
import { startServer } from "./server.mjs";

const at = process.argv.indexOf("--port");
const port = at >= 0 ? Number(process.argv[at + 1]) : 8040;
const server = await startServer(ROOT, port);
process.stdout.write(`serving the page at ${server.url}/host/js/browser/page/ (Ctrl-C stops)\n`);
process.on("SIGINT", async () => {
  await server.close();
  process.exit(0);
});
