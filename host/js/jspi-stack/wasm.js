// The little of the wasm binary format the package needs: reading the types of a
// module's exported functions (the JS API does not tell them), and writing the small
// adapter module that runs pooled tasks (pool.js).

/** Value types, by their binary code. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const EXTERNREF = 0x6f;

const NAMES = new Map([
  [I32, "i32"],
  [I64, "i64"],
  [F32, "f32"],
  [F64, "f64"],
  [0x7b, "v128"],
  [0x70, "funcref"],
  [EXTERNREF, "externref"],
]);

/** The text name of value type `code`, for messages. */
export function typeName(code) {
  return NAMES.get(code) ?? `type 0x${code.toString(16)}`;
}

const utf8 = new TextDecoder();

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }

  byte() {
    if (this.at >= this.bytes.length) throw new Error("unexpected end of the module");
    return this.bytes[this.at++];
  }

  u32() {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 28) throw new Error("malformed LEB128 number");
    }
  }

  skip(n) {
    if (this.at + n > this.bytes.length) throw new Error("unexpected end of the module");
    this.at += n;
  }

  name() {
    const len = this.u32();
    const start = this.at;
    this.skip(len);
    return utf8.decode(this.bytes.subarray(start, this.at));
  }

  /** A value type; reference types with a heap type are read whole. */
  valtype() {
    const code = this.byte();
    if (code === 0x64 || code === 0x63) {
      this.s33();
      return code;
    }
    return code;
  }

  s33() {
    let b;
    do b = this.byte();
    while (b & 0x80);
  }

  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

/**
 * The function type of each exported function of the module in `bytes`, as a Map from
 * export name to `{ params: [code...], results: [code...] }`. Throws on a module it
 * cannot read (GC type definitions, say).
 */
export function exportTypes(bytes) {
  const r = new Reader(bytes);
  r.skip(8); // magic and version
  const types = [];
  const funcTypes = []; // type index of every function, imported first
  const exports = new Map();
  while (r.at < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.at + size;
    if (id === 1) {
      for (let n = r.u32(); n > 0; n--) {
        const form = r.byte();
        if (form !== 0x60) {
          throw new Error(`type section entry of form 0x${form.toString(16)} (only plain function types are read)`);
        }
        const params = Array.from({ length: r.u32() }, () => r.valtype());
        const results = Array.from({ length: r.u32() }, () => r.valtype());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        r.name();
        const kind = r.byte();
        if (kind === 0) funcTypes.push(r.u32());
        else if (kind === 1) {
          r.valtype();
          r.limits();
        } else if (kind === 2) r.limits();
        else if (kind === 3) {
          r.valtype();
          r.byte();
        } else if (kind === 4) {
          r.byte();
          r.u32();
        } else throw new Error(`import of unknown kind ${kind}`);
      }
    } else if (id === 3) {
      for (let n = r.u32(); n > 0; n--) funcTypes.push(r.u32());
    } else if (id === 7) {
      for (let n = r.u32(); n > 0; n--) {
        const name = r.name();
        const kind = r.byte();
        const index = r.u32();
        if (kind === 0) exports.set(name, types[funcTypes[index]]);
      }
    }
    r.at = end;
  }
  return exports;
}

/** Bytes of a module under construction. */
class Writer {
  constructor() {
    this.out = [];
  }

  byte(b) {
    this.out.push(b);
    return this;
  }

  u32(value) {
    let v = value >>> 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.out.push(b);
    } while (v !== 0);
    return this;
  }

  s32(value) {
    let v = value | 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.out.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  bytes(list) {
    for (const b of list) this.out.push(b);
    return this;
  }

  name(text) {
    const encoded = new TextEncoder().encode(text);
    return this.u32(encoded.length).bytes(encoded);
  }

  vec(items, write) {
    this.u32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  section(id, body) {
    this.byte(id).u32(body.out.length).bytes(body.out);
    return this;
  }
}

/** The import kinds `encodeModule` writes, by the name an import gives as `kind`. */
const IMPORT_KINDS = { func: 0, table: 1, tag: 4 };

/** An import's description: a function's type index, a funcref table's minimum size,
 * or a tag's type index. */
function importDesc(w, imp) {
  const kind = imp.kind ?? "func";
  w.byte(IMPORT_KINDS[kind]);
  if (kind === "func") return w.u32(imp.type);
  if (kind === "table") return w.byte(0x70).byte(0).u32(imp.min);
  return w.byte(0).u32(imp.type); // a tag: attribute 0 (an exception), its type
}

/**
 * A module from its parts: `types` ([{params, results}]), `imports` ([{module, name,
 * type}] for functions; `kind: "tag"` with `type`, or `kind: "table"` with `min`, for
 * an imported tag or funcref table), `funcs` ([{type, locals: [code...], body:
 * Writer}]) and `exports` ([{name, func}]), function indices counting imported
 * functions first.
 */
export function encodeModule({ types, imports, funcs, exports }) {
  const m = new Writer().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  m.section(
    1,
    new Writer().vec(types, (w, t) => w.byte(0x60).vec(t.params, (v, c) => v.byte(c)).vec(t.results, (v, c) => v.byte(c))),
  );
  m.section(
    2,
    new Writer().vec(imports, (w, imp) => importDesc(w.name(imp.module).name(imp.name), imp)),
  );
  m.section(3, new Writer().vec(funcs, (w, f) => w.u32(f.type)));
  m.section(7, new Writer().vec(exports, (w, e) => w.name(e.name).byte(0).u32(e.func)));
  m.section(
    10,
    new Writer().vec(funcs, (w, f) => {
      const body = new Writer().vec(f.locals, (v, c) => v.u32(1).byte(c)).bytes(f.body.out).byte(0x0b);
      w.u32(body.out.length).bytes(body.out);
    }),
  );
  return new Uint8Array(m.out);
}

/** Instructions, for function bodies. */
export class Code extends Writer {
  call(index) {
    return this.byte(0x10).u32(index);
  }

  localGet(index) {
    return this.byte(0x20).u32(index);
  }

  localSet(index) {
    return this.byte(0x21).u32(index);
  }

  localTee(index) {
    return this.byte(0x22).u32(index);
  }

  i32Const(value) {
    return this.byte(0x41).s32(value);
  }

  /** `block` / `loop` with no result. */
  block() {
    return this.byte(0x02).byte(0x40);
  }

  loop() {
    return this.byte(0x03).byte(0x40);
  }

  end() {
    return this.byte(0x0b);
  }

  br(depth) {
    return this.byte(0x0c).u32(depth);
  }

  brTable(targets, fallback) {
    return this.byte(0x0e).vec(targets, (w, t) => w.u32(t)).u32(fallback);
  }

  /** `call_indirect` of type `type` through table `table`. */
  callIndirect(type, table) {
    return this.byte(0x11).u32(type).u32(table);
  }

  /** A legacy exception-handling `try` block with one result of value type `result`
   * (on by default in every engine with JSPI, unlike `try_table`, which needs exnref:
   * a flag on Node 24). */
  try(result) {
    return this.byte(0x06).byte(result);
  }

  /** The legacy `catch` of tag `tag`: its payload is on the stack. */
  catch(tag) {
    return this.byte(0x07).u32(tag);
  }
}
