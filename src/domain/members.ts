// A room's members as a persistent map (pmap.ts): a join or a change of role copies the O(log n)
// nodes on the member's path and shares the rest with the room it came from, so the 20,000th join
// costs about what the first did, and a log of joins replays in O(n log n), not O(n²) (issue 23:
// the plain object was copied whole on every join).
//
// Invariants:
// - Keyed by member id; a member's id is the key it is held under.
// - JSON.stringify writes the plain object `{ memberId: member }` the state always held, keys in
//   the order that object had (the order members joined; a member changed in place keeps its
//   place, one removed and back goes to the end), so `chorus.room/1` snapshots are written back byte
//   for byte. That order is kept beside the map, not enumerable: two member maps with the same
//   members compare equal however they were built.
// - `values()` and `ids()` list members as Object.values and Object.keys of that object do.

import { PMap } from './pmap.ts';
import type { Member } from './types.ts';

/** Order numbers as keys that sort as the numbers do (base 36, zero-padded to 11 digits). */
const orderKey = (n: number): string => n.toString(36).padStart(11, '0');

export class Members {
  static readonly EMPTY = new Members(PMap.empty(), PMap.empty(), PMap.empty(), 0);

  /** member id -> member. Enumerable, so deep equality of states compares the members. */
  readonly map: PMap<Member>;
  /** member id -> join order; order key -> member id (not enumerable: only order needs them). */
  declare private readonly order: PMap<number>;
  declare private readonly byOrder: PMap<string>;
  declare private readonly next: number;

  private constructor(map: PMap<Member>, order: PMap<number>, byOrder: PMap<string>, next: number) {
    this.map = map;
    Object.defineProperty(this, 'order', { value: order, enumerable: false });
    Object.defineProperty(this, 'byOrder', { value: byOrder, enumerable: false });
    Object.defineProperty(this, 'next', { value: next, enumerable: false });
  }

  /** The members of a plain `{ memberId: member }` (a snapshot's), in its key order. */
  static fromRecord(record: Readonly<Record<string, Member>>): Members {
    let members = Members.EMPTY;
    for (const id of Object.keys(record)) members = members.set(id, record[id]!);
    return members;
  }

  /** The members given, in this order (keyed by their ids). */
  static of(...members: readonly Member[]): Members {
    let out = Members.EMPTY;
    for (const m of members) out = out.with(m);
    return out;
  }

  get size(): number {
    return this.map.size;
  }

  get(memberId: string): Member | undefined {
    return this.map.get(memberId);
  }

  has(memberId: string): boolean {
    return this.map.has(memberId);
  }

  /** The members with `member` set (a new one joins at the end; a known one keeps its place). */
  with(member: Member): Members {
    return this.set(member.memberId, member);
  }

  private set(id: string, member: Member): Members {
    if (this.order.has(id)) return new Members(this.map.set(id, member), this.order, this.byOrder, this.next);
    return new Members(
      this.map.set(id, member),
      this.order.set(id, this.next),
      this.byOrder.set(orderKey(this.next), id),
      this.next + 1,
    );
  }

  /** The members without this one (unchanged when absent). */
  without(memberId: string): Members {
    const at = this.order.get(memberId);
    if (at === undefined) return this;
    return new Members(
      this.map.delete(memberId),
      this.order.delete(memberId),
      this.byOrder.delete(orderKey(at)),
      this.next,
    );
  }

  /** Member ids in the plain object's key order (Object.keys of the JSON). O(n). */
  ids(): string[] {
    return Object.keys(this.toJSON());
  }

  /** Members in the plain object's key order (Object.values of the JSON). O(n). */
  values(): Member[] {
    return Object.values(this.toJSON());
  }

  /**
   * The plain object, keys defined in join order (see the invariants above). An object lists keys
   * that are array indexes ("0", "10") first, in numeric order, as the old object did too.
   */
  toJSON(): Record<string, Member> {
    const out: Record<string, Member> = {};
    // Defined, not assigned: assigning to a key named "__proto__" would set the prototype instead.
    for (const id of this.byOrder.values()) {
      Object.defineProperty(out, id, {
        value: this.map.get(id),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  /** console.log and assertion messages show the members, not the tree (no node:util import here). */
  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, Member> {
    return this.toJSON();
  }
}
