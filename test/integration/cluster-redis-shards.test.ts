// `chorus cluster --store redis --redis-shards 3 --redis-replicas 1`, as a user runs it: a Redis
// Cluster of three primaries (a replica each, a password, loopback) under two nodes and nginx.
// Rooms created through the load balancer land on all three primaries; every node serves each of
// them. Stopped and started again on its folder, the Redis Cluster comes back on the ports it
// recorded (its nodes.conf names them), so the rooms and the host's token are kept; a folder
// holding a cluster of another shape is refused, naming the shape it holds.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { resolveRedisOptions } from '../../src/store/redis/options.ts';
import {
  call,
  CHORUS_MAIN,
  childEnv,
  REPO_ROOT,
  roomPath,
  setupRooms,
  startCluster,
} from '../helpers/cluster.ts';
import { until } from '../helpers/until.ts';

const run = promisify(execFile);

/** A cluster client for checks, from the redis-cluster:// URL `chorus cluster` printed. */
async function admin(url: string): Promise<Cluster> {
  const o = resolveRedisOptions({ url });
  assert.ok(o.cluster, `a cluster URL: ${o.where}`);
  const c = new Cluster([...o.cluster.nodes], {
    lazyConnect: true,
    redisOptions: { ...(o.password === undefined ? {} : { password: o.password }), protocol: 2 },
  });
  await c.connect();
  return c;
}

/** The room logs each primary holds, by its address. */
async function logsPerPrimary(c: Cluster): Promise<Map<string, Set<string>>> {
  const held = new Map<string, Set<string>>();
  for (const node of c.nodes('master')) {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', 'chorus:{room:*}:log', 'COUNT', 1000);
      for (const k of batch) keys.add(k);
      cursor = next;
    } while (cursor !== '0');
    held.set(`${node.options.host ?? ''}:${node.options.port ?? 0}`, keys);
  }
  return held;
}

void test(
  'chorus cluster --redis-shards 3 --redis-replicas 1: rooms on every primary, kept across a restart',
  { timeout: 300_000 },
  async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-shards-'));
    const env = { CHORUS_ROOMS_PER_ADDRESS: '1000' };
    try {
      const first = await startCluster({
        nodes: 2,
        dataDir,
        keepDataDir: true,
        env,
        redisShards: 3,
        redisReplicas: 1,
      });
      let rooms: Awaited<ReturnType<typeof setupRooms>>;
      let versions: number[];
      const layout = await readFile(path.join(dataDir, 'redis-cluster', 'layout.json'), 'utf8');
      try {
        assert.match(first.redisUrl, /^redis-cluster:\/\/:[^@]+@(127\.0\.0\.1:\d+,){5}127\.0\.0\.1:\d+$/);
        const c = await admin(first.redisUrl);
        try {
          assert.equal(c.nodes('master').length, 3, 'three primaries');
          // Replicas finish their handshake a moment after the cluster answers: ask the cluster itself
          // (CLUSTER NODES), until every primary has its replica.
          await until(
            'a replica for each primary',
            async () => {
              const lines = String(await c.nodes('master')[0]!.call('CLUSTER', 'NODES')).split('\n');
              return lines.filter((l) => /^\S+ \S+ (\S+,)?slave\b/.test(l)).length === 3;
            },
            { timeoutMs: 30_000 },
          );
          rooms = await setupRooms(first.lb, { rooms: 12, clients: 1, tag: 'shard' });
          const held = await logsPerPrimary(c);
          const where = (id: string): string[] =>
            [...held].filter(([, keys]) => keys.has(`chorus:{room:${id}}:log`)).map(([address]) => address);
          for (const room of rooms) assert.equal(where(room.id).length, 1, `room ${room.id} on one primary`);
          // 12 random ids on 3 primaries: all on one or two would be a 1-in-7,000 accident.
          const used = new Set(rooms.flatMap((r) => where(r.id)));
          assert.equal(used.size, 3, `rooms on every primary: ${JSON.stringify([...used])}`);
        } finally {
          c.disconnect();
        }
        // Every node serves every room, whichever primary it lives on.
        versions = [];
        for (const room of rooms) {
          const views = await Promise.all(
            first.nodes().map((n) => call<{ version: number }>(n.rest, 'GET', roomPath(room.id))),
          );
          for (const v of views) assert.equal(v.status, 200, JSON.stringify(v.body));
          assert.equal(views[0]!.body.version, views[1]!.body.version, `room ${room.id}: nodes agree`);
          versions.push(views[0]!.body.version);
        }
      } finally {
        await first.stop();
      }

      // The same folder again: the same ports, the same rooms, the host still the host.
      const second = await startCluster({
        nodes: 2,
        dataDir,
        keepDataDir: true,
        env,
        redisShards: 3,
        redisReplicas: 1,
      });
      try {
        assert.equal(await readFile(path.join(dataDir, 'redis-cluster', 'layout.json'), 'utf8'), layout);
        assert.equal(second.redisUrl, first.redisUrl, 'the Redis Cluster is back on its ports');
        for (const [i, room] of rooms.entries()) {
          const view = await call<{ version: number }>(second.lb, 'GET', roomPath(room.id));
          assert.equal(view.status, 200, `room ${room.id} after the restart: ${JSON.stringify(view.body)}`);
          assert.equal(view.body.version, versions[i], `room ${room.id} kept its version`);
        }
        const locked = await call(second.lb, 'PUT', roomPath(rooms[0]!.id, '/lock'), {
          token: rooms[0]!.hostToken,
          body: { locked: true },
        });
        assert.equal(locked.status, 200, `a write after the restart: ${JSON.stringify(locked.body)}`);
      } finally {
        await second.stop();
      }

      // A folder that holds 3 primaries is not silently wiped for another shape.
      const other = await run(
        process.execPath,
        [
          CHORUS_MAIN,
          'cluster',
          '--redis-shards',
          '4',
          '--port',
          '0',
          '--grpc-port',
          '0',
          '--data-dir',
          dataDir,
        ],
        { cwd: REPO_ROOT, env: childEnv({}), timeout: 60_000 },
      ).then(
        () => null,
        (err: unknown) => err as { code: number; stderr: string },
      );
      assert.ok(other, 'a cluster of another shape on the folder is refused');
      assert.equal(other.code, 1);
      assert.match(other.stderr, /holds a Redis Cluster of 3 primaries with 1 replica\(s\) each/);
      assert.match(other.stderr, /--redis-shards 3 --redis-replicas 1/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  },
);
