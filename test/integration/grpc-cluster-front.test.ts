// `chorus cluster --api grpc`: nginx fronts gRPC only, and the endpoint lines are a promise that the
// front serves. A script that starts the cluster and calls the printed `grpc HOST:PORT` at once (as
// `grpcurl` after `chorus cluster` would) must be answered; when the front cannot serve at all (its
// port is taken), the cluster must say so and exit 1, as it does for the REST front, instead of
// printing the endpoint and "cluster ready". Every run ends with no process left behind.

import type { ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { callMetadata as md, connect, unaryCall } from '../../src/api/grpc/client.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import type * as health from '../../src/api/grpc/generated/grpc/health/v1/index.ts';
import { loadProtos } from '../../src/api/grpc/protos.ts';
import { spawnProcess, type Spawned } from '../../src/cluster/process.ts';
import {
  CHORUS_MAIN,
  childEnv,
  clusterArgs,
  descendantsOf,
  isAlive,
  processesNaming,
  REPO_ROOT,
} from '../helpers/cluster.ts';
import { GiveUp, until } from '../helpers/until.ts';

const OWN_CONNECTION = { 'grpc.use_local_subchannel_pool': 1 };

/** A TCP connection to HOST:PORT, opened the moment it is called; never throws. */
function tcpConnect(address: string): Promise<string> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect(Number(address.slice(colon + 1)), address.slice(0, colon));
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err) => resolve(`failed: ${err.message}`));
  });
}

/** A health check on a channel of its own, sent the moment it is called; never throws. */
async function healthCheck(address: string): Promise<string> {
  const stubs = connect(address, OWN_CONNECTION);
  try {
    const reply = await unaryCall<health.HealthCheckResponse__Output>((done) =>
      stubs.health.Check({ service: '' }, md(), { deadline: Date.now() + 5000 }, done),
    );
    return reply.status;
  } catch (err) {
    return `failed: ${(err as ServiceError).details}`;
  } finally {
    stubs.close();
  }
}

interface Run {
  readonly proc: Spawned;
  readonly dataDir: string;
  readonly exit: () => { code: number | null; signal: NodeJS.Signals | null } | null;
}

/**
 * Runs `chorus cluster` with these args for `body`, then SIGTERM (if still running) and checks that
 * no process it ran is left; the body's own failure is reported first.
 */
