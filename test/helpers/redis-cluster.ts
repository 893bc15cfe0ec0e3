// A real Redis Cluster for tests: `primaries` redis-server processes with cluster mode on (and
// `replicas` replicas each), on free loopback ports, in a temporary folder, joined with
// `redis-cli --cluster create` (src/cluster/redis-cluster.ts, which `chorus cluster` uses too).
// Nodes can be killed (a crashed primary) and started again; stop() ends every process and removes
// the folder.
//
//   const rc = await startRedisCluster({ primaries: 3 });
//   ... rc.url (redis-cluster://:password@127.0.0.1:p1,…) ...
//   await rc.stop();

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import { stopProcess, type Spawned } from '../../src/cluster/process.ts';
import { apply, ChorusError, restore, type Envelope, type RoomState } from '../../src/domain/index.ts';
import { roomKeys } from '../../src/store/redis/index.ts';
import { seqOf } from '../../src/store/redis/stream.ts';
import type { Store } from '../../src/store/types.ts';
import { cmd } from './store-envelopes.ts';
import {
  clusterNodes,
  clusterUrl,
  createCluster,
  redisCli,
  startClusterNode,
  waitForClusterOk,
  type RedisClusterNode,
} from '../../src/cluster/redis-cluster.ts';

export interface TestRedisCluster {
  readonly url: string;
  readonly password: string;
  readonly nodes: readonly RedisClusterNode[];
  /** A cluster client for checks (protocol 2, as the store reads). */
  admin(): Promise<Cluster>;
  /** `redis-cli` with the password. */
  cli(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Node addresses that are primaries owning slots now, with their node ids. */
  primaries(): Promise<Array<{ id: string; address: string; slots: number }>>;
  /** The address of the primary that owns this slot now. */
  ownerOf(slot: number): Promise<string>;
  kill(address: string): Promise<void>;
  restart(address: string): Promise<void>;
  /** Waits until every node agrees and every slot is served. */
  settled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

// Whatever happens to the test process, no redis-server outlives it.
const children = new Set<Spawned>();
process.on('exit', () => {
  for (const p of children) p.child.kill('SIGKILL');
});

export async function startRedisCluster(
  opts: { primaries?: number; replicas?: number; nodeTimeoutMs?: number } = {},
): Promise<TestRedisCluster> {
  const primaries = opts.primaries ?? 3;
  const replicas = opts.replicas ?? 0;
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-rcluster-'));
  const password = `pw-${process.pid}-${Date.now()}`;
  const nodes = await clusterNodes(dir, '127.0.0.1', primaries * (1 + replicas));
  const nodeOpts = {
    host: '127.0.0.1',
    password,
    nodeTimeoutMs: opts.nodeTimeoutMs ?? 1000,
    onSpawn: (p: Spawned) => {
      children.add(p);
      void p.exited.then(() => children.delete(p));
    },
  };
  const procs = new Map<string, Spawned>();
  const stopAll = async (): Promise<void> => {
    await Promise.all([...procs.values()].map((p) => stopProcess(p, 2000, 'SIGKILL')));
    procs.clear();
  };
  try {
    await Promise.all(
      nodes.map(async (n) => {
        procs.set(n.address, await startClusterNode(n, nodeOpts));
      }),
    );
    await createCluster(nodes, replicas, password);
  } catch (err) {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const cli = (args: readonly string[], timeoutMs?: number): Promise<string> =>
    redisCli(password, args, timeoutMs);
  const running = (n: RedisClusterNode): boolean => {
    const child = procs.get(n.address)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };
  const alive = (): RedisClusterNode => {
    const n = nodes.find(running);
    if (!n) throw new Error('no Redis Cluster node is running');
    return n;
  };
  const clusterNodesText = (): Promise<string> =>
    cli(['-h', '127.0.0.1', '-p', String(alive().port), 'CLUSTER', 'NODES'], 5000);
  const primariesNow = async (): Promise<Array<{ id: string; address: string; slots: number }>> =>
    (await clusterNodesText())
      .split('\n')
      .map((line) => line.trim().split(' '))
      .filter((f) => f.length >= 8 && f[2]!.includes('master') && !f[2]!.includes('fail'))
      .map((f) => ({
        id: f[0]!,
        address: f[1]!.split('@')[0]!,
        slots: f.slice(8).reduce((sum, range) => {
          if (range.startsWith('[')) return sum;
          const [a, b] = range.split('-').map(Number);
          return sum + (b === undefined ? 1 : b - a! + 1);
        }, 0),
      }))
      .filter((p) => p.slots > 0);
  return {
    url: clusterUrl(nodes, password),
    password,
    nodes,
    async admin() {
      const c = new Cluster(
        nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        { lazyConnect: true, redisOptions: { password, protocol: 2 } },
      );
      await c.connect();
      return c;
    },
    cli,
    primaries: primariesNow,
    async ownerOf(slot) {
      for (const line of (await clusterNodesText()).split('\n')) {
        const f = line.trim().split(' ');
        if (f.length < 9 || !f[2]!.includes('master') || f[2]!.includes('fail')) continue;
        for (const range of f.slice(8)) {
          if (range.startsWith('[')) continue;
          const [a, b] = range.split('-').map(Number);
          if (slot >= a! && slot <= (b ?? a!)) return f[1]!.split('@')[0]!;
        }
      }
      throw new Error(`no primary owns slot ${slot}`);
    },
    async kill(address) {
      const p = procs.get(address);
      if (p) await stopProcess(p, 2000, 'SIGKILL');
    },
    async restart(address) {
      const n = nodes.find((x) => x.address === address);
      if (!n) throw new Error(`no node ${address}`);
      procs.set(address, await startClusterNode(n, nodeOpts));
    },
    settled: (timeoutMs = 30_000) => {
      const up = nodes.filter(running);
      // With a node down, `--cluster check` cannot pass; the live nodes' own view must.
      return waitForClusterOk(up, password, timeoutMs, up.length === nodes.length);
    },
    async stop() {
      await stopAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---- Load and checks shared by the Redis Cluster tests ------------------------------------------

/** The room's log as the cluster holds it, in order, with each entry's position (`0-n`). */
export async function clusterLogOf(
  admin: Cluster,
  prefix: string,
  room: string,
): Promise<Array<{ seq: number; env: Envelope }>> {
  const entries = (await admin.xrange(roomKeys(prefix, room).log, '-', '+')) as Array<[string, string[]]>;
  return entries.map(([id, fields]) => ({
    seq: seqOf(id),
    env: JSON.parse(fields[fields.indexOf('e') + 1]!) as Envelope,
  }));
}

/**
 * Store options for the checks below: snapshots are written (often, so that they meet resharding and
 * failovers too) but the log is never trimmed behind them, so the log is the room's whole history
 * and "every acknowledged command is in the log" can be checked. With the default retention a room
 * past 1,000 entries loses its first entries from the stream (they live on in the snapshot): under
 * load, when a reshard lasts long enough for that, the check used to report them as lost.
 */
export const WHOLE_LOG = { snapshotEvery: 100, retainBehindSnapshot: 10_000_000 } as const;

/** Removes every key under the prefix, on every primary (one DEL per key: keys span slots). */
export async function dropClusterKeys(admin: Cluster, prefix: string): Promise<void> {
  await Promise.all(
    admin.nodes('master').map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        await Promise.all(keys.map((k) => admin.del(k)));
        cursor = next;
      } while (cursor !== '0');
    }),
  );
}

export interface LoadResult {
  /** Acknowledged commands per room, in no particular order. */
  readonly acked: Map<string, Envelope[]>;
  /** Refusals and failures by error code (UNAVAILABLE, DEADLINE_EXCEEDED…). */
  readonly failures: Map<string, number>;
  /** Ids of the commands sent more than once (retried after DEADLINE_EXCEEDED). */
  readonly retried: Set<string>;
}

/**
 * `clients` clients, each submitting `perClient` commands (joins, adds and votes) to rooms picked in
 * turn, through the stores in turn. A command whose outcome is unknown (DEADLINE_EXCEEDED) is retried
 * with the same id until it is answered, as a real client would; one refused UNAVAILABLE is given up.
 * `during` runs beside the load (a reshard, a failover); the load keeps going until both are done.
 */
export async function runClusterLoad(opts: {
  stores: readonly Store[];
  rooms: readonly string[];
  clients: number;
  perClient: number;
  during?: () => Promise<void>;
}): Promise<LoadResult> {
  const acked = new Map<string, Envelope[]>(opts.rooms.map((r) => [r, []]));
  const failures = new Map<string, number>();
  const retried = new Set<string>();
  let duringDone = opts.during === undefined;
  const during = (opts.during ?? (() => Promise.resolve()))().finally(() => {
    duringDone = true;
  });
  // Bounded even if `during` hangs: it has its own deadlines, and the load stops after 90 s.
  const deadline = Date.now() + 90_000;
  const client = async (c: number): Promise<void> => {
    for (let i = 0; i < opts.perClient || !duringDone; i++) {
      if (Date.now() > deadline) break;
      // Past its count a client writes on, paced, until `during` ends: on a fast machine the count
      // alone could be written before the fault it is meant to meet.
      if (i >= opts.perClient) await new Promise((r) => setTimeout(r, 20));
      const room = opts.rooms[(c + i) % opts.rooms.length]!;
      const member = `c${c}`;
      const env =
        i === 0 || i % 7 === 0
          ? cmd.join(room, member)
          : i % 3 === 0
            ? cmd.vote(room, member, `e-${c}-${i - 1}`, 1)
            : cmd.addTrack(room, member, `e-${c}-${i}`);
      const store = opts.stores[(c + i) % opts.stores.length]!;
      for (let attempt = 0; ; attempt++) {
        try {
          const out = await store.submit(env);
          if (out.result.ok) acked.get(room)!.push(env);
          break;
        } catch (err) {
          const code = err instanceof ChorusError ? err.code : 'OTHER';
          failures.set(code, (failures.get(code) ?? 0) + 1);
          if (code !== 'DEADLINE_EXCEEDED' || attempt >= 50) break;
          retried.add(env.commandId);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  };
  await Promise.all([during, ...Array.from({ length: opts.clients }, (_, c) => client(c))]);
  return { acked, failures, retried };
}

/**
 * After a load (stores opened with WHOLE_LOG): the log is whole (it starts at entry 1, so a command
 * missing from it is lost, not trimmed), every acknowledged command is in it, a command is in it
 * twice only if its client re-sent it after an unknown outcome (DEADLINE_EXCEEDED: the first try
 * may have been written) and then its second entry changes nothing (the room applies a command id
 * once), the stored snapshot is the log replayed up to its position, and every store holds the room
 * exactly as replaying the log through `apply` gives it, at the same version. Returns how many
 * entries were such repeats.
 */
export async function assertClusterAgrees(
  admin: Cluster,
  prefix: string,
  stores: readonly Store[],
  load: Pick<LoadResult, 'acked' | 'retried'>,
  /** Rooms whose primary crashed: writes it acknowledged and did not replicate may be gone. */
  mayLose: ReadonlySet<string> = new Set(),
): Promise<{ repeated: number }> {
  let repeated = 0;
  for (const [room, envs] of load.acked) {
    const log = await clusterLogOf(admin, prefix, room);
    const snap = await admin.hmget(roomKeys(prefix, room).snap, 'seq', 'data');
    const [seq, data] = [snap[0] ?? null, snap[1] ?? null];
    assert.equal(
      log[0]?.seq,
      1,
      `room ${room}: the log starts at entry ${log[0]?.seq} (snapshot at ${seq}): it was trimmed behind a snapshot, so it cannot show what was lost (open the stores with WHOLE_LOG)`,
    );
    const inLog = new Set(log.map((e) => e.env.commandId));
    const missing = envs.filter((e) => !inLog.has(e.commandId));
    if (!mayLose.has(room)) {
      assert.deepEqual(missing, [], `room ${room}: acknowledged commands missing from the log`);
    }
    let state: RoomState | null = null;
    const seen = new Set<string>();
    for (const { seq: at, env } of log) {
      const next: RoomState | null = apply(state, env).state;
      if (seen.has(env.commandId)) {
        assert.ok(
          load.retried.has(env.commandId),
          `room ${room}: command ${env.commandId} is in the log twice (entry ${at}) and its client sent it once`,
        );
        assert.equal(next, state, `room ${room}: command ${env.commandId} applied twice (entry ${at})`);
        repeated++;
      }
      seen.add(env.commandId);
      state = next;
      if (seq !== null && data !== null && at === Number(seq)) {
        assert.deepEqual(
          restore(JSON.parse(data)),
          state,
          `room ${room}: its snapshot is the log replayed to ${seq}`,
        );
      }
    }
    assert.ok(state, `room ${room} exists`);
    for (const [i, store] of stores.entries()) {
      const held = await store.read(room, state.version, 20_000);
      assert.deepEqual(held, state, `room ${room} on node ${i + 1} equals the log replayed`);
    }
  }
  return { repeated };
}
