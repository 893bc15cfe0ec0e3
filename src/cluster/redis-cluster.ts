// A local Redis Cluster: N primaries (and R replicas each), each a redis-server of redis.ts with its
// own folder, port and cluster bus port, joined with `redis-cli --cluster create`. Used by
// `chorus cluster --redis-shards N` and by the tests. Every node asks for the same password (also the
// one replicas give their primary) and binds loopback or the given host. The password reaches
// redis-cli through REDISCLI_AUTH, never its command line.
//
// A node restarted on its folder rejoins by itself (its nodes.conf remembers the cluster); create()
// runs once, on empty nodes.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';
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

function hostOf(n: RedisClusterNode): string {
  return n.address.slice(0, n.address.lastIndexOf(':'));
}

/** The store's URL for this cluster (any node will do; these are its seeds). */
export function clusterUrl(nodes: readonly RedisClusterNode[], password: string): string {
  return `redis-cluster://:${encodeURIComponent(password)}@${nodes.map((n) => n.address).join(',')}`;
}
