// The compose scenario both architectures run (rest.yml over REST, grpc.yml over gRPC), all through
// nginx on a port published on 127.0.0.1: three nodes take writes and agree; a node killed with
// SIGKILL mid-load loses nothing acknowledged and comes back; scaling to 5 under load brings the new
// nodes into nginx's rotation without restarting nginx; scaling back to 2 under load loses nothing.
// After each step every running node is read from inside its container and must agree.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { freePort } from '../../src/cluster/ports.ts';
import {
  checkNodesAgree,
  Cleanup,
  ComposeProject,
  eventually,
  getInside,
  hostPid,
  podman,
  run,
  startLoad,
  startPodmanService,
  writeSecrets,
  type LoadResult,
  type WriteApi,
} from './harness.ts';

export interface Architecture {
  readonly file: 'rest.yml' | 'grpc.yml';
  readonly name: string;
  /** Ports to publish on 127.0.0.1, by the compose file's variable. */
  readonly portVariables: readonly string[];
  /** The API through nginx, given the published ports. */
  api(ports: Readonly<Record<string, number>>): WriteApi;
  /** nginx's URL for a node's /readyz, given the published ports. */
  readyUrl(ports: Readonly<Record<string, number>>): string;
  /** A Prometheus line prefix counting the writes a node served. */
  readonly writeMetric: RegExp;
}

/** How many writes a node has served, from its own /metrics. */
async function writesServed(container: string, metric: RegExp): Promise<number> {
  const answer = await getInside(container, '/metrics');
  return answer.body
    .split('\n')
    .filter((line) => metric.test(line))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

function report(t: TestContext, step: string, r: LoadResult): void {
  t.diagnostic(
    `${step}: ${r.acknowledged.length} adds acknowledged, ${r.retried} after a retry, ${r.failed.length} given up`,
  );
  assert.deepEqual(r.failed, [], `${step}: writes never acknowledged despite retries`);
}

export async function composeScenario(t: TestContext, arch: Architecture): Promise<void> {
  const cleanup = new Cleanup();
  t.after(() => cleanup.run());
  const dockerEnv = await startPodmanService(cleanup);
  const secrets = await writeSecrets(cleanup);
  const ports: Record<string, number> = {};
  for (const v of arch.portVariables) ports[v] = await freePort();
  const portEnv = Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)]));
  const project = new ComposeProject(arch.file, arch.name, { ...dockerEnv, ...secrets, ...portEnv }, cleanup);
  const api = arch.api(ports);
  cleanup.add(async () => api.close());
  const roomId = `deploy-${randomUUID().slice(0, 8)}`;
  const acknowledged: string[] = [];
  let token = '';
  let version = 0;
  const load = async (step: string, action: () => Promise<unknown>, max = 150, paceMs = 40) => {
    const running = startLoad(api, roomId, token, step, { min: 40, max, paceMs });
    await action();
    const r = await running.stop();
    report(t, step, r);
    acknowledged.push(...r.acknowledged);
    version = Math.max(version, r.maxVersion);
  };

  await t.test('three nodes behind nginx take writes and agree', async () => {
    await project.up(3);
    await eventually(
      async () => {
        const res = await fetch(arch.readyUrl(ports), { signal: AbortSignal.timeout(2_000) });
        return res.status === 200 ? true : undefined;
      },
      'nginx to answer /readyz from a node',
      90_000,
    );
    token = await eventually(() => api.createRoom(roomId), 'the room to be created');
    await load('three', async () => {});
    await checkNodesAgree(project, roomId, version, acknowledged, 3);
  });

  await t.test(
    'Redis asks for the password, keeps an append-only file; no secret in the environment',
    async () => {
      const [redis] = await project.containers('redis');
      assert.ok(redis, 'a redis container');
      const anonymous = await run('podman', ['exec', redis, 'redis-cli', 'ping']);
      assert.match(anonymous.stdout + anonymous.stderr, /NOAUTH/);
      const password = (await podman('exec', redis, 'cat', '/run/secrets/redis_password')).trim();
      const aof = await podman(
        'exec',
        '-e',
        `REDISCLI_AUTH=${password}`,
        redis,
        'redis-cli',
        'config',
        'get',
        'appendonly',
      );
      assert.match(aof, /appendonly\s+yes/);
      for (const node of await project.containers('chorus')) {
        const env = await podman('inspect', '--format', '{{json .Config.Env}}', node);
        assert.doesNotMatch(env, new RegExp(password), `${node}'s environment holds the Redis password`);
      }
    },
  );

  await t.test('a node killed mid-load loses no acknowledged write and comes back', async () => {
    const [victim] = await project.containers('chorus');
    assert.ok(victim);
    const pid = await hostPid(victim);
    await load('crash', async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      process.kill(pid, 'SIGKILL');
      await eventually(
        async () => {
          const now = await hostPid(victim).catch(() => 0);
          return now !== 0 && now !== pid ? true : undefined;
        },
        `${victim} to be restarted by its restart policy`,
        60_000,
      );
      await eventually(
        async () => ((await getInside(victim, '/readyz')).status === 200 ? true : undefined),
        `${victim} ready again`,
        90_000,
      );
    });
    await checkNodesAgree(project, roomId, version, acknowledged, 3);
  });

  await t.test('scaled to 5 under load: nginx sends writes to the new nodes without a restart', async () => {
    const nginxPid = await hostPid((await project.containers('nginx'))[0]!);
    await load(
      'scale-up',
      async () => {
        await project.up(5);
        const nodes = await project.containers('chorus');
        assert.equal(nodes.length, 5);
        // A node starts in seconds alone, but five of them beside the load on two cores take longer.
        for (const node of nodes) {
          await eventually(
            async () => ((await getInside(node, '/readyz')).status === 200 ? true : undefined),
            `${node} to be ready`,
            90_000,
          );
        }
        let served: number[] = [];
        await eventually(async () => {
          served = await Promise.all(nodes.map((n) => writesServed(n, arch.writeMetric)));
          return served.every((n) => n > 0) ? true : undefined;
        }, 'every one of the 5 nodes to serve a write through nginx').catch((err: unknown) => {
          throw new Error(`writes served by ${nodes.join(', ')}: ${served.join(', ')}`, { cause: err });
        });
      },
      // Until every new node has started and been picked by nginx: seconds, so a slower pace.
      550,
      400,
    );
    assert.equal(await hostPid((await project.containers('nginx'))[0]!), nginxPid, 'nginx was restarted');
    await checkNodesAgree(project, roomId, version, acknowledged, 5);
  });

  await t.test('scaled back to 2 under load: nothing acknowledged is lost', async () => {
    await load('scale-down', () => project.up(2));
    await checkNodesAgree(project, roomId, version, acknowledged, 2);
    t.diagnostic(`${acknowledged.length} acknowledged adds in all, every one on every node`);
  });
}
