// A local Redis Cluster: N primaries (and R replicas each), each a redis-server of redis.ts with its
// own folder, port and cluster bus port, joined with `redis-cli --cluster create`. Used by
// `chorus cluster --redis-shards N` and by the tests. Every node asks for the same password (also the
// one replicas give their primary) and binds loopback or the given host. The password reaches
// redis-cli through REDISCLI_AUTH, never its command line.
//
// A node restarted on its folder rejoins by itself (its nodes.conf remembers the cluster); create()
// runs once, on empty nodes. nodes.conf names every node by the address it had, so a cluster kept
// in a folder must come back on the same ports: `localClusterLayout` records them (layout.json,
// written once the cluster is created) and hands them out again on the next start.
//
// `redis-cli --cluster create` wants at least three primaries; one or two (a baseline for the
// benchmark, a small test) are joined by hand: slots split with CLUSTER ADDSLOTSRANGE, CLUSTER MEET,
// CLUSTER REPLICATE, the same steps redis-cli takes.

import { execFile } from 'node:child_process';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { privateDir } from '../store/disk/private.ts';
import { freePort, planPorts } from './ports.ts';
import type { Spawned } from './process.ts';
import { startRedisServer } from './redis.ts';

const run = promisify(execFile);
export const REDIS_CLI = '/usr/bin/redis-cli';

export interface RedisClusterNode {
  /** `host:port`, as the cluster names it. */
  readonly address: string;
  readonly port: number;
  readonly busPort: number;
  readonly dir: string;
}

/** Ports for `count` nodes: a client port and a cluster bus port each (Redis 7's `cluster-port`). */
export async function clusterNodes(dir: string, host: string, count: number): Promise<RedisClusterNode[]> {
  const nodes: RedisClusterNode[] = [];
  const taken = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const port = await freePort(host);
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  for (let i = 0; i < count; i++) {
    const port = await pick();
    nodes.push({ address: `${host}:${port}`, port, busPort: await pick(), dir: join(dir, `redis-${i + 1}`) });
  }
  return nodes;
}

export interface ClusterNodeOptions {
  readonly host: string;
  readonly password: string;
  /** Milliseconds a primary may be unreachable before its replica takes over. */
  readonly nodeTimeoutMs: number;
  readonly onSpawn?: (p: Spawned) => void;
}

/** Starts one node (empty, or rejoining with the nodes.conf in its folder) and waits for PING. */
export function startClusterNode(node: RedisClusterNode, o: ClusterNodeOptions): Promise<Spawned> {
  return startRedisServer({
    dir: node.dir,
    host: o.host,
    port: node.port,
    password: o.password,
    ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
    extraConfig: [
      'cluster-enabled yes',
      `cluster-port ${node.busPort}`,
      'cluster-config-file nodes.conf',
      `cluster-node-timeout ${o.nodeTimeoutMs}`,
      // A replica must authenticate to its primary with the same password.
      `masterauth "${o.password}"`,
      // The nodes announce the address they were started with, which clients then connect to.
      `cluster-announce-ip ${o.host}`,
    ],
  });
}

