// The rooms a store holds on this node, and the Store's read side over them: read (waiting for a
// version), subscribe, loadedRooms and the local room list. Every store answers these alike: the
// same room-id check (a malformed id is a room that does not exist, and never becomes a key or a
// file name), the same clamping of versions, timeouts and list limits, one NOT_FOUND.
//
// A room is held while anything uses it (`busy`: a submit, a read waiting for a version, a reload)
// or anyone subscribes. A room that does not exist is held too, as an empty replica, while a read
// waits for its creation; the store then says what becomes of it: dropped as soon as it is unused
// (`dropEmpty`, for a store whose every command is applied here), or kept briefly and evicted when
// idle (a store that loads rooms from elsewhere, so that a burst of reads costs one load).

import type { ChorusError } from '../domain/index.ts';
import {
  checkRoomId,
  chorusError,
  listingOf,
  playingEndsAt,
  type Envelope,
  type RoomState,
} from '../domain/index.ts';
import type { Lifecycle } from './lifecycle.ts';
import { ListingIndex } from './listing-index.ts';
import type { StoreLogger } from './logger.ts';
import { decide, type Decided, RoomReplica } from './replica.ts';
import { RoomEvictor } from './room-evictor.ts';
import type { CommitOutcome, FeedListener, RoomListing, Subscription } from './types.ts';

/** A room held by a store: its replica, plus whatever the store keeps beside it. */
export interface HeldRoom {
  readonly id: string;
  readonly replica: RoomReplica;
  /** Operations in progress that need the room to stay held (submits, reads waiting, reloads). */
  busy: number;
  /**
   * When the room last changed, or its last subscriber left (reads do not count: the playback
   * clock reads every held room on every tick). An evicting store measures idleness from it.
   */
  quietSince?: number;
}

export interface RoomTableOptions<R extends HeldRoom> {
  readonly life: Lifecycle;
  /** Default wait of read() for minVersion. */
  readonly readTimeoutMs: number;
  /**
   * Makes the entry of a room not held yet (an empty replica, or the room loaded from elsewhere)
   * and puts it in the table with add() once it can be used. Called once per room at a time.
   */
  readonly load: (roomId: string) => Promise<R>;
  /** Drop a room without state as soon as nothing uses it (else evictIdle does, later). */
  readonly dropEmpty: boolean;
  /** Told when a room leaves the table (the store forgets what it indexed the room by). */
  readonly onDrop?: (room: R) => void;
  /** The list entry of a public room the store evicted (see unload); such rooms stay listed. */
  readonly unloadedListing?: (roomId: string) => RoomListing | undefined;
}

/** Rooms that do not exist are held only briefly: a stream of random ids must not fill memory. */
const MISSING_ROOM_IDLE_MS = 30_000;
/** Most rooms one listRooms call returns. */
const MAX_LISTED = 10_000;
/** setTimeout's longest delay. */
const MAX_WAIT_MS = 2 ** 31 - 1;

/** A list limit as every store reads it: whole, at most MAX_LISTED, 0 for anything not positive. */
export function listLimit(limit: number): number {
  const count = Math.min(Math.floor(limit), MAX_LISTED);
  return count > 0 ? count : 0;
}

export function roomNotFound(roomId: string): ChorusError {
  return chorusError('ROOM_NOT_FOUND', { roomId });
}

export class RoomTable<R extends HeldRoom> {
  private readonly rooms = new Map<string, R>();
  private readonly loading = new Map<string, Promise<R>>();
  /** The public rooms held, in the list's order, kept as their states change (not sorted per call). */
  private readonly listed = new ListingIndex();
  private readonly opts: RoomTableOptions<R>;

  constructor(options: RoomTableOptions<R>) {
    this.opts = options;
  }

  get(roomId: string): R | undefined {
    return this.rooms.get(roomId);
  }

  values(): IterableIterator<R> {
    return this.rooms.values();
  }

  /** Rooms held, including empty ones kept for a waiting read or subscriber. */
  get size(): number {
    return this.rooms.size;
  }

  /** Rooms held that exist. */
  get roomCount(): number {
    let n = 0;
    for (const room of this.rooms.values()) if (room.replica.state) n++;
    return n;
  }

  add(room: R): R {
    room.replica.lastUsed = Date.now();
    const before = this.rooms.get(room.id);
    if (before && before !== room) before.replica.onStateChange = null;
    this.rooms.set(room.id, room);
    room.quietSince = Date.now();
    room.replica.onStateChange = (state) => {
      room.quietSince = Date.now();
      this.listed.update(room.id, state);
    };
    this.listed.update(room.id, room.replica.state);
    return room;
  }

