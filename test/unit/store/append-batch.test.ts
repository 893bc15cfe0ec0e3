// The Redis store's append batcher (src/store/redis/batch.ts): a call that gets no reply fails after
// the batcher's own deadline, as interrupted (it may still run), even when the client holds it
// unsent, where no connection's command timeout applies: a Redis Cluster client queues commands
// while its cluster is not ready (ioredis 6.0.0 even re-queues one redirected while it closes).
// The cluster here is a real ioredis client whose one startup node accepts connections and never
// answers, so the client never learns its slots and the append waits in its offline queue.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { Cluster } from 'ioredis';
import { AppendBatcher } from '../../../src/store/redis/batch.ts';

void test(
  'an append the cluster client holds unsent fails after the deadline',
  { timeout: 20_000 },
  async (t) => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const { port } = silent.address() as net.AddressInfo;
    const cluster = new Cluster([{ host: '127.0.0.1', port }], {
      lazyConnect: true,
      enableOfflineQueue: true,
      slotsRefreshTimeout: 60_000,
      clusterRetryStrategy: () => 1_000,
    });
    cluster.on('error', () => undefined);
    t.after(() => cluster.disconnect());

    const batcher = new AppendBatcher(cluster, 10, 300);
    const started = performance.now();
    const calls = [
      batcher.append(['{r1}:log', '{r1}:snap'], () => 0, '{"n":1}', false),
      batcher.append(['{r2}:log', '{r2}:snap'], () => 0, '{"n":2}', false),
    ];
    for (const call of calls) await assert.rejects(call, /no reply from Redis within 300 ms/);
    const tookMs = performance.now() - started;
    assert.ok(tookMs >= 290 && tookMs < 5_000, `failed after ${Math.round(tookMs)} ms`);
    assert.equal(cluster.status === 'ready', false, 'the client never got its slots');
  },
);
