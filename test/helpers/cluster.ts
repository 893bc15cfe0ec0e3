// Real `chorus cluster` child processes for integration tests, and what the cluster tests share:
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
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  apply,
  historyPage,
  restore,
  viewRoom,
  type Envelope,
  type RoomState,
  type RoomView,
  type SettingsPatch,
} from '../../src/domain/index.ts';
import { spawnProcess, type Spawned } from '../../src/cluster/process.ts';
import { roomKeys } from '../../src/store/redis/keys.ts';
import { childEnv } from './chorus-process.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHORUS_MAIN = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');
/** The key prefix `chorus serve` uses by default (src/node/config.ts). */
export const DEFAULT_PREFIX = 'chorus:';

// ---- Small utilities ------------------------------------------------------------------------------

/** Polls `check` until it returns a value other than undefined/false, or throws at the deadline. */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A small seeded PRNG (mulberry32), so a failing load can be rerun with the same choices. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// ---- Processes ------------------------------------------------------------------------------------

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly cmdline: string;
}

function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z') continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(name), ppid: Number(rest[1]), cmdline });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Every live descendant of pid. */
export function descendantsOf(pid: number): number[] {
  const procs = listProcesses();
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop()!;
    for (const p of procs) {
      if (p.ppid === parent && !found.includes(p.pid)) {
        found.push(p.pid);
        frontier.push(p.pid);
      }
    }
  }
  return found;
}

/** Live processes (other than this one) whose command line names `text`. */
export function processesNaming(text: string): ProcInfo[] {
  return listProcesses().filter((p) => p.pid !== process.pid && p.cmdline.includes(text));
}

