// The `shards` part of `npm run bench`: the Redis store over a Redis Cluster of one primary against
// one of three primaries, under the same load (`chorus cluster --store redis --redis-shards 1|3`,
// three Chorus nodes behind nginx, mixed REST load over many rooms). Both sides run the same code
// (the cluster client, the per-primary tailer), so the ratio says what the extra primaries buy, not
// what the cluster protocol costs. Trials alternate 1, 3, 1, 3, … so that both halves of a ratio see
// the machine in the same mood; each reports throughput and CPU time per request of the Chorus
// nodes, of the Redis processes and of the whole machine. Every run ends with the usual check that
// every node holds every acknowledged add.

import { withCpu, type CpuUse } from './lib/cpu.ts';
import { restMixed } from './lib/rest-load.ts';
import { makeRooms } from './lib/rooms.ts';
import { round, type LoadResult } from './lib/stats.ts';
import { verifyRun, type VerifyReport } from './lib/verify.ts';
import { Workload } from './lib/workload.ts';

export interface ShardsPlan {
  readonly primaries: readonly number[];
  readonly nodes: number;
  readonly rooms: number;
  readonly clients: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly trials: number;
  readonly seed: number;
}

export const FULL_SHARDS: Omit<ShardsPlan, 'seed'> = {
  primaries: [1, 3],
  nodes: 3,
  rooms: 60,
  clients: 100,
  seconds: 10,
  warmupSeconds: 2,
  trials: 3,
};

/** CI's smoke run of the same code paths. */
export const QUICK_SHARDS: Omit<ShardsPlan, 'seed'> = {
  primaries: [1, 3],
  nodes: 2,
  rooms: 10,
  clients: 20,
  seconds: 2,
  warmupSeconds: 0.5,
  trials: 1,
};

/** A `chorus cluster` on a Redis Cluster, as bench/run.ts starts it. */
export interface ShardedTarget {
  readonly rest: string;
  readonly nodes: readonly string[];
  /** The Chorus nodes. */
  readonly pids: readonly number[];
  /** The redis-server processes of the Redis Cluster. */
  readonly storePids: readonly number[];
  stop(): Promise<void>;
}

export interface ShardsRow {
  readonly primaries: number;
  readonly trial: number;
  readonly result: LoadResult;
  /** CPU per request of the Chorus nodes (servers) and the whole machine. */
  readonly nodesCpu: CpuUse;
  /** CPU per request of the Redis processes. */
  readonly redisCpu: CpuUse;
}

