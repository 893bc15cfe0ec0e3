// A local cluster on one machine: the store's server (Redis, for --store redis), N `chorus serve`
// nodes on consecutive ports, and nginx in front. It supervises them: a process that dies is
// reported and restarted with the same arguments, and stop() leaves no process behind.
// Group stores (raft, 2pc) need no server: each node gets --node-id nI and --peers (every voter's
// gRPC address); Raft learners start with --join and are added through the log once a leader is
// elected (the same admin call as `chorus raft add-member --learner`). Each node's output goes to
// chorus.log in its data dir. Ports are planned up front: two uses of one port, or a fixed port
// already taken, is an error naming them.
// With redisShards (--redis-shards N) the store's server is a Redis Cluster of N primaries (and
// redisReplicas replicas each) kept in dataDir/redis-cluster on the ports recorded there, so a
// restarted cluster rejoins with its rooms (see redis-cluster.ts); each Redis node is supervised
// like any other process and restarted on its folder and port.

import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { callMetadata, connect, unaryCall } from '../api/grpc/client.ts';
import type { HealthCheckResponse__Output } from '../api/grpc/generated/grpc/health/v1/index.ts';
import { startNginx, type Upstream } from './nginx.ts';
import { freePort, planPorts, type PortRequest } from './ports.ts';
import { spawnProcess, stopProcess, waitForLine, type Spawned } from './process.ts';
import { startRedisServer } from './redis.ts';
import {
  clusterUrl,
  createCluster,
  keepClusterLayout,
  localClusterLayout,
  startClusterNode,
  waitForClusterOk,
} from './redis-cluster.ts';
import { clusterSecrets } from './secrets.ts';
import { DEFAULTS } from '../node/config.ts';
import type { StoreKind } from '../store/types.ts';
import { raftAdmin, whileNoLeader } from '../store/raft/admin.ts';

export type ApiFront = 'rest' | 'grpc' | 'both';

export interface ClusterOptions {
  readonly nodes: number;
  /** Raft only: this many more nodes, added as learners (they replicate and serve reads, never vote). */
  readonly learners?: number;
  /** A shared store of the registry (src/store/registry.ts); the cluster starts its server. */
  readonly store: StoreKind;
  readonly api: ApiFront;
  readonly host: string;
  /** The load balancer's REST port (0: any free port); nodes use the next ones. */
  readonly port: number;
  /** The load balancer's gRPC port (0: any free port); nodes use the next ones. */
  readonly grpcPort: number;
  readonly dataDir: string;
  /** An existing Redis to use instead of starting one. */
  readonly redisUrl: string | null;
  /** 0: one Redis server; N: a Redis Cluster of N primaries (redis store only). */
  readonly redisShards?: number;
  /** With redisShards: replicas per primary. */
  readonly redisReplicas?: number;
  /** How long a node (or Redis) may take to be ready at start; default READY_MS. */
  readonly readyMs?: number;
  /** The token secret; null: the one kept in the data dir (generated the first time). */
  readonly secret: string | null;
  /** Extra flags passed to every `chorus serve`. */
  readonly nodeArgs: readonly string[];
  readonly log: (line: string) => void;
}

export interface NodeInfo {
  readonly index: number;
  /** Its --node-id in a group store; null otherwise. */
  readonly id: string | null;
  readonly learner: boolean;
  /** The file its output goes to. */
  readonly log: string;
  readonly rest: string;
  readonly grpc: string | null;
  readonly pid: number;
}

export interface Cluster {
  readonly rest: string | null;
  readonly grpc: string | null;
  /** With its password: what a client connects with; null on a group store (no Redis). */
  readonly redisUrl: string | null;
  nodes(): readonly NodeInfo[];
  /** Ends every process; safe to call more than once. */
  stop(): Promise<void>;
}

const MAIN = resolve(fileURLToPath(new URL('../cli/main.ts', import.meta.url)));
// Generous by default: a node on a loaded machine (benchmarks, CI beside other work) may take tens of
// seconds (`--ready-timeout`).
const READY_MS = 60_000;
/** How long a Redis Cluster primary may be unreachable before its replica takes over. */
const REDIS_NODE_TIMEOUT_MS = 5000;
/** Stores whose nodes form a group among themselves (--node-id, --peers) instead of using a server. */
const GROUP_STORES: ReadonlySet<StoreKind> = new Set<StoreKind>(['raft', '2pc']);

