// The systems the group benchmarks compare, started fresh for each configuration on loopback with
// fresh data dirs on the same disk, fsync on everywhere:
// - a Chorus group (`chorus serve --store raft|2pc --node-id --peers`, one process per node);
// - Chorus on Redis (`chorus serve --store redis` nodes, one redis-server with appendfsync always,
//   so an acknowledged write is on disk as it is in a Raft or 2PC group);
// - etcd 3.4 (Debian's /usr/bin/etcd), a group of members reached through its v3 JSON gateway.
// Clients talk to the nodes directly (no nginx), spread over them; a follower forwards a write to
// its leader in Raft and in etcd alike.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/cluster/ports.ts';
import { spawnProcess, stopProcess, type Spawned } from '../../src/cluster/process.ts';
import { startChorus, type ChorusProcess } from '../../test/helpers/chorus-process.ts';
import { startRedis, type RedisServer } from '../../test/helpers/redis-server.ts';

export const ETCD_BIN = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';
const SECRET = 'bench-group-secret-0123456789abcdef';
const READY_MS = 120_000;

/**
 * Flags every benchmarked Chorus node gets: the per-member and per-address rates are guards against
 * one abusive client, and a load generator is one address with few members, so they are lifted.
 */
const NODE_ARGS = [
  '--no-legacy',
  '--secret',
  SECRET,
  '--writes-per-member',
  '1000000',
  '--rooms-per-address',
  '1000000',
  '--joins-per-address',
  '1000000',
] as const;

export type GroupKind = 'raft' | '2pc' | 'redis';

export interface ChorusGroup {
  readonly kind: GroupKind;
  readonly size: number;
  /** REST URL of each node (a restarted node gets a new one). */
  urls(): string[];
  /** Process ids of the running Chorus nodes. */
  pids(): number[];
  /** A node's GET /v1/cluster answer, or null when it does not answer. */
  status(i: number): Promise<ClusterStatus | null>;
  /** What node i wrote to stderr so far (its warnings), or '' once it is gone. */
  stderr(i: number): string;
  /** SIGKILL of node i. */
  kill(i: number): Promise<void>;
  /** Starts node i again on its data dir and gRPC port. */
  restart(i: number): Promise<void>;
  /** Until every running node answers /readyz with 200. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterStatus {
  readonly nodeId: string;
  readonly role: string;
  readonly leaderId: string | null;
  readonly details: Record<string, unknown>;
}

async function getJson<T>(url: string, timeoutMs = 2_000): Promise<T | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? ((await res.json()) as T) : null;
  } catch {
    return null;
  }
}

/** Polls `check` every 50 ms until it yields a value, or throws after timeoutMs. */
export async function poll<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startChorusGroup(
  kind: GroupKind,
  size: number,
  dir: string,
  /** Extra environment of every node (bench/raft-probe.ts: NODE_OPTIONS=--cpu-prof). */
  env?: Readonly<Record<string, string>>,
): Promise<ChorusGroup> {
  await mkdir(dir, { recursive: true });
  let redis: RedisServer | null = null;
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const ports: number[] = []; // one at a time: a port freed by one probe could be handed out again
  for (const _ of ids) ports.push(await freePort());
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]!}`).join(',');
  if (kind === 'redis') redis = await startRedis({ appendonly: true, appendfsync: 'always' });
  const storeArgs = (i: number): string[] =>
    kind === 'redis'
      ? ['--store', 'redis', '--redis-url', redis!.url]
      : ['--store', kind, '--node-id', ids[i]!, '--peers', peers];
  const start = (i: number): Promise<ChorusProcess> =>
    startChorus({
      dataDir: join(dir, ids[i]!),
      grpcPort: ports[i]!,
      startTimeoutMs: READY_MS,
      args: [...NODE_ARGS, ...storeArgs(i)],
      ...(env === undefined ? {} : { env }),
    });
  // allSettled: when one node fails to start, the others that did must be stopped, not left behind.
  const started = await Promise.allSettled(ids.map((_, i) => start(i)));
  const procs: (ChorusProcess | null)[] = started.map((r) => (r.status === 'fulfilled' ? r.value : null));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(procs.flatMap((p) => (p ? [p.kill()] : [])));
    await redis?.stop();
    throw failed.reason;
  }
  const live = (): ChorusProcess[] => procs.filter((p): p is ChorusProcess => p !== null && p.running);
  const group: ChorusGroup = {
    kind,
    size,
    urls: () => procs.map((p) => p?.restUrl ?? ''),
    pids: () => live().map((p) => p.pid),
    stderr: (i) => procs[i]?.stderr() ?? '',
    status: (i) => getJson<ClusterStatus>(`${procs[i]?.restUrl ?? 'http://127.0.0.1:1'}/v1/cluster`),
    async kill(i) {
      await procs[i]?.kill();
      procs[i] = null;
    },
    async restart(i) {
      procs[i] = await start(i);
    },
    async ready(timeoutMs = READY_MS) {
      await poll(
        `every ${kind} node ready`,
        async () => {
          const answers = await Promise.all(
            live().map(async (p) => {
              try {
                const res = await fetch(`${p.restUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
                await res.body?.cancel();
                return res.ok;
              } catch {
                return false;
              }
            }),
          );
          return answers.every(Boolean) ? true : undefined;
        },
        timeoutMs,
      );
    },
    async stop() {
      await Promise.all(live().map((p) => p.stop(30_000).catch(() => p.kill())));
      await redis?.stop();
    },
  };
  await group.ready();
  return group;
}