/** Environment without inherited CHORUS_* variables (one definition, in chorus-process.ts). */
export { childEnv };

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
      () => {
        if (exited) throw new Error(`chorus cluster exited before it was ready${describe()}`);
        const lines = proc.lines;
        const api = options.api ?? 'rest';
        const lb = lines.map((l) => /^rest (\S+)$/.exec(l)?.[1]).find((x) => x !== undefined);
        const grpcLb = lines.map((l) => /^grpc (\S+)$/.exec(l)?.[1]).find((x) => x !== undefined);
        const redis = lines.map((l) => /^redis (\S+)$/.exec(l)?.[1]).find((x) => x !== undefined);
        if (!redis || (api !== 'grpc' && !lb) || (api !== 'rest' && !grpcLb)) return undefined;
        const nodes = lines.map((l) => NODE_LINE.exec(l)).filter((m) => m !== null);
        return { lb: lb ?? '', grpcLb: grpcLb ?? null, redis, nodes };
      },
      options.readyTimeoutMs ?? 90_000,
      'the cluster to print its endpoints',
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
          () => {
            for (const l of stderr) {
              if (l.at < since) continue;
              const match = pattern.exec(l.line);
              if (match) return { at: l.at, match };
            }
            return undefined;
          },
          timeoutMs,
          `a stderr line matching ${String(pattern)}${describe()}`,
        ),
      waitForNodeRestart: async (index, oldPid, timeoutMs) => {
        const t0 = Date.now();
        const info = await until(
          () => {
            const n = current.get(index);
            return n && n.pid !== oldPid ? n : undefined;
          },
          timeoutMs,
          `node ${index} to run again under a new pid${describe()}`,
        );
        const at = stderr.findLast((l) => l.line.startsWith(`node ${index} rest `))?.at ?? Date.now();
        await until(
          async () => (await call(info.rest, 'GET', '/healthz', { timeoutMs: 1000 })).status === 200,
          Math.max(1000, timeoutMs - (Date.now() - t0)),
          `node ${index} to answer /healthz`,
        );
        return { ...info, at };
      },
      waitForRedisRestart: (oldPid, timeoutMs) =>
        until(
          () => {
            if (redisPid === oldPid) return undefined;
            const at = stderr.findLast((l) => REDIS_PID_LINE.test(l.line))?.at ?? Date.now();
            return { pid: redisPid, at };
          },
          timeoutMs,
          `the supervisor to restart redis-server${describe()}`,
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

// ---- HTTP -----------------------------------------------------------------------------------------

export interface Reply<T = unknown> {
  /** HTTP status; 0 when the request failed in transport or timed out. */
  readonly status: number;
  readonly body: T;
  readonly ms: number;
  readonly error?: string;
}

export interface CallOptions {
  readonly token?: string;
  readonly body?: unknown;
  /** Idempotency-Key header. */
  readonly key?: string;
  readonly timeoutMs?: number;
}

/** One request; never throws. */
export async function call<T = unknown>(
  base: string,
  method: string,
  pathAndQuery: string,
  options: CallOptions = {},
): Promise<Reply<T>> {
  const t0 = performance.now();
  try {
    const response = await fetch(`${base}${pathAndQuery}`, {
      method,
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.key ? { 'idempotency-key': options.key } : {}),
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (an nginx error page): kept as text.
    }
    return { status: response.status, body: body as T, ms: performance.now() - t0 };
  } catch (err) {
    const e = err as Error;
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return {
      status: 0,
      body: undefined as T,
      ms: performance.now() - t0,
      error: `${e.name}: ${e.message}${cause}`,
    };
  }
}

export function errorCode(reply: Reply): string {
  const body = reply.body as { error?: { code?: string } } | undefined;
  return typeof body === 'object' && body?.error?.code ? body.error.code : String(reply.status);
}

export function roomPath(roomId: string, rest = ''): string {
  return `/v1/rooms/${encodeURIComponent(roomId)}${rest}`;
}

// ---- Rooms and load -------------------------------------------------------------------------------

/** Settings under which adds and votes mostly succeed: no caps, no vote-off, no autoplay. */
export const OPEN_SETTINGS: SettingsPatch = {
  // Public: a private room opens only with its invite (issue 20), and these rooms are shared freely.
  public: true,
  maxQueueLength: 100_000,
  maxEntriesPerMember: 0,
  voteOffThreshold: 0,
  skipVotes: 0,
  autoplay: false,
};

export interface LoadMember {
  readonly memberId: string;
  readonly token: string;
}

export interface LoadRoom {
  readonly id: string;
  readonly hostToken: string;
  /** One member per client, in client order. */
  readonly members: readonly LoadMember[];
}

/** Creates `rooms` rooms through `base` and joins `clients` members to each, all up front. */
export async function setupRooms(
  base: string,
  options: { rooms: number; clients: number; tag?: string },
): Promise<LoadRoom[]> {
  const tag = options.tag ?? 'load';
  const rooms: LoadRoom[] = [];
  for (let r = 0; r < options.rooms; r++) {
    const id = `${tag}-${r}-${randomUUID().slice(0, 8)}`;
    const created = await call<{ token: string }>(base, 'POST', '/v1/rooms', {
      body: { roomId: id, name: `Room ${id}`, hostName: 'Host', settings: OPEN_SETTINGS },
      key: randomUUID(),
    });
    assert.equal(created.status, 201, `create room ${id}: ${JSON.stringify(created.body)}`);
    const members = await Promise.all(
      Array.from({ length: options.clients }, async (_, c) => {
        const joined = await call<{ memberId: string; token: string }>(
          base,
          'POST',
          roomPath(id, '/members'),
          {
            body: { name: `Client ${c}` },
            key: randomUUID(),
          },
        );
        assert.equal(joined.status, 201, `join ${id}: ${JSON.stringify(joined.body)}`);
        return { memberId: joined.body.memberId, token: joined.body.token };
      }),
    );
    rooms.push({ id, hostToken: created.body.token, members });
  }
  return rooms;
}

export type OpKind = 'add' | 'vote' | 'withdraw' | 'remove' | 'read';

export interface AckedAdd {
  readonly roomId: string;
  readonly entryId: string;
  readonly memberId: string;
  readonly key: string;
  readonly version: number;
}

export interface AckedRemove {
  readonly roomId: string;
  readonly entryId: string;
  readonly key: string;
}

/** One member's votes on one entry: the last acknowledged value and the unknown-outcome ones after it. */
export interface VoteTrack {
  readonly roomId: string;
  readonly memberId: string;
  readonly entryId: string;
  acked: 1 | -1 | 0 | null;
  ackedKey: string | null;
  /** Values sent after the last acknowledged one whose outcome is unknown (5xx, transport). */
  uncertain: Array<1 | -1 | 0>;
}

export interface Failure {
  readonly kind: OpKind;
  readonly status: number;
  readonly code: string;
  /** When the request was sent and answered (ms since epoch). */
  readonly sentAt: number;
  readonly doneAt: number;
  readonly detail: string;
}

export interface LoadResult {
  readonly operations: number;
  readonly durationMs: number;
  readonly counts: Record<OpKind, { ok: number; refused: number; failed: number }>;
  /** `kind status code` -> count, for 4xx answers (expected refusals such as a vote on a removed entry). */
  readonly refusals: Record<string, number>;
  readonly failures: readonly Failure[];
  readonly adds: readonly AckedAdd[];
  readonly removes: readonly AckedRemove[];
  readonly votes: ReadonlyMap<string, VoteTrack>;
  /** Idempotency keys of every remove sent (acknowledged or not). */
  readonly removeKeysSent: ReadonlySet<string>;
  /** Idempotency keys of every acknowledged write. */
  readonly ackedKeys: ReadonlySet<string>;
  /** Highest version seen per room in any 2xx answer. */
  readonly maxVersion: ReadonlyMap<string, number>;
  /** Reads that answered below the client's own minVersion (must be none). */
  readonly readViolations: readonly string[];
  readonly latenciesMs: readonly number[];
}

export interface MixedLoadOptions {
  /** Where requests go (a function, so a test may switch targets). */
  readonly base: string | (() => string);
  readonly rooms: readonly LoadRoom[];
  readonly clients: number;
  /** Total operations over all clients (the load also ends when shouldStop says so). */
  readonly operations: number;
  readonly shouldStop?: () => boolean;
  readonly seed?: number;
  /** Pause after a failed request (5xx or transport), so an outage is not a busy loop. */
  readonly backoffMs?: number;
  readonly timeoutMs?: number;
}

export interface RunningLoad {
  /** Operations answered so far. */
  completed(): number;
  /** Failed operations (5xx or transport) so far. */
  failed(): number;
  readonly done: Promise<LoadResult>;
}

/** What a mixed load records as it runs (the REST load here, the gRPC load in its test alike). */
export interface LoadLedger {
  readonly counts: LoadResult['counts'];
  readonly refusals: Record<string, number>;
  readonly failures: Failure[];
  readonly adds: AckedAdd[];
  readonly removes: AckedRemove[];
  readonly votes: Map<string, VoteTrack>;
  readonly removeKeysSent: Set<string>;
  readonly ackedKeys: Set<string>;
  readonly maxVersion: Map<string, number>;
  readonly readViolations: string[];
  readonly latenciesMs: number[];
  /** Entries believed queued, per room (acknowledged adds minus acknowledged removes). */
  readonly known: Map<string, string[]>;
}

export function newLoadLedger(rooms: readonly { readonly id: string }[]): LoadLedger {
  const none = (): { ok: number; refused: number; failed: number } => ({ ok: 0, refused: 0, failed: 0 });
  return {
    counts: { add: none(), vote: none(), withdraw: none(), remove: none(), read: none() },
    refusals: {},
    failures: [],
    adds: [],
    removes: [],
    votes: new Map(),
    removeKeysSent: new Set(),
    ackedKeys: new Set(),
    maxVersion: new Map(),
    readViolations: [],
    latenciesMs: [],
    known: new Map(rooms.map((r) => [r.id, []])),
  };
}

/** A finished load's result: its ledger, how many operations were answered, since when (ms). */
export function loadResult(ledger: LoadLedger, operations: number, startedAt: number): LoadResult {
  const { known: _known, ...recorded } = ledger;
  return { operations, durationMs: Date.now() - startedAt, ...recorded };
}

/**
 * `clients` concurrent clients, each one member of every room, doing a mix of adds (30%), votes
 * (30%), withdrawals (10%), removes of their own entries (8%) and reads (22%) across the rooms.
 * Every write carries an idempotency key. Reads pass the client's last seen version of the room as
 * minVersion (a session guarantee that must hold whichever node answers).
 */
export function startMixedLoad(options: MixedLoadOptions): RunningLoad {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = rng(seed);
  const pick = <T>(items: readonly T[]): T | undefined =>
    items.length === 0 ? undefined : items[Math.floor(random() * items.length)];
  const base = typeof options.base === 'string' ? () => options.base as string : options.base;
  const ledger = newLoadLedger(options.rooms);
  const { counts, refusals, failures, adds, removes, votes, removeKeysSent, ackedKeys } = ledger;
  const { maxVersion, readViolations, latenciesMs, known } = ledger;
  let issued = 0;
  let answered = 0;
  const started = Date.now();

  const seen = (roomId: string, version: unknown): void => {
    if (typeof version === 'number') maxVersion.set(roomId, Math.max(maxVersion.get(roomId) ?? 0, version));
  };

  const client = async (c: number): Promise<void> => {
    const lastVersion = new Map<string, number>();
    const own = new Map<string, string[]>(options.rooms.map((r) => [r.id, []]));
    const myVotes = new Map<string, Set<string>>(options.rooms.map((r) => [r.id, new Set()]));
    while (issued < options.operations && !(options.shouldStop?.() ?? false)) {
      issued++;
      const room = options.rooms[Math.floor(random() * options.rooms.length)]!;
      const me = room.members[c]!;
      const x = random();
      const kind: OpKind =
        x < 0.3 ? 'add' : x < 0.6 ? 'vote' : x < 0.7 ? 'withdraw' : x < 0.78 ? 'remove' : 'read';
      const key = randomUUID();
      const sentAt = Date.now();
      let reply: Reply;
      let track: VoteTrack | null = null;
      let voteValue: 1 | -1 | 0 = 0;
      let target: string | undefined;
      const opts = { token: me.token, key, timeoutMs: options.timeoutMs ?? 10_000 };
      switch (kind) {
        case 'add': {
          const durationMs = 60_000 + Math.floor(random() * 240_000);
          reply = await call(base(), 'POST', roomPath(room.id, '/queue'), {
            ...opts,
            body: {
              track: {
                trackId: `t-${key}`,
                title: `Song ${key.slice(0, 6)}`,
                artist: `Client ${c}`,
                album: 'Load',
                durationMs,
              },
            },
          });
          break;
        }
        case 'vote':
        case 'withdraw': {
          const mine = [...myVotes.get(room.id)!];
          target = kind === 'withdraw' && mine.length > 0 ? pick(mine) : pick(known.get(room.id)!);
          if (target === undefined) {
            // Nothing to vote on yet: read instead.
            reply = await call(base(), 'GET', roomPath(room.id, `?limit=5`), { timeoutMs: opts.timeoutMs });
            break;
          }
          voteValue = kind === 'withdraw' ? 0 : random() < 0.6 ? 1 : -1;
          const vk = `${room.id}|${me.memberId}|${target}`;
          track = votes.get(vk) ?? {
            roomId: room.id,
            memberId: me.memberId,
            entryId: target,
            acked: null,
            ackedKey: null,
            uncertain: [],
          };
          votes.set(vk, track);
          reply = await call(base(), 'PUT', roomPath(room.id, `/queue/${encodeURIComponent(target)}/vote`), {
            ...opts,
            body: { value: voteValue },
          });
          break;
        }
        case 'remove': {
          target = pick(own.get(room.id)!);
          if (target === undefined) {
            reply = await call(base(), 'GET', roomPath(room.id, `?limit=5`), { timeoutMs: opts.timeoutMs });
            break;
          }
          removeKeysSent.add(key);
          reply = await call(
            base(),
            'DELETE',
            roomPath(room.id, `/queue/${encodeURIComponent(target)}`),
            opts,
          );
          break;
        }
        case 'read': {
          const min = lastVersion.get(room.id) ?? 0;
          reply = await call(base(), 'GET', roomPath(room.id, `?minVersion=${min}&limit=50`), {
            token: me.token,
            timeoutMs: opts.timeoutMs,
          });
          if (reply.status === 200) {
            const v = (reply.body as RoomView).version;
            if (!(v >= min))
              readViolations.push(`client ${c} read ${room.id} at version ${v} after seeing ${min}`);
          }
          break;
        }
      }
      answered++;
      latenciesMs.push(reply.ms);
      const effective: OpKind =
        (kind === 'vote' || kind === 'withdraw' || kind === 'remove') && target === undefined ? 'read' : kind;
      if (reply.status >= 200 && reply.status < 300) {
        counts[effective].ok++;
        const version = (reply.body as { version?: unknown }).version;
        seen(room.id, version);
        if (typeof version === 'number')
          lastVersion.set(room.id, Math.max(lastVersion.get(room.id) ?? 0, version));
        if (effective !== 'read') ackedKeys.add(key);
        if (effective === 'add') {
          const entryId = (reply.body as { entry: { entryId: string } | null }).entry?.entryId;
          assert.ok(entryId, `an add answered without its entry: ${JSON.stringify(reply.body)}`);
          adds.push({ roomId: room.id, entryId, memberId: me.memberId, key, version: version as number });
          known.get(room.id)!.push(entryId);
          own.get(room.id)!.push(entryId);
        } else if (effective === 'remove') {
          removes.push({ roomId: room.id, entryId: target!, key });
          const k = known.get(room.id)!;
          if (k.includes(target!)) k.splice(k.indexOf(target!), 1);
          const o = own.get(room.id)!;
          o.splice(o.indexOf(target!), 1);
        } else if (track) {
          track.acked = voteValue;
          track.ackedKey = key;
          track.uncertain = [];
          if (voteValue === 0) myVotes.get(room.id)!.delete(target!);
          else myVotes.get(room.id)!.add(target!);
        }
      } else if (reply.status >= 400 && reply.status < 500) {
        counts[effective].refused++;
        const label = `${effective} ${reply.status} ${errorCode(reply)}`;
        refusals[label] = (refusals[label] ?? 0) + 1;
        // An entry that is gone (removed by its owner) is dropped from what this client votes on.
        if (reply.status === 404 && target !== undefined) {
          myVotes.get(room.id)!.delete(target);
          if (effective === 'remove') {
            const o = own.get(room.id)!;
            o.splice(o.indexOf(target), 1);
          }
        }
      } else {
        counts[effective].failed++;
        failures.push({
          kind: effective,
          status: reply.status,
          code: errorCode(reply),
          sentAt,
          doneAt: Date.now(),
          detail: reply.error ?? JSON.stringify(reply.body)?.slice(0, 300) ?? '',
        });
        if (track) track.uncertain.push(voteValue);
        if (options.backoffMs !== 0) await new Promise((r) => setTimeout(r, options.backoffMs ?? 25));
      }
    }
  };

  const done = Promise.all(Array.from({ length: options.clients }, (_, c) => client(c))).then(() =>
    loadResult(ledger, answered, started),
  );
  return { completed: () => answered, failed: () => failures.length, done };
}

export function summarise(load: LoadResult): string {
  const { counts } = load;
  const rate = Math.round((load.operations / load.durationMs) * 1000);
  const kinds = (Object.keys(counts) as OpKind[])
    .map((k) => `${k} ${counts[k].ok}/${counts[k].refused}/${counts[k].failed}`)
    .join(', ');
  return (
    `${load.operations} ops in ${load.durationMs} ms (${rate}/s); ok/refused/failed: ${kinds}; ` +
    `latency p50 ${percentile(load.latenciesMs, 50).toFixed(1)} ms, p95 ${percentile(load.latenciesMs, 95).toFixed(1)} ms, ` +
    `max ${percentile(load.latenciesMs, 100).toFixed(1)} ms; refusals ${JSON.stringify(load.refusals)}`
  );
}

// ---- Replaying a room's stream --------------------------------------------------------------------

/**
 * The Idempotency-Key a client sent, from the command id the node made of it: a member's key is
 * scoped as `KEY~MEMBER` (service.ts scopedCommandId; the load's keys are short UUIDs, never hashed).
 */
export function clientKey(commandId: string): string {
  const tilde = commandId.indexOf('~');
  return tilde > 0 ? commandId.slice(0, tilde) : commandId;
}

export interface ReplayedRoom {
  readonly roomId: string;
  readonly state: RoomState;
  /** Positions of the log entries replayed (1 when the log is untrimmed). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The snapshot Redis holds (its position), or null. */
  readonly snapshotSeq: number | null;
  /** True when the log reached back far enough to check that the snapshot equals the replay at its position. */
  readonly snapshotChecked: boolean;
  /** Every command id in the log, and those the room records as recently applied (beyond a trimmed log). */
  readonly commandIds: ReadonlySet<string>;
  /** entryId -> the command id of the removeEntry that removed it (from the replay and the room's record). */
  readonly removedBy: ReadonlyMap<string, string>;
}

/**
 * Reads the room's stream (`<prefix>{room:<id>}:log`) and its snapshot with a plain client and
 * replays it through the domain's `apply`: from the start when the log is untrimmed (and then the
 * snapshot must equal the replay at its position), else from the snapshot.
 */
export async function replayFromRedis(
  redisUrl: string,
  roomId: string,
  options: { prefix?: string; archive?: LogArchive } = {},
): Promise<ReplayedRoom> {
  const client = new Redis(redisUrl, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const keys = roomKeys(options.prefix ?? DEFAULT_PREFIX, roomId);
    const raw = new Map<number, string>(options.archive?.entries(roomId) ?? []);
    for (const entry of await readLog(client, keys.log)) {
      const archived = raw.get(entry.seq);
      // Entries never change once written: what was archived is what Redis still holds.
      if (archived !== undefined)
        assert.equal(entry.json, archived, `log entry 0-${entry.seq} of ${roomId} changed`);
      raw.set(entry.seq, entry.json);
    }
    const entries = [...raw.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([seq, json]) => ({ seq, env: JSON.parse(json) as Envelope }));
    assert.ok(entries.length > 0, `room ${roomId} has a log in Redis`);
    entries.forEach((e, i) => {
      if (i > 0) assert.equal(e.seq, entries[i - 1]!.seq + 1, `log of ${roomId} has no gap at ${e.seq}`);
    });
    const [snapSeqText, snapData] = await client.hmget(keys.snap, 'seq', 'data');
    const snapshotSeq = snapSeqText ? Number(snapSeqText) : null;
    const snapshotState = snapData ? restore(JSON.parse(snapData)) : null;

    const firstSeq = entries[0]!.seq;
    let state: RoomState | null = null;
    let snapshotChecked = false;
    if (firstSeq > 1) {
      assert.ok(
        snapshotSeq !== null && snapshotSeq >= firstSeq - 1,
        `log of ${roomId} starts at ${firstSeq}, so a snapshot must cover ${firstSeq - 1} (it covers ${snapshotSeq})`,
      );
      state = snapshotState;
    }
    const commandIds = new Set<string>();
    const removedBy = new Map<string, string>();
    for (const { seq, env } of entries) {
      commandIds.add(clientKey(env.commandId));
      if (firstSeq > 1 && seq <= snapshotSeq!) continue;
      const out = apply(state, env);
      state = out.state;
      for (const event of out.events)
        if (event.type === 'entryRemoved') removedBy.set(event.entryId, clientKey(env.commandId));
      if (seq === snapshotSeq && firstSeq === 1) {
        assert.deepEqual(
          snapshotState,
          state,
          `the snapshot of ${roomId} at ${seq} equals the replay up to it`,
        );
        snapshotChecked = true;
      }
    }
    assert.ok(state, `the log of ${roomId} creates the room`);
    // What the trimmed part of the log did is still known from the room's own record of its recent
    // successful commands (kept for idempotent retries), which the snapshot carried over.
    for (const r of state.recent) {
      commandIds.add(clientKey(r.commandId));
      if (r.result.type === 'removeEntry' && !removedBy.has(r.result.entryId)) {
        removedBy.set(r.result.entryId, clientKey(r.commandId));
      }
    }
    return {
      roomId,
      state,
      firstSeq,
      lastSeq: entries.at(-1)!.seq,
      snapshotSeq,
      snapshotChecked,
      commandIds,
      removedBy,
    };
  } finally {
    client.disconnect();
  }
}

/** A room's log entries as Redis holds them now: position and the envelope's JSON. */
async function readLog(client: Redis, key: string, after = 0): Promise<Array<{ seq: number; json: string }>> {
  const out: Array<{ seq: number; json: string }> = [];
  let from = after > 0 ? `(0-${after}` : '-';
  for (;;) {
    const page = (await client.xrange(key, from, '+', 'COUNT', 1000)) as Array<[string, string[]]>;
    for (const [id, fields] of page) {
      const m = /^0-(\d+)$/.exec(id);
      assert.ok(m, `log entry id ${id} is of the form 0-<n>`);
      assert.equal(fields.length, 2, `log entry ${id} holds one field`);
      assert.equal(fields[0], 'e', `log entry ${id} holds its envelope in field e`);
      out.push({ seq: Number(m[1]), json: fields[1]! });
    }
    if (page.length < 1000) return out;
    from = `(${page.at(-1)![0]}`;
  }
}

export interface LogArchive {
  /** Every entry of the room's log seen so far (position -> envelope JSON). */
  entries(roomId: string): ReadonlyMap<number, string>;
  /** Stops copying (idempotent); fails if an entry was trimmed away before it could be copied. */
  stop(): Promise<void>;
}

/**
 * Copies the rooms' logs out of Redis as they grow (every `everyMs`), so that the whole history can be
 * replayed even though the store trims each log behind its snapshots. Keeps trying while Redis is away.
 */
export function archiveLogs(
  redisUrl: string,
  roomIds: readonly string[],
  options: { prefix?: string; everyMs?: number } = {},
): LogArchive {
  const client = new Redis(redisUrl, {
    protocol: 2,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 100,
  });
  client.on('error', () => undefined);
  const copied = new Map<string, Map<number, string>>(roomIds.map((id) => [id, new Map()]));
  const last = new Map<string, number>(roomIds.map((id) => [id, 0]));
  const gaps: string[] = [];
  let running = true;
  const pass = async (): Promise<void> => {
    for (const id of roomIds) {
      try {
        for (const entry of await readLog(
          client,
          roomKeys(options.prefix ?? DEFAULT_PREFIX, id).log,
          last.get(id),
        )) {
          if (entry.seq !== last.get(id)! + 1)
            gaps.push(`${id}: after 0-${last.get(id)} came 0-${entry.seq}`);
          copied.get(id)!.set(entry.seq, entry.json);
          last.set(id, entry.seq);
        }
      } catch {
        // Redis away: the next pass tries again.
      }
    }
  };
  const loop = (async () => {
    while (running) {
      await pass();
      await new Promise((r) => setTimeout(r, options.everyMs ?? 100));
    }
  })();
  let stopped: Promise<void> | null = null;
  return {
    entries: (roomId) => copied.get(roomId) ?? new Map(),
    stop: () =>
      (stopped ??= (async () => {
        running = false;
        await loop;
        await pass();
        client.disconnect();
        assert.deepEqual(gaps, [], 'the log archiver copied every entry before it was trimmed');
      })()),
  };
}

// ---- Checks ---------------------------------------------------------------------------------------

/**
 * Every acknowledged write is in the log; every acknowledged add is still in the room (queue, now
 * playing or history) unless one of this load's removes took it out; every acknowledged remove took
 * effect; every member's vote on a still-queued entry is its last acknowledged value (or one sent
 * after it whose outcome is unknown).
 */
export function assertAcknowledgedWritesKept(
  load: LoadResult,
  replays: ReadonlyMap<string, ReplayedRoom>,
): {
  adds: number;
  votes: number;
  removes: number;
} {
  const present = (s: RoomState, entryId: string): boolean =>
    s.queue.some((e) => e.entryId === entryId) ||
    s.nowPlaying?.entry.entryId === entryId ||
    s.history.some((h) => h.entryId === entryId);
  for (const key of load.ackedKeys) {
    assert.ok(
      [...replays.values()].some((r) => r.commandIds.has(key)),
      `acknowledged write ${key} is in a room's log`,
    );
  }
  for (const add of load.adds) {
    const replay = replays.get(add.roomId)!;
    if (present(replay.state, add.entryId)) continue;
    const by = replay.removedBy.get(add.entryId);
    assert.ok(
      by !== undefined && load.removeKeysSent.has(by),
      `acknowledged add ${add.entryId} (room ${add.roomId}, version ${add.version}) is missing, and no remove of ours took it out`,
    );
  }
  for (const remove of load.removes) {
    const state = replays.get(remove.roomId)!.state;
    assert.ok(
      !state.queue.some((e) => e.entryId === remove.entryId),
      `acknowledged remove of ${remove.entryId} took effect`,
    );
  }
  let votes = 0;
  for (const track of load.votes.values()) {
    if (track.acked === null) continue;
    const entry = replays.get(track.roomId)!.state.queue.find((e) => e.entryId === track.entryId);
    if (!entry) continue;
    votes++;
    const final = entry.votes.get(track.memberId);
    const allowed = [track.acked, ...track.uncertain];
    assert.ok(
      allowed.includes(final),
      `vote of ${track.memberId} on ${track.entryId} in ${track.roomId} is ${final}; last acknowledged ${track.acked} (key ${track.ackedKey}), unknown outcomes after it ${JSON.stringify(track.uncertain)}`,
    );
  }
  return { adds: load.adds.length, votes, removes: load.removes.length };
}

/** A view without what depends on the moment it was made (only when something plays). */
function timeless(view: RoomView): unknown {
  if (view.nowPlaying === null) return view;
  const { positionMs: _p, remainingMs: _r, ...np } = view.nowPlaying;
  return { ...view, nowPlaying: np, queue: view.queue.map(({ etaMs: _e, ...item }) => item) };
}

/**
 * Every node, asked directly with minVersion = the replay's version, answers the room at exactly that
 * version, identical to each other and to the replay; every member's own votes (myVote, per node)
 * equal the replay's votes map; the history pages agree.
 */
export async function assertNodesAgree(
  nodes: readonly ClusterNode[],
  room: LoadRoom,
  replay: ReplayedRoom,
): Promise<void> {
  const version = replay.state.version;
  const limit = 1000;
  assert.ok(replay.state.queue.length <= limit, 'the queue fits one page');
  const expected = timeless(viewRoom(replay.state, { now: Date.now(), limit }));
  const q = `?minVersion=${version}&limit=${limit}`;
  await Promise.all(
    nodes.map(async (node) => {
      const reply = await call<RoomView>(node.rest, 'GET', roomPath(room.id, q), { timeoutMs: 15_000 });
      assert.equal(reply.status, 200, `node ${node.index} answers ${room.id}: ${JSON.stringify(reply.body)}`);
      assert.equal(
        reply.body.version,
        version,
        `node ${node.index} is at the replay's version of ${room.id}`,
      );
      assert.deepEqual(
        timeless(reply.body),
        expected,
        `node ${node.index}'s ${room.id} equals the replay of its stream`,
      );
      const history = await call(
        node.rest,
        'GET',
        roomPath(room.id, `/history?minVersion=${version}&limit=200`),
      );
      assert.equal(history.status, 200);
      assert.deepEqual(
        history.body,
        { ...historyPage(replay.state, { limit: 200 }), version },
        `node ${node.index}'s history of ${room.id} equals the replay's`,
      );
    }),
  );
  // Each member's votes, asked of the nodes in turn.
  await Promise.all(
    room.members.map(async (member, i) => {
      const node = nodes[i % nodes.length]!;
      const reply = await call<RoomView>(node.rest, 'GET', roomPath(room.id, q), { token: member.token });
      assert.equal(reply.status, 200);
      const mine = Object.fromEntries(reply.body.queue.map((e) => [e.entryId, e.myVote]));
      const replayed = Object.fromEntries(
        replay.state.queue.map((e) => [e.entryId, e.votes.get(member.memberId)]),
      );
      assert.deepEqual(
        mine,
        replayed,
        `node ${node.index}: ${member.memberId}'s votes in ${room.id} equal the replay's`,
      );
    }),
  );
}

// ---- Server-Sent Events ---------------------------------------------------------------------------

export interface SseMessage {
  readonly id: string | null;
  readonly event: string;
  readonly data: unknown;
  /** When it arrived (performance.now()). */
  readonly at: number;
}

export interface SseStream {
  readonly messages: SseMessage[];
  /** Resolves with the first message (from index `from`) that matches, or throws at the deadline. */
  waitFor(match: (m: SseMessage) => boolean, timeoutMs: number, from?: number): Promise<SseMessage>;
  close(): void;
}

/** Opens an SSE stream and parses its messages as they arrive; resolves once the headers are in. */
export async function openSse(url: string): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
  assert.equal(response.status, 200, `SSE ${url}: ${response.status}`);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const messages: SseMessage[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | null = null;
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') id = value;
            else if (field === 'event') event = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length > 0)
            messages.push({ id, event, data: JSON.parse(data.join('\n')), at: performance.now() });
        }
      }
    } catch {
      // Closed.
    }
  })();
  return {
    messages,
    waitFor: (match, timeoutMs, from = 0) =>
      until(() => messages.slice(from).find(match), timeoutMs, `an SSE message from ${url}`, 2),
    close: () => abort.abort(),
  };
}
