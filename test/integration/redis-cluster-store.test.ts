// The redis store on a real 3-primary Redis Cluster (started here: redis-server in cluster mode,
// joined with redis-cli --cluster create, on free loopback ports): the Store contract, then several
// nodes sharing rooms spread over the three primaries, and the room list across them.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Cluster } from 'ioredis';
import { keySlot, openRedisStore, roomKeys, type RedisStore } from '../../src/store/redis/index.ts';
import {
  assertClusterAgrees,
  dropClusterKeys,
  runClusterLoad,
  startRedisCluster,
  WHOLE_LOG,
  type TestRedisCluster,
} from '../helpers/redis-cluster.ts';
import { cmd, OPEN_SETTINGS, roomId } from '../helpers/store-envelopes.ts';
import { accepted, runStoreContract } from '../store-contract.ts';
import { until } from '../helpers/until.ts';

let rc: TestRedisCluster;
let admin: Cluster;
let prefixes = 0;

before(async () => {
  rc = await startRedisCluster({ primaries: 3 });
  admin = await rc.admin();
});

after(async () => {
  admin.disconnect();
  await rc.stop();
});

function freshPrefix(): string {
  prefixes += 1;
  return `c${prefixes}:`;
}

const quiet = { info: () => undefined, warn: () => undefined };

function open(keyPrefix: string, extra: { snapshotEvery?: number; retainBehindSnapshot?: number } = {}) {
  return openRedisStore({ url: rc.url, keyPrefix, logger: quiet, ...extra });
}

runStoreContract('redis on a 3-primary Redis Cluster', async () => {
  const keyPrefix = freshPrefix();
  // Small snapshot thresholds, so the contract also runs through snapshots and trimmed logs.
  const store = await open(keyPrefix, { snapshotEvery: 100, retainBehindSnapshot: 20 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropClusterKeys(admin, keyPrefix);
    },
  };
});

