// The queue's order and every change to a queue. The queue itself is a persistent tree (queue.ts):
// score descending, then insertion sequence ascending (total and deterministic, because seq is
// unique within a room). Beside each queue this module keeps an index by entry id, track id and
// member (handed-index.ts), so that a room of thousands of entries is not scanned on every vote.

import { HandedIndex } from './handed-index.ts';
import { Queue, compareEntries, scoreOf } from './queue.ts';
import type { QueueEntry } from './types.ts';

export { Queue, compareEntries, scoreOf };

/** Entry ids and track ids are unique within a queue: addTrack refuses a second one of either. */
interface QueueIndex {
  readonly byEntry: Map<string, QueueEntry>;
  readonly byTrack: Map<string, QueueEntry>;
  /** Entries waiting per member (addedBy). */
  readonly perMember: Map<string, number>;
}

const indexes = new HandedIndex<Queue, QueueIndex>((queue) => {
  const index: QueueIndex = { byEntry: new Map(), byTrack: new Map(), perMember: new Map() };
  for (const entry of queue) indexAdd(index, entry);
  return index;
});

function indexAdd(index: QueueIndex, entry: QueueEntry): void {
  index.byEntry.set(entry.entryId, entry);
  index.byTrack.set(entry.track.trackId, entry);
  index.perMember.set(entry.addedBy, (index.perMember.get(entry.addedBy) ?? 0) + 1);
}

function indexRemove(index: QueueIndex, entry: QueueEntry): void {
  index.byEntry.delete(entry.entryId);
  index.byTrack.delete(entry.track.trackId);
  const left = (index.perMember.get(entry.addedBy) ?? 1) - 1;
  if (left > 0) index.perMember.set(entry.addedBy, left);
  else index.perMember.delete(entry.addedBy);
}

/** The queued entry with this id. */
export function findEntry(queue: Queue, entryId: string): QueueEntry | undefined {
  return indexes.of(queue).byEntry.get(entryId);
}

/** The queued entry of this track. */
export function findTrack(queue: Queue, trackId: string): QueueEntry | undefined {
  return indexes.of(queue).byTrack.get(trackId);
}

/** How many entries this member has waiting. */
export function entriesOf(queue: Queue, memberId: string): number {
  return indexes.of(queue).perMember.get(memberId) ?? 0;
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
  const next = queue.insert(entry);
  indexes.handOn(queue, next, (index) => indexAdd(index, entry));
  return next;
}

export function removeSorted(queue: Queue, entry: QueueEntry): Queue {
  const next = queue.remove(entry);
  indexes.handOn(queue, next, (index) => indexRemove(index, entry));
  return next;
}

/** Replaces `before` (which must be in the queue) by `after` (its new votes), keeping the order. */
export function replaceSorted(queue: Queue, before: QueueEntry, after: QueueEntry): Queue {
  const next = queue.remove(before).insert(after);
  indexes.handOn(queue, next, (index) => {
    indexRemove(index, before);
    indexAdd(index, after);
  });
  return next;
}

/** The queue without its head (which starts playing). */
export function withoutHead(queue: Queue): Queue {
  const head = queue.at(0);
  if (head === undefined) return queue;
  return removeSorted(queue, head);
}