  /** The room, loaded (or made empty) first when it is not held. */
  ensure(roomId: string): Promise<R> {
    const room = this.rooms.get(roomId);
    if (room) {
      room.replica.lastUsed = Date.now();
      return Promise.resolve(room);
    }
    let loading = this.loading.get(roomId);
    if (!loading) {
      loading = this.opts.load(roomId).finally(() => this.loading.delete(roomId));
      this.loading.set(roomId, loading);
    }
    return loading;
  }

  /** A use of the room ended: it may be dropped now, if it is empty and the store wants that. */
  release(room: R): void {
    room.replica.lastUsed = Date.now();
    if (
      this.opts.dropEmpty &&
      room.replica.state === null &&
      room.busy === 0 &&
      room.replica.subscriberCount === 0
    ) {
      this.drop(room);
    }
  }

  /** Takes the room out of the table; `reason` fails whoever still waits on it. */
  drop(room: R, reason?: Error): void {
    if (this.rooms.get(room.id) !== room) return;
    this.rooms.delete(room.id);
    room.replica.onStateChange = null;
    this.listed.remove(room.id);
    this.opts.onDrop?.(room);
    if (reason) room.replica.close(reason);
  }

  /**
   * Takes an unused room out of memory while it goes on existing elsewhere (the store reloads it
   * when used): unlike drop, a public room keeps its place in the list (unloadedListing answers).
   */
  unload(room: R): void {
    if (this.rooms.get(room.id) !== room) return;
    this.rooms.delete(room.id);
    room.replica.onStateChange = null;
    this.opts.onDrop?.(room);
  }

  /** Lists a public room that is not held (a store starting with its rooms evicted). */
  listUnloaded(listing: RoomListing): void {
    if (!this.rooms.has(listing.id)) this.listed.insert(listing.id, listing.createdAt);
  }

  /** Fails every waiter and forgets every room (the store is closing). */
  closeAll(reason: Error): void {
    for (const room of [...this.rooms.values()]) this.drop(room, reason);
  }

  /** Drops rooms unused for `idleMs` (rooms that do not exist: sooner), unless `pinned`. */
  evictIdle(idleMs: number, pinned: (room: R) => boolean = () => false): void {
    const now = Date.now();
    for (const room of [...this.rooms.values()]) {
      const idleAfter = room.replica.state ? idleMs : Math.min(idleMs, MISSING_ROOM_IDLE_MS);
      if (room.busy > 0 || room.replica.subscriberCount > 0 || pinned(room)) continue;
      if (now - room.replica.lastUsed < idleAfter) continue;
      this.drop(room, chorusError('ROOM_UNLOADED', { roomId: room.id }));
    }
  }

  // ---- The Store's read side --------------------------------------------------------------------

  read(roomId: string, minVersion = 0, timeoutMs = this.opts.readTimeoutMs): Promise<RoomState | null> {
    // A held room already at the version asked for (every write's token check, most reads): answered
    // as readSlow would, without its two promise hops (ensure's and its own) on the node's one thread.
    const room = this.rooms.get(roomId);
    if (
      room !== undefined &&
      this.opts.life.isOpen &&
      room.replica.version >= (Number.isFinite(minVersion) ? minVersion : 0) &&
      checkRoomId(roomId) === null
    ) {
      this.release(room); // as readSlow's: marks it used (and drops an empty one)
      return Promise.resolve(room.replica.state);
    }
    return this.readSlow(roomId, minVersion, timeoutMs);
  }

  private async readSlow(roomId: string, minVersion: number, timeoutMs: number): Promise<RoomState | null> {
    this.opts.life.assertOpen();
    if (checkRoomId(roomId)) return null;
    const room = await this.ensure(roomId);
    const want = Number.isFinite(minVersion) ? minVersion : 0;
    if (room.replica.version < want) {
      const wait = Number.isFinite(timeoutMs)
        ? Math.min(Math.max(0, timeoutMs), MAX_WAIT_MS)
        : this.opts.readTimeoutMs;
      room.busy++;
      try {
        await room.replica.waitForVersion(want, wait);
      } finally {
        room.busy--;
        this.release(room);
      }
    } else {
      this.release(room);
    }
    return room.replica.state;
  }

