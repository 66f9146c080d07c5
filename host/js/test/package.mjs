// Tests of the jspi-stack package's API on real guest modules (built by `cargo xtask
// test`): what it refuses and in which words, plain calls after traps, pooled tasks
// after failures, inputs of every kind (bytes, Module, Response), the counters.
//
//   node host/js/test/package.mjs NAME=MODULE.wasm ...
//
// with the names 04 (04-reentrancy), 07 (07-faults), 09 (09-trapped-calls),
// no-library and unlinked (tests/bad-modules), each built with strategy lazy. Prints
// `ok <test>` lines; a failed check ends the run with its message and exit code 1.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Code, encodeModule, EXTERNREF, I32 } from "../jspi-stack/wasm.js";
import * as jspi from "../jspi-stack/index.js";
import { VirtualClock, drainMicrotasks } from "../clock.mjs";
import { makeImports } from "../hostenv.mjs";

const modules = Object.fromEntries(process.argv.slice(2).map((arg) => arg.split("=")));
const bytes = (name) => readFileSync(modules[name]);

/** A guest of module `name` with the scenario runner's env and its own clock;
 * `lines` collects what it logs. */
function guestOf(name, source = bytes(name)) {
  const clock = new VirtualClock();
  const lines = [];
  let guest;
  const imports = makeImports({
    clock,
    log: (text) => lines.push(text),
    memory: () => guest.memory,
    start: () => assert.fail("env.start is not used here"),
    callPlain: (exportName, arg) => guest.call(exportName, arg),
  });
  guest = jspi.instantiateSync(source, imports);
  const settle = async () => {
    await drainMicrotasks();
    while (clock.fireNext()) await drainMicrotasks();
  };
  return { guest, lines, settle, imports };
}

/** The rejection reason of `promise`, which must reject. */
async function reason(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("the promise fulfilled");
}

