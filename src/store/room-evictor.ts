// Idle rooms evicted from memory and reloaded when used, for a store whose snapshot holds every
// room it orders (the embedded store; any store with a whole-store snapshot on this node could use
// it). Design (issue 21 item 3):
//
// - A room may be evicted only when everything of it is in the newest durable snapshot: its state
//   is the very (immutable) state object that snapshot was written from, or was reloaded from
//   (`placed`). Then there is no log record after the snapshot that changed it, so dropping it from
//   memory loses nothing, and a reload (one read of its byte range in the snapshot, then the same
//   `restore` a start does) gives exactly that room back: same version, same state.
// - The store decides *when* (idle, nothing in flight, no subscriber, no read waiting, no track
//   playing, no snapshot being written); this module only keeps where each evicted room lies.
// - An evicted room is reloaded synchronously, by the same code path every command and read of a
//   room goes through (LocalRooms.hold). There is thus no moment at which a room is neither in
//   memory nor readable, and no write can race an eviction: a write pins its room from submit to
//   answer, and one arriving after an eviction simply reloads the room first. The cost is one
//   pread of the room's bytes (KBs, usually from the page cache) on the event loop.
// - A new snapshot includes every room: evicted ones are copied byte for byte from the older
//   snapshot (never reloaded); once it is durable, every place is moved to the new file before
//   the older one is deleted. Evictions wait while a snapshot is written, so no room is evicted
//   into a file that is about to go.
// - Public rooms keep their list entry while evicted (it cannot change while the room is out).
//
// Events kept for resuming subscribers are not in a snapshot: a subscriber resuming an evicted
// room from an old version gets the whole state (a `reset`), as after a restart.

import { closeSync, openSync, readSync } from 'node:fs';
import { isListed, listingOf, restore, type RoomSnapshot, type RoomState } from '../domain/index.ts';
import type { RoomBytesAt, RoomRange } from './disk/snapshot-file.ts';
import type { IndexedRoom } from './disk/snapshot-index.ts';
import type { RoomListing } from './types.ts';

/** Where a room's JSON lies in a snapshot file. Mutable: moved to each new snapshot as it lands. */
interface Place {
  readonly id: string;
  file: string;
  offset: number;
  length: number;
  readonly listing: RoomListing | null;
}

export class RoomEvictor {
  /** Evicted rooms, by id. */
  private readonly out = new Map<string, Place>();
  /** The place of each state that is exactly as a snapshot holds it (written from it, or read back). */
  private readonly placed = new WeakMap<RoomState, Place>();
  /** The newest durable snapshot file; places in older files are not trusted for eviction. */
  private newest: string | null = null;
  evictions = 0;
  reloads = 0;

  /** Rooms evicted now. */
  get size(): number {
    return this.out.size;
  }

  has(roomId: string): boolean {
    return this.out.has(roomId);
  }

  /** The list entry of an evicted public room. */
  listing(roomId: string): RoomListing | undefined {
    return this.out.get(roomId)?.listing ?? undefined;
  }

  stats(): { evicted: number; evictions: number; reloads: number } {
    return { evicted: this.out.size, evictions: this.evictions, reloads: this.reloads };
  }

  /** Ids of the evicted rooms. */
  ids(): IterableIterator<string> {
    return this.out.keys();
  }

  /** Whether `state` is exactly what the newest snapshot holds of its room. */
  inNewestSnapshot(state: RoomState): boolean {
    const place = this.placed.get(state);
    return place !== undefined && place.file === this.newest;
  }

  /** Evicts a room whose state is in the newest snapshot (the caller checked inNewestSnapshot). */
  evict(state: RoomState): void {
    this.out.set(state.id, this.placed.get(state)!);
    this.evictions++;
  }

  /** Reloads an evicted room from its snapshot (null when it is not evicted), and forgets it here. */
  reload(roomId: string): RoomState | null {
    const place = this.out.get(roomId);
    if (place === undefined) return null;
    const state = restore(JSON.parse(readRange(place).toString('utf8')) as RoomSnapshot);
    if (state.id !== roomId) throw new Error(`${place.file} holds room ${state.id} where ${roomId} was`);
    this.out.delete(roomId);
    this.placed.set(state, place);
    this.reloads++;
    return state;
  }

  /** The list entry of a room evicted() gave (it may have been reloaded since). */
  listingAt(room: RoomBytesAt): RoomListing | null {
    return (room as Place).listing;
  }

  /** The evicted rooms, for a snapshot to copy from where they lie now (hand them back to landed). */
  evicted(): readonly RoomBytesAt[] {
    return [...this.out.values()];
  }

  /**
   * A snapshot in `file` is durable: `states` (loaded rooms) and `copied` (what evicted() gave when
   * it began) lie at `ranges` in it, in that order. Called before older snapshot files are deleted.
   * A copied room reloaded meanwhile shares its place with its reloaded state, so both move.
   */
  landed(
    file: string,
    states: readonly RoomState[],
    copied: readonly RoomBytesAt[],
    ranges: readonly RoomRange[],
  ): void {
    for (const [i, state] of states.entries()) {
      const { offset, length } = ranges[i]!;
      this.placed.set(state, { id: state.id, file, offset, length, listing: listingIfPublic(state) });
    }
    for (const [i, room] of copied.entries()) {
      const place = room as Place;
      const range = ranges[states.length + i]!;
      place.file = file;
      place.offset = range.offset;
      place.length = range.length;
    }
    this.newest = file;
  }

  /** Starts from a snapshot's index: every room in it is evicted, to be loaded when first used. */
  startFrom(file: string, rooms: readonly IndexedRoom[]): void {
    for (const r of rooms) {
      this.out.set(r.id, { id: r.id, file, offset: r.offset, length: r.length, listing: r.listing });
    }
    this.newest = file;
  }
}

function listingIfPublic(state: RoomState): RoomListing | null {
  return isListed(state) ? listingOf(state) : null;
}

/** One room's bytes, read synchronously (see the top of this file for why). */
function readRange(place: Place): Buffer {
  const bytes = Buffer.allocUnsafe(place.length);
  const fd = openSync(place.file, 'r');
  try {
    const read = readSync(fd, bytes, 0, place.length, place.offset);
    if (read !== place.length) throw new Error(`${place.file} ends before room ${place.id}`);
  } finally {
    closeSync(fd);
  }
  return bytes;
}
