// One small seeded PRNG (mulberry32) for everything that must repeat itself from a seed: the Raft
// store's election jitter (seeded once from crypto), the checker's generated histories, the fault
// harness and the benchmarks' load. Not for anything secret.

/** Numbers in [0, 1), the same sequence for the same seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
