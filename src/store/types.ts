// The Store contract (DESIGN.md section 1): a store only puts commands in one agreed order, durably,
// and feeds that order to the state machine on this node. It holds no business rules.

import type { CommandResult, Envelope, RoomEvent, RoomState } from '../domain/index.ts';

/**
 * Every kind of store there is or is planned. Which ones a node offers is what src/store/registry.ts
 * registers ('volatile' is a store for tests only, registered by the tests that use it).
 */
export type StoreKind = 'memory' | 'redis' | 'raft' | '2pc' | 'volatile';

/** What a write returns once this node has applied it. */
export interface CommitOutcome {
  readonly result: CommandResult;
  /** The room right after the command (null when the room does not exist). */
  readonly state: RoomState | null;
}

/** What a subscriber receives: events in order, or a whole state when events since its version are gone. */
export type FeedItem =
  | { readonly kind: 'event'; readonly event: RoomEvent }
  | { readonly kind: 'reset'; readonly state: RoomState };

export type FeedListener = (item: FeedItem) => void;

export interface Subscription {
  close(): void;
}

/** A room as the public room list shows it. */
export interface RoomListing {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly memberCount: number;
  readonly queueLength: number;
  readonly nowPlaying: string | null;
  readonly version: number;
}

export interface StoreHealth {
  /** True when the store can take writes now. */
  readonly ready: boolean;
  /** A sentence for /readyz and logs: why not ready, or what it is connected to. */
  readonly detail: string;
}

export interface Store {
  readonly kind: StoreKind;
  /** Connects, recovers, loads; resolves when the store can serve. */
  start(): Promise<void>;
  /**
   * Orders the command, makes it durable, applies it on this node, then resolves with its result.
   * Rejects with ChorusError UNAVAILABLE when the command could not be ordered (nothing applied),
   * or DEADLINE_EXCEEDED when it was handed over but this node did not see it applied in time
   * (it may still take effect: retry with the same commandId, which is safe).
   */
  submit(env: Envelope): Promise<CommitOutcome>;
  /**
   * The room as applied on this node, once its version is at least minVersion (waiting at most
   * timeoutMs, then DEADLINE_EXCEEDED). Null when the room does not exist.
   */
  read(roomId: string, minVersion?: number, timeoutMs?: number): Promise<RoomState | null>;
  /**
   * Live events of a room after `afterVersion`. Events this node still holds are replayed first;
   * when they are gone (or afterVersion is ahead of nothing) a `reset` with the current state comes
   * first instead. Rejects NOT_FOUND when the room does not exist.
   */
  subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription>;
  /** Public rooms, newest first, at most `limit`. */
  listRooms(limit: number): Promise<readonly RoomListing[]>;
  /** Ids of rooms this node holds in memory (the playback clock walks them). */
  loadedRooms(): readonly string[];
  health(): StoreHealth;
  /** Stops taking writes, flushes what is acknowledged, releases resources. Idempotent. */
  close(): Promise<void>;
}
