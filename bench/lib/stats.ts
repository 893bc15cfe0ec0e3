// Shared measurement types and helpers: latency percentiles from each request's own timing, a
// seeded PRNG, the load generator's own CPU use.

export interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoadResult {
  readonly requests: number;
  /** 2xx (REST) or OK (gRPC). */
  readonly ok: number;
  /** Refusals by the rules (4xx / non-OK application codes): counted, reported, not failures. */
  readonly refused: number;
  /** 5xx, socket errors, timeouts, UNAVAILABLE and the like. */
  readonly failed: number;
  readonly durationS: number;
  /** Successful requests per second. */
  readonly throughput: number;
  /** Milliseconds. */
  readonly latency: Latency;
  /** CPU used by the load generator (this process), in % of one core. */
  readonly generatorCpuPct: number;
}

/** Percentiles of raw per-request latencies (ms), nearest-rank. */
export function latencyOf(samples: number[]): Latency {
  if (samples.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
  };
}

import { prng } from '../../src/prng.ts';

export { prng };

/** Measures this process's CPU over a piece of work, as % of one core. */
export async function withCpu<T>(
  work: () => Promise<T>,
): Promise<{ value: T; cpuPct: number; wallS: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { value, cpuPct: ((cpu.user + cpu.system) / 1e6 / wallS) * 100, wallS };
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

export type Outcome = 'ok' | 'refused' | 'failed';

/** Runs `call` from `concurrency` workers until `amount` calls or `durationS` have passed. */
export async function drive(o: {
  concurrency: number;
  amount?: number;
  durationS?: number;
  seed: number;
  call: (index: number, random: () => number, worker: number) => Promise<Outcome>;
}): Promise<LoadResult> {
  const samples: number[] = [];
  const counts = { ok: 0, refused: 0, failed: 0 };
  let next = 0;
  const { value: wallS, cpuPct } = await withCpu(async () => {
    const t0 = performance.now();
    const deadline = o.durationS === undefined ? Infinity : t0 + o.durationS * 1000;
    await Promise.all(
      Array.from({ length: o.concurrency }, async (_, worker) => {
        const random = prng(o.seed + worker);
        for (;;) {
          if (o.amount !== undefined && next >= o.amount) return;
          if (performance.now() >= deadline) return;
          const index = next++;
          const start = performance.now();
          const outcome = await o.call(index, random, worker);
          samples.push(performance.now() - start);
          counts[outcome]++;
        }
      }),
    );
    return (performance.now() - t0) / 1000;
  });
  const requests = counts.ok + counts.refused + counts.failed;
  return {
    requests,
    ...counts,
    durationS: wallS,
    throughput: counts.ok / wallS,
    latency: latencyOf(samples),
    generatorCpuPct: cpuPct,
  };
}
