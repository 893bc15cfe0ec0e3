// The key-to-slot mapping the tailer groups rooms by must be Redis Cluster's own (CRC16/XMODEM of
// the hash tag); the expected slots are what CLUSTER KEYSLOT answers on Redis 7.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keySlot, roomKeys } from '../../../src/store/redis/keys.ts';
import { resolveRedisOptions } from '../../../src/store/redis/options.ts';

void test('keySlot gives the slots CLUSTER KEYSLOT gives', () => {
  assert.equal(keySlot('foo'), 12182);
  assert.equal(keySlot('123456789'), 12739);
  assert.equal(keySlot('{user1000}.following'), keySlot('user1000'));
  // An empty tag is no tag: the whole key is hashed.
  assert.equal(keySlot('foo{}{bar}'), 8363);
  assert.equal(keySlot('foo{{bar}}zap'), keySlot('{bar'));
});

void test("a room's keys share one slot", () => {
  const keys = roomKeys('chorus:', 'lobby');
  assert.equal(keySlot(keys.log), keySlot(keys.snap));
  assert.equal(keySlot(keys.log), keySlot('room:lobby'));
});

void test('redis-cluster:// URLs: nodes, default port, credentials, and what is refused', () => {
  const o = resolveRedisOptions({ url: 'redis-cluster://:s%40cret@127.0.0.1:7000,[::1],localhost:7002' });
  assert.deepEqual(o.cluster, {
    nodes: [
      { host: '127.0.0.1', port: 7000 },
      { host: '::1', port: 6379 },
      { host: 'localhost', port: 7002 },
    ],
  });
  assert.equal(o.password, 's@cret');
  assert.equal(o.sentinel, null);
  assert.equal(o.where, 'redis-cluster://127.0.0.1:7000,[::1]:6379,localhost:7002');
  assert.equal(resolveRedisOptions({ url: 'redis://127.0.0.1:6379' }).cluster, null);
  for (const url of ['redis-cluster://', 'redis-cluster://h:99999', 'redis-cluster://:pw@h:1/name']) {
    assert.throws(
      () => resolveRedisOptions({ url }),
      (err: Error) => err.message.includes('redis-cluster://') && !err.message.includes(':pw@'),
      url,
    );
  }
});
