// A store for tests only: rooms in memory, nothing durable, the order is the order of submit
// calls. It exists to show what a new store costs on top of the shared store layer: one registry
// entry, and its own ordering (here: none beyond JavaScript's one thread) and durability (none).
// Everything else (lifecycle, rooms, reads, subscriptions, encoding, guarded apply) is shared.

import type { Envelope } from '../../src/domain/index.ts';
import { encodeCommand } from '../../src/store/codec.ts';
import { Lifecycle } from '../../src/store/lifecycle.ts';
import type { StoreLogger } from '../../src/store/logger.ts';
import type { StoreEntry } from '../../src/store/registry.ts';
import { LocalRooms, type HeldRoom } from '../../src/store/room-table.ts';
import { StoreBase } from '../../src/store/store-base.ts';
import type { CommitOutcome, RoomListing, StoreHealth } from '../../src/store/types.ts';

export class VolatileStore extends StoreBase<HeldRoom> {
  readonly kind = 'volatile' as const;
  protected readonly life = new Lifecycle('volatile store');
  protected readonly rooms: LocalRooms;

  constructor(logger: StoreLogger, readTimeoutMs: number) {
    super();
    this.rooms = new LocalRooms({ life: this.life, readTimeoutMs, logger });
  }

  async submit(env: Envelope): Promise<CommitOutcome> {
    this.life.assertOpen();
    return this.rooms.apply(encodeCommand(env).env);
  }

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    return this.rooms.listings(limit);
  }

  health(): StoreHealth {
    const notOpen = this.life.notOpenDetail();
    return notOpen === null
      ? { ready: true, detail: `volatile store: ${this.rooms.roomCount} rooms` }
      : { ready: false, detail: notOpen };
  }

  protected startUp(): Promise<void> {
    return Promise.resolve();
  }

  protected async shutdown(): Promise<void> {
    this.rooms.closeAll(this.life.unavailable());
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
