// N real `chorus serve --store raft|2pc` processes on loopback, one data dir and one gRPC port each
// (kept across restarts, so a node restarted after a SIGKILL recovers from its own log): the one way
// the tests start a group of node processes (2PC integration tests and the random-crash run drive
// it; `chorus cluster` itself is started by cluster.ts, being what those tests test). A node can be
// started with extra environment (CHORUS_FAILPOINTS) and extra flags; REST ports are picked fresh
// on every start.

import { freePort } from '../../src/cluster/ports.ts';
import { makeTempDir, startChorus, type ChorusProcess } from './chorus-process.ts';
import { Http, ok, type Json } from './http.ts';
import { until } from './until.ts';

/** The group's secret (peers authenticate each other with it). */
export const GROUP_PROCESS_SECRET = 'twopc-integration-secret-0123456789';

export interface GroupProcesses {
  readonly ids: readonly string[];
  /** The running process of each node (null while it is down). */
  readonly nodes: (ChorusProcess | null)[];
  /** Starts node i (again) on its data dir and gRPC port. */
  readonly start: (i: number, env?: Readonly<Record<string, string>>) => Promise<ChorusProcess>;
  /** SIGKILLs node i (if running). */
  readonly kill: (i: number) => Promise<void>;
  /** A REST client for node i (which must be running). */
  readonly api: (i: number) => Http;
  /** GET /v1/rooms/:room on node i. */
  readonly view: (i: number, room: string) => Promise<Json>;
  /** GET /v1/cluster on node i. */
  readonly cluster: (i: number) => Promise<Json>;
  /** Polls until every running node answers /readyz 200 (peers reachable, caught up). */
  readonly ready: (timeoutMs?: number) => Promise<void>;
  /** Stops every running node (SIGTERM, then SIGKILL). */
  readonly stopAll: () => Promise<void>;
}

export interface GroupProcessOptions {
  /** Extra flags for every node (e.g. --no-legacy). */
  readonly args?: readonly string[];
  /** --log-level (default warn). */
  readonly logLevel?: string;
  /** How long a start may take to print its endpoints (default 30 s; a loaded machine may need more). */
  readonly startTimeoutMs?: number;
}

/** Ports and data dirs for n nodes (n1…nN) of a `store` group; no process is started yet. */
export async function groupProcesses(
  store: 'raft' | '2pc',
  n: number,
  options: GroupProcessOptions = {},
): Promise<GroupProcesses> {
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const ports: number[] = [];
  const dirs: string[] = [];
  // One at a time: freePort probes, and two probes at once could return the same port.
  for (let i = 0; i < n; i++) {
    ports.push(await freePort());
    dirs.push(await makeTempDir(`chorus-${store}-`));
  }
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]!}`).join(',');
  const nodes: (ChorusProcess | null)[] = ids.map(() => null);
  const running = (i: number): ChorusProcess => {
    const node = nodes[i];
    if (node === null || node === undefined || !node.running) throw new Error(`${ids[i]!} is not running`);
    return node;
  };
  const api = (i: number): Http => new Http(running(i).restUrl);
  return {
    ids,
    nodes,
    async start(i, env = {}) {
      const node = await startChorus({
        dataDir: dirs[i]!,
        grpcPort: ports[i]!,
        waitForGrpc: true,
        logLevel: options.logLevel ?? 'warn',
        ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
        env: { CHORUS_SECRET: GROUP_PROCESS_SECRET, ...env },
        args: ['--store', store, '--node-id', ids[i]!, '--peers', peers, ...(options.args ?? [])],
      });
      nodes[i] = node;
      return node;
    },
    async kill(i) {
      const node = nodes[i];
      nodes[i] = null;
      if (node !== null && node !== undefined) await node.kill();
    },
    api,
    view: async (i: number, room: string): Promise<Json> => {
      const body: Json = ok(await api(i).get(`/v1/rooms/${room}`), 200);
      return body as Record<string, unknown>;
    },
    cluster: async (i: number): Promise<Json> => {
      const body: Json = ok(await api(i).get('/v1/cluster'), 200);
      return body as Record<string, unknown>;
    },
    async ready(timeoutMs = 60_000) {
      await until(
        `every running ${store} node ready`,
        async () => {
          const up = nodes.flatMap((node, i) => (node?.running === true ? [i] : []));
          const answers = await Promise.all(up.map((i) => api(i).get('/readyz')));
          return answers.every((r) => r.status === 200);
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    async stopAll() {
      await Promise.all(nodes.map(async (node) => (node?.running === true ? node.stop() : undefined)));
    },
  };
}

/** One sample of a Prometheus text page (0 when absent), e.g. metric(text, 'x_total{reason="a"}'). */
export function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
