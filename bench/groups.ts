// The consensus stores' benchmarks (issues 16 and 17), parts of `npm run bench`:
// - groups: writes/s and p50/p99 of Chorus on Raft (3, 5 nodes), on 2PC (3, 5 nodes) and on Redis,
//   and of etcd 3.4 (3 members), at each client count, in the same run with the same load
//   generator (bench/lib/write-load.ts): Chorus REST add-track against etcd's JSON gateway put;
// - failover: the Raft leader SIGKILLed under load, N trials: time until a write sent after the
//   kill is acknowledged, then the node restarted; at the end every acknowledged add is read back;
// - contention: every client on one room (2PC's lock: NO votes, aborts, retries, from its counters).
// Every system is started fresh (fresh data dirs, fsync on) and stopped before the next one, so
// one system's leftovers never load the next; the machine's load average is recorded beside each
// figure because the machine is shared.

import os from 'node:os';
import { join } from 'node:path';
import { withCpu, type CpuUse } from './lib/cpu.ts';
import { makeRooms } from './lib/rooms.ts';
import { latencyOf, round, type Latency } from './lib/stats.ts';
import {
  agreedLeader,
  startChorusGroup,
  startEtcd,
  type ChorusGroup,
  type GroupKind,
} from './lib/systems.ts';
import { verifyRun, type VerifyReport } from './lib/verify.ts';
import {
  chorusAdds,
  etcdPuts,
  writeLoad,
  type WriteCall,
  type WriteEvent,
  type WriteResult,
} from './lib/write-load.ts';
import { Workload, type BenchRoom } from './lib/workload.ts';

export interface SystemSpec {
  readonly name: string;
  readonly kind: GroupKind | 'etcd';
  readonly nodes: number;
}

