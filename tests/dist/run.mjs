// run.mjs: runs a module built from app.c or wasi.c against the dist's JS package
// (`cargo xtask test` unpacks the tarball into node_modules/ beside this file): starts
// `twice(20)` as a promising task and prints what the guest prints, then the result.
// A wasi-libc reactor is initialized with node:wasi first.
import { readFileSync } from "node:fs";
import { instantiate } from "jspi-stack";

const bytes = readFileSync(process.argv[2]);
let memory;
const text = (ptr) => {
  const view = new Uint8Array(memory.buffer, ptr);
  return new TextDecoder().decode(view.subarray(0, view.indexOf(0)));
};
const imports = {
  app: {
    later: (value) => new Promise((resolve) => setTimeout(() => resolve(value + 1), 10)),
    print: (ptr) => console.log(text(ptr)),
    print_int: (label, value) => console.log(`${text(label)} ${value}`),
  },
};
const module = await WebAssembly.compile(bytes);
let wasi;
if (WebAssembly.Module.imports(module).some((i) => i.module === "wasi_snapshot_preview1")) {
  const { WASI } = await import("node:wasi");
  wasi = new WASI({ version: "preview1" });
  imports.wasi_snapshot_preview1 = wasi.wasiImport;
}
const guest = await instantiate(module, imports);
memory = guest.memory;
if (wasi) wasi.initialize(guest.instance);
const result = await guest.promising("twice")(20);
console.log(`result ${result}`);