async function withCluster(
  args: (dataDir: string) => string[],
  onLine: (line: string) => void,
  body: (run: Run) => Promise<void>,
): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-cluster-'));
  const proc = spawnProcess(process.execPath, args(dataDir), { cwd: REPO_ROOT, env: childEnv(), onLine });
  const clusterPid = proc.child.pid!;
  const seen = new Set<number>([clusterPid]);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void proc.exited.then((e) => (exit = e));
  // Remember everything the cluster runs, until it exits.
  const census = setInterval(() => {
    for (const pid of descendantsOf(clusterPid)) seen.add(pid);
  }, 100);
  let failure: Error | null = null;
  try {
    await body({ proc, dataDir, exit: () => exit });
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
  }
  for (const pid of descendantsOf(clusterPid)) seen.add(pid);
  clearInterval(census);
  const wasRunning = exit === null;
  if (wasRunning) proc.child.kill('SIGTERM');
  const stopped = await Promise.race([
    proc.exited,
    new Promise<null>((r) => setTimeout(() => r(null), 30_000).unref()),
  ]);
  const deadline = Date.now() + 3000;
  let left = [...seen].filter(isAlive);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(isAlive);
  }
  const strays = processesNaming(dataDir);
  for (const pid of [...left, ...strays.map((p) => p.pid)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  if (failure) throw failure;
  if (wasRunning) assert.deepEqual(stopped, { code: 0, signal: null }, 'the cluster exits 0 on SIGTERM');
  assert.deepEqual(left, [], 'no process is left behind');
  assert.deepEqual(
    strays.map((p) => `${p.pid} ${p.cmdline}`),
    [],
    'no process names the cluster folder',
  );
}

void test('chorus cluster --api grpc: the printed gRPC front answers the moment it is printed', async () => {
  // Parsed up front, so the probe goes out as soon as the line arrives.
  loadProtos();
  const probes: { tcp: Promise<string>; health: Promise<string> }[] = [];
  await withCluster(
    (dataDir) => clusterArgs({ nodes: 2, api: 'grpc' }, dataDir),
    (line) => {
      const m = /^grpc (\S+)$/.exec(line);
      if (m && probes.length === 0) probes.push({ tcp: tcpConnect(m[1]!), health: healthCheck(m[1]!) });
    },
    async ({ proc, exit }) => {
      await until(
        'the cluster to print its endpoints',
        () => {
          if (exit() !== null) throw new GiveUp(`chorus cluster exited: ${proc.stderrTail()}`);
          return proc.lines.some((l) => l.startsWith('redis '));
        },
        { timeoutMs: 90_000 },
      );
      const lines = [...proc.lines];
      assert.ok(!lines.some((l) => /^rest /.test(l)), 'no REST front with --api grpc');
      const front = /^grpc (\S+)$/.exec(lines[0] ?? '')?.[1];
      assert.ok(front, `the first line is the gRPC front: ${lines.join(' | ')}`);
      const nodes = lines.map((l) => / grpc (\S+) pid \d+$/.exec(l)?.[1]).filter((a) => a !== undefined);
      assert.equal(nodes.length, 2, `one line per node, naming its gRPC address: ${lines.join(' | ')}`);

      const [probe] = probes;
      assert.ok(probe, 'the front was probed as soon as it was printed');
      assert.equal(await probe.tcp, 'connected', 'the front accepts connections the moment it is printed');
      assert.equal(await probe.health, 'SERVING', 'a health check sent then is answered SERVING');

      // Real calls go through the front: a room created there is on every node.
      const stubs = connect(front, OWN_CONNECTION);
      try {
        const created = await unaryCall<pb.JoinResponse__Output>((done) =>
          stubs.rooms.CreateRoom(
            { name: 'Front', hostName: 'Host' },
            md(),
            { deadline: Date.now() + 10_000 },
            done,
          ),
        );
        for (const address of nodes) {
          const direct = connect(address, OWN_CONNECTION);
          try {
            const room = await unaryCall<pb.Room__Output>((done) =>
              direct.rooms.GetRoom(
                { roomId: created.room!.id, minVersion: created.room!.version },
                md(),
                { deadline: Date.now() + 10_000 },
                done,
              ),
            );
            assert.equal(room.version, created.room!.version, `node ${address} has the room`);
          } finally {
            direct.close();
          }
        }
      } finally {
        stubs.close();
      }
    },
  );
});

void test('chorus cluster --api grpc whose front port is taken: reports it and exits 1, never prints the endpoint', async () => {
  // Something else listens on the port asked for (as when 50051 is taken); the nodes take the next ports.
  const squatter = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as net.AddressInfo).port;
  try {
    await withCluster(
      (dataDir) => [
        CHORUS_MAIN,
        'cluster',
        '--nodes',
        '1',
        '--api',
        'grpc',
        '--port',
        '0',
        '--grpc-port',
        String(port),
        '--data-dir',
        dataDir,
        '--node-arg=--log-level=warn',
      ],
      () => undefined,
      async ({ proc, exit }) => {
        // Either it gives up (right), or it prints its endpoints as if all were well (wrong).
        await until(
          'the cluster to exit or to print its endpoints',
          () => exit() !== null || proc.lines.some((l) => l.startsWith('redis ')),
          { timeoutMs: 60_000, intervalMs: 50 },
        );
        const stdout = proc.lines.join('\n');
        assert.ok(
          !proc.lines.some((l) => l.startsWith('grpc ')),
          `the cluster printed a gRPC front that cannot serve (nothing of it listens on ${port}):\n${stdout}\n${proc.stderrTail()}`,
        );
        assert.deepEqual(exit(), { code: 1, signal: null }, `it exits 1:\n${proc.stderrTail()}`);
        assert.match(proc.stderrTail(), /nginx/, 'the error names nginx');
      },
    );
  } finally {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }
});
