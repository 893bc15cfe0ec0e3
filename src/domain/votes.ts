// One entry's member votes as a persistent map (pmap.ts): a vote copies the O(log n) nodes on its
// voter's path and shares the rest with the entry it came from, so the 10,000th voter on an entry
// costs about what the first did (issue 21). The map never leaves the state: events and answers
// carry counts (wire.ts), and a viewer sees only their own vote (view.ts).
//
// Invariants:
// - At most one vote per voter; a withdrawn vote (0) is absent.
// - JSON.stringify writes the plain object `{ voter: value }` the state always held, keys in the
//   order that object had (the order votes were first cast; a withdrawn then recast vote goes to
//   the end, as `delete` then assignment did), so a snapshot is written back byte for byte. That
//   order is kept beside the map, not enumerable: two vote maps with the same votes compare equal
//   however they were built.

import { PMap } from './pmap.ts';
import type { VoteValue } from './types.ts';

export class Votes {
  static readonly EMPTY = new Votes(PMap.empty(), PMap.empty(), 0);

  /** voter -> vote. Enumerable, so deep equality of states compares the votes. */
  readonly map: PMap<VoteValue>;
  /** voter -> when the vote was first cast (not enumerable: only JSON's key order needs it). */
  declare private readonly order: PMap<number>;
  declare private readonly next: number;

  private constructor(map: PMap<VoteValue>, order: PMap<number>, next: number) {
    this.map = map;
    Object.defineProperty(this, 'order', { value: order, enumerable: false });
    Object.defineProperty(this, 'next', { value: next, enumerable: false });
  }

  /** The votes of a plain `{ voter: value }` (a snapshot's), in its key order. */
  static fromRecord(record: Readonly<Record<string, VoteValue>>): Votes {
    let map = PMap.empty<VoteValue>();
    let order = PMap.empty<number>();
    const keys = Object.keys(record);
    keys.forEach((voter, i) => {
      map = map.set(voter, record[voter]!);
      order = order.set(voter, i);
    });
    return keys.length === 0 ? Votes.EMPTY : new Votes(map, order, keys.length);
  }

  get size(): number {
    return this.map.size;
  }

  /** The voter's vote; 0 when they have none. */
  get(voter: string): VoteValue | 0 {
    return this.map.get(voter) ?? 0;
  }

  /** The votes with the voter's vote set to `value` (0 withdraws it). */
  with(voter: string, value: VoteValue | 0): Votes {
    if (value === 0) {
      if (!this.map.has(voter)) return this;
      return new Votes(this.map.delete(voter), this.order.delete(voter), this.next);
    }
    if (this.map.has(voter)) return new Votes(this.map.set(voter, value), this.order, this.next);
    return new Votes(this.map.set(voter, value), this.order.set(voter, this.next), this.next + 1);
  }

  /** [voter, vote] in voter order. */
  entries(): [string, VoteValue][] {
    return [...this.map];
  }

  /** The plain object, keys in the order the votes were cast (see the invariants above). */
  toJSON(): Record<string, VoteValue> {
    const cast = this.entries().map(([voter, value]) => [this.order.get(voter) ?? 0, voter, value] as const);
    cast.sort((a, b) => a[0] - b[0]);
    const out: Record<string, VoteValue> = {};
    // Defined, not assigned: assigning to a key named "__proto__" would set the prototype instead.
    for (const [, voter, value] of cast) {
      Object.defineProperty(out, voter, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** console.log and assertion messages show the votes, not the tree (no node:util import here). */
  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, VoteValue> {
    return this.toJSON();
  }
}