export interface GroupPlan {
  readonly systems: readonly SystemSpec[];
  readonly clients: readonly number[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly trials: number;
  readonly failover: { readonly nodes: number; readonly clients: number; readonly trials: number };
  readonly contention: {
    readonly systems: readonly SystemSpec[];
    readonly clients: readonly number[];
    readonly seconds: number;
  };
}

export interface GroupRow {
  readonly system: string;
  readonly kind: SystemSpec['kind'];
  readonly nodes: number;
  readonly clients: number;
  readonly trial: number;
  readonly result: WriteResult;
  /** The 1-minute load average before and after the measurement. */
  readonly load: readonly [number, number];
  /** CPU per acknowledged write of the system's server processes (Chorus nodes, etcd members). */
  readonly cpu: CpuUse;
}

export interface FailoverTrial {
  readonly trial: number;
  readonly killed: string;
  /** From the SIGKILL until a write sent after it was acknowledged, ms (null: not within the deadline). */
  readonly recoveryMs: number | null;
  /** From the SIGKILL until the surviving nodes agreed on a new leader, ms. */
  readonly newLeaderMs: number | null;
  readonly load: number;
}

export interface FailoverReport {
  readonly nodes: number;
  readonly clients: number;
  readonly trials: readonly FailoverTrial[];
  readonly recovery: Latency;
  readonly result: WriteResult;
  readonly verify: VerifyReport;
}

export interface ContentionRow {
  readonly system: string;
  readonly nodes: number;
  readonly clients: number;
  readonly result: WriteResult;
  /** 2PC: the counters of every node added up, after minus before (null for other stores). */
  readonly counters: Counters | null;
  readonly load: readonly [number, number];
}

interface Counters {
  prepares: number;
  votesNo: number;
  commits: number;
  retries: number;
  aborts: Record<string, number>;
}

export interface GroupResults {
  rows: GroupRow[];
  failover: FailoverReport | null;
  contention: ContentionRow[];
  verifies: VerifyReport[];
  /** etcd: acknowledged puts against the keys it holds afterwards. */
  etcdChecks: { system: string; acknowledged: number; held: number }[];
  /** Runs that could not be completed (the rest of the run goes on; the run then fails). */
  errors: string[];
}

export const emptyGroupResults = (): GroupResults => ({
  rows: [],
  failover: null,
  contention: [],
  verifies: [],
  etcdChecks: [],
  errors: [],
});

/** Runs one system's part; a failure is recorded and the next system still runs. */
async function guarded(what: string, out: GroupResults, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    out.errors.push(message);
    log(`FAILED ${message}`);
  }
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const loadAvg = (): number => round(os.loadavg()[0]!, 2);

function describe(r: WriteResult): string {
  const others = Object.entries(r.statuses)
    .filter(([s]) => !s.startsWith('2'))
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  return `${round(r.throughput)} writes/s, p50 ${round(r.latency.p50, 2)} ms, p99 ${round(r.latency.p99, 2)} ms${others ? ` (${others})` : ''}`;
}

// ---- Throughput: Chorus groups and etcd ----------------------------------------------------------

async function measureChorus(
  spec: SystemSpec,
  plan: GroupPlan,
  dir: string,
  trial: number,
  out: GroupResults,
): Promise<void> {
  const group = await startChorusGroup(spec.kind as GroupKind, spec.nodes, dir);
  const workload = new Workload(`g-${spec.name}-${trial}`, []);
  const roomIds: string[] = [];
  try {
    for (const clients of plan.clients) {
      // One room per client: the store's cost per write, not a lock race (see the contention part).
      const rooms = await makeRooms(group.urls(), clients, 1, workload);
      roomIds.push(...rooms.map((r) => r.id));
      const call = chorusAdds(rooms, workload);
      await measure({
        spec,
        plan,
        clients,
        trial,
        out,
        pids: group.pids(),
        nodes: group.urls(),
        call,
        warm: call,
      });
    }
    const report = await verifyRun(group.urls(), roomIds, workload);
    out.verifies.push(report);
    log(
      `check ${spec.name}: ${report.acknowledgedAdds} acknowledged adds on ${report.nodes} nodes: ${report.missing.length} missing, ${report.disagreements.length} disagreements`,
    );
  } finally {
    await group.stop();
  }
}

/** Warm-up, then one measured run of `clients` clients, recorded as a row. */
async function measure(o: {
  spec: SystemSpec;
  plan: GroupPlan;
  clients: number;
  trial: number;
  out: GroupResults;
  pids: readonly number[];
  nodes: readonly string[];
  call: WriteCall;
  warm: WriteCall;
}): Promise<void> {
  const { spec, clients, trial } = o;
  const nodes = (): readonly string[] => o.nodes;
  if (o.plan.warmupSeconds > 0)
    await writeLoad({ concurrency: clients, nodes, call: o.warm, durationS: o.plan.warmupSeconds });
  const before = loadAvg();
  const { result, cpu } = await withCpu(o.pids, () =>
    writeLoad({ concurrency: clients, nodes, call: o.call, durationS: o.plan.seconds }),
  );
  const load: [number, number] = [before, loadAvg()];
  o.out.rows.push({
    system: spec.name,
    kind: spec.kind,
    nodes: spec.nodes,
    clients,
    trial,
    result,
    load,
    cpu,
  });
  log(
    `${spec.name} ${clients} clients, trial ${trial}: ${describe(result)}, servers ${round(cpu.serversUsPerRequest)} µs CPU per write, load ${before}`,
  );
}

async function measureEtcd(
  spec: SystemSpec,
  plan: GroupPlan,
  dir: string,
  trial: number,
  out: GroupResults,
): Promise<void> {
  const etcd = await startEtcd(spec.nodes, dir);
  const acked = { count: 0 };
  try {
    for (const clients of plan.clients) {
      // Every put writes a new key (the warm-up has its own), so the keys held afterwards count them all.
      const call = etcdPuts(`bench/${clients}/measured`, acked);
      const warm = etcdPuts(`bench/${clients}/warm-up`, acked);
      await measure({ spec, plan, clients, trial, out, pids: etcd.pids, nodes: etcd.urls, call, warm });
    }
    const held = await etcd.countKeys('bench/');
    out.etcdChecks.push({ system: spec.name, acknowledged: acked.count, held });
    log(`check ${spec.name}: ${acked.count} acknowledged puts, ${held} keys held`);
  } finally {
    await etcd.stop();
  }
}

/** Every system in turn, each started fresh, `trials` times over (the median trial is reported). */
export async function groupsPhase(plan: GroupPlan, tmp: string, out: GroupResults): Promise<void> {
  for (let trial = 1; trial <= plan.trials; trial++) {
    for (const spec of plan.systems) {
      log(`\n== groups: ${spec.name}, trial ${trial}`);
      const dir = join(tmp, `groups-${spec.name}-${trial}`);
      await guarded(`groups ${spec.name} trial ${trial}`, out, () =>
        spec.kind === 'etcd'
          ? measureEtcd(spec, plan, dir, trial, out)
          : measureChorus(spec, plan, dir, trial, out),
      );
    }
  }
}

// ---- Failover ------------------------------------------------------------------------------------

export function failoverPhase(plan: GroupPlan, tmp: string, out: GroupResults): Promise<void> {
  return guarded('failover', out, () => failover(plan, tmp, out));
}

async function failover(plan: GroupPlan, tmp: string, out: GroupResults): Promise<void> {
  const { nodes, clients, trials } = plan.failover;
  log(`\n== failover: Raft, ${nodes} nodes, ${clients} clients, ${trials} leader kills`);
  const group = await startChorusGroup('raft', nodes, join(tmp, 'failover'));
  const workload = new Workload('failover', []);
  let stop = false;
  const acks: WriteEvent[] = [];
  try {
    const rooms = await makeRooms(group.urls(), clients, 1, workload);
    const all = Array.from({ length: nodes }, (_, i) => i);
    const load = writeLoad({
      concurrency: clients,
      nodes: () => group.urls().filter((u) => u !== ''),
      call: chorusAdds(rooms, workload),
      stopped: () => stop,
      onEvent: (e) => void (e.outcome === 'ok' && acks.push(e)),
    });
    const results: FailoverTrial[] = [];
    try {
      for (let trial = 1; trial <= trials; trial++) {
        await group.ready();
        const leader = await agreedLeader(group, all, 60_000);
        // A second of steady load before the kill.
        await new Promise((r) => setTimeout(r, 1_000));
        const load1 = loadAvg();
        const killedAt = performance.now();
        await group.kill(leader);
        const alive = all.filter((i) => i !== leader);
        const newLeader = agreedLeader(group, alive, 30_000).then(
          () => performance.now() - killedAt,
          () => null,
        );
        const recovered = await waitForAck(acks, killedAt, 30_000);
        results.push({
          trial,
          killed: `n${leader + 1}`,
          recoveryMs: recovered === null ? null : recovered - killedAt,
          newLeaderMs: await newLeader,
          load: load1,
        });
        const last = results.at(-1)!;
        log(
          `trial ${trial}: killed n${leader + 1}; writes acknowledged again after ${last.recoveryMs === null ? 'more than 30 s' : `${round(last.recoveryMs)} ms`}, new leader after ${last.newLeaderMs === null ? '-' : `${round(last.newLeaderMs)} ms`}, load ${load1}`,
        );
        await group.restart(leader);
      }
    } finally {
      stop = true;
    }
    const result = await load;
    await group.ready();
    const verify = await verifyRun(
      group.urls(),
      rooms.map((r) => r.id),
      workload,
    );
    out.verifies.push(verify);
    const recovered = results.flatMap((t) => (t.recoveryMs === null ? [] : [t.recoveryMs]));
    out.failover = {
      nodes,
      clients,
      trials: results,
      recovery: latencyOf(recovered.length === results.length ? recovered : [...recovered, Infinity]),
      result,
      verify,
    };
    log(
      `failover: recovery p50 ${round(out.failover.recovery.p50)} ms, max ${round(out.failover.recovery.max)} ms; ${verify.acknowledgedAdds} acknowledged adds read back on ${verify.nodes} nodes: ${verify.missing.length} missing, ${verify.disagreements.length} disagreements`,
    );
  } finally {
    stop = true;
    await group.stop();
  }
}

/** When the first write sent at or after `since` was acknowledged, or null after timeoutMs. */
async function waitForAck(
  acks: readonly WriteEvent[],
  since: number,
  timeoutMs: number,
): Promise<number | null> {
  const deadline = performance.now() + timeoutMs;
  let from = acks.length;
  while (performance.now() < deadline) {
    for (; from < acks.length; from++) {
      const e = acks[from]!;
      if (e.sentAt >= since) return e.doneAt;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return null;
}

// ---- Contention ----------------------------------------------------------------------------------

async function counters(group: ChorusGroup): Promise<Counters | null> {
  const sum: Counters = { prepares: 0, votesNo: 0, commits: 0, retries: 0, aborts: {} };
  for (let i = 0; i < group.size; i++) {
    const c = (await group.status(i))?.details['counters'] as Counters | undefined;
    if (!c) return null;
    sum.prepares += c.prepares;
    sum.votesNo += c.votesNo;
    sum.commits += c.commits;
    sum.retries += c.retries;
    for (const [k, v] of Object.entries(c.aborts)) sum.aborts[k] = (sum.aborts[k] ?? 0) + v;
  }
  return sum;
}

function minus(a: Counters, b: Counters): Counters {
  const aborts: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a.aborts), ...Object.keys(b.aborts)]))
    aborts[k] = (a.aborts[k] ?? 0) - (b.aborts[k] ?? 0);
  return {
    prepares: a.prepares - b.prepares,
    votesNo: a.votesNo - b.votesNo,
    commits: a.commits - b.commits,
    retries: a.retries - b.retries,
    aborts,
  };
}