interface Supervised {
  name: string;
  proc: Spawned;
  start: () => Promise<Spawned>;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  if (o.nodes < 1 || o.nodes > 50) throw new Error('--nodes must be from 1 to 50');
  const group = GROUP_STORES.has(o.store);
  const learners = o.learners ?? 0;
  if (learners > 0 && o.store !== 'raft') throw new Error('--learners is for --store raft only');
  if (learners < 0 || o.nodes + learners > 50) throw new Error('--nodes plus --learners must be at most 50');
  const total = o.nodes + learners;
  const shards = o.redisShards ?? 0;
  const replicas = o.redisReplicas ?? 0;
  const readyMs = o.readyMs ?? READY_MS;
  if (shards !== 0 && o.store !== 'redis') throw new Error('--redis-shards is for --store redis only');
  if (shards !== 0 && o.redisUrl)
    throw new Error('--redis-shards starts a Redis Cluster: leave out --redis-url');
  if (shards < 0 || shards > 16) throw new Error('--redis-shards must be from 1 to 16');
  if (replicas !== 0 && shards === 0) throw new Error('--redis-replicas needs --redis-shards');
  if (replicas < 0 || replicas > 2) throw new Error('--redis-replicas must be from 0 to 2');
  const dir = resolve(o.dataDir);
  const secrets = await clusterSecrets(dir);
  const supervised: Supervised[] = [];
  let stopping = false;
  // Every child ever spawned and not yet exited, so stop() also ends one a restart just spawned.
  const alive = new Set<Spawned>();
  const track = (p: Spawned): Spawned => {
    alive.add(p);
    void p.exited.then(() => alive.delete(p));
    return p;
  };

  const supervise = async (name: string, start: () => Promise<Spawned>): Promise<Supervised> => {
    const s: Supervised = { name, proc: await start(), start };
    supervised.push(s);
    const watch = (): void => {
      void s.proc.exited.then(async ({ code, signal }) => {
        if (stopping) return;
        o.log(`${name} exited (${signal ?? `code ${String(code)}`}); restarting`);
        for (let attempt = 1; !stopping; attempt++) {
          try {
            const next = await s.start();
            if (stopping) {
              await stopProcess(next, 10_000);
              return;
            }
            s.proc = next;
            watch();
            return;
          } catch (err) {
            o.log(
              `${name} could not restart (attempt ${attempt}): ${(err as Error).message.split('\n')[0] ?? ''}`,
            );
            await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
          }
        }
      });
    };
    watch();
    return s;
  };

