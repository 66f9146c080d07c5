// The resume order of the benchmark schedules, shared by bench.mjs and bench-peer.mjs:
// LIFO, FIFO, or the same seeded xorshift shuffle as the Rust benchmarks
// (`stack_state::sim::resume_order`).

export function order(schedule, n, round) {
  const result = [...Array(n).keys()];
  if (schedule === "lifo") return result.reverse();
  if (schedule === "fifo") return result;
  // The same seeded xorshift shuffle as the Rust benchmarks.
  const mask = (1n << 64n) - 1n;
  let x = (0x9e3779b97f4a7c15n ^ ((BigInt(round) * 0x2545f4914f6cdd1dn) & mask)) & mask;
  for (let i = n - 1; i >= 1; i--) {
    x ^= (x << 13n) & mask;
    x ^= x >> 7n;
    x ^= (x << 17n) & mask;
    const j = Number(x % BigInt(i + 1));
    [result[i], result[j]] = [result[j], result[i]];
  }
  return result;
}
