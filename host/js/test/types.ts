// A small TypeScript user of the jspi-stack package, checked by `cargo xtask test`
// with `tsc --noEmit` against the package's index.d.ts (never run): what a user
// writes must type-check, and misuse must not.

import { GuestError, STAT_NAMES, compile, instantiate, link, type Guest, type Stats } from "jspi-stack";

async function embed(bytes: Uint8Array, url: string): Promise<number> {
  let guest: Guest | undefined;
  const env = {
    log_int: (x: number) => console.log(x),
    delay: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms, null)),
  };
  guest = await instantiate(bytes, { env });
  const fromResponse: Guest = await instantiate(fetch(url), { env });
  const fromModule: Guest = await instantiate(await compile(bytes), { env });

  const fetchTwice = guest.promising<number>("fetchTwice");
  const first: number = await fetchTwice(1);
  const pooled: number = await guest.spawn<number>("fetchTwice", 2);
  const plain = guest.call<number>("add", 1, 2);
  const big = guest.call<bigint>("wide", 1n);

  const stats: Stats = guest.stats();
  const saved: number = stats.bytesSaved + stats.peakLiveTasks;
  const names: readonly (keyof Stats)[] = STAT_NAMES;

  // @ts-expect-error: counters are numbers, not BigInts
  const wrong: bigint = stats.bytesSaved;
  // @ts-expect-error: there is no such counter
  stats.nothing;
  // @ts-expect-error: an export is named by a string
  guest.promising(42);
  // @ts-expect-error: a Guest comes from instantiate, instantiateSync or link
  new Guest();

  const linked = link();
  const imports: WebAssembly.Imports = { jspi: linked.jspi, env };
  const instance = new WebAssembly.Instance(await compile(bytes), imports);
  const attached: Guest = linked.attach(instance);

  try {
    guest.call("mayFail");
  } catch (error) {
    if (error instanceof GuestError) console.log(error.message);
  }
  void [fromResponse, fromModule, plain, big, saved, names, wrong, attached, guest.workers, guest.linked];
  return first + pooled;
}

void embed;
