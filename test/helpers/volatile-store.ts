// A store for tests only: rooms in memory, nothing durable, the order is the order of submit
// calls. It exists to show what a new store costs on top of the shared store layer: one registry
// entry, and its own ordering (here: none beyond JavaScript's one thread) and durability (none).
// Everything else (lifecycle, rooms, reads, subscriptions, encoding, guarded apply) is shared.

import type { Envelope, RoomState } from '../../src/domain/index.ts';
import { encodeCommand } from '../../src/store/codec.ts';
import { Lifecycle } from '../../src/store/lifecycle.ts';
import type { StoreLogger } from '../../src/store/logger.ts';
import type { StoreEntry } from '../../src/store/registry.ts';
import { LocalRooms } from '../../src/store/room-table.ts';
import type {
  CommitOutcome,
  FeedListener,
  RoomListing,
  Store,
  StoreHealth,
  Subscription,
} from '../../src/store/types.ts';

export class VolatileStore implements Store {
  readonly kind = 'volatile' as const;
  private readonly life = new Lifecycle('volatile store');
  private readonly rooms: LocalRooms;

  constructor(logger: StoreLogger, readTimeoutMs: number) {
    this.rooms = new LocalRooms({ life: this.life, readTimeoutMs, logger });
  }

  start(): Promise<void> {
    return this.life.start(() => Promise.resolve());
  }

  async submit(env: Envelope): Promise<CommitOutcome> {
    this.life.assertOpen();
    return this.rooms.apply(encodeCommand(env).env);
  }

  read(roomId: string, minVersion?: number, timeoutMs?: number): Promise<RoomState | null> {
    return this.rooms.read(roomId, minVersion, timeoutMs);
  }

  subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription> {
    return this.rooms.subscribe(roomId, afterVersion, listener);
  }

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    return this.rooms.listings(limit);
  }

  loadedRooms(): readonly string[] {
    return this.rooms.loadedRooms();
  }

  health(): StoreHealth {
    const notOpen = this.life.notOpenDetail();
    return notOpen === null
      ? { ready: true, detail: `volatile store: ${this.rooms.roomCount} rooms` }
      : { ready: false, detail: notOpen };
  }

  close(): Promise<void> {
    return this.life.close(async () => this.rooms.closeAll(this.life.unavailable()));
  }
}

/** Its registry entry: `registerStore(VOLATILE_STORE)` makes `--store volatile` a choice. */
export const VOLATILE_STORE: StoreEntry = {
  kind: 'volatile',
  shared: false,
  check: () => [],
  open: async (settings, logger) => {
    const store = new VolatileStore(logger, settings.readTimeoutMs);
    await store.start();
    return store;
  },
};
