// Every change to a queue, and the lookups a command needs. The queue itself is a persistent tree
// with persistent indexes beside it (queue.ts): score descending, then insertion sequence
// ascending (total and deterministic, because seq is unique within a room).

import { Queue, compareEntries, scoreOf } from './queue.ts';
import type { QueueEntry } from './types.ts';

export { Queue, compareEntries, scoreOf };
export { insertionIndex, recount, type Ranked } from './rank.ts';

/** The queued entry with this id. */
export function findEntry(queue: Queue, entryId: string): QueueEntry | undefined {
  return queue.byEntry(entryId);
}

/** The queued entry of this track. */
export function findTrack(queue: Queue, trackId: string): QueueEntry | undefined {
  return queue.byTrack(trackId);
}

/** How many entries this member has waiting. */
export function entriesOf(queue: Queue, memberId: string): number {
  return queue.entriesOf(memberId);
}

/**
 * The summed durations of the first `count` entries: what plays before entry `count` starts; null
 * when one of them is of unknown length (durationMs 0). O(log n): the tree keeps the sums.
 */
export function durationBefore(queue: Queue, count: number): number | null {
  const { durationMs, unknown } = queue.durationOfFirst(count);
  return unknown > 0 ? null : durationMs;
}

/** Where `entry` (as it is in the queue, with its current votes) stands: 0-based, or -1. */
export function indexOfEntry(queue: Queue, entry: QueueEntry): number {
  return queue.indexOf(entry);
}

export function insertSorted(queue: Queue, entry: QueueEntry): Queue {
  return queue.insert(entry);
}

export function removeSorted(queue: Queue, entry: QueueEntry): Queue {
  return queue.remove(entry);
}

/** Replaces `before` (which must be in the queue) by `after` (its new votes), keeping the order. */
export function replaceSorted(queue: Queue, before: QueueEntry, after: QueueEntry): Queue {
  return queue.replace(before, after);
}

/** The queue without its head (which starts playing). */
export function withoutHead(queue: Queue): Queue {
  const head = queue.at(0);
  return head === undefined ? queue : queue.remove(head);
}
