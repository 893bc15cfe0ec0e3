// Real `chorus cluster` child processes for integration tests, and (re-exported from the modules
// beside it: processes.ts, cluster-http.ts, cluster-load.ts, cluster-replay.ts, cluster-checks.ts)
// what the cluster tests share:
//
// - startCluster(): spawns `node src/cli/main.ts cluster --store redis --api rest --port 0 ...` (or
//   `--api grpc|both`), parses its endpoint lines (load balancer, nodes, Redis) with a deadline,
//   follows restarts the supervisor reports on stderr (`node N exited (...); restarting`,
//   `node N rest URL [grpc HOST:PORT] pid PID`, `redis URL pid PID`), and stop() sends SIGTERM and asserts that every process it ever saw is
//   gone (and that no process still names the cluster's data dir), then removes the data dir.
// - call(): one HTTP request that never throws (status 0 for a transport failure or timeout).
// - setupRooms() / startMixedLoad(): concurrent clients doing adds, votes, withdrawals, removes and
//   reads, recording every acknowledged (2xx) write and every write whose outcome is unknown.
// - replayFromRedis(): a room's Redis stream replayed through the domain's `apply`.
// - assertAcknowledgedWritesKept() / assertNodesAgree(): the checks run after a load.
//
//   const cluster = await startCluster({ nodes: 3 });
//   try { ... } finally { await cluster.stop(); }

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnProcess, type Spawned } from '../../src/cluster/process.ts';
import { childEnv } from './chorus-process.ts';
import { call } from './cluster-http.ts';
import { descendantsOf, isAlive, processesNaming } from './processes.ts';
import { GiveUp, until } from './until.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHORUS_MAIN = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

export * from './processes.ts';
export * from './cluster-http.ts';
export * from './cluster-load.ts';
export * from './cluster-replay.ts';
export * from './cluster-checks.ts';

// ---- Small utilities ------------------------------------------------------------------------------

/** The project's seeded PRNG (src/prng.ts), so a failing load can be rerun with the same choices. */
export { prng as rng } from '../../src/prng.ts';

// ---- The cluster ----------------------------------------------------------------------------------

export interface ClusterNode {
  readonly index: number;
  readonly rest: string;
  /** The node's own gRPC address (HOST:PORT), when its line names one. */
  readonly grpc: string | null;
  readonly pid: number;
}

export interface StderrLine {
  readonly at: number;
  readonly line: string;
}

export interface StopReport {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** From SIGTERM to the cluster process's exit. */
  readonly stopMs: number;
  /** Every pid checked to be gone. */
  readonly pidsChecked: readonly number[];
}

export interface StartedCluster {
  /** The REST load balancer, e.g. http://127.0.0.1:PORT ('' when the front is gRPC only). */
  readonly lb: string;
  /** The gRPC load balancer, HOST:PORT (null when the front is REST only). */
  readonly grpcLb: string | null;
  readonly redisUrl: string;
  readonly dataDir: string;
  /** The `chorus cluster` process. */
  readonly pid: number;
  /** From spawn to the last endpoint line. */
  readonly startMs: number;
  /** The nodes as they are now (a restart replaces the entry). */
  nodes(): ClusterNode[];
  node(index: number): ClusterNode;
  /** The current redis-server pid, from the supervisor's `redis URL pid PID` line. */
  redisPid(): number;
  stderrLines(): readonly StderrLine[];
  /** Waits for a stderr line matching `pattern` that arrived at or after `since` (ms since epoch). */
  waitForStderr(
    pattern: RegExp,
    timeoutMs: number,
    since?: number,
  ): Promise<{ at: number; match: RegExpExecArray }>;
  /** Waits until node `index` runs under a pid other than `oldPid` (and answers /healthz). */
  waitForNodeRestart(index: number, oldPid: number, timeoutMs: number): Promise<ClusterNode & { at: number }>;
  /** Waits until the supervisor reports a redis-server pid other than `oldPid`. */
  waitForRedisRestart(oldPid: number, timeoutMs: number): Promise<{ pid: number; at: number }>;
  /** SIGTERM; asserts a clean exit and that no process is left behind; removes the data dir. Idempotent. */
  stop(): Promise<StopReport>;
}

export type ClusterApi = 'rest' | 'grpc' | 'both';

export interface ClusterOptions {
  readonly nodes: number;
  /** `--ready-timeout`: seconds a node may take to be ready before the cluster gives up. */
  readonly readyTimeoutSeconds?: number;
  /** What nginx fronts (`--api`); default 'rest'. */
  readonly api?: ClusterApi;
  /** Extra flags for every `chorus serve` (each passed as `--node-arg=FLAG`). */
  readonly nodeArgs?: readonly string[];
  readonly readyTimeoutMs?: number;
  /** Run in this folder instead of a fresh temporary one (a restart on the same data). */
  readonly dataDir?: string;
  /** stop() leaves the folder in place, for a cluster started on it again. */
  readonly keepDataDir?: boolean;
  /** Extra environment for `chorus cluster` (and so its nodes), e.g. CHORUS_ROOMS_PER_ADDRESS. */
  readonly env?: Readonly<Record<string, string>>;
  /** A Redis Cluster of this many primaries instead of one Redis (`--redis-shards`). */
  readonly redisShards?: number;
  /** With redisShards: replicas per primary (`--redis-replicas`). */
  readonly redisReplicas?: number;
}