  async subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription> {
    this.opts.life.assertOpen();
    const room = checkRoomId(roomId) ? null : await this.ensure(roomId);
    if (!room?.replica.state) {
      if (room) this.release(room);
      throw roomNotFound(roomId);
    }
    const sub = room.replica.subscribe(afterVersion, listener);
    return {
      close: () => {
        sub.close();
        room.quietSince = Date.now();
        this.release(room);
      },
    };
  }

  /** Ids of the rooms held that exist. */
  loadedRooms(): readonly string[] {
    const ids: string[] = [];
    for (const room of this.rooms.values()) if (room.replica.state) ids.push(room.id);
    return ids;
  }

  /** The public rooms held here, newest first (the id breaks ties, so the order is stable). */
  listings(limit: number): RoomListing[] {
    return this.listed.first(listLimit(limit)).map((id) => {
      const held = this.rooms.get(id);
      return held ? listingOf(held.replica.state!) : this.opts.unloadedListing!(id)!;
    });
  }
}

/**
 * The rooms of a store that applies every command itself, in its one order (memory, and any
 * store whose log lives on this node): a room is an empty replica until a command creates it,
 * and an empty one is dropped as soon as nothing uses it.
 */
export class LocalRooms extends RoomTable<HeldRoom> {
  private readonly logger: StoreLogger;
  /** Where evicted rooms lie (src/store/room-evictor.ts); a room not held is looked for there first. */
  readonly evictor: RoomEvictor;

  constructor(options: { life: Lifecycle; readTimeoutMs: number; logger: StoreLogger }) {
    const evictor = new RoomEvictor();
    super({
      life: options.life,
      readTimeoutMs: options.readTimeoutMs,
      load: (roomId) => Promise.resolve(this.hold(roomId)),
      dropEmpty: true,
      unloadedListing: (roomId) => evictor.listing(roomId),
    });
    this.logger = options.logger;
    this.evictor = evictor;
  }

  /** Rooms that exist: held, or evicted. */
  get existing(): number {
    return this.roomCount + this.evictor.size;
  }

  /**
   * Evicts rooms that have been quiet for `idleMs` and are exactly as the newest snapshot holds
   * them, unless something uses them (a submit or read in progress, a subscriber), `pinned` says so
   * (a command in flight), or a track is playing (the playback clock looks only at held rooms).
   */
  evictQuiet(idleMs: number, pinned: (room: HeldRoom) => boolean): number {
    const now = Date.now();
    let evicted = 0;
    for (const room of [...this.values()]) {
      const state = room.replica.state;
      if (state === null || room.busy > 0 || room.replica.subscriberCount > 0) continue;
      if (now - (room.quietSince ?? now) < idleMs || !this.evictor.inNewestSnapshot(state)) continue;
      if (pinned(room) || playingEndsAt(state) !== null) continue;
      this.unload(room);
      this.evictor.evict(state);
      evicted++;
    }
    return evicted;
  }

  /** Puts a room loaded from a snapshot in the table. */
  restore(state: NonNullable<RoomReplica['state']>): void {
    this.add({ id: state.id, replica: new RoomReplica(state.id, state, this.logger), busy: 0 });
  }

  /**
   * Applies the next command of the store's order to its room (live or in replay), installing what
   * `decide` worked out for it when nothing came between.
   */
  apply(env: Envelope, decided: Decided | null = null): CommitOutcome {
    const room = this.hold(roomKey(env));
    const outcome = room.replica.applyCommitted(env, decided);
    this.release(room);
    return outcome;
  }

  /**
   * What `env` would do if it were its room's next command, from the room as applied now (no
   * room: as applied to none). Only a store that knows nothing of that room is in flight may use it.
   */
  decide(env: Envelope): Decided | null {
    const roomId = roomKey(env);
    return decide((this.get(roomId) ?? this.reloaded(roomId))?.replica.state ?? null, env);
  }

  /** The room's entry: reloaded when evicted, made empty when there is none (a new room). */
  hold(roomId: string): HeldRoom {
    return (
      this.get(roomId) ??
      this.reloaded(roomId) ??
      this.add({ id: roomId, replica: new RoomReplica(roomId, null, this.logger), busy: 0 })
    );
  }

  private reloaded(roomId: string): HeldRoom | undefined {
    const state = this.evictor.reload(roomId);
    if (state === null) return undefined;
    return this.add({ id: roomId, replica: new RoomReplica(roomId, state, this.logger), busy: 0 });
  }
}

/** The room a command is for; a malformed envelope still gets an answer (apply refuses it). */
export function roomKey(env: Envelope): string {
  return typeof env?.roomId === 'string' ? env.roomId : String(env?.roomId);
}
