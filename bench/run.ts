// `npm run bench`: the earlier system's experiment reproduced honestly, saturation under mixed load,
// and the ceiling (bare echo servers behind the same nginx) measured in the same run, so every
// Chorus figure is quoted as a ratio to it. Every run ends by checking that no acknowledged write
// is missing on any node; a run that loses a write fails loudly (exit 1).

import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NGINX_BIN, startNginx } from '../src/cluster/nginx.ts';
import { freePort } from '../src/cluster/ports.ts';
import { spawnProcess, stopProcess, waitForLine, type Spawned } from '../src/cluster/process.ts';
import { REDIS_BIN } from '../src/cluster/redis.ts';
import { startEmbeddedNode } from './lib/embedded.ts';
import { withCpu, type CpuUse } from './lib/cpu.ts';
import { renderFigures, type ExperimentPoint } from './lib/figures.ts';
import { clients, echoClients, grpcAdds, grpcEcho, grpcMixed } from './lib/grpc-load.ts';
import { restAdds, restEcho, restEchoPosts, restMixed } from './lib/rest-load.ts';
import { round, type LoadResult } from './lib/stats.ts';
import {
  contentionPhase,
  emptyGroupResults,
  failoverPhase,
  groupsPhase,
  type GroupPlan,
  type GroupResults,
} from './groups.ts';
import { groupFigures, groupsMarkdown } from './lib/group-report.ts';
import { makeRoom } from './lib/rooms.ts';
import {
  FULL_SHARDS,
  QUICK_SHARDS,
  shardsMarkdown,
  shardsPhase,
  type ShardedTarget,
  type ShardsPlan,
  type ShardsResults,
} from './shards.ts';
import { verifyRun, type VerifyReport } from './lib/verify.ts';
import { Workload, type BenchRoom } from './lib/workload.ts';

const HELP = `Usage: npm run bench -- [options]

Starts each configuration with \`chorus cluster\` (or \`chorus serve\` for the embedded node and
the consensus groups), waits for readiness, warms up, runs the load, checks that no acknowledged
write is missing on any node, and stops everything. Results go to
bench/results/<date>-<machine>.{json,md} with PNG figures.

  --quick        a smoke run (about 2 minutes): nodes 1 and 3, one trial, short runs; its results
                 go to a fresh temporary directory unless --out says otherwise (never the tree)
  --systems LIST the groups part measures only these systems (etcd-3, raft-3, etcd-5, raft-5,
                 2pc-3, 2pc-5, redis-3), comma-separated
  --group-trials N     trials per system and concurrency in the groups part (default 2)
  --failover-trials N  leader kills in the failover part (default 20): a shorter locked run
  --configs LIST the saturation part measures only these configurations (embedded, redis-1,
                 redis-3), comma-separated
  --parts LIST   run only these parts, comma-separated (default: all):
                   experiment   the earlier system's add-track experiment (Redis store, nginx)
                   saturation   mixed load against the echo ceiling (embedded node, Redis)
                   groups       Raft 3/5 and 2PC 3/5 and Redis against etcd 3.4 (3 members)
                   failover     SIGKILL of the Raft leader under load, trials, every ack read back
                   contention   every client on one room (2PC aborts and retries)
                   shards       the Redis store on a Redis Cluster of 1 and of 3 primaries
  --scale        instead: the state machine's per-command cost as a room grows (bench/scale.ts),
                 then one node's fan-out to 100 → 10,000 subscribers and writes among 10 → 100,000
                 rooms (bench/node-scale.ts)
  --out DIR      where to write results (default bench/results; --quick: a temporary directory)
  --seed N       seed of the mixed workload (default 42)
  --help         this text

Full run: the earlier experiment (nodes 1, 2, 3, 5, 10 x REST, gRPC x 3 trials, 20 clients,
200 add-track requests, through nginx, Redis store); saturation (10 s at 20 and 100 clients, votes
60% adds 20% reads 15% removes 5% over 10 rooms, REST and gRPC, embedded node, 1 and 3 Redis
nodes, 3 trials, the median reported); the ceiling: bare node:http and grpc-js echo servers
behind the same nginx, measured right before Chorus in every trial. Each saturation run also
reports the CPU time per request of the servers (Chorus nodes or echo processes) and of the whole
machine, read from /proc.

Groups: etcd 3.4 (/usr/bin/etcd, 3 members, or ETCD_BIN) and Chorus groups of \`chorus serve
--store raft|2pc --node-id --peers\` (3 and 5 nodes) and \`--store redis\` (3 nodes, one
redis-server with appendfsync always), each started fresh on loopback with fresh data dirs and fsync
on, 20 and 100 clients spread over the nodes, each client one write at a time (Chorus: REST
add-track to its own room; etcd: POST /v3/kv/put of a value as long as the add's body), 2 s warm-up,
10 s measured, 2 trials. Failover: 3 Raft nodes, 20 clients, 20 leader kills (SIGKILL), the time
until a write sent after the kill is acknowledged; the killed node restarts between trials; every
acknowledged add is read back from every node at the end. Contention: 2PC 3 and 5 nodes (Raft 3
beside them), 20 and 100 clients all adding to one room for 10 s, with the 2PC nodes' counters.
Shards: \`chorus cluster --store redis --redis-shards 1\` and \`--redis-shards 3\`, 3 nodes behind
nginx, 60 rooms, 100 REST clients, 10 s of mixed load, 3 trials alternating the two, throughput and
CPU per request of the nodes and of Redis, as a ratio to one primary (bench/shards.ts).`;

