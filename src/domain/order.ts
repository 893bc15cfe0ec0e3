// The queue: always sorted by score descending, then insertion sequence ascending (total and
// deterministic, because seq is unique within a room). Every change to a queue goes through this
// module, which keeps an index by entry id, track id and member beside each queue (handed-index.ts)
// so that a room of thousands of entries is not scanned on every vote.

import { HandedIndex } from './handed-index.ts';
import type { QueueEntry, VoteValue } from './types.ts';

/** What an entry's place depends on: a queue entry here, the page's copy of one (web/src/model.ts). */
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

type Queue = readonly QueueEntry[];

/** Entry ids and track ids are unique within a queue: addTrack refuses a second one of either. */
interface QueueIndex {
  readonly byEntry: Map<string, QueueEntry>;
  readonly byTrack: Map<string, QueueEntry>;
  /** Entries waiting per member (addedBy). */
  readonly perMember: Map<string, number>;
  /** The sum of the queued tracks' durations. */
  durationMs: number;
  /** Queued tracks of unknown length (durationMs 0). */
  unknown: number;
}

const indexes = new HandedIndex<Queue, QueueIndex>((queue) => {
  const index: QueueIndex = {
    byEntry: new Map(),
    byTrack: new Map(),
    perMember: new Map(),
    durationMs: 0,
    unknown: 0,
  };
  for (const entry of queue) indexAdd(index, entry);
  return index;
});

function indexAdd(index: QueueIndex, entry: QueueEntry): void {
  index.byEntry.set(entry.entryId, entry);
  index.byTrack.set(entry.track.trackId, entry);
  index.perMember.set(entry.addedBy, (index.perMember.get(entry.addedBy) ?? 0) + 1);
  index.durationMs += entry.track.durationMs;
  if (entry.track.durationMs === 0) index.unknown += 1;
}

function indexRemove(index: QueueIndex, entry: QueueEntry): void {
  index.byEntry.delete(entry.entryId);
  index.byTrack.delete(entry.track.trackId);
  const left = (index.perMember.get(entry.addedBy) ?? 1) - 1;
  if (left > 0) index.perMember.set(entry.addedBy, left);
  else index.perMember.delete(entry.addedBy);
  index.durationMs -= entry.track.durationMs;
  if (entry.track.durationMs === 0) index.unknown -= 1;
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
 * when one of them is of unknown length (durationMs 0). New entries land near the end of a long
 * queue, so when the queue's index is at hand (the room's current state) this subtracts the tail
 * from the total instead of adding up the head.
 */
export function durationBefore(queue: Queue, count: number): number | null {
  const index = count > queue.length / 2 ? indexes.peek(queue) : undefined;
  let sum = 0;
  let unknown = 0;
  if (index === undefined) {
    for (let i = 0; i < count; i++) {
      sum += queue[i]!.track.durationMs;
      if (queue[i]!.track.durationMs === 0) unknown += 1;
    }
    return unknown > 0 ? null : sum;
  }
  for (let i = count; i < queue.length; i++) {
    sum += queue[i]!.track.durationMs;
    if (queue[i]!.track.durationMs === 0) unknown += 1;
  }
  return index.unknown - unknown > 0 ? null : index.durationMs - sum;
}

/** Index of the first entry that sorts after `entry` (where it belongs). Binary search: O(log n). */
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

/** Where `entry` (as it is in the queue, with its current votes) stands: 0-based, or -1. */
export function indexOfEntry(queue: Queue, entry: QueueEntry): number {
  const i = insertionIndex(queue, entry);
  return queue[i]?.entryId === entry.entryId ? i : -1;
}

export function insertSorted(queue: Queue, entry: QueueEntry): QueueEntry[] {
  const next = queue.toSpliced(insertionIndex(queue, entry), 0, entry);
  indexes.handOn(queue, next, (index) => indexAdd(index, entry));
  return next;
}

export function removeSorted(queue: Queue, entry: QueueEntry): QueueEntry[] {
  const next = queue.toSpliced(checkedIndexOf(queue, entry), 1);
  indexes.handOn(queue, next, (index) => indexRemove(index, entry));
  return next;
}

/** Replaces `before` (which must be in the queue) by `after` (its new votes), keeping the order. */
export function replaceSorted(queue: Queue, before: QueueEntry, after: QueueEntry): QueueEntry[] {
  const next = queue.toSpliced(checkedIndexOf(queue, before), 1);
  next.splice(insertionIndex(next, after), 0, after);
  indexes.handOn(queue, next, (index) => {
    indexRemove(index, before);
    indexAdd(index, after);
  });
  return next;
}

/** The queue without its head (which starts playing). */
export function withoutHead(queue: Queue): QueueEntry[] {
  const next = queue.slice(1);
  const head = queue[0];
  if (head !== undefined) indexes.handOn(queue, next, (index) => indexRemove(index, head));
  return next;
}

function checkedIndexOf(queue: Queue, entry: QueueEntry): number {
  const i = indexOfEntry(queue, entry);
  if (i < 0) throw new Error(`entry ${entry.entryId} is not where its order says`);
  return i;
}
