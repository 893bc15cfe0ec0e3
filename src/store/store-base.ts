// What every store shares, as undici's dispatcher-base does for its pools: the lifecycle (start
// and close run the store's startUp and shutdown once each), and the read side over its room
// table. A store subclasses it and adds only its ordering (submit) and durability.

import type { Envelope, RoomState } from '../domain/index.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { HeldRoom, RoomTable } from './room-table.ts';
import type {
  CommitOutcome,
  FeedListener,
  RoomListing,
  Store,
  StoreHealth,
  StoreKind,
  Subscription,
} from './types.ts';

export abstract class StoreBase<R extends HeldRoom> implements Store {
  abstract readonly kind: StoreKind;
  protected abstract readonly life: Lifecycle;
  protected abstract readonly rooms: RoomTable<R>;

  abstract submit(env: Envelope): Promise<CommitOutcome>;
  abstract listRooms(limit: number): Promise<readonly RoomListing[]>;
  abstract health(): StoreHealth;
  /** Connects, recovers, loads; undoes what it did when it fails. Runs once per start. */
  protected abstract startUp(): Promise<void>;
  /** Flushes and releases; `wasOpen` is false after a start that was given up. Runs once. */
  protected abstract shutdown(wasOpen: boolean): Promise<void>;

  start(): Promise<void> {
    return this.life.start(() => this.startUp());
  }

  close(): Promise<void> {
    return this.life.close((wasOpen) => this.shutdown(wasOpen));
  }

  read(roomId: string, minVersion?: number, timeoutMs?: number): Promise<RoomState | null> {
    return this.rooms.read(roomId, minVersion, timeoutMs);
  }

  subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription> {
    return this.rooms.subscribe(roomId, afterVersion, listener);
  }

  loadedRooms(): readonly string[] {
    return this.rooms.loadedRooms();
  }
}