const PARTS = ['experiment', 'saturation', 'groups', 'failover', 'contention', 'shards'] as const;
type Part = (typeof PARTS)[number];

const RAFT3 = { name: 'raft-3', kind: 'raft', nodes: 3 } as const;
const ETCD3 = { name: 'etcd-3', kind: 'etcd', nodes: 3 } as const;
/** etcd with as many members as raft-5: the like-for-like peer of the 5-node Raft store. */
const ETCD5 = { name: 'etcd-5', kind: 'etcd', nodes: 5 } as const;
const TWOPC3 = { name: '2pc-3', kind: '2pc', nodes: 3 } as const;
const TWOPC5 = { name: '2pc-5', kind: '2pc', nodes: 5 } as const;

/** The consensus parts: etcd right next to Raft in every trial, so their ratio shares the moment. */
const FULL_GROUPS: GroupPlan = {
  systems: [
    ETCD3,
    RAFT3,
    ETCD5,
    { name: 'raft-5', kind: 'raft', nodes: 5 },
    TWOPC3,
    TWOPC5,
    { name: 'redis-3', kind: 'redis', nodes: 3 },
  ],
  clients: [20, 100],
  seconds: 10,
  warmupSeconds: 2,
  trials: 2,
  failover: { nodes: 3, clients: 20, trials: 20 },
  contention: { systems: [TWOPC3, TWOPC5, RAFT3], clients: [20, 100], seconds: 10 },
};