  try {
    // The store's server.
    let redisUrl = group ? null : o.redisUrl;
    if (shards > 0) {
      const clusterDir = join(dir, 'redis-cluster');
      const layout = await localClusterLayout(clusterDir, o.host, shards, replicas);
      const nodeOpts = {
        host: o.host,
        password: secrets.redisPassword,
        nodeTimeoutMs: REDIS_NODE_TIMEOUT_MS,
        onSpawn: track,
      };
      await Promise.all(
        layout.nodes.map((n, i) =>
          supervise(`redis ${i + 1}`, async () => {
            const p = await startClusterNode(n, nodeOpts);
            o.log(`redis redis://${n.address} pid ${p.child.pid ?? '?'}`);
            return p;
          }),
        ),
      );
      if (layout.fresh) {
        await createCluster(layout.nodes, replicas, secrets.redisPassword, readyMs);
        await keepClusterLayout(clusterDir, layout);
        o.log(`redis cluster created: ${shards} primaries, ${replicas} replica(s) each`);
      } else {
        await waitForClusterOk(layout.nodes, secrets.redisPassword, readyMs);
        o.log(`redis cluster rejoined: ${shards} primaries, ${replicas} replica(s) each`);
      }
      redisUrl = clusterUrl(layout.nodes, secrets.redisPassword);
    } else if (!redisUrl && !group) {
      const redisPort = await freePort(o.host);
      const where = `redis://${o.host}:${redisPort}`;
      redisUrl = `redis://:${secrets.redisPassword}@${o.host}:${redisPort}`;
      await supervise('redis', async () => {
        const p = await startRedisServer({
          dir: join(dir, 'redis'),
          host: o.host,
          port: redisPort,
          password: secrets.redisPassword,
          onSpawn: track,
        });
        o.log(`redis ${where} pid ${p.child.pid ?? '?'}`);
        return p;
      });
    }

    // The nodes, on consecutive ports after the load balancer's (or free ones for port 0).
    // Secrets go to the nodes in their environment, never on their command lines.
    const secret = o.secret ?? secrets.tokenSecret;
    const nodeEnv = {
      ...process.env,
      CHORUS_SECRET: secret,
      ...(redisUrl === null ? {} : { CHORUS_REDIS_URL: redisUrl }),
      // nginx forwards every client: rates per address count the client it names, not nginx.
      CHORUS_TRUST_PROXY: [...new Set(['127.0.0.1', '::1', o.host])].join(','),
      ...clusterRates(o.nodes, process.env),
    };
    const wanted: PortRequest[] = [
      { name: 'nginx REST', port: o.api === 'grpc' ? -1 : o.port },
      { name: 'nginx gRPC', port: o.api === 'rest' ? -1 : o.grpcPort },
    ];
    for (let i = 0; i < total; i++) {
      wanted.push({ name: `node ${i + 1} REST`, port: o.port === 0 ? 0 : o.port + 1 + i });
      wanted.push({ name: `node ${i + 1} gRPC`, port: o.grpcPort === 0 ? 0 : o.grpcPort + 1 + i });
    }
    const planned = await planPorts(
      o.host,
      wanted.filter((w) => w.port !== -1),
    );
    let at = 0;
    const lbRestPort = o.api === 'grpc' ? null : planned[at++]!;
    const lbGrpcPort = o.api === 'rest' ? null : planned[at++]!;
    const nodePorts = Array.from({ length: total }, () => ({ rest: planned[at++]!, grpc: planned[at++]! }));
    const ids = nodePorts.map((_, i) => `n${i + 1}`);
    const voterPeers = nodePorts
      .slice(0, o.nodes)
      .map((p, i) => `${ids[i]!}=${o.host}:${p.grpc}`)
      .join(',');
    const groupArgs = (i: number): string[] => {
      if (!group) return [];
      const learner = i >= o.nodes;
      const peers = learner ? `${voterPeers},${ids[i]!}=${o.host}:${nodePorts[i]!.grpc}` : voterPeers;
      return ['--node-id', ids[i]!, '--peers', peers, ...(learner ? ['--join'] : [])];
    };
    const infos: NodeInfo[] = [];
    // allSettled: when one node fails, the others still starting must be supervised (and so stopped
    // below) before giving up, not left running behind.
    const started = await Promise.allSettled(
      nodePorts.map((ports, i) =>
        supervise(`node ${i + 1}`, async () => {
          const nodeDir = join(dir, `node-${i + 1}`);
          await mkdir(nodeDir, { recursive: true });
          const logFile = join(nodeDir, 'chorus.log');
          const p = track(
            spawnProcess(
              process.execPath,
              [
                MAIN,
                'serve',
                '--host',
                o.host,
                '--port',
                String(ports.rest),
                '--grpc-port',
                String(ports.grpc),
                '--store',
                o.store,
                '--data-dir',
                nodeDir,
                '--node-name',
                `node-${i + 1}`,
                ...groupArgs(i),
                ...o.nodeArgs,
              ],
              { env: nodeEnv, logFile },
            ),
          );
          // A node that never gets ready must not outlive this attempt (nothing else would stop it).
          const rest = (
            await waitForLine(p, /^rest (\S+)/, readyMs, `node ${i + 1}`).catch(async (err: unknown) => {
              await stopProcess(p, 2000);
              throw err;
            })
          )[1]!;
          // The gRPC line follows the REST line when the node serves gRPC.
          const grpcLine = await waitForLine(p, /^grpc (\S+)/, 2000, `node ${i + 1}`).catch(() => null);
          const info: NodeInfo = {
            index: i + 1,
            id: group ? ids[i]! : null,
            learner: i >= o.nodes,
            log: logFile,
            rest,
            grpc: grpcLine?.[1] ?? null,
            pid: p.child.pid ?? -1,
          };
          infos[i] = info;
          o.log(
            `node ${info.index} rest ${info.rest}${info.grpc ? ` grpc ${info.grpc}` : ''} pid ${info.pid}`,
          );
          o.log(`node ${info.index} log ${logFile}`);
          return p;
        }),
      ),
    );
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    // Learners: the leader adds each through the log once one is elected (asked via node 1).
    if (learners > 0) {
      const admin = raftAdmin(`${o.host}:${nodePorts[0]!.grpc}`, secret);
      try {
        for (let i = o.nodes; i < total; i++) {
          const address = `${o.host}:${nodePorts[i]!.grpc}`;
          const res = await whileNoLeader(async () => {
            try {
              return await admin.change('addLearner', ids[i]!, address);
            } catch (err) {
              // A restarted cluster: the learner is in the membership already.
              if (err instanceof Error && /already a member/.test(err.message)) return null;
              throw err;
            }
          }, readyMs);
          o.log(`node ${i + 1} (${ids[i]!}) is a learner${res ? ` (log index ${res.index})` : ''}`);
        }
      } finally {
        admin.close();
      }
    }

    // The load balancer.
    const upstream = (key: 'rest' | 'grpc'): Upstream[] =>
      nodePorts.map((p) => ({ host: o.host, port: p[key] }));
    const nginx = await supervise('nginx', async () => {
      const p = await startNginx({
        onSpawn: track,
        dir: join(dir, 'nginx'),
        host: o.host,
        rest: lbRestPort === null ? null : { port: lbRestPort, nodes: upstream('rest') },
        grpc: lbGrpcPort === null ? null : { port: lbGrpcPort, nodes: upstream('grpc') },
      });
      return p;
    });
    const rest = lbRestPort === null ? null : `http://${o.host}:${lbRestPort}`;
    const grpc = lbGrpcPort === null ? null : `${o.host}:${lbGrpcPort}`;
    if (rest) await waitForReady(`${rest}/readyz`, readyMs, nginx.proc);
    if (grpc) await waitForGrpcReady(grpc, readyMs, nginx.proc);
    // A group takes writes only once its members reach each other (a 2PC write needs every node, a
    // Raft write a leader): ready means every node says so, not just the first nginx reaches.
    if (group) await Promise.all(infos.map((n) => waitForReady(`${n.rest}/readyz`, readyMs, nginx.proc)));

    return {
      rest,
      grpc,
      redisUrl,
      nodes: () =>
        infos.map((n, i) => ({
          ...n,
          pid: supervised.find((s) => s.name === `node ${i + 1}`)?.proc.child.pid ?? n.pid,
        })),
      stop: async () => {
        stopping = true;
        // Front first (no new requests), then nodes (they flush), then the store's server.
        const kind = (s: Supervised): string => s.name.split(' ')[0]!;
        for (const step of ['nginx', 'node', 'redis']) {
          await Promise.all(
            supervised
              .filter((s) => kind(s) === step)
              .map((s) => stopProcess(s.proc, 10_000, s.name === 'nginx' ? 'SIGQUIT' : 'SIGTERM')),
          );
        }
        // Anything a restart spawned meanwhile.
        await Promise.all([...alive].map((p) => stopProcess(p, 10_000)));
      },
    };
  } catch (err) {
    stopping = true;
    await Promise.all(supervised.map((s) => stopProcess(s.proc, 2000)));
    throw err;
  }
}

