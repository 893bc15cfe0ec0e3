// The redis store on a real Redis Cluster while the cluster changes under load: slots of busy rooms
// migrated to another primary with `redis-cli --cluster reshard` while 20 clients write, and a
// primary killed so that its replica takes over. Afterwards every acknowledged write is in its
// room's log once (except, after the crash, what the dead primary had not replicated: Redis
// replication is asynchronous), and every node holds every room as the log replayed gives it.

import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { StoreLogger } from '../../src/store/logger.ts';
import { keySlot, openRedisStore, roomKeys, type RedisStore } from '../../src/store/redis/index.ts';
import {
  assertClusterAgrees,
  runClusterLoad,
  startRedisCluster,
  WHOLE_LOG,
} from '../helpers/redis-cluster.ts';
import { cmd, OPEN_SETTINGS, roomId } from '../helpers/store-envelopes.ts';
import { accepted } from '../store-contract.ts';

/** The stores' warnings, kept and printed with the test's diagnostics (they say what the store saw). */
function storeLog(): { logger: StoreLogger; report: (t: TestContext) => void } {
  const lines: string[] = [];
  return {
    logger: { info: () => undefined, warn: (_fields, message) => lines.push(message ?? '') },
    report: (t) => {
      t.diagnostic(`${lines.length} store warnings`);
      for (const line of lines.slice(0, 20)) t.diagnostic(line);
    },
  };
}

// Bounded: a store that never closes (as once in the reshard) fails the suite instead of hanging CI.
void describe('redis store on a Redis Cluster that changes under load', { timeout: 900_000 }, () => {
  void test('resharding: every slot of a busy primary moves to another while 20 clients write; nothing lost, nothing applied twice, every node agrees', async (t) => {
    const log = storeLog();
    const rc = await startRedisCluster({ primaries: 3 });
    const admin = await rc.admin();
    const prefix = 'reshard:';
    const stores: RedisStore[] = [];
    try {
      for (let i = 0; i < 3; i++)
        stores.push(
          await openRedisStore({ url: rc.url, keyPrefix: prefix, logger: log.logger, ...WHOLE_LOG }),
        );
      const rooms = Array.from({ length: 12 }, () => roomId());
      for (const [i, room] of rooms.entries())
        await accepted(stores[i % 3]!, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      const slotOf = (room: string): number => keySlot(roomKeys(prefix, room).log);
      const [from, to] = await rc.primaries();
      const moving = [];
      for (const room of rooms) if ((await rc.ownerOf(slotOf(room))) === from!.address) moving.push(room);
      assert.ok(moving.length > 0, 'some busy rooms live on the primary that is emptied');

      const load = await runClusterLoad({
        stores,
        rooms,
        clients: 20,
        perClient: 10,
        during: async () => {
          const started = Date.now();
          await rc.cli(
            [
              '--cluster',
              'reshard',
              rc.nodes[0]!.address,
              '--cluster-from',
              from!.id,
              '--cluster-to',
              to!.id,
              '--cluster-slots',
              String(from!.slots),
              '--cluster-yes',
            ],
            240_000,
          );
          t.diagnostic(`the reshard took ${Date.now() - started} ms`);
        },
      });
      const { acked, failures } = load;
      await rc.settled();
      for (const room of moving)
        assert.equal(await rc.ownerOf(slotOf(room)), to!.address, `room ${room} moved`);
      // Redirections are followed, not reported: a reshard refuses no write.
      assert.deepEqual([...failures], [], 'no write failed during the reshard');
      const total = [...acked.values()].reduce((n, envs) => n + envs.length, 0);
      t.diagnostic(`${total} writes acknowledged, ${load.retried.size} re-sent`);
      assert.ok(total >= 200, `${total} writes acknowledged`);
      const { repeated } = await assertClusterAgrees(admin, prefix, stores, load);
      t.diagnostic(`${repeated} log entries repeat a re-sent command`);
    } finally {
      log.report(t);
      await Promise.all(stores.map((s) => s.close()));
      admin.disconnect();
      await rc.stop();
    }
  });

  void test('failover: a primary killed under load, its replica promoted; its rooms refuse writes UNAVAILABLE, then take them again, and every node agrees', async (t) => {
    const log = storeLog();
    const rc = await startRedisCluster({ primaries: 3, replicas: 1 });
    const admin = await rc.admin();
    const prefix = 'failover:';
    const stores: RedisStore[] = [];
    try {
      for (let i = 0; i < 3; i++)
        stores.push(
          await openRedisStore({ url: rc.url, keyPrefix: prefix, logger: log.logger, ...WHOLE_LOG }),
        );
      const rooms = Array.from({ length: 9 }, () => roomId());
      for (const [i, room] of rooms.entries())
        await accepted(stores[i % 3]!, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      const slotOf = (room: string): number => keySlot(roomKeys(prefix, room).log);
      const victim = await rc.ownerOf(slotOf(rooms[0]!));
      const onVictim = new Set<string>();
      for (const room of rooms) if ((await rc.ownerOf(slotOf(room))) === victim) onVictim.add(room);

      const load = await runClusterLoad({
        stores,
        rooms,
        clients: 20,
        perClient: 10,
        during: async () => {
          await new Promise((r) => setTimeout(r, 300));
          await rc.kill(victim);
          // The replica takes over once the others have seen the primary fail (node timeout 1 s).
          const deadline = Date.now() + 30_000;
          while ((await rc.ownerOf(slotOf(rooms[0]!)).catch(() => victim)) === victim) {
            if (Date.now() > deadline) throw new Error('no replica took over within 30 s');
            await new Promise((r) => setTimeout(r, 100));
          }
          await rc.settled(30_000);
        },
      });
      const { acked, failures } = load;
      assert.notEqual(await rc.ownerOf(slotOf(rooms[0]!)), victim, 'the replica took over');
      assert.ok(
        (failures.get('UNAVAILABLE') ?? 0) > 0,
        `writes refused during the failover: ${JSON.stringify([...failures])}`,
      );
      t.diagnostic(`failures ${JSON.stringify([...failures])}, ${load.retried.size} commands re-sent`);
      const unexpected = [...failures.keys()].filter((c) => c !== 'UNAVAILABLE' && c !== 'DEADLINE_EXCEEDED');
      assert.deepEqual(unexpected, [], 'only retryable refusals');
      // Its rooms take writes again, through every node (retried while the nodes learn the new map).
      for (const room of onVictim) {
        for (const [i, store] of stores.entries()) {
          const env = cmd.join(room, `after-${i}`);
          const deadline = Date.now() + 20_000;
          for (;;) {
            try {
              await accepted(store, env);
              break;
            } catch (err) {
              if (Date.now() > deadline) throw err;
              await new Promise((r) => setTimeout(r, 200));
            }
          }
          acked.get(room)!.push(env);
        }
      }
      const { repeated } = await assertClusterAgrees(admin, prefix, stores, load, onVictim);
      t.diagnostic(`${repeated} log entries repeat a re-sent command`);
    } finally {
      log.report(t);
      await Promise.all(stores.map((s) => s.close()));
      admin.disconnect();
      await rc.stop();
    }
  });
});