const tests = {
  "a file that is not wasm is refused in the runners' words"() {
    assert.throws(() => jspi.compileSync(new Uint8Array([1, 2, 3, 4, 5])), {
      message: 'not a wasm module: it does not start with the bytes 00 61 73 6d ("\\0asm")',
    });
  },

  "a module without the guest library runs plain calls and names what promising lacks"() {
    const { guest } = guestOf("no-library");
    assert.equal(guest.linked, false);
    assert.throws(() => guest.promising("work"), {
      message:
        "the module was not linked with the guest library: it exports no jspi_task_enter, jspi_task_leave, jspi_task_done (link it with libjspi.a, see docs/abi.md)",
    });
    assert.throws(() => guest.spawn("work", 1), /not linked with the guest library/);
    assert.throws(() => guest.stats(), /exports no jspi_stat/);
  },

  "a module that calls the library without linking it is refused before instantiation"() {
    assert.throws(() => jspi.instantiateSync(bytes("unlinked"), { env: {} }), {
      message: "the module imports the guest library's own functions (env.jspi_await_int): link it with libjspi.a",
    });
  },

  "import module jspi is the package's own"() {
    const { imports } = guestOf("04");
    assert.throws(() => jspi.instantiateSync(bytes("04"), { ...imports, jspi: {} }), /`jspi` is the guest library's own/);
  },

  "unknown exports are named with the exports there are"() {
    const { guest } = guestOf("04");
    assert.throws(() => guest.promising("nope"), {
      message:
        "the module has no exported function `nope` (it exports: allocateOnStackAndSleep, victim, overwritesVictimsStack, canSuspend)",
    });
    assert.throws(() => guest.call("nope"), /no exported function `nope`/);
    assert.throws(() => guest.spawn("nope"), /no exported function `nope`/);
  },

  async "promising runs the hooks; a plain call while a task is suspended cannot hurt it"() {
    const { guest, lines, settle } = guestOf("04");
    const a = guest.promising("allocateOnStackAndSleep")();
    const v = guest.promising("victim")();
    assert.equal(guest.promising("victim"), guest.promising("victim"), "made once per name");
    await settle();
    await a;
    guest.call("overwritesVictimsStack");
    await settle();
    await v;
    assert.deepEqual(lines, ["C: victim1 victim's important string", "C: victim2 victim's important string"]);
    assert.equal(guest.call("canSuspend"), 0);
    assert.equal(guest.stats().liveTasks, 0);
  },

  async "an await in a plain call fails with the library's message"() {
    const { guest } = guestOf("04");
    assert.throws(() => guest.call("victim"), (error) => {
      assert.ok(error instanceof jspi.GuestError);
      assert.match(error.message, /^jspi_await: cannot suspend: no task is running/);
      return true;
    });
  },

  "a plain call that reaches the host's own suspending import names the fix"() {
    const module = encodeModule({
      types: [{ params: [], results: [] }],
      imports: [{ module: "env", name: "wait", type: 0 }],
      funcs: [{ type: 0, locals: [], body: new Code().call(0) }],
      exports: [{ name: "f", func: 1 }],
    });
    const guest = jspi.instantiateSync(module, { env: { wait: new WebAssembly.Suspending(async () => {}) } });
    assert.throws(() => guest.call("f"), {
      message: "cannot suspend: `f` was called plainly and reached a suspending import; start it as a task (promising or spawn)",
    });
  },

  async "plain calls that trap deep leave the stack where it began"() {
    const { guest, lines, settle } = guestOf("09");
    const depth = guest.call("stackDepth");
    for (let i = 0; i < 2000; i++) assert.throws(() => guest.call("trapDeep", 1000), WebAssembly.RuntimeError);
    assert.equal(guest.call("stackDepth"), depth);
    const task = guest.promising("afterwards")();
    const during = guest.call("stackDepth");
    assert.equal(guest.call("trapMany", 100), 100, "nested plain calls trap too");
    assert.equal(guest.call("stackDepth"), during);
    await settle();
    await task;
    assert.deepEqual(lines, ["C: afterwards: a task after the traps keeps its string"]);
    assert.equal(guest.call("stackDepth"), depth);
  },

  async "a task that cannot start gives a rejected promise"() {
    const { guest, settle } = guestOf("07");
    assert.equal(guest.call("limitTasks"), 0);
    const held = [1, 2, 3].map(() => guest.promising("holder")(5));
    const refused = guest.promising("holder")(5);
    assert.equal((await reason(refused)).message, "jspi_task_enter: too many tasks alive at once (the limit is 3)");
    await settle();
    assert.deepEqual(await Promise.all(held), [5, 5, 5]);
  },

  async "pooled tasks: failures end only their task, and workers are replaced"() {
    const { guest, lines, settle } = guestOf("07");
    const failing = [
      guest.spawn("awaitRejection", 7),
      guest.spawn("trapAfterAwait"),
      guest.spawn("hostThrows", 9),
      guest.spawn("divide", 1, 0),
    ].map(reason);
    const holder = guest.spawn("holder", 40);
    assert.deepEqual(lines, [], "spawned tasks start later, not synchronously");
    await settle();
    const messages = (await Promise.all(failing)).map((error) => error.message);
    assert.deepEqual(messages, [
      "rejected with code 7",
      "unreachable",
      "host import failed with code 9",
      "divide by zero",
    ]);
    assert.equal(await holder, 40);
    assert.deepEqual(lines, ["C: holder: holder keeps this"]);
    const workers = guest.workers;
    assert.equal(workers, 5);
    const again = [guest.spawn("holder", 1), guest.spawn("survivor")];
    await settle();
    assert.deepEqual(await Promise.all(again), [1, undefined]);
    assert.ok(guest.workers <= workers + 1, `${guest.workers} workers: the idle one is reused`);
    const stats = guest.stats();
    assert.equal(stats.liveTasks, 0);
    assert.equal(stats.tasksEntered, 7);
  },

  async "spawn of an export it cannot pass is refused; so is a module compiled elsewhere"() {
    const { guest, imports } = guestOf("04");
    assert.throws(() => guest.spawn("jspi_stat", 0), /no exported function|cannot be spawned/);
    const elsewhere = jspi.instantiateSync(new WebAssembly.Module(bytes("04")), imports);
    assert.throws(() => elsewhere.spawn("victim"), /spawn needs the export types of the module/);
  },

  async "instantiate takes bytes, a Module and a Response"() {
    const { imports } = guestOf("04");
    for (const source of [bytes("04"), await jspi.compile(bytes("04")), new Response(bytes("04")), Promise.resolve(new Response(bytes("04")))]) {
      const guest = await jspi.instantiate(source, imports);
      assert.equal(guest.call("canSuspend"), 0);
    }
    await assert.rejects(jspi.instantiate(new Response("nope", { status: 404 }), imports), /fetching the module failed: 404/);
  },

  async "jspi.await resumes with the value, or a Rejection marker, as the JS await of old"() {
    // A module whose `aw(p)` is just the package's jspi.await, run as a promising call.
    const linked = jspi.link();
    const module = encodeModule({
      types: [{ params: [EXTERNREF], results: [EXTERNREF] }],
      imports: [{ module: "jspi", name: "await", type: 0 }],
      funcs: [{ type: 0, locals: [], body: new Code().localGet(0).call(0) }],
      exports: [{ name: "aw", func: 1 }],
    });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(module), { jspi: linked.jspi });
    const aw = WebAssembly.promising(instance.exports.aw);
    assert.equal(await aw(Promise.resolve(7)), 7);
    assert.equal(await aw("not a promise"), "not a promise");
    const error = new Error("no");
    const marker = await aw(Promise.reject(error));
    assert.ok(marker instanceof jspi.Rejection);
    assert.equal(marker.reason, error);
    // A reason that is a wasm exception is not caught as a JS value: the adapter's
    // catch_all awaits the promise again the JS way.
    const exception = new WebAssembly.Exception(new WebAssembly.Tag({ parameters: ["i32"] }), [1]);
    assert.equal((await aw(Promise.reject(exception))).reason, exception);
    // A throw of the await itself (not a rejection) fails the call, as it did.
    const hostile = Promise.resolve(1);
    Object.defineProperty(hostile, "constructor", {
      get() {
        throw new Error("constructor getter");
      },
    });
    assert.equal((await reason(aw(hostile))).message, "constructor getter");
    assert.equal(await aw(Promise.resolve(8)), 8, "and the next await is plain again");
  },

  "stats are plain named numbers"() {
    const { guest } = guestOf("04");
    const stats = guest.stats();
    assert.deepEqual(Object.keys(stats), [...jspi.STAT_NAMES]);
    for (const value of Object.values(stats)) assert.equal(typeof value, "number");
  },
};

let failed = false;
for (const [name, test] of Object.entries(tests)) {
  try {
    await test();
    console.log(`ok   ${name}`);
  } catch (error) {
    console.log(`FAIL ${name}: ${error.message.split("\n").slice(0, 6).join(" ")}`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