/** `redis-cli` against the cluster with the password in its environment. */
export async function redisCli(
  password: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<string> {
  const { stdout } = await run(REDIS_CLI, args, {
    env: { ...process.env, REDISCLI_AUTH: password },
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/**
 * Joins fresh nodes into one cluster: the first `primaries` nodes share the 16384 slots, the others
 * become their replicas (`redis-cli --cluster create` assigns them), then waits until every node
 * agrees on the slot map.
 */
export async function createCluster(
  nodes: readonly RedisClusterNode[],
  replicas: number,
  password: string,
  timeoutMs = 30_000,
): Promise<void> {
  const primaries = nodes.length / (1 + replicas);
  if (!Number.isInteger(primaries) || primaries < 1)
    throw new Error(`${nodes.length} nodes cannot be primaries with ${replicas} replica(s) each`);
  if (primaries < 3) {
    await createByHand(nodes, primaries, password);
    await waitForClusterOk(nodes, password, timeoutMs);
    return;
  }
  await redisCli(password, [
    '--cluster',
    'create',
    ...nodes.map((n) => n.address),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ]);
  await waitForClusterOk(nodes, password, timeoutMs);
}

/**
 * Polls until every node says cluster_state:ok and, with `full`, `redis-cli --cluster check` is
 * content too (every slot covered, all nodes agree; it fails while a known node is down).
 */
export async function waitForClusterOk(
  nodes: readonly RedisClusterNode[],
  password: string,
  timeoutMs: number,
  full = true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const check = full ? await redisCli(password, ['--cluster', 'check', nodes[0]!.address], 10_000) : '';
      const states = await Promise.all(
        nodes.map(async (n) => {
          const at = ['-h', hostOf(n), '-p', String(n.port)];
          const info = await redisCli(password, [...at, 'CLUSTER', 'INFO'], 5000);
          // A replica counts once it holds its primary's data (else it could not take over).
          const replication = await redisCli(password, [...at, 'INFO', 'replication'], 5000);
          const synced = replication.includes('role:master') || replication.includes('master_link_status:up');
          return synced ? info : '';
        }),
      );
      if (
        !check.includes('[ERR]') &&
        !check.includes('[WARNING]') &&
        states.every((s) => s.includes('cluster_state:ok'))
      )
        return;
      last = check;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`the Redis Cluster did not settle within ${timeoutMs} ms:\n${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `redis-cli` against one node. */
function at(n: RedisClusterNode, password: string, args: readonly string[]): Promise<string> {
  return redisCli(password, ['-h', hostOf(n), '-p', String(n.port), ...args], 10_000);
}

/**
 * What `--cluster create` does, for fewer than three primaries: the first `primaries` nodes share
 * the slots in even ranges, every node meets the first, and node k after the primaries replicates
 * primary k mod `primaries` once it knows that primary.
 */
async function createByHand(
  nodes: readonly RedisClusterNode[],
  primaries: number,
  password: string,
): Promise<void> {
  const SLOTS = 16384;
  for (let i = 0; i < primaries; i++) {
    const from = Math.floor((SLOTS * i) / primaries);
    const to = Math.floor((SLOTS * (i + 1)) / primaries) - 1;
    await at(nodes[i]!, password, ['CLUSTER', 'ADDSLOTSRANGE', String(from), String(to)]);
  }
  const first = nodes[0]!;
  for (const n of nodes.slice(1))
    await at(n, password, ['CLUSTER', 'MEET', hostOf(first), String(first.port), String(first.busPort)]);
  const ids = await Promise.all(nodes.slice(0, primaries).map((n) => at(n, password, ['CLUSTER', 'MYID'])));
  const deadline = Date.now() + 20_000;
  for (const [k, n] of nodes.slice(primaries).entries()) {
    const primary = ids[k % primaries]!.trim();
    // REPLICATE is refused until this node has heard of the primary through the cluster bus.
    for (;;) {
      const known = await at(n, password, ['CLUSTER', 'NODES']);
      if (known.includes(primary)) break;
      if (Date.now() > deadline) throw new Error(`${n.address} never learnt of primary ${primary}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const answer = await at(n, password, ['CLUSTER', 'REPLICATE', primary]);
    if (!answer.startsWith('OK')) throw new Error(`${n.address}: CLUSTER REPLICATE answered ${answer}`);
  }
}

function hostOf(n: RedisClusterNode): string {
  return n.address.slice(0, n.address.lastIndexOf(':'));
}

/** The store's URL for this cluster (any node will do; these are its seeds). */
export function clusterUrl(nodes: readonly RedisClusterNode[], password: string): string {
  return `redis-cluster://:${encodeURIComponent(password)}@${nodes.map((n) => n.address).join(',')}`;
}

// ---- A cluster kept in a folder (`chorus cluster --redis-shards`) ------------------------------------

export interface ClusterLayout {
  readonly primaries: number;
  readonly replicas: number;
  readonly host: string;
  readonly nodes: readonly RedisClusterNode[];
  /** True when the nodes are empty and must be joined with createCluster; false: they rejoin. */
  readonly fresh: boolean;
}

const LAYOUT = 'layout.json';

/**
 * The nodes of the cluster kept in `dir`: the recorded ones (same ports, so nodes.conf still
 * matches) when the folder holds a created cluster of this shape, else fresh ones on free ports in
 * a wiped folder (a creation that never finished wrote no layout and holds no rooms). A folder
 * holding a cluster of another shape or host is refused rather than wiped: it holds rooms. A
 * recorded port that is taken now is refused, naming it.
 */
export async function localClusterLayout(
  dir: string,
  host: string,
  primaries: number,
  replicas: number,
): Promise<ClusterLayout> {
  const file = join(dir, LAYOUT);
  let text: string | null = null;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== null) {
    const kept = parseLayout(text, file, dir);
    if (kept.primaries !== primaries || kept.replicas !== replicas || kept.host !== host)
      throw new Error(
        `${dir} holds a Redis Cluster of ${kept.primaries} primaries with ${kept.replicas} replica(s) each on ${kept.host}; ` +
          `start it with --redis-shards ${kept.primaries} --redis-replicas ${kept.replicas} --host ${kept.host}, or use another --data-dir`,
      );
    await planPorts(
      host,
      kept.nodes.flatMap((n, i) => [
        { name: `Redis Cluster node ${i + 1}`, port: n.port },
        { name: `Redis Cluster node ${i + 1} bus`, port: n.busPort },
      ]),
    );
    return { ...kept, fresh: false };
  }
  await rm(dir, { recursive: true, force: true });
  await privateDir(dir);
  return {
    primaries,
    replicas,
    host,
    nodes: await clusterNodes(dir, host, primaries * (1 + replicas)),
    fresh: true,
  };
}

/** Records the layout once the cluster is created (atomically: a torn file would lose the ports). */
export async function keepClusterLayout(dir: string, layout: ClusterLayout): Promise<void> {
  const record = {
    primaries: layout.primaries,
    replicas: layout.replicas,
    host: layout.host,
    nodes: layout.nodes.map((n) => ({ port: n.port, busPort: n.busPort })),
  };
  const tmp = join(dir, `${LAYOUT}.tmp`);
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, join(dir, LAYOUT));
}

function parseLayout(text: string, file: string, dir: string): Omit<ClusterLayout, 'fresh'> {
  const v = JSON.parse(text) as {
    primaries?: unknown;
    replicas?: unknown;
    host?: unknown;
    nodes?: Array<{ port?: unknown; busPort?: unknown }>;
  };
  const port = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0 && (x as number) < 65536;
  if (
    !Number.isInteger(v.primaries) ||
    !Number.isInteger(v.replicas) ||
    typeof v.host !== 'string' ||
    !Array.isArray(v.nodes) ||
    v.nodes.length !== (v.primaries as number) * (1 + (v.replicas as number)) ||
    !v.nodes.every((n) => port(n.port) && port(n.busPort))
  )
    throw new Error(`${file} is not a Redis Cluster layout; move the folder away to start a new cluster`);
  const host = v.host;
  return {
    primaries: v.primaries as number,
    replicas: v.replicas as number,
    host,
    nodes: v.nodes.map((n, i) => ({
      address: `${host}:${n.port as number}`,
      port: n.port as number,
      busPort: n.busPort as number,
      dir: join(dir, `redis-${i + 1}`),
    })),
  };
}