async function waitForReady(url: string, timeoutMs: number, nginx: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not up yet.
    }
    if (nginx.child.exitCode !== null) throw new Error(`nginx exited:\n${nginx.stderrTail()}`);
    if (Date.now() > deadline)
      throw new Error(`the load balancer at ${url} was not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until a gRPC health check through the load balancer answers SERVING. */
async function waitForGrpcReady(address: string, timeoutMs: number, nginx: Spawned): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A channel of its own each time, so a refused connection's reconnect backoff does not delay it.
    const stubs = connect(address, { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const reply = await unaryCall<HealthCheckResponse__Output>((done) =>
        stubs.health.Check({ service: '' }, callMetadata(), { deadline: Date.now() + 1000 }, done),
      );
      if (reply.status === 'SERVING') return;
    } catch {
      // Not up yet.
    } finally {
      stubs.close();
    }
    if (nginx.child.exitCode !== null || nginx.child.signalCode !== null)
      throw new Error(`nginx exited:\n${nginx.stderrTail()}`);
    if (Date.now() > deadline)
      throw new Error(`the gRPC load balancer at ${address} was not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Each node's share of the rate limits. Rates are counted per node, and nginx spreads a client's
 * requests round-robin over the nodes, so a node that allows 1/N of a rate keeps the cluster as a
 * whole near the rate (a client whose requests all land on one node gets 1/N of it). A rate set in
 * the environment is taken as the cluster's and shared out the same way; one set with a flag after
 * `--` is the node's own, as given.
 */
export function clusterRates(nodes: number, env: NodeJS.ProcessEnv): Record<string, string> {
  const share = (variable: string, fallback: string): [string, string] => [
    variable,
    String(Math.max(1, Math.ceil(Number(env[variable] ?? fallback) / nodes))),
  ];
  return Object.fromEntries([
    share('CHORUS_WRITES_PER_MEMBER', DEFAULTS.writesPerMember),
    share('CHORUS_ROOMS_PER_ADDRESS', DEFAULTS.roomsPerAddress),
    share('CHORUS_JOINS_PER_ADDRESS', DEFAULTS.joinsPerAddress),
  ]);
}