/**
 * One cluster for a whole test file: started before its tests (its start time printed) and handed
 * to `use`, stopped after them, where a failed stop fails the file, unless a test stopped it itself
 * with `stopInTest()` to check how that went (its failure is then not reported twice).
 */
export function clusterForFile(
  options: ClusterOptions,
  use: (cluster: StartedCluster) => void,
): { stopInTest(): Promise<StopReport> } {
  let cluster: StartedCluster | undefined;
  let stoppedByTest = false;
  before(async () => {
    cluster = await startCluster(options);
    use(cluster);
    console.log(`cluster of ${options.nodes} nodes ready in ${cluster.startMs} ms at ${cluster.lb}`);
  });
  after(async () => {
    await cluster?.stop().catch((err: unknown) => {
      if (!stoppedByTest) throw err;
    });
  });
  return {
    stopInTest: () => {
      stoppedByTest = true;
      assert.ok(cluster, 'the cluster started');
      return cluster.stop();
    },
  };
}

const live = new Set<{ pids: Set<number>; dir: string }>();
process.once('exit', () => {
  // A test that died before stop(): kill what it left, remove its folder.
  for (const c of live) {
    for (const pid of c.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(c.dir, { recursive: true, force: true });
  }
});

const NODE_LINE = /^node (\d+) rest (\S+)(?: grpc (\S+))? pid (\d+)$/;

const REDIS_PID_LINE = /^redis (\S+) pid (\d+)$/;

function nodeOfLine(m: RegExpExecArray): ClusterNode {
  return { index: Number(m[1]), rest: m[2]!, grpc: m[3] ?? null, pid: Number(m[4]) };
}

/** The argv (after the Node binary) of `chorus cluster` for these options. */
export function clusterArgs(options: ClusterOptions, dataDir: string): string[] {
  return [
    CHORUS_MAIN,
    'cluster',
    '--nodes',
    String(options.nodes),
    '--store',
    'redis',
    '--api',
    options.api ?? 'rest',
    '--port',
    '0',
    '--grpc-port',
    '0',
    '--data-dir',
    dataDir,
    ...(options.redisShards ? ['--redis-shards', String(options.redisShards)] : []),
    ...(options.redisReplicas ? ['--redis-replicas', String(options.redisReplicas)] : []),
    ...(options.readyTimeoutSeconds ? ['--ready-timeout', String(options.readyTimeoutSeconds)] : []),
    ...(options.nodeArgs ?? ['--log-level=warn']).map((a) => `--node-arg=${a}`),
  ];
}

export async function startCluster(options: ClusterOptions): Promise<StartedCluster> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'chorus-cluster-')));
  const pids = new Set<number>();
  const tracked = { pids, dir: dataDir };
  live.add(tracked);
  const args = clusterArgs(options, dataDir);
  const started = Date.now();
  const stderr: StderrLine[] = [];
  const current = new Map<number, ClusterNode>();
  let redisPid = -1;
  let partial = '';
  const onStderrLine = (line: string): void => {
    stderr.push({ at: Date.now(), line });
    const node = NODE_LINE.exec(line);
    if (node) {
      const info = nodeOfLine(node);
      current.set(info.index, info);
      pids.add(info.pid);
    }
    const redis = REDIS_PID_LINE.exec(line);
    if (redis) {
      redisPid = Number(redis[2]);
      pids.add(redisPid);
    }
  };
  const proc: Spawned = spawnProcess(process.execPath, args, {
    cwd: REPO_ROOT,
    env: childEnv(options.env),
    onStderr: (chunk) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        onStderrLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    },
  });
  const clusterPid = proc.child.pid ?? -1;
  pids.add(clusterPid);
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const describe = (): string =>
    `\n  stdout:\n${proc.lines.join('\n')}\n  stderr:\n${stderr
      .map((l) => l.line)
      .join('\n')
      .slice(-6000)}`;

  let stopReport: Promise<StopReport> | null = null;
  const doStop = async (): Promise<StopReport> => {
    // Everything that runs under the cluster now, plus every pid it ever reported.
    if (clusterPid > 0) for (const pid of descendantsOf(clusterPid)) pids.add(pid);
    try {
      const nginxPid = Number((await readFile(path.join(dataDir, 'nginx', 'nginx.pid'), 'utf8')).trim());
      if (nginxPid > 0) pids.add(nginxPid);
    } catch {
      // nginx never started.
    }
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const exit = await Promise.race([
      proc.exited,
      new Promise<null>((r) => setTimeout(() => r(null), 30_000).unref()),
    ]);
    const stopMs = Date.now() - t0;
    const problems: string[] = [];
    if (exit === null) problems.push('the cluster did not exit within 30 s of SIGTERM');
    else if (exit.code !== 0)
      problems.push(`the cluster exited with code ${exit.code} signal ${exit.signal}`);
    // The cluster waits for its children before it exits: only a short grace (nginx workers).
    const deadline = Date.now() + 3000;
    let left = [...pids].filter(isAlive);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      left = left.filter(isAlive);
    }
    if (left.length > 0) {
      problems.push(`processes left behind: ${left.map((p) => `${p} (${readCmdline(p)})`).join(', ')}`);
    }
    const strays = processesNaming(dataDir);
    if (strays.length > 0) {
      problems.push(
        `processes still naming ${dataDir}: ${strays.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`,
      );
    }
    // Leave nothing behind even when failing.
    for (const pid of [...left, ...strays.map((s) => s.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (!options.keepDataDir) await rm(dataDir, { recursive: true, force: true });
    live.delete(tracked);
    assert.deepEqual(problems, [], `stopping the cluster:${describe()}`);
    return { exitCode: exit?.code ?? null, signal: exit?.signal ?? null, stopMs, pidsChecked: [...pids] };
  };

  try {
    const ready = await until(
      'the cluster to print its endpoints',
      () => {
        if (exited) throw new GiveUp(`chorus cluster exited before it was ready${describe()}`);
        const lines = proc.lines;
        const api = options.api ?? 'rest';
        const lb = lines.map((l) => /^rest (\S+)$/.exec(l)?.[1]).find((x) => x !== undefined);
        const grpcLb = lines.map((l) => /^grpc (\S+)$/.exec(l)?.[1]).find((x) => x !== undefined);
        const redis = lines.map((l) => /^redis (\S+)$/.exec(l)?.[1]).find((x) => x !== undefined);
        if (!redis || (api !== 'grpc' && !lb) || (api !== 'rest' && !grpcLb)) return undefined;
        const nodes = lines.map((l) => NODE_LINE.exec(l)).filter((m) => m !== null);
        return { lb: lb ?? '', grpcLb: grpcLb ?? null, redis, nodes };
      },
      { timeoutMs: options.readyTimeoutMs ?? 90_000 },
    ).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}${describe()}`);
    });
    assert.equal(ready.nodes.length, options.nodes, `one node line per node${describe()}`);
    for (const m of ready.nodes) {
      const info = nodeOfLine(m);
      // stdout is the reference at start; stderr may have said the same already.
      current.set(info.index, info);
      pids.add(info.pid);
      if ((options.api ?? 'rest') !== 'rest')
        assert.ok(info.grpc, `node ${info.index} names its gRPC address${describe()}`);
    }
    assert.ok(redisPid > 0, `the supervisor reports the redis-server pid on stderr${describe()}`);
    const startMs = Date.now() - started;

    const cluster: StartedCluster = {
      lb: ready.lb,
      grpcLb: ready.grpcLb,
      redisUrl: ready.redis,
      dataDir,
      pid: clusterPid,
      startMs,
      nodes: () => [...current.values()].sort((a, b) => a.index - b.index),
      node: (index) => {
        const n = current.get(index);
        assert.ok(n, `no node ${index}`);
        return n;
      },
      redisPid: () => redisPid,
      stderrLines: () => stderr,
      waitForStderr: (pattern, timeoutMs, since = 0) =>
        until(
          `a stderr line matching ${String(pattern)}${describe()}`,
          () => {
            for (const l of stderr) {
              if (l.at < since) continue;
              const match = pattern.exec(l.line);
              if (match) return { at: l.at, match };
            }
            return undefined;
          },
          { timeoutMs },
        ),
      waitForNodeRestart: async (index, oldPid, timeoutMs) => {
        const t0 = Date.now();
        const info = await until(
          `node ${index} to run again under a new pid${describe()}`,
          () => {
            const n = current.get(index);
            return n && n.pid !== oldPid ? n : undefined;
          },
          { timeoutMs },
        );
        const at = stderr.findLast((l) => l.line.startsWith(`node ${index} rest `))?.at ?? Date.now();
        await until(
          `node ${index} to answer /healthz`,
          async () => (await call(info.rest, 'GET', '/healthz', { timeoutMs: 1000 })).status === 200,
          { timeoutMs: Math.max(1000, timeoutMs - (Date.now() - t0)) },
        );
        return { ...info, at };
      },
      waitForRedisRestart: (oldPid, timeoutMs) =>
        until(
          `the supervisor to restart redis-server${describe()}`,
          () => {
            if (redisPid === oldPid) return undefined;
            const at = stderr.findLast((l) => REDIS_PID_LINE.test(l.line))?.at ?? Date.now();
            return { pid: redisPid, at };
          },
          { timeoutMs },
        ),
      stop: () => (stopReport ??= doStop()),
    };
    return cluster;
  } catch (err) {
    stopReport ??= doStop();
    const stopError = await stopReport.then(
      () => null,
      (e: unknown) => e as Error,
    );
    if (stopError) (err as Error).message += `\n...and then ${stopError.message}`;
    throw err;
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '?';
  }
}
// ---- Server-Sent Events ---------------------------------------------------------------------------

/** The cluster tests' streams (sse.ts): they must open, and keep every message with its arrival time. */
export { openSseOk as openSse, type SseMessage, type SseStream } from './sse.ts';
