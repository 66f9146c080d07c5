// The test environment's files (module `env`, docs/abi.md "Host environment"): byte
// arrays by name, in the host, behind promises that settle after fixed virtual-time
// delays; the async VFS of c-examples/15-sqlite reads and writes them. The wasmtime
// runner's twin is host/src/runner/files.rs: the same names, the same delays, the same
// words for misuse.

import { EnvFailure } from "./hostenv.mjs";

/** Virtual milliseconds each operation takes before its promise settles. */
const DELAY = { read: 1, write: 1, truncate: 1, sync: 2, size: 1, delete: 1 };

/** One file: its bytes in a buffer that grows by doubling. */
class File {
  constructor() {
    this.data = new Uint8Array(0);
    this.size = 0;
  }

  resize(size) {
    if (size > this.data.length) {
      const data = new Uint8Array(Math.max(size, 2 * this.data.length, 4096));
      data.set(this.data.subarray(0, this.size));
      this.data = data;
    } else if (size < this.size) {
      this.data.fill(0, size, this.size);
    }
    this.size = size;
  }
}

/**
 * The `env.file_*` imports over one set of files (a fresh set per instance);
 * `readString(ptr)` reads a guest string, `memory()` is the guest's memory.
 */
export function fileImports({ clock, memory, readString }) {
  const files = []; // id -> File
  const names = new Map(); // name -> id
  const file = (what, id) => {
    const found = files[id];
    if (found === undefined) throw new EnvFailure(`env.${what}: no file ${id}`);
    return found;
  };
  const offsetOf = (what, offset) => {
    const value = Number(offset);
    if (value < 0 || !Number.isSafeInteger(value)) throw new EnvFailure(`env.${what}: offset ${offset} out of range`);
    return value;
  };
  const lengthOf = (what, len) => {
    if (len < 0) throw new EnvFailure(`env.${what}: length ${len} is negative`);
    return len;
  };
  return {
    file_open(name, create) {
      const key = readString(name);
      let id = names.get(key);
      if (id === undefined) {
        if (!create) return -1;
        id = files.length;
        files.push(new File());
        names.set(key, id);
      }
      return id;
    },
    file_exists: (name) => (names.has(readString(name)) ? 1 : 0),
    file_read(id, offset, len) {
      const f = file("file_read", id);
      const from = Math.min(offsetOf("file_read", offset), f.size);
      const to = Math.min(from + lengthOf("file_read", len), f.size);
      return clock.resolveAfter(DELAY.read, f.data.slice(from, to));
    },
    file_write(id, src, len, offset) {
      const f = file("file_write", id);
      const at = offsetOf("file_write", offset);
      len = lengthOf("file_write", len);
      const start = src >>> 0;
      if (start + len > memory().buffer.byteLength) {
        throw new EnvFailure(`env.file_write: bytes at ${start}..${start + len} lie outside memory (${memory().buffer.byteLength} bytes)`);
      }
      if (at + len > f.size) f.resize(at + len);
      f.data.set(new Uint8Array(memory().buffer, start, len), at);
      return clock.resolveAfter(DELAY.write, len);
    },
    file_truncate(id, size) {
      const f = file("file_truncate", id);
      f.resize(offsetOf("file_truncate", size));
      return clock.resolveAfter(DELAY.truncate, 0);
    },
    file_sync(id) {
      file("file_sync", id);
      return clock.resolveAfter(DELAY.sync, 0);
    },
    file_size(id) {
      const f = file("file_size", id);
      if (f.size > 0x7fffffff) throw new EnvFailure(`env.file_size: file ${id} is over 2 GiB`);
      return clock.resolveAfter(DELAY.size, f.size);
    },
    file_delete(name) {
      const key = readString(name);
      const existed = names.delete(key);
      return clock.resolveAfter(DELAY.delete, existed ? 0 : -1);
    },
  };
}
