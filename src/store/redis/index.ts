// The redis store: many stateless nodes sharing rooms through Redis (see store.ts and keys.ts).

import type { RedisStoreOptions } from './options.ts';
import { RedisStore } from './store.ts';

export { RedisStore } from './store.ts';
export { keySlot, listingKeys, roomKeys } from './keys.ts';
export type { RedisStoreOptions } from './options.ts';

/**
 * Validates the options, connects, and resolves with a started store (calling start() again is a
 * no-op). Rejects INVALID_ARGUMENT for bad options, UNAVAILABLE when Redis cannot be reached, and
 * FAILED_PRECONDITION when the server is older than Redis 7.0.
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const store = new RedisStore(options);
  await store.start();
  return store;
}
