// The redis store through Redis Sentinel, with real processes on loopback: a master (AOF on), a
// replica of it, and one sentinel monitoring them with quorum 1. Two stores open with the same
// redis-sentinel:// URL find the master through the sentinel and share one state; then the master is
// killed, the sentinel promotes the replica, and the stores find the new master by themselves.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ChorusError } from '../../src/domain/index.ts';
import { parseNodeConfig } from '../../src/node/config.ts';
import { openRedisStore, roomKeys, type RedisStore } from '../../src/store/redis/index.ts';
import { resolveRedisOptions } from '../../src/store/redis/options.ts';
import { startRedis, startSentinel, type RedisServer, type SentinelServer } from '../helpers/redis-server.ts';
import { cmd, OPEN_SETTINGS, roomId } from '../helpers/store-envelopes.ts';
import { accepted } from '../store-contract.ts';
import { until } from '../helpers/until.ts';

const MASTER = 'chorus-master';
const PREFIX = 'sentinel:';
const quiet = { info: () => undefined, warn: () => undefined };

/** A short-lived client that runs one command and disconnects. */
async function ask(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    protocol: 2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 2000,
  });
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

void describe('redis-sentinel:// URLs', () => {
  void test('are parsed into sentinels, master name and the master password', () => {
    const o = resolveRedisOptions({
      url: 'redis-sentinel://:s%40cret@10.0.0.1:26380,sentinel-b,[::1]:26381/mymaster',
    });
    assert.deepEqual(o.sentinel, {
      name: 'mymaster',
      sentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: 'sentinel-b', port: 26379 },
        { host: '::1', port: 26381 },
      ],
    });
    assert.equal(o.password, 's@cret');
    assert.equal(o.username, undefined);
    assert.equal(o.where, 'redis-sentinel://10.0.0.1:26380,sentinel-b:26379,[::1]:26381/mymaster');
    assert.ok(!o.where.includes('cret'), 'the password stays out of health and logs');

    const withUser = resolveRedisOptions({ url: 'redis-sentinel://app:pw@h:1/m', password: 'ignored' });
    assert.equal(withUser.username, 'app');
    assert.equal(withUser.password, 'pw', 'the URL password wins, as for redis:// URLs');
    assert.equal(resolveRedisOptions({ url: 'redis-sentinel://h/m', password: 'opt' }).password, 'opt');

    // Plain URLs are untouched: no sentinel, credentials left to ioredis' URL parsing.
    const plain = resolveRedisOptions({ url: 'redis://:pw@127.0.0.1:6380/2' });
    assert.equal(plain.sentinel, null);
    assert.equal(plain.where, 'redis://127.0.0.1:6380/2');
    assert.equal(plain.password, undefined);
  });

  void test('malformed ones are refused with INVALID_ARGUMENT, without echoing the password', () => {
    for (const url of [
      'redis-sentinel://h1:26379',
      'redis-sentinel://h1:26379/',
      'redis-sentinel:///m',
      'redis-sentinel://h1:99999/m',
      'redis-sentinel://h1:port/m',
      'redis-sentinel://h1,,h2/m',
      'redis-sentinel://:topsecret@h1:26379/a/b',
      'redis-sentinel://h1/bad name',
    ]) {
      assert.throws(
        () => resolveRedisOptions({ url }),
        (err: unknown) =>
          err instanceof ChorusError && err.code === 'INVALID_ARGUMENT' && !err.message.includes('topsecret'),
        url,
      );
    }
  });

  void test('node configuration accepts them for --redis-url', () => {
    const config = parseNodeConfig({
      store: 'redis',
      redisUrl: 'redis-sentinel://127.0.0.1:26379/m',
      secret: 'a-secret-of-enough-length',
    });
    assert.equal(config.redisUrl, 'redis-sentinel://127.0.0.1:26379/m');
    assert.throws(() =>
      parseNodeConfig({ store: 'redis', redisUrl: 'http://x', secret: 'a-secret-of-enough-length' }),
    );
  });
});