export async function contentionPhase(plan: GroupPlan, tmp: string, out: GroupResults): Promise<void> {
  for (const spec of plan.contention.systems)
    await guarded(`contention ${spec.name}`, out, () => contention(spec, plan, tmp, out));
}

async function contention(spec: SystemSpec, plan: GroupPlan, tmp: string, out: GroupResults): Promise<void> {
  log(`\n== contention: ${spec.name}, every client on one room`);
  const group = await startChorusGroup(
    spec.kind as GroupKind,
    spec.nodes,
    join(tmp, `contention-${spec.name}`),
  );
  const workload = new Workload(`c-${spec.name}`, []);
  const roomIds: string[] = [];
  try {
    for (const clients of plan.contention.clients) {
      const rooms: BenchRoom[] = await makeRooms(group.urls(), 1, clients, workload);
      roomIds.push(rooms[0]!.id);
      const before = await counters(group);
      const load0 = loadAvg();
      const result = await writeLoad({
        concurrency: clients,
        nodes: () => group.urls(),
        call: chorusAdds(rooms, workload),
        durationS: plan.contention.seconds,
      });
      const after = await counters(group);
      const delta = before && after ? minus(after, before) : null;
      out.contention.push({
        system: spec.name,
        nodes: spec.nodes,
        clients,
        result,
        counters: delta,
        load: [load0, loadAvg()],
      });
      log(
        `${spec.name} ${clients} clients on one room: ${describe(result)}${delta ? `; ${delta.prepares} prepares, ${delta.votesNo} NO votes, ${delta.retries} retries, aborts ${JSON.stringify(delta.aborts)}` : ''}`,
      );
    }
    const report = await verifyRun(group.urls(), roomIds, workload);
    out.verifies.push(report);
    log(
      `check ${spec.name}: ${report.acknowledgedAdds} acknowledged adds: ${report.missing.length} missing, ${report.disagreements.length} disagreements`,
    );
  } finally {
    await group.stop();
  }
}
