// The queue order: score descending, then insertion sequence ascending. Total and deterministic,
// because seq is unique within a room.

import type { QueueEntry } from './types.ts';

export function scoreOf(entry: Pick<QueueEntry, 'ups' | 'downs'>): number {
  return entry.ups - entry.downs;
}

export function compareEntries(a: QueueEntry, b: QueueEntry): number {
  return scoreOf(b) - scoreOf(a) || a.seq - b.seq;
}

/** Index of the first entry that sorts after `entry` (where it belongs). Binary search: O(log n). */
function insertionIndex(queue: readonly QueueEntry[], entry: QueueEntry): number {
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareEntries(queue[mid]!, entry) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function insertSorted(queue: readonly QueueEntry[], entry: QueueEntry): QueueEntry[] {
  const i = insertionIndex(queue, entry);
  return [...queue.slice(0, i), entry, ...queue.slice(i)];
}

/** Replaces `before` (which must be in the queue) by `after`, keeping the queue sorted. */
export function replaceSorted(
  queue: readonly QueueEntry[],
  before: QueueEntry,
  after: QueueEntry,
): QueueEntry[] {
  return insertSorted(removeSorted(queue, before), after);
}

export function removeSorted(queue: readonly QueueEntry[], entry: QueueEntry): QueueEntry[] {
  const i = insertionIndex(queue, entry);
  if (queue[i]?.entryId !== entry.entryId)
    throw new Error(`entry ${entry.entryId} is not where its order says`);
  return [...queue.slice(0, i), ...queue.slice(i + 1)];
}
