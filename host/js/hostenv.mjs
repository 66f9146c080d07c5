// The test environment of the scenario runner (module `env`, docs/abi.md) and the
// formatting of values and errors that every transcript line uses. The guest
// library's own imports (module `jspi`) are the package's (jspi-stack/).

import { GuestError, Rejection } from "./jspi-stack/index.js";
import { fileImports } from "./files.mjs";

/** An error of the environment whose message is printed as is (env.start's checks). */
export class EnvFailure extends Error {}

/** A value as transcripts print it: integers in decimal, `null`, `undefined`,
 * strings as they are, errors as `Error: <message>`. */
export function formatValue(value) {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return value;
  if (typeof value === "bigint" || typeof value === "number") return String(value);
  if (value instanceof Error) return `Error: ${value.message}`;
  if (value instanceof Rejection) return `rejection(${formatValue(value.reason)})`;
  return String(value);
}

// The engines' trap messages, mapped to the kinds docs/abi.md lists (the wasmtime
// host maps its own trap codes to the same words). V8 (Node, Chromium) says
// "unreachable", "memory access out of bounds", "divide by zero", "remainder by
// zero", "function signature mismatch", "null function or function signature
// mismatch"; SpiderMonkey (Firefox) "unreachable executed", "index out of bounds",
// "integer divide by zero", "indirect call signature mismatch", "indirect call to
// null".
const TRAP_KINDS = [
  [/^unreachable/, "unreachable"],
  [/memory access out of bounds|^index out of bounds$/, "memory access out of bounds"],
  [/divide by zero|remainder by zero/, "integer divide by zero"],
  [/signature mismatch|null function|indirect call to null/, "indirect call type mismatch"],
];

/** The message of a failed call or task, as transcripts print it. */
export function formatError(error) {
  if (error instanceof GuestError || error instanceof EnvFailure) return error.message;
  if (error instanceof WebAssembly.RuntimeError) {
    for (const [pattern, kind] of TRAP_KINDS) {
      if (pattern.test(error.message)) return `trap: ${kind}`;
    }
    return `trap: ${error.message}`;
  }
  // V8: RangeError "Maximum call stack size exceeded"; SpiderMonkey: InternalError
  // "too much recursion".
  if (
    (error instanceof RangeError && /call stack size/.test(error.message)) ||
    (error instanceof Error && error.name === "InternalError" && /too much recursion/.test(error.message))
  ) {
    return "trap: call stack exhausted";
  }
  if (error instanceof Error) return error.message;
  return formatValue(error);
}

const utf8 = new TextDecoder();

/** Reads `len` bytes of UTF-8 at `ptr`, or up to the first NUL when `len` is
 * undefined; a range outside memory is the guest's bug and fails loudly. */
function readString(memory, ptr, len) {
  const bytes = new Uint8Array(memory.buffer);
  const start = ptr >>> 0;
  let end;
  if (len === undefined) {
    end = bytes.indexOf(0, start);
    if (end < 0) throw new EnvFailure(`string at ${start} has no terminating NUL`);
  } else {
    end = start + (len >>> 0);
  }
  if (start > bytes.length || end > bytes.length) {
    throw new EnvFailure(`string at ${start}..${end} lies outside memory (${bytes.length} bytes)`);
  }
  return utf8.decode(bytes.subarray(start, end));
}

/** `len` bytes that depend on `seed`: byte i is (seed + 7 i) mod 256. */
export function pattern(len, seed) {
  const bytes = new Uint8Array(Math.max(0, len));
  for (let i = 0; i < bytes.length; i++) bytes[i] = (seed + 7 * i) & 0xff;
  return bytes;
}

/**
 * The `env` import module for one instance.
 *
 * `log(text)` prints a transcript line; `clock` is the VirtualClock; `memory()`
 * returns the instance's exported memory (known only after instantiation);
 * `start(name, exportName, args)` starts a promising task as a `start` step does;
 * `callPlain(exportName, arg)` makes one plain call of the instance, as a `call` step
 * does, and throws what the call throws; `currentTask()` is the package's
 * `guest.currentTask()`.
 */
export function makeImports({ log, clock, memory, start, callPlain, currentTask }) {
  const int32 = (x) => x | 0;
  const env = {
    log_int: (x) => log(`C: ${x}`),
    log_str: (ptr) => log(`C: ${readString(memory(), ptr)}`),
    log_str_str: (label, s) => log(`C: ${readString(memory(), label)} ${readString(memory(), s)}`),
    log_ref: (value) => log(`C: ${formatValue(value)}`),
    escape: () => {},
    delay: (ms) => clock.resolveAfter(ms, null),
    bytes_after: (len, seed, ms) => clock.resolveAfter(ms, pattern(len, seed)),
    read_into(dst, len, seed, ms) {
      // The task-aware path: the bytes go wherever the task's buffer is when they
      // arrive (in place, or in its saved block).
      const task = currentTask();
      if (task === null) throw new EnvFailure("env.read_into: called outside a task");
      return writeLater(clock, ms, len, () => task.write(dst, pattern(len, seed)));
    },
    read_naive(dst, len, seed, ms) {
      // The hazard: the bytes go to the buffer's address while the task is suspended.
      return writeLater(clock, ms, len, () =>
        new Uint8Array(memory().buffer, dst >>> 0, len).set(pattern(len, seed)),
      );
    },
    delayed_int: (value, ms) => clock.resolveAfter(ms, value),
    fake_fetch: (x) => slowOp(log, clock, "fake_fetch", x, 500, int32(x + 1)),
    fake_db_query: (x) => slowOp(log, clock, "fake_db_query", x, 1000, Math.imul(x, x)),
    rejecting: (code, ms) => clock.rejectAfter(ms, new Error(`rejected with code ${code}`)),
    failing(code) {
      throw new Error(`host import failed with code ${code}`);
    },
    start(name, exportName, argsPtr, count) {
      const args = startArgs(memory(), argsPtr, count);
      start(readString(memory(), name), readString(memory(), exportName), args);
    },
    call_plain(exportName, arg, times) {
      const name = readString(memory(), exportName);
      let failed = 0;
      for (let i = 0; i < times; i++) {
        try {
          callPlain(name, arg);
        } catch (error) {
          if (error instanceof EnvFailure) throw error;
          failed += 1;
        }
      }
      return failed;
    },
    ...fileImports({ clock, memory, readString: (ptr) => readString(memory(), ptr) }),
  };
  return { env };
}