void describe('redis store on a Redis Cluster: several nodes', () => {
  void test('rooms land on all three primaries; under 20 clients every node agrees and no acknowledged write is lost', async () => {
    const prefix = freshPrefix();
    const stores: RedisStore[] = await Promise.all([
      open(prefix, WHOLE_LOG),
      open(prefix, WHOLE_LOG),
      open(prefix, WHOLE_LOG),
    ]);
    try {
      // Four rooms on each primary: ids drawn until each has its four (12 random ids land on only two
      // of three primaries about one run in forty).
      const byOwner = new Map<string, string[]>();
      for (let drawn = 0; [...byOwner.values()].filter((l) => l.length === 4).length < 3; drawn++) {
        assert.ok(drawn < 1_000, 'room ids spread over the three primaries');
        const room = roomId();
        const owner = await rc.ownerOf(keySlot(roomKeys(prefix, room).log));
        const mine = byOwner.get(owner) ?? [];
        if (mine.length < 4) byOwner.set(owner, [...mine, room]);
      }
      const rooms = [...byOwner.values()].flat();
      for (const [i, room] of rooms.entries())
        await accepted(stores[i % 3]!, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      const owners = new Set(
        await Promise.all(rooms.map((room) => rc.ownerOf(keySlot(roomKeys(prefix, room).log)))),
      );
      assert.equal(owners.size, 3, `12 rooms on ${[...owners].join(', ')}: expected all three primaries`);

      const load = await runClusterLoad({ stores, rooms, clients: 20, perClient: 15 });
      assert.deepEqual([...load.failures], [], 'no write failed on a healthy cluster');
      await assertClusterAgrees(admin, prefix, stores, load);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await dropClusterKeys(admin, prefix);
    }
  });

  // The check that the fault tests rely on. A room's first entries leave the stream once a snapshot
  // covers them (retainBehindSnapshot): under load a long reshard let rooms pass 1,000 entries, and
  // the check reported their first joins as lost writes. It must say the log was trimmed instead,
  // and pass on a whole log whose snapshots were written along the way.
  void test('the cluster check refuses a log trimmed behind a snapshot rather than calling it lost writes, checks snapshots on a whole log, and allows a repeat only of a re-sent command', async () => {
    for (const [options, trims] of [
      [{ snapshotEvery: 10, retainBehindSnapshot: 5 }, true],
      [{ ...WHOLE_LOG, snapshotEvery: 10 }, false],
    ] as const) {
      const prefix = freshPrefix();
      const store = await open(prefix, options);
      try {
        const room = roomId();
        const acked = new Map([[room, [cmd.createRoom(room, 'host', OPEN_SETTINGS)]]]);
        await accepted(store, acked.get(room)![0]!);
        for (let i = 0; i < 40; i++) {
          const env = cmd.join(room, `m${i}`);
          await accepted(store, env);
          acked.get(room)!.push(env);
        }
        // The proposer writes snapshots in the background: wait for the one at entry 40.
        const deadline = Date.now() + 20_000;
        while (Number(await admin.hget(roomKeys(prefix, room).snap, 'seq')) < 40) {
          if (Date.now() > deadline) assert.fail('no snapshot at entry 40 within 20 s');
          await new Promise((r) => setTimeout(r, 50));
        }
        const check = assertClusterAgrees(admin, prefix, [store], { acked, retried: new Set() });
        if (trims) {
          await assert.rejects(check, /it was trimmed behind a snapshot/);
          continue;
        }
        await check;
        // A command re-sent after an unknown outcome is written again: in the log twice, to no
        // effect. Allowed for a command its client re-sent, and only for one.
        const again = acked.get(room)!.at(-1)!;
        await accepted(store, again);
        await assert.rejects(
          assertClusterAgrees(admin, prefix, [store], { acked, retried: new Set() }),
          /is in the log twice \(entry 42\) and its client sent it once/,
        );
        const { repeated } = await assertClusterAgrees(admin, prefix, [store], {
          acked,
          retried: new Set([again.commandId]),
        });
        assert.equal(repeated, 1);
      } finally {
        await store.close();
        await dropClusterKeys(admin, prefix);
      }
    }
  });

  void test('a write on one node reaches a subscriber on another, whichever primary holds the room', async () => {
    const prefix = freshPrefix();
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    try {
      const rooms = Array.from({ length: 6 }, () => roomId());
      for (const room of rooms) await accepted(a, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      const seen = new Map<string, number>();
      const subs = await Promise.all(
        rooms.map((room) =>
          b.subscribe(room, 1, (item) => {
            if (item.kind === 'event') seen.set(room, Math.max(seen.get(room) ?? 0, item.event.version));
          }),
        ),
      );
      for (const room of rooms) await accepted(a, cmd.join(room, 'alice'));
      await until('every join seen on node B', () => rooms.every((r) => seen.get(r) === 2), {
        timeoutMs: 10_000,
      });
      for (const s of subs) s.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropClusterKeys(admin, prefix);
    }
  });

  void test('the room list spans the shards: public rooms newest first, whichever primary and node', async () => {
    const prefix = freshPrefix();
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    try {
      const created: string[] = [];
      for (let i = 0; i < 9; i++) {
        const room = roomId('listed');
        await accepted(i % 2 === 0 ? a : b, cmd.createRoom(room, 'host', { public: true }));
        created.push(room);
      }
      const hidden = roomId('hidden');
      await accepted(a, cmd.createRoom(hidden, 'host', { public: false }));
      const owners = new Set(
        await Promise.all(created.map((room) => rc.ownerOf(keySlot(roomKeys(prefix, room).log)))),
      );
      assert.ok(owners.size >= 2, 'the listed rooms live on several primaries');
      for (const store of [a, b]) {
        const listed = (await store.listRooms(50)).map((l) => l.id);
        assert.deepEqual(listed, [...created].reverse());
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropClusterKeys(admin, prefix);
    }
  });
});
