// A store registered by a test, through the one registry, runs the whole Store contract: the
// shared store layer is all a new store needs beyond its ordering and durability. And the
// registry is what the node's configuration offers: exactly the stores registered.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseNodeConfig } from '../../../src/node/config.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import { NO_TELEMETRY } from '../../../src/store/telemetry.ts';
import {
  registerStore,
  sharedStoreKinds,
  storeEntry,
  storeKinds,
  type StoreSettings,
} from '../../../src/store/registry.ts';
import { VOLATILE_STORE } from '../../helpers/volatile-store.ts';
import { runStoreContract } from '../../store-contract.ts';

const builtIn = storeKinds();
registerStore(VOLATILE_STORE);

const settings: StoreSettings = {
  dataDir: '/nonexistent',
  redisUrl: null,
  redisPrefix: 'chorus:',
  readTimeoutMs: 5_000,
};

runStoreContract('volatile (registered by the test)', async () => {
  const store = await storeEntry('volatile').open(settings, SILENT_LOGGER, NO_TELEMETRY);
  return { store, cleanup: () => store.close() };
});

void describe('store registry', () => {
  void test('lists the stores registered, and only those', () => {
    assert.deepEqual(builtIn, ['memory', 'redis', '2pc', 'raft']);
    assert.deepEqual(storeKinds(), ['memory', 'redis', '2pc', 'raft', 'volatile']);
    assert.deepEqual(
      sharedStoreKinds(),
      ['redis', '2pc', 'raft'],
      'chorus cluster offers the stores it can run',
    );
    assert.throws(() => registerStore(VOLATILE_STORE), /already registered/);
    assert.throws(() => storeEntry('paxos'), /no store of kind paxos/);
  });

  void test('the node configuration offers exactly the registered stores, with their checks', () => {
    assert.equal(parseNodeConfig({ store: 'volatile' }).store, 'volatile');
    assert.throws(
      () => parseNodeConfig({ store: 'paxos' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.includes('--store must be one of memory, redis, 2pc, raft, volatile (got "paxos")'),
    );
    assert.throws(
      () => parseNodeConfig({ store: 'redis' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.includes('--store redis needs --redis-url (or CHORUS_REDIS_URL)') &&
        err.problems.some((p) => p.startsWith('--store redis needs --secret')),
    );
  });
});
