// The public rooms a room table holds, kept in the list's order (src/domain/listing.ts: newest
// first, the id breaking ties) as rooms change, so that a page of the room list costs the page, not
// a sort of every room on every call.
//
// Invariants: `order` holds exactly the ids whose last update() said "listed", sorted by
// compareListings on the key they were listed with; `keys` maps each of them to that key. A room's
// key (createdAt, id) does not change once the room exists, but update() handles a change anyway.
// Insertion and removal are a binary search plus one splice (a memmove of at most one pointer per
// listed room: microseconds at 100,000 rooms, and only when a room enters or leaves the list, not
// on every command).

import { compareListings, isListed, type RoomState } from '../domain/index.ts';

interface ListingKey {
  readonly id: string;
  readonly createdAt: number;
}

export class ListingIndex {
  private readonly order: ListingKey[] = [];
  private readonly keys = new Map<string, ListingKey>();

  get size(): number {
    return this.order.length;
  }

  /** Records the room's state now: listed when it exists and is public, absent otherwise. */
  update(id: string, state: RoomState | null): void {
    const listed = state !== null && isListed(state);
    const had = this.keys.get(id);
    if (had && listed && had.createdAt === state.createdAt) return;
    if (had) this.remove(id);
    if (listed) this.insert(id, state.createdAt);
  }

  /** Lists a room known only by its key (a public room a store holds elsewhere); not yet listed. */
  insert(id: string, createdAt: number): void {
    const key: ListingKey = { id, createdAt };
    this.order.splice(this.searchFrom(key), 0, key);
    this.keys.set(id, key);
  }

  remove(id: string): void {
    const key = this.keys.get(id);
    if (!key) return;
    this.order.splice(this.searchFrom(key), 1);
    this.keys.delete(id);
  }

  /** The first `count` listed ids, in the list's order. */
  first(count: number): string[] {
    return this.order.slice(0, Math.max(0, count)).map((key) => key.id);
  }

  /** The first position whose key is not before `key` (where it is, or would be inserted). */
  private searchFrom(key: ListingKey): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareListings(this.order[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