/** A promise of `len`, settled after `ms` once `write()` has run (rejected with what
 * it throws): `read_into` and `read_naive`. */
function writeLater(clock, ms, len, write) {
  return new Promise((resolve, reject) =>
    clock.after(ms, () => {
      try {
        write();
        resolve(len);
      } catch (error) {
        reject(error);
      }
    }),
  );
}

/** A logged operation fulfilled with `result` after `ms`. */
function slowOp(log, clock, name, x, ms, result) {
  log(`env: ${name}(${x}) started`);
  return new Promise((resolve) =>
    clock.after(ms, () => {
      log(`env: ${name}(${x}) done`);
      resolve(result);
    }),
  );
}

/** `env.start`'s arguments: `count` (at most 64) i32s at `ptr`. */
function startArgs(memory, ptr, count) {
  if (count < 0 || count > 64) throw new EnvFailure(`env.start: ${count} arguments (at most 64)`);
  const bytes = new Uint8Array(memory.buffer);
  const from = ptr >>> 0;
  const to = from + 4 * count;
  if (to > bytes.length) {
    throw new EnvFailure(`env.start: arguments at ${from}..${to} lie outside memory (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, from, 4 * count);
  return Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true));
}

/** WASI's errno values the environment returns (wasi_snapshot_preview1). */
const ERRNO_BADF = 8;
const ERRNO_FAULT = 21;

/**
 * The part of WASI preview 1 that the test environment owns for a wasi-libc guest:
 * `fd_write` and `fd_fdstat_get`. Bytes written to fd 1 and 2 become transcript
 * lines, `stdout: <line>` and `stderr: <line>`, as each newline arrives; both report
 * a character device without seek rights, which wasi-libc takes for a terminal and
 * so line-buffers (a reactor's stdout would otherwise keep its output until a flush
 * that may never come). Every other descriptor is EBADF: the environment has no
 * files. The rest of WASI is the host's (node:wasi; wasmtime-wasi on wasmtime).
 *
 * `memory()` is the instance's memory; `flush()` prints what is left of a line.
 */
export function wasiStdio({ log, memory }) {
  const streams = new Map([
    [1, { name: "stdout", decoder: new TextDecoder(), line: "" }],
    [2, { name: "stderr", decoder: new TextDecoder(), line: "" }],
  ]);
  const inMemory = (ptr, len) => ptr + len <= memory().buffer.byteLength;
  return {
    imports: {
      fd_write(fd, iovs, count, written) {
        const stream = streams.get(fd);
        if (!stream) return ERRNO_BADF;
        [iovs, count, written] = [iovs >>> 0, count >>> 0, written >>> 0];
        if (!inMemory(iovs, 8 * count) || !inMemory(written, 4)) return ERRNO_FAULT;
        const view = new DataView(memory().buffer);
        const parts = [];
        for (let k = 0; k < count; k++) {
          const ptr = view.getUint32(iovs + 8 * k, true);
          const len = view.getUint32(iovs + 8 * k + 4, true);
          if (!inMemory(ptr, len)) return ERRNO_FAULT;
          parts.push([ptr, len]);
        }
        let total = 0;
        for (const [ptr, len] of parts) {
          stream.line += stream.decoder.decode(new Uint8Array(memory().buffer, ptr, len), { stream: true });
          total += len;
        }
        let end;
        while ((end = stream.line.indexOf("\n")) >= 0) {
          log(`${stream.name}: ${stream.line.slice(0, end)}`);
          stream.line = stream.line.slice(end + 1);
        }
        view.setUint32(written, total, true);
        return 0;
      },
      fd_fdstat_get(fd, out) {
        if (!streams.has(fd)) return ERRNO_BADF;
        out >>>= 0;
        if (!inMemory(out, 24)) return ERRNO_FAULT;
        const view = new DataView(memory().buffer);
        const FILETYPE_CHARACTER_DEVICE = 2;
        const RIGHTS_FD_WRITE = 1n << 6n;
        view.setUint8(out, FILETYPE_CHARACTER_DEVICE);
        view.setUint16(out + 2, 0, true);
        view.setBigUint64(out + 8, RIGHTS_FD_WRITE, true);
        view.setBigUint64(out + 16, RIGHTS_FD_WRITE, true);
        return 0;
      },
    },
    flush() {
      for (const stream of streams.values()) {
        stream.line += stream.decoder.decode();
        if (stream.line !== "") log(`${stream.name}: ${stream.line}`);
        stream.line = "";
      }
    },
  };
}