export interface ShardsResults {
  readonly plan: ShardsPlan | null;
  readonly rows: ShardsRow[];
  readonly verifies: VerifyReport[];
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

export async function shardsPhase(
  plan: ShardsPlan,
  start: (primaries: number, nodes: number, dir: string) => Promise<ShardedTarget>,
  tmp: string,
): Promise<ShardsResults> {
  const rows: ShardsRow[] = [];
  const verifies: VerifyReport[] = [];
  for (let t = 0; t < plan.trials; t++) {
    for (const primaries of plan.primaries) {
      log(
        `\n== shards: ${plan.nodes} nodes on ${primaries} Redis primar${primaries === 1 ? 'y' : 'ies'}, trial ${t + 1}`,
      );
      const target = await start(primaries, plan.nodes, `${tmp}/shards-${primaries}-${t}`);
      try {
        const setup = new Workload(`shards-${primaries}-${t}`, []);
        const rooms = await makeRooms(target.nodes, plan.rooms, 10, setup);
        setup.useRooms(rooms);
        if (plan.warmupSeconds > 0)
          await restMixed({
            url: target.rest,
            rooms,
            durationS: plan.warmupSeconds,
            connections: plan.clients,
            workload: setup,
            seed: plan.seed,
          });
        // Two CPU readings around one run: the Redis processes' and (inside) the nodes'.
        const { result: inner, cpu: redisCpu } = await withCpu(target.storePids, () =>
          withCpu(target.pids, () =>
            restMixed({
              url: target.rest,
              rooms,
              durationS: plan.seconds,
              connections: plan.clients,
              workload: setup,
              seed: plan.seed + 1 + t,
            }),
          ).then((r) => ({ ...r, ok: r.result.ok })),
        );
        const row: ShardsRow = {
          primaries,
          trial: t + 1,
          result: inner.result,
          nodesCpu: inner.cpu,
          redisCpu,
        };
        rows.push(row);
        log(
          `${round(row.result.throughput)} req/s, p50 ${round(row.result.latency.p50, 2)} ms, p99 ${round(row.result.latency.p99, 2)} ms, ${row.result.failed} failed; CPU per request: nodes ${round(row.nodesCpu.serversUsPerRequest)} µs, Redis ${round(row.redisCpu.serversUsPerRequest)} µs, machine ${round(row.nodesCpu.machineUsPerRequest)} µs`,
        );
        const report = await verifyRun(
          target.nodes,
          rooms.map((r) => r.id),
          setup,
        );
        verifies.push(report);
        log(
          `check: ${report.acknowledgedAdds} acknowledged adds on ${report.nodes} nodes: ${report.missing.length} missing, ${report.disagreements.length} disagreements`,
        );
      } finally {
        await target.stop();
      }
    }
  }
  return { plan, rows, verifies };
}

/** The median of `values` (the lower middle for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1] ?? 0;
}

export function shardsMarkdown(results: ShardsResults): string[] {
  const plan = results.plan;
  if (plan === null || results.rows.length === 0) return [];
  const base = plan.primaries[0]!;
  const ratioOf = (r: ShardsRow): string => {
    const b = results.rows.find((x) => x.trial === r.trial && x.primaries === base);
    return b && b.result.throughput > 0 ? `${round(r.result.throughput / b.result.throughput, 2)}×` : '-';
  };
  const lines = [
    '',
    `## Redis Cluster: ${plan.primaries.join(' vs ')} primaries under the same load`,
    '',
    `\`chorus cluster --store redis --redis-shards N\`, ${plan.nodes} Chorus nodes behind nginx, ${plan.rooms} rooms of 10 members, ${plan.clients} REST clients, ${plan.seconds} s of mixed load (votes 60%, adds 20%, reads 15%, removes 5%) after ${plan.warmupSeconds} s of warm-up; trials alternate the configurations, and each ratio is to ${base} primar${base === 1 ? 'y' : 'ies'} in the same trial. CPU time per successful request, from /proc: of the Chorus nodes, of the redis-server processes, of the whole machine.`,
    '',
    '| primaries | trial | req/s | × vs ' +
      String(base) +
      ' | p50 ms | p99 ms | failed | nodes µs/req | Redis µs/req | machine µs/req | machine busy |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results.rows)
    lines.push(
      `| ${r.primaries} | ${r.trial} | ${round(r.result.throughput)} | ${ratioOf(r)} | ${round(r.result.latency.p50, 2)} | ${round(r.result.latency.p99, 2)} | ${r.result.failed} | ${round(r.nodesCpu.serversUsPerRequest)} | ${round(r.redisCpu.serversUsPerRequest)} | ${round(r.nodesCpu.machineUsPerRequest)} | ${round(r.nodesCpu.machineBusyPct)}% |`,
    );
  lines.push('', 'Medians over trials:', '');
  lines.push(
    '| primaries | req/s | ratio of medians | nodes µs/req | Redis µs/req | machine µs/req |',
    '|---|---|---|---|---|---|',
  );
  const baseMedian = median(results.rows.filter((r) => r.primaries === base).map((r) => r.result.throughput));
  for (const p of plan.primaries) {
    const rs = results.rows.filter((r) => r.primaries === p);
    const tput = median(rs.map((r) => r.result.throughput));
    lines.push(
      `| ${p} | ${round(tput)} | ${baseMedian > 0 ? `${round(tput / baseMedian, 2)}×` : '-'} | ${round(median(rs.map((r) => r.nodesCpu.serversUsPerRequest)))} | ${round(median(rs.map((r) => r.redisCpu.serversUsPerRequest)))} | ${round(median(rs.map((r) => r.nodesCpu.machineUsPerRequest)))} |`,
    );
  }
  return lines;
}
