// The processes a fault-harness run checks, and the faults it can do to them: `chorus serve` nodes
// on one store (memory: one node; redis: N nodes and a redis-server; raft and 2pc: a group of N), a
// loopback fault proxy on every link between processes, kill/restart, pause and the links' modes.
//
// Links: a Redis-store node reaches Redis through its own proxy; in a group, node i reaches node j
// through links[i][j] (its --peers names, for every peer, that proxy's port; its own entry is its
// real gRPC port, which it does not dial), so cutting links[i][j] and links[j][i] parts i from j
// both ways while clients still reach both. A group node keeps its gRPC port and data dir across
// restarts (its peers' proxies point at that port).

import { freePort } from '../../src/cluster/ports.ts';
import { makeTempDir, startChorus, type ChorusProcess } from '../../test/helpers/chorus-process.ts';
import { startRedis, type RedisServer } from '../../test/helpers/redis-server.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

export type VerifyStore = 'memory' | 'redis' | 'raft' | '2pc';

/** Every node signs and accepts the same tokens (and, in a group, the peers' calls). */
const SECRET = 'verify-harness-secret-0123456789abcdef';

export interface VerifyNode {
  readonly index: number;
  /** The group member id (n1, n2, …); for other stores the same name. */
  readonly id: string;
  proc: ChorusProcess;
  /** Starts at 1; +1 per restart (a restarted node is a new one for "reads never go back"). */
  incarnation: number;
  readonly args: readonly string[];
  readonly grpcPort: number;
  readonly dataDir: string;
  /** The node's link to Redis (redis store). */
  readonly redisLink: FaultProxy | null;
}

