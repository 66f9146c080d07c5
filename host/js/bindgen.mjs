// Loading wasm-bindgen output (`wasm-bindgen --target nodejs`) with this host's
// environment, for guests that use wasm-bindgen for their JS bindings.
//
// The generated glue is CommonJS: it `require`s each module its wasm imports from
// by name ("env", "jspi"), builds the import object and instantiates the module
// itself. Here those names resolve to the host's import objects (the runner passes
// the jspi-stack package's `jspi` module, whose `bindgen_*` functions await and move
// values between wasm-bindgen's handles and the guest library's slot table), and the
// instance the glue creates is kept, for the package to attach to.

import Module, { createRequire } from "node:module";
import { resolve } from "node:path";

/**
 * Loads the glue at `gluePath` with `imports` serving its `require`s of import
 * modules, and returns the WebAssembly.Instance it created.
 */
export function loadBindgen(gluePath, imports) {
  return loadGlue(gluePath, imports).instance;
}

/**
 * As `loadBindgen`, but returns `{ instance, glue }`: also the glue's own exports
 * (its wrappers of the module's `#[wasm_bindgen]` exports). A glue loads once per
 * process (`require` keeps it).
 */
export function loadGlue(gluePath, imports) {
  const require = createRequire(import.meta.url);
  const originalLoad = Module._load;
  const OriginalInstance = WebAssembly.Instance;
  let created;
  let glue;
  Module._load = function (request, ...rest) {
    if (Object.hasOwn(imports, request)) return imports[request];
    return originalLoad.call(this, request, ...rest);
  };
  WebAssembly.Instance = function (module, importObject) {
    created = new OriginalInstance(module, importObject);
    return created;
  };
  try {
    glue = require(resolve(gluePath));
  } finally {
    Module._load = originalLoad;
    WebAssembly.Instance = OriginalInstance;
  }
  if (!created) throw new Error(`${gluePath}: the glue instantiated no module`);
  return { instance: created, glue };
}
