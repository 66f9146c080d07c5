// A small static HTTP server on 127.0.0.1 for the browser hosts and the page
// (`cargo xtask serve`): the project's files under their paths (the page, the JS
// package, built modules in target/), and files registered one by one (a module or a
// scenario named on the command line, which may lie anywhere) under /file/<n>.
//
// A file that cannot be read answers 404 with the error's code (`ENOENT`) as its
// whole body, so that the browser hosts report it in the Node runner's words.

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Starts serving `root` on 127.0.0.1 at `port` (0: any free port). Resolves to
 * `{ url, register(path) -> url, close() }`.
 */
export async function startServer(root, port = 0) {
  const base = resolve(root);
  const registered = [];
  const server = createServer(async (request, response) => {
    const url = new URL(request.url, "http://127.0.0.1");
    let path;
    const file = /^\/file\/(\d+)$/.exec(url.pathname);
    if (file) {
      path = registered[Number(file[1])];
    } else {
      const wanted = resolve(base, `.${decodeURIComponent(url.pathname)}`);
      // Nothing outside the root, whatever the request says.
      if (wanted === base || wanted.startsWith(base + sep)) path = wanted;
      if (path && url.pathname.endsWith("/")) path = resolve(path, "index.html");
    }
    if (path === undefined || request.method !== "GET") {
      response.writeHead(404, { "content-type": "text/plain" }).end("ENOENT");
      return;
    }
    try {
      const body = await readFile(path);
      response
        .writeHead(200, {
          "content-type": TYPES[extname(path)] ?? "application/octet-stream",
          "cache-control": "no-store",
        })
        .end(body);
    } catch (error) {
      response.writeHead(404, { "content-type": "text/plain" }).end(String(error.code ?? error.message));
    }
  });
  await new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", done);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** Serves the file at `path` (as given, relative to the working directory or
     * absolute) under a URL of its own, which it returns. */
    register(path) {
      registered.push(resolve(path));
      return `${url}/file/${registered.length - 1}`;
    },
    close: () =>
      new Promise((done) => {
        server.closeAllConnections?.();
        server.close(() => done());
      }),
  };
}