export interface VerifyCluster {
  readonly store: VerifyStore;
  readonly nodes: readonly VerifyNode[];
  readonly redis: RedisServer | null;
  /** links[i][j]: how node i reaches node j (groups); null on the diagonal and outside groups. */
  readonly links: readonly (readonly (FaultProxy | null)[])[];
  /** SIGKILL, then start again on the same data dir (and gRPC port). */
  restart(node: VerifyNode, downMs: number): Promise<void>;
  /** The node the group's members name as leader and that says it leads, or null. */
  leader(): Promise<VerifyNode | null>;
  /** Parts `side` from the other nodes both ways (group links, or Redis links for the redis store). */
  partition(side: readonly VerifyNode[], mode: 'cut' | 'blackhole'): void;
  /** Adds `ms` per chunk on every link to and from the node. */
  slow(node: VerifyNode, ms: number): void;
  /** Every link back to pass, every node resumed (SIGCONT). */
  heal(): void;
  /** Polls every node's /readyz until all answer 200; the nodes not ready at the deadline. */
  waitReady(timeoutMs: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startVerifyCluster(store: VerifyStore, count: number): Promise<VerifyCluster> {
  const stopping: (() => Promise<unknown>)[] = [];
  const nodes: VerifyNode[] = [];
  let redis: RedisServer | null = null;
  const group = store === 'raft' || store === '2pc';
  const links: (FaultProxy | null)[][] = [];
  const stop = async (): Promise<void> => {
    for (const s of stopping.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    const n = store === 'memory' ? 1 : count;
    const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    const grpcPorts: number[] = [];
    for (let i = 0; i < n; i++) grpcPorts.push(await freePort()); // one at a time: no port twice
    if (store === 'redis') {
      redis = await startRedis({ appendonly: true, appendfsync: 'always' });
      stopping.push(() => redis!.stop());
    }
    for (let i = 0; i < n; i++) {
      links.push([]);
      for (let j = 0; j < n; j++) {
        const link = group && i !== j ? await startFaultProxy(grpcPorts[j]!) : null;
        if (link) stopping.push(() => link.close());
        links[i]!.push(link);
      }
    }
    const starts = ids.map(async (id, i) => {
      const redisLink = redis ? await startFaultProxy(redis.port) : null;
      if (redisLink) stopping.push(() => redisLink.close());
      const peers = ids
        .map((peer, j) => `${peer}=127.0.0.1:${links[i]![j]?.port ?? grpcPorts[j]!}`)
        .join(',');
      const args = [
        ...(store === 'memory' ? ['--store', 'memory'] : ['--store', store, '--secret', SECRET]),
        ...(redisLink ? ['--redis-url', `redis://127.0.0.1:${redisLink.port}`] : []),
        ...(group ? ['--node-id', id, '--peers', peers] : []),
        '--no-legacy',
      ];
      const dataDir = await makeTempDir('chorus-verify-');
      const start = (): Promise<ChorusProcess> =>
        startChorus({ args, dataDir, grpcPort: grpcPorts[i]!, waitForGrpc: true, startTimeoutMs: 120_000 });
      let proc: ChorusProcess;
      for (let attempt = 1; ; attempt++) {
        try {
          proc = await start();
          break;
        } catch (err) {
          // A port found free can be taken before the node binds it (another node's REST port 0, a
          // proxy): without peers pointing at it (not a group), the node just takes another one.
          if (group || attempt === 3 || !String(err).includes('EADDRINUSE')) throw err;
          grpcPorts[i] = await freePort();
        }
      }
      return { index: i, id, proc, incarnation: 1, args, grpcPort: grpcPorts[i]!, dataDir, redisLink };
    });
    const started = await Promise.allSettled(starts);
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    stopping.push(async () => {
      for (const node of nodes) {
        node.proc.signal('SIGCONT');
        await node.proc.kill().catch(() => undefined);
      }
    });
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await stop();
    throw err;
  }
  nodes.sort((a, b) => a.index - b.index);

  const allLinks = (): FaultProxy[] => [
    ...links.flat().flatMap((l) => (l ? [l] : [])),
    ...nodes.flatMap((x) => (x.redisLink ? [x.redisLink] : [])),
  ];

  return {
    store,
    nodes,
    redis,
    links,
    async restart(node, downMs) {
      await node.proc.kill();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      node.proc = await startChorus({
        args: node.args,
        dataDir: node.dataDir,
        grpcPort: node.grpcPort,
        waitForGrpc: true,
        startTimeoutMs: 120_000,
      });
      node.incarnation++;
    },
    async leader() {
      if (!group) return null;
      const views = await Promise.all(
        nodes.map(async (node) => {
          try {
            const res = await fetch(`${node.proc.restUrl}/v1/cluster`, {
              signal: AbortSignal.timeout(1_000),
            });
            return res.ok ? ((await res.json()) as { nodeId: string; role: string }) : null;
          } catch {
            return null;
          }
        }),
      );
      const lead = views.find((v) => v?.role === 'leader');
      return nodes.find((x) => x.id === lead?.nodeId) ?? null;
    },
    partition(side, mode) {
      const inside = new Set(side.map((x) => x.index));
      if (!group) {
        for (const x of side) x.redisLink?.[mode]();
        return;
      }
      for (let i = 0; i < nodes.length; i++) {
        for (let j = 0; j < nodes.length; j++) {
          if (inside.has(i) !== inside.has(j)) links[i]![j]![mode]();
        }
      }
    },
    slow(node, ms) {
      if (node.redisLink) node.redisLink.delay(ms);
      for (let j = 0; j < nodes.length; j++) {
        links[node.index]![j]?.delay(ms);
        links[j]![node.index]?.delay(ms);
      }
    },
    heal() {
      for (const link of allLinks()) link.restore();
      for (const node of nodes) node.proc.signal('SIGCONT');
    },
    async waitReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let notReady: string[];
      do {
        notReady = [];
        for (const node of nodes) {
          const ok = await fetch(`${node.proc.restUrl}/readyz`, { signal: AbortSignal.timeout(2_000) })
            .then((r) => r.ok)
            .catch(() => false);
          if (!ok) notReady.push(node.id);
        }
        if (notReady.length > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      } while (notReady.length > 0 && Date.now() < deadline);
      return notReady;
    },
    stop,
  };
}