/** The leader every running node names, once they agree and it says it leads (Raft only). */
export async function agreedLeader(
  group: ChorusGroup,
  alive: readonly number[],
  timeoutMs: number,
): Promise<number> {
  return poll(
    'one Raft leader named by every node',
    async () => {
      const all = await Promise.all(alive.map((i) => group.status(i)));
      if (all.some((s) => s === null)) return undefined;
      const named = new Set(all.map((s) => s!.leaderId));
      const [id] = named;
      if (named.size !== 1 || !id) return undefined;
      const at = all.findIndex((s) => s!.nodeId === id);
      return at >= 0 && all[at]!.role === 'leader' ? alive[at] : undefined;
    },
    timeoutMs,
  );
}

// ---- etcd ---------------------------------------------------------------------------------------

export interface EtcdGroup {
  readonly size: number;
  /** Client URL of each member (the v3 JSON gateway is on it). */
  readonly urls: readonly string[];
  readonly pids: readonly number[];
  /** How many keys start with `prefix` (a serializable count is not enough: this is linearizable). */
  countKeys(prefix: string): Promise<number>;
  stop(): Promise<void>;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** etcd's range end for "every key with this prefix": the prefix with its last byte plus one. */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1]! += 1;
  return bytes.toString('base64');
}

export async function startEtcd(size: number, dir: string): Promise<EtcdGroup> {
  const members = [];
  for (let i = 0; i < size; i++)
    members.push({ name: `e${i + 1}`, client: await freePort(), peer: await freePort() });
  const cluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs: Spawned[] = [];
  const stop = async (): Promise<void> => void (await Promise.all(procs.map((p) => stopProcess(p, 15_000))));
  try {
    for (const m of members) {
      const dataDir = join(dir, m.name);
      await mkdir(dataDir, { recursive: true });
      // Defaults otherwise (fsync on, 100 ms heartbeat, 1 s election timeout), as a user would run it.
      procs.push(
        spawnProcess(ETCD_BIN, [
          '--name',
          m.name,
          '--data-dir',
          dataDir,
          '--listen-client-urls',
          `http://127.0.0.1:${m.client}`,
          '--advertise-client-urls',
          `http://127.0.0.1:${m.client}`,
          '--listen-peer-urls',
          `http://127.0.0.1:${m.peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${m.peer}`,
          '--initial-cluster',
          cluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          `bench-${process.pid}`,
          '--log-level',
          'error',
          '--logger',
          'zap',
        ]),
      );
    }
    const urls = members.map((m) => `http://127.0.0.1:${m.client}`);
    await poll(
      'every etcd member healthy',
      async () => {
        for (const p of procs)
          if (p.child.exitCode !== null) throw new Error(`etcd exited:\n${p.stderrTail()}`);
        const health = await Promise.all(urls.map((u) => getJson<{ health: string }>(`${u}/health`)));
        return health.every((h) => h?.health === 'true') ? true : undefined;
      },
      READY_MS,
    );
    return {
      size,
      urls,
      pids: procs.map((p) => p.child.pid ?? 0),
      async countKeys(prefix) {
        const res = await fetch(`${urls[0]!}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: b64(prefix), range_end: prefixEnd(prefix), count_only: true }),
          signal: AbortSignal.timeout(15_000),
        });
        if (!res.ok) throw new Error(`etcd range: HTTP ${res.status} ${await res.text()}`);
        return Number(((await res.json()) as { count?: string }).count ?? 0);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