void describe('redis store through Redis Sentinel (real master, replica and sentinel)', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let sentinel: SentinelServer;
  let url: string;
  const stores: RedisStore[] = [];

  const open = async (): Promise<RedisStore> => {
    const store = await openRedisStore({
      url,
      keyPrefix: PREFIX,
      logger: quiet,
      commandTimeoutMs: 1000,
      tailBlockMs: 200,
      submitTimeoutMs: 5000,
    });
    stores.push(store);
    return store;
  };

  before(async () => {
    master = await startRedis({ appendonly: true });
    replica = await startRedis({ appendonly: true, args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await until(
      'the replica to sync with the master',
      async () => {
        const info = String(await ask(replica.port, 'INFO', 'replication'));
        return info.includes('master_link_status:up') ? true : undefined;
      },
      { timeoutMs: 10_000 },
    );
    // Started after the replica, so the sentinel's first INFO of the master already lists it
    // (otherwise it learns of replicas only on its 10-second INFO period).
    sentinel = await startSentinel({ masterName: MASTER, masterPort: master.port });
    await until(
      'the sentinel to know the replica',
      async () => {
        const replicas = (await ask(sentinel.port, 'SENTINEL', 'REPLICAS', MASTER)) as string[][];
        return replicas.some((r) => r.includes(String(replica.port)) && r[r.indexOf('flags') + 1] === 'slave')
          ? true
          : undefined;
      },
      { timeoutMs: 15_000 },
    );
    url = `redis-sentinel://127.0.0.1:${sentinel.port}/${MASTER}`;
  });

  after(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
    await Promise.allSettled([sentinel?.stop(), replica?.stop(), master?.stop()]);
  });

  void test('two stores find the master through the sentinel, share state, and survive a failover', async () => {
    const a = await open();
    const b = await open();
    assert.match(a.health().detail, /redis-sentinel:\/\/127\.0\.0\.1:\d+\/chorus-master/);

    const room = roomId('sentinel');
    await accepted(a, cmd.createRoom(room, 'host', OPEN_SETTINGS));
    await accepted(b, cmd.join(room, 'm1'));
    await accepted(a, cmd.addTrack(room, 'host', 'e1'));
    const last = await accepted(b, cmd.addTrack(room, 'm1', 'e2'));
    const version = last.state!.version;
    const [sa, sb] = await Promise.all([a.read(room, version), b.read(room, version)]);
    assert.deepEqual(sa, sb);
    assert.deepEqual(
      sa!.queue.map((e) => e.entryId),
      ['e1', 'e2'],
    );
    // The commands went to the master the sentinel names.
    const logLength = await ask(master.port, 'XLEN', roomKeys(PREFIX, room).log);
    assert.equal(logLength, version);

    // Replication is asynchronous: a write the master acknowledged but had not yet sent to the
    // replica is lost when the replica is promoted (the store does not issue WAIT). WAIT here makes
    // this test check recovery rather than the luck of the replication race, so the writes above
    // must all be on the new master.
    assert.equal(await ask(master.port, 'WAIT', '1', '5000'), 1);

    await master.halt({ signal: 'SIGKILL' });
    const newMasterPort = await until(
      'the sentinel to promote the replica',
      async () => {
        const addr = (await ask(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)) as string[];
        return addr[1] === String(replica.port) ? Number(addr[1]) : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(newMasterPort, replica.port);

    // Writes fail (UNAVAILABLE) until the store has reconnected to the new master, then succeed;
    // nothing here restarts or reopens the stores. Retried with the same commandId, so an attempt
    // that reached Redis but lost its reply is not applied twice.
    const addE3 = cmd.addTrack(room, 'host', 'e3');
    const outcome = await until(
      'a write accepted after the failover',
      async () => {
        const out = await a.submit(addE3);
        assert.ok(out.result.ok, JSON.stringify(out.result));
        return out;
      },
      { timeoutMs: 30_000 },
    );
    const afterVersion = outcome.state!.version;
    assert.equal(afterVersion, version + 1, 'the writes acknowledged before the failover were kept');
    await accepted(b, cmd.vote(room, 'm1', 'e3', 1));

    const final = await until(
      'both stores to converge after the failover',
      async () => {
        const [fa, fb] = await Promise.all([
          a.read(room, afterVersion + 1, 1000),
          b.read(room, afterVersion + 1, 1000),
        ]);
        return fa?.version === afterVersion + 1 && fb?.version === afterVersion + 1
          ? ([fa, fb] as const)
          : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(final[0], final[1]);
    assert.deepEqual(final[0].queue.map((e) => e.entryId).sort(), ['e1', 'e2', 'e3']);
    assert.equal(await ask(replica.port, 'XLEN', roomKeys(PREFIX, room).log), afterVersion + 1);
    await until(
      'both stores to report healthy',
      async () => (a.health().ready && b.health().ready ? true : undefined),
      { timeoutMs: 10_000 },
    );
  });

  void test('a sentinel URL nobody answers fails the start with UNAVAILABLE', async () => {
    await assert.rejects(
      openRedisStore({ url: 'redis-sentinel://127.0.0.1:1/nobody', logger: quiet, commandTimeoutMs: 500 }),
      (err: unknown) => err instanceof ChorusError && err.code === 'UNAVAILABLE',
    );
  });
});
