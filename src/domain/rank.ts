// Where an entry stands in a queue: score (ups minus downs) descending, then insertion sequence
// ascending (total and deterministic, because seq is unique within a room). Pure functions over
// anything ranked, so the room's persistent queue (queue.ts) and the web page's plain copy of it
// (web/src/model.ts) order entries and count votes by the same rule.

import type { VoteValue } from './types.ts';

/** What an entry's place depends on: a queue entry here, the page's copy of one. */
export interface Ranked {
  readonly ups: number;
  readonly downs: number;
  readonly seq: number;
}

export function scoreOf(entry: Pick<Ranked, 'ups' | 'downs'>): number {
  return entry.ups - entry.downs;
}

export function compareEntries(a: Ranked, b: Ranked): number {
  return scoreOf(b) - scoreOf(a) || a.seq - b.seq;
}

/** An entry's counts once one voter's vote goes from `previous` to `value` (0: no vote). */
export function recount(
  entry: Pick<Ranked, 'ups' | 'downs'>,
  previous: VoteValue | 0,
  value: VoteValue | 0,
): { ups: number; downs: number } {
  return {
    ups: entry.ups - (previous === 1 ? 1 : 0) + (value === 1 ? 1 : 0),
    downs: entry.downs - (previous === -1 ? 1 : 0) + (value === -1 ? 1 : 0),
  };
}

/** Where `entry` belongs in a sorted array of ranked entries (binary search). */
export function insertionIndex(queue: readonly Ranked[], entry: Ranked): number {
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareEntries(queue[mid]!, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