/** CI's smoke run of the same code paths, bounded to well under a minute. */
const QUICK_GROUPS: GroupPlan = {
  systems: [ETCD3, RAFT3],
  clients: [20],
  seconds: 2,
  warmupSeconds: 0.5,
  trials: 1,
  failover: { nodes: 3, clients: 10, trials: 1 },
  contention: { systems: [TWOPC3], clients: [20], seconds: 2 },
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const ECHO = join(ROOT, 'bench/echo-server.ts');
type Api = 'REST' | 'gRPC';
const APIS: readonly Api[] = ['REST', 'gRPC'];

interface Plan {
  readonly mode: 'quick' | 'full';
  readonly experimentNodes: readonly number[];
  readonly trials: number;
  readonly requests: number;
  readonly clients: number;
  readonly saturationConfigs: readonly SaturationConfig[];
  readonly saturationClients: readonly number[];
  readonly saturationSeconds: number;
  /** Saturation trials, each a ceiling measured right before Chorus; the median is reported. */
  readonly saturationTrials: number;
  readonly warmupSeconds: number;
  readonly rooms: number;
  readonly seed: number;
  readonly parts: readonly Part[];
  readonly groups: GroupPlan;
  readonly shards: Omit<ShardsPlan, 'seed'>;
}

type SaturationConfig =
  | { readonly name: string; readonly kind: 'embedded' }
  | { readonly name: string; readonly kind: 'redis'; readonly nodes: number };

/** A running system under test (or the ceiling): where to send load, which nodes to verify. */
interface Target {
  readonly rest: string;
  readonly grpc: string;
  /** REST URL of each node, asked directly at the end. */
  readonly nodes: readonly string[];
  /** The server processes (Chorus nodes or echo servers), whose CPU time is measured. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** A load run and the CPU it cost. */
interface Measured {
  readonly result: LoadResult;
  readonly cpu: CpuUse;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ---- Systems under test --------------------------------------------------------------------------

async function startChorusCluster(
  nodes: number,
  dir: string,
  redisShards = 0,
): Promise<ShardedTarget & Target> {
  // The supervisor names each Redis process on stderr (`redis redis://HOST:PORT pid PID`).
  const storePids: number[] = [];
  let partial = '';
  const onStderr = (chunk: string): void => {
    partial += chunk;
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      const pid = /^redis \S+ pid (\d+)$/.exec(partial.slice(0, nl))?.[1];
      if (pid) storePids.push(Number(pid));
      partial = partial.slice(nl + 1);
    }
  };
  const p = spawnProcess(
    process.execPath,
    [
      MAIN,
      'cluster',
      '--nodes',
      String(nodes),
      '--store',
      'redis',
      '--api',
      'both',
      '--port',
      '0',
      '--grpc-port',
      '0',
      '--data-dir',
      dir,
      ...(redisShards > 0 ? ['--redis-shards', String(redisShards)] : []),
      '--node-arg=--log-level=warn',
    ],
    { onStderr },
  );
  await waitForLine(p, /^redis /, 120_000, 'chorus cluster');
  const rest = lineValue(p, /^rest (\S+)/);
  const grpc = lineValue(p, /^grpc (\S+)/);
  const nodeUrls = p.lines
    .map((l) => /^node \d+ rest (\S+)/.exec(l)?.[1])
    .filter((u): u is string => u !== undefined);
  const pids = p.lines.flatMap((l) => {
    const pid = /^node \d+ rest .* pid (\d+)$/.exec(l)?.[1];
    return pid ? [Number(pid)] : [];
  });
  if (pids.length !== nodes) throw new Error(`chorus cluster printed ${pids.length} node pids, not ${nodes}`);
  return { rest, grpc, nodes: nodeUrls, pids, storePids, stop: () => stopProcess(p, 30_000) };
}

async function startEmbedded(dir: string): Promise<Target> {
  const node = await startEmbeddedNode(ROOT, dir);
  return {
    rest: node.rest,
    grpc: node.grpc,
    nodes: [node.rest],
    pids: [node.process.child.pid ?? 0],
    stop: () => stopProcess(node.process, 30_000),
  };
}

/** The ceiling: `count` bare echo servers, behind the same nginx as Chorus (or direct for count 0 nginx). */
async function startEcho(count: number, behindNginx: boolean, dir: string, durable = false): Promise<Target> {
  const procs: Spawned[] = [];
  const ports: { rest: number; grpc: number }[] = [];
  if (durable) await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const port = { rest: await freePort(), grpc: await freePort() };
    const args = [ECHO, String(port.rest), String(port.grpc), ...(durable ? [dir] : [])];
    const p = spawnProcess(process.execPath, args);
    await waitForLine(p, /^ready/, 30_000, 'echo server');
    procs.push(p);
    ports.push(port);
  }
  if (!behindNginx) {
    const first = ports[0]!;
    return {
      rest: `http://127.0.0.1:${first.rest}`,
      grpc: `127.0.0.1:${first.grpc}`,
      nodes: [],
      pids: procs.map((p) => p.child.pid ?? 0),
      stop: async () => void (await Promise.all(procs.map((p) => stopProcess(p)))),
    };
  }
  const lb = { rest: await freePort(), grpc: await freePort() };
  const nginx = await startNginx({
    dir,
    host: '127.0.0.1',
    rest: { port: lb.rest, nodes: ports.map((p) => ({ host: '127.0.0.1', port: p.rest })) },
    grpc: { port: lb.grpc, nodes: ports.map((p) => ({ host: '127.0.0.1', port: p.grpc })) },
  });
  await waitForHttp(`http://127.0.0.1:${lb.rest}/`);
  return {
    rest: `http://127.0.0.1:${lb.rest}`,
    grpc: `127.0.0.1:${lb.grpc}`,
    nodes: [],
    pids: procs.map((p) => p.child.pid ?? 0),
    stop: async () => {
      await stopProcess(nginx, 5000, 'SIGQUIT');
      await Promise.all(procs.map((p) => stopProcess(p)));
    },
  };
}

function lineValue(p: Spawned, re: RegExp): string {
  for (const line of p.lines) {
    const m = re.exec(line);
    if (m) return m[1]!;
  }
  throw new Error(`no line matching ${String(re)} in:\n${p.lines.join('\n')}`);
}

async function waitForHttp(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// ---- Phases --------------------------------------------------------------------------------------

interface Row {
  readonly phase: 'experiment' | 'saturation';
  readonly config: string;
  readonly api: Api;
  readonly nodes: number;
  readonly clients: number;
  readonly trial: number;
  readonly chorus: LoadResult;
  readonly ceiling: LoadResult | null;
  readonly ratio: number | null;
  /** The embedded node's second ceiling: the REST echo that appends and fsyncs before answering. */
  readonly durable?: { readonly ceiling: LoadResult; readonly ratio: number };
  /** Saturation: the CPU per request of Chorus and of its ceiling. */
  readonly cpu?: { readonly chorus: CpuUse; readonly ceiling: CpuUse | null };
}

async function addsRun(
  api: Api,
  target: Target,
  room: BenchRoom,
  requests: number,
  concurrency: number,
  workload: Workload,
): Promise<LoadResult> {
  if (api === 'REST')
    return restAdds({ url: target.rest, room, amount: requests, connections: concurrency, workload });
  const stubs = clients(target.grpc, Math.min(concurrency, 4));
  try {
    return await grpcAdds({ stubs, room, amount: requests, concurrency, workload });
  } finally {
    for (const s of stubs) s.close();
  }
}

async function mixedRun(
  api: Api,
  target: Target,
  rooms: readonly BenchRoom[],
  seconds: number,
  concurrency: number,
  workload: Workload,
  seed: number,
): Promise<LoadResult> {
  if (api === 'REST')
    return restMixed({
      url: target.rest,
      rooms,
      durationS: seconds,
      connections: concurrency,
      workload,
      seed,
    });
  const stubs = clients(target.grpc, Math.min(concurrency, 4));
  try {
    return await grpcMixed({ stubs, rooms, durationS: seconds, concurrency, workload, seed });
  } finally {
    for (const s of stubs) s.close();
  }
}

async function echoRun(
  api: Api,
  target: Target,
  concurrency: number,
  amount: number | null,
  seconds: number | null,
): Promise<LoadResult> {
  if (api === 'REST') {
    return amount !== null
      ? restEchoPosts({ url: target.rest, connections: concurrency, amount })
      : restEcho({ url: target.rest, connections: concurrency, durationS: seconds ?? 1 });
  }
  const c = echoClients(target.grpc, Math.min(concurrency, 4));
  try {
    return await grpcEcho({
      clients: c,
      concurrency,
      ...(amount !== null ? { amount } : {}),
      ...(seconds !== null ? { durationS: seconds } : {}),
    });
  } finally {
    for (const x of c) x.close();
  }
}

function describe(r: LoadResult): string {
  return `${round(r.throughput)} req/s, p50 ${round(r.latency.p50, 2)} ms, p99 ${round(r.latency.p99, 2)} ms, ${r.failed} failed, ${r.refused} refused, generator CPU ${round(r.generatorCpuPct)}%`;
}

async function experiment(
  plan: Plan,
  tmp: string,
  rows: Row[],
  verifies: VerifyReport[],
  points: ExperimentPoint[],
): Promise<void> {
  for (const nodes of plan.experimentNodes) {
    log(`\n== experiment: ${nodes} node(s), Redis store, through nginx`);
    // The ceiling first, with as many echo servers as Chorus nodes, behind the same nginx.
    const echo = await startEcho(nodes, true, join(tmp, `echo-exp-${nodes}`));
    const ceilings = new Map<Api, LoadResult[]>();
    try {
      for (const api of APIS) {
        await echoRun(api, echo, plan.clients, plan.requests, null);
        const results: LoadResult[] = [];
        for (let t = 0; t < plan.trials; t++)
          results.push(await echoRun(api, echo, plan.clients, plan.requests, null));
        ceilings.set(api, results);
        log(`ceiling ${api} x${nodes}: ${describe(results[0]!)}`);
      }
    } finally {
      await echo.stop();
    }

    const target = await startChorusCluster(nodes, join(tmp, `cluster-exp-${nodes}`));
    const workload = new Workload(`exp${nodes}`, []);
    const roomIds: string[] = [];
    try {
      for (const api of APIS) {
        const warm = await makeRoom(target.rest, plan.clients, 0, workload);
        roomIds.push(warm.id);
        await addsRun(api, target, warm, plan.requests, plan.clients, workload);
        for (let t = 0; t < plan.trials; t++) {
          const room = await makeRoom(target.rest, plan.clients, 0, workload);
          roomIds.push(room.id);
          const result = await addsRun(api, target, room, plan.requests, plan.clients, workload);
          const ceiling = ceilings.get(api)?.[t] ?? null;
          rows.push({
            phase: 'experiment',
            config: `redis x${nodes}`,
            api,
            nodes,
            clients: plan.clients,
            trial: t + 1,
            chorus: result,
            ceiling,
            ratio: ceiling ? result.throughput / ceiling.throughput : null,
          });
          points.push({
            api,
            nodes,
            throughput: result.throughput,
            p50: result.latency.p50,
            p90: result.latency.p90,
            p99: result.latency.p99,
          });
          log(
            `chorus ${api} x${nodes} trial ${t + 1}: ${describe(result)}${ceiling ? ` (${round((result.throughput / ceiling.throughput) * 100)}% of ceiling)` : ''}`,
          );
        }
      }
      const report = await verifyRun(target.nodes, roomIds, workload);
      verifies.push(report);
      log(
        `check: ${report.acknowledgedAdds} acknowledged adds on ${report.nodes} nodes: ${report.missing.length} missing, ${report.disagreements.length} disagreements`,
      );
    } finally {
      await target.stop();
    }
  }
}

/**
 * Each configuration: Chorus is started once; then, per trial, the ceiling is measured (echo servers
 * started for it and stopped) and straight after it Chorus, so that both halves of a ratio see the
 * machine in the same mood. Every Chorus run gets fresh rooms (20 members, 30 entries each), so each
 * trial measures the same thing rather than inheriting the queues the runs before it grew. The
 * summary takes the median over trials; the check at the end covers every room of every run.
 */
async function saturation(plan: Plan, tmp: string, rows: Row[], verifies: VerifyReport[]): Promise<void> {
  for (const config of plan.saturationConfigs) {
    log(`\n== saturation: ${config.name}`);
    const backends = config.kind === 'embedded' ? 1 : config.nodes;
    const dir = join(tmp, `sat-${config.name}`);
    const target =
      config.kind === 'embedded' ? await startEmbedded(dir) : await startChorusCluster(config.nodes, dir);
    const setup = new Workload(`sat-${config.name}`, []);
    const mixed = new Workload(`sat-${config.name}-load`, []);
    const roomIds: string[] = [];
    const freshRooms = async (): Promise<BenchRoom[]> => {
      const rooms: BenchRoom[] = [];
      for (let i = 0; i < plan.rooms; i++) rooms.push(await makeRoom(target.rest, 20, 30, setup));
      roomIds.push(...rooms.map((r) => r.id));
      mixed.useRooms(rooms);
      return rooms;
    };
    try {
      for (let t = 0; t < plan.saturationTrials; t++) {
        const warmup = t === 0 ? plan.warmupSeconds : 0;
        const ceilings = await saturationCeilings(
          plan,
          config,
          join(tmp, `echo-sat-${config.name}-${t}`),
          warmup,
        );
        for (const api of APIS) {
          for (const c of plan.saturationClients) {
            const rooms = await freshRooms();
            if (warmup > 0) await mixedRun(api, target, rooms, warmup, c, mixed, plan.seed);
            const seed = plan.seed + 1 + t;
            const { result, cpu } = await withCpu(target.pids, () =>
              mixedRun(api, target, rooms, plan.saturationSeconds, c, mixed, seed),
            );
            const measured = ceilings.get(`${api}/${c}`) ?? null;
            const ceiling = measured?.result ?? null;
            const durable = ceilings.get(`${api}-durable/${c}`)?.result;
            rows.push({
              phase: 'saturation',
              config: config.name,
              api,
              nodes: backends,
              clients: c,
              trial: t + 1,
              chorus: result,
              ceiling,
              ratio: ceiling ? result.throughput / ceiling.throughput : null,
              ...(durable
                ? { durable: { ceiling: durable, ratio: result.throughput / durable.throughput } }
                : {}),
              cpu: { chorus: cpu, ceiling: measured?.cpu ?? null },
            });
            log(
              `chorus ${api} ${c} clients, trial ${t + 1}: ${describe(result)}${ceiling ? ` (${round((result.throughput / ceiling.throughput) * 100)}% of ceiling)` : ''}, servers ${round(cpu.serversUsPerRequest)} µs CPU per request`,
            );
          }
        }
      }
      const report = await verifyRun(target.nodes, roomIds, mixed);
      verifies.push(report);
      log(
        `check: ${report.acknowledgedAdds} acknowledged adds on ${report.nodes} nodes: ${report.missing.length} missing, ${report.disagreements.length} disagreements`,
      );
    } finally {
      await target.stop();
    }
  }
}

/**
 * One trial's ceilings for a configuration: echo servers as many as its nodes, behind nginx as it
 * is. The embedded node also gets a second REST ceiling, an echo that persists (group-committed
 * fsync) before it answers, as the node does.
 */
async function saturationCeilings(
  plan: Plan,
  config: SaturationConfig,
  dir: string,
  warmupSeconds: number,
): Promise<Map<string, Measured>> {
  const backends = config.kind === 'embedded' ? 1 : config.nodes;
  const ceilings = new Map<string, Measured>();
  const measure = async (echo: Target, api: Api, key: string): Promise<void> => {
    for (const c of plan.saturationClients) {
      if (warmupSeconds > 0) await echoRun(api, echo, c, null, warmupSeconds);
      const measured = await withCpu(echo.pids, () => echoRun(api, echo, c, null, plan.saturationSeconds));
      ceilings.set(`${key}/${c}`, measured);
      log(`ceiling ${key} ${c} clients: ${describe(measured.result)}`);
    }
  };
  const echo = await startEcho(backends, config.kind === 'redis', dir);
  try {
    for (const api of APIS) await measure(echo, api, api);
  } finally {
    await echo.stop();
  }
  if (config.kind === 'embedded') {
    const durable = await startEcho(1, false, `${dir}-durable`, true);
    try {
      await measure(durable, 'REST', 'REST-durable');
    } finally {
      await durable.stop();
    }
  }
  return ceilings;
}

/** The median trial of each (configuration, API, clients) by ratio to its ceiling. */
function saturationSummary(rows: readonly Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.phase !== 'saturation') continue;
    const key = `${r.config}/${r.api}/${r.clients}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const sorted = [...g].sort((a, b) => (a.ratio ?? 0) - (b.ratio ?? 0));
    return sorted[(sorted.length - 1) >> 1]!;
  });
}

// ---- Results -------------------------------------------------------------------------------------

/** The first line a tool prints about its version (nginx -v prints it on stderr). */
function version(cmd: string, args: string[]): string {
  const run = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const text = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
  return text.split('\n')[0] || (run.error ? `unknown (${run.error.message})` : 'unknown');
}

/** The commit measured, or why it is unknown (a tree exported without .git has none). */
function commit(): string {
  const run = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (run.status === 0 && run.stdout.trim() !== '') return run.stdout.trim();
  return run.error ? `unknown (${run.error.message})` : 'unknown (not a git checkout)';
}

function machine(): Record<string, unknown> {
  return {
    hostname: os.hostname(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: version(NGINX_BIN, ['-v']),
    redis: version(REDIS_BIN, ['--version']),
    commit: commit(),
  };
}

function markdown(result: {
  date: string;
  mode: string;
  machine: Record<string, unknown>;
  plan: Plan;
  rows: Row[];
  verifies: VerifyReport[];
  groups: GroupResults;
  shards: ShardsResults;
  durationS: number;
}): string {
  const m = result.machine;
  const lines = [
    `# Chorus benchmark, ${result.date} (${result.mode})`,
    '',
    `Machine: ${String(m['cpus'])} × ${String(m['cpuModel'])}, ${String(m['memoryGiB'])} GiB, ${String(m['os'])}; Node ${String(m['node'])}, ${String(m['nginx'])}, ${String(m['redis'])}; commit ${String(m['commit'])}.`,
    `Command: \`npm run bench${command(result.mode, result.plan.parts, result.plan.groups, result.plan.saturationConfigs)}\`; took ${round(result.durationS)} s. Load generator, servers, nginx and Redis share the machine.`,
  ];
  const experimentLines = [
    '',
    '## The earlier experiment: add-track, 20 clients, 200 requests, through nginx, Redis store',
    '',
    '| API | nodes | trial | req/s | p50 ms | p90 ms | p99 ms | max ms | failed | refused | ceiling req/s | % of ceiling | generator CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const row = (r: Row): string =>
    `| ${r.api} | ${r.nodes} | ${r.trial} | ${round(r.chorus.throughput)} | ${round(r.chorus.latency.p50, 2)} | ${round(r.chorus.latency.p90, 2)} | ${round(r.chorus.latency.p99, 2)} | ${round(r.chorus.latency.max, 1)} | ${r.chorus.failed} | ${r.chorus.refused} | ${r.ceiling ? round(r.ceiling.throughput) : '-'} | ${r.ratio !== null ? `${round(r.ratio * 100)}%` : '-'} | ${round(r.chorus.generatorCpuPct)}% |`;
  for (const r of result.rows.filter((x) => x.phase === 'experiment')) experimentLines.push(row(r));
  if (result.plan.parts.includes('experiment')) lines.push(...experimentLines);
  const satRow = (r: Row): string =>
    `| ${r.config} | ${r.api} | ${r.clients} | ${r.trial} | ${round(r.chorus.throughput)} | ${round(r.chorus.latency.p50, 2)} | ${round(r.chorus.latency.p90, 2)} | ${round(r.chorus.latency.p99, 2)} | ${round(r.chorus.latency.max, 1)} | ${r.chorus.failed} | ${r.chorus.refused} | ${r.ceiling ? round(r.ceiling.throughput) : '-'} | ${r.ratio !== null ? `${round(r.ratio * 100)}%` : '-'} | ${r.durable ? `${round(r.durable.ceiling.throughput)} (${round(r.durable.ratio * 100)}%)` : '-'} | ${round(r.chorus.generatorCpuPct)}% |`;
  const cpuRow = (r: Row): string => {
    const chorus = r.cpu?.chorus;
    const echo = r.cpu?.ceiling;
    if (!chorus) return `| ${r.config} | ${r.api} | ${r.clients} | - | - | - | - | - | - |`;
    const times =
      echo && echo.serversUsPerRequest > 0
        ? `${round(chorus.serversUsPerRequest / echo.serversUsPerRequest, 1)}×`
        : '-';
    return `| ${r.config} | ${r.api} | ${r.clients} | ${round(chorus.serversUsPerRequest)} | ${echo ? round(echo.serversUsPerRequest) : '-'} | ${times} | ${round(chorus.machineUsPerRequest)} | ${echo ? round(echo.machineUsPerRequest) : '-'} | ${round(chorus.machineBusyPct)}% |`;
  };
  const satHeader = [
    '| system | API | clients | trial | req/s | p50 ms | p90 ms | p99 ms | max ms | failed | refused | ceiling req/s | % of ceiling | persisting echo req/s (% of it) | generator CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const trials = result.plan.saturationTrials;
  const saturationLines = [
    '',
    `## Saturation: ${result.plan.saturationSeconds} s of mixed load (votes 60%, adds 20%, reads 15%, removes 5%) over ${result.plan.rooms} rooms`,
    '',
    trials > 1
      ? `The median of ${trials} trials by ratio to the ceiling (each trial measures the ceiling right before Chorus):`
      : 'One trial:',
    '',
    ...satHeader,
    ...saturationSummary(result.rows).map(satRow),
    '',
    'CPU time per successful request in the same trials, from /proc: of the servers (the Chorus nodes, or the echo processes of the ceiling) and of the whole machine (load generator, nginx and Redis included):',
    '',
    '| system | API | clients | Chorus servers µs | echo servers µs | Chorus ÷ echo | Chorus machine µs | echo machine µs | machine busy (Chorus) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...saturationSummary(result.rows).map(cpuRow),
  ];
  if (trials > 1) {
    saturationLines.push('', 'Every trial:', '', ...satHeader);
    for (const r of result.rows.filter((x) => x.phase === 'saturation')) saturationLines.push(satRow(r));
  }
  if (result.plan.parts.includes('saturation')) lines.push(...saturationLines);
  lines.push(...groupsMarkdown(result.groups, result.plan.groups));
  lines.push(...shardsMarkdown(result.shards));
  lines.push('', '## Correctness at the end of every run', '');
  for (const v of [...result.verifies, ...result.groups.verifies, ...result.shards.verifies]) {
    lines.push(
      `- ${v.rooms} rooms on ${v.nodes} node(s): ${v.acknowledgedAdds} acknowledged adds, ${v.missing.length} missing, ${v.disagreements.length} disagreements between nodes`,
    );
  }
  for (const e of result.groups.etcdChecks)
    lines.push(`- ${e.system}: ${e.acknowledged} acknowledged puts, ${e.held} keys held afterwards`);
  lines.push(
    '',
    'The ceiling is a bare node:http JSON echo (and a bare grpc-js unary echo) with as many processes as Chorus nodes, behind the same nginx configuration (the embedded node and its ceiling are measured directly, without nginx), at the same concurrency, measured in the same run. The persisting echo (embedded node, REST) is the same node:http echo answering a POST only after appending its body to a file and fsyncing it, group-committed as the embedded store does. Latency is each request\'s own time. "refused" counts answers the rules gave (4xx); "failed" counts 5xx, timeouts and socket errors.',
  );
  return `${lines.join('\n')}\n`;
}

function command(
  mode: string,
  parts: readonly Part[],
  groups: GroupPlan,
  configs: readonly SaturationConfig[],
): string {
  const base = mode === 'quick' ? QUICK_GROUPS : FULL_GROUPS;
  const { systems } = groups;
  const allConfigs = mode === 'quick' ? 2 : 3;
  const flags = [
    ...(mode === 'quick' ? ['--quick'] : []),
    ...(parts.length === PARTS.length ? [] : [`--parts ${parts.join(',')}`]),
    ...(systems.length === base.systems.length ? [] : [`--systems ${systems.map((s) => s.name).join(',')}`]),
    ...(groups.trials === base.trials ? [] : [`--group-trials ${groups.trials}`]),
    ...(groups.failover.trials === base.failover.trials
      ? []
      : [`--failover-trials ${groups.failover.trials}`]),
    ...(configs.length === allConfigs ? [] : [`--configs ${configs.map((c) => c.name).join(',')}`]),
  ];
  return flags.length > 0 ? ` -- ${flags.join(' ')}` : '';
}

/** `--systems etcd-3,raft-3`: the groups part measures only these (a shorter run, same method). */
function onlySystems(plan: GroupPlan, names: string | undefined): GroupPlan {
  if (names === undefined) return plan;
  const keep = new Set(names.split(',').map((n) => n.trim()));
  return { ...plan, systems: plan.systems.filter((s) => keep.has(s.name)) };
}

/** `--group-trials N`, `--failover-trials N`: fewer trials, to keep a locked run under 10 minutes. */
function withTrials(plan: GroupPlan, group: string | undefined, failover: string | undefined): GroupPlan {
  const count = (v: string | undefined, flag: string, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`${flag} must be an integer 1-100`);
    return n;
  };
  return {
    ...plan,
    trials: count(group, '--group-trials', plan.trials),
    failover: { ...plan.failover, trials: count(failover, '--failover-trials', plan.failover.trials) },
  };
}

/** `--configs embedded`: the saturation part measures only these configurations (a shorter run). */
function onlyConfigs(configs: readonly SaturationConfig[], names: string | undefined): SaturationConfig[] {
  if (names === undefined) return [...configs];
  const keep = new Set(names.split(',').map((n) => n.trim()));
  return configs.filter((c) => keep.has(c.name));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      scale: { type: 'boolean' },
      out: { type: 'string' },
      seed: { type: 'string' },
      parts: { type: 'string' },
      systems: { type: 'string' },
      'group-trials': { type: 'string' },
      'failover-trials': { type: 'string' },
      configs: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (values.scale === true) {
    const { runScale } = await import('./scale.ts');
    const out = values.out ?? join(ROOT, 'bench/results');
    const files = await runScale({ max: 100_000, out });
    const { runNodeScale } = await import('./node-scale.ts');
    files.push(...(await runNodeScale({ maxSubscribers: 10_000, maxRooms: 100_000, out })));
    log(`\nresults: ${files.join(', ')}`);
    return;
  }
  const quick = values.quick === true;
  const parts = (values.parts ?? PARTS.join(',')).split(',').map((p) => p.trim());
  const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0 || parts.length === 0) {
    process.stderr.write(`unknown part(s) ${unknown.join(', ')}; the parts are ${PARTS.join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const plan: Plan = {
    parts: parts as Part[],
    groups: withTrials(
      onlySystems(quick ? QUICK_GROUPS : FULL_GROUPS, values.systems),
      values['group-trials'],
      values['failover-trials'],
    ),
    shards: quick ? QUICK_SHARDS : FULL_SHARDS,
    mode: quick ? 'quick' : 'full',
    experimentNodes: quick ? [1, 3] : [1, 2, 3, 5, 10],
    trials: quick ? 1 : 3,
    requests: 200,
    clients: 20,
    saturationConfigs: onlyConfigs(
      quick
        ? [
            { name: 'embedded', kind: 'embedded' },
            { name: 'redis-3', kind: 'redis', nodes: 3 },
          ]
        : [
            { name: 'embedded', kind: 'embedded' },
            { name: 'redis-1', kind: 'redis', nodes: 1 },
            { name: 'redis-3', kind: 'redis', nodes: 3 },
          ],
      values.configs,
    ),
    saturationClients: quick ? [20] : [20, 100],
    saturationSeconds: quick ? 2 : 10,
    saturationTrials: quick ? 1 : 3,
    warmupSeconds: quick ? 1 : 2,
    rooms: 10,
    seed: Number(values.seed ?? 42),
  };
  // A quick run is a smoke test: its figures are not worth keeping, and it must leave the tree clean.
  const out =
    values.out ??
    (quick ? await mkdtemp(join(os.tmpdir(), 'chorus-bench-quick-')) : join(ROOT, 'bench/results'));
  const tmp = await mkdtemp(join(os.tmpdir(), 'chorus-bench-'));
  const started = performance.now();
  const rows: Row[] = [];
  const verifies: VerifyReport[] = [];
  const points: ExperimentPoint[] = [];
  const groups = emptyGroupResults();
  let shards: ShardsResults = { plan: null, rows: [], verifies: [] };
  const has = (part: Part): boolean => plan.parts.includes(part);
  try {
    if (has('experiment')) await experiment(plan, tmp, rows, verifies, points);
    if (has('saturation')) await saturation(plan, tmp, rows, verifies);
    if (has('groups')) await groupsPhase(plan.groups, tmp, groups);
    if (has('failover')) await failoverPhase(plan.groups, tmp, groups);
    if (has('contention')) await contentionPhase(plan.groups, tmp, groups);
    if (has('shards'))
      shards = await shardsPhase(
        { ...plan.shards, seed: plan.seed },
        (primaries, nodes, dir) => startChorusCluster(nodes, dir, primaries),
        tmp,
      );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const date = new Date().toISOString().slice(0, 10);
  const whole = plan.parts.length === PARTS.length;
  const someConfigs =
    values.configs === undefined ? '' : `-${plan.saturationConfigs.map((c) => c.name).join('-')}`;
  const name = `${date}-${os.hostname()}${whole ? '' : `-${plan.parts.join('-')}`}${someConfigs}${quick ? '-quick' : ''}`;
  const result = {
    date,
    mode: plan.mode,
    machine: machine(),
    plan,
    rows,
    verifies,
    groups,
    shards,
    durationS: (performance.now() - started) / 1000,
  };
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(join(out, `${name}.md`), markdown(result));
  const figures = [
    ...(points.length > 0 ? await renderFigures(points, join(out, name)) : []),
    ...(await groupFigures(groups, join(out, name))),
  ];
  log(`\nresults: ${[join(out, `${name}.md`), join(out, `${name}.json`), ...figures].join(', ')}`);

  const lost = [...verifies, ...groups.verifies, ...shards.verifies].flatMap((v) => [
    ...v.missing,
    ...v.disagreements,
  ]);
  for (const e of groups.etcdChecks)
    if (e.held < e.acknowledged)
      lost.push(`${e.system}: ${e.acknowledged} puts acknowledged, ${e.held} keys held`);
  if (groups.errors.length > 0) {
    log(`\nFAILED: ${groups.errors.length} part(s) could not run:\n  ${groups.errors.join('\n  ')}`);
    process.exitCode = 1;
  }
  if (lost.length > 0) {
    log(
      `\nFAILED: ${lost.length} acknowledged writes missing or nodes disagreeing:\n  ${lost.slice(0, 20).join('\n  ')}`,
    );
    process.exitCode = 1;
  } else {
    log('every acknowledged write is present on every node');
  }
}

await main();
