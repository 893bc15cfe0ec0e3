// Snapshots: a room as a versioned JSON value. restore(snapshot(s)) followed by the commands after
// it gives exactly the state that applying every command from the start gives.

import { ChorusError } from './errors.ts';
import { Queue } from './queue.ts';
import type { QueueEntry, RoomState } from './types.ts';

export const SNAPSHOT_FORMAT = 'chorus.room/1';

export interface RoomSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly state: RoomState;
}

export function snapshot(state: RoomState): RoomSnapshot {
  return { format: SNAPSHOT_FORMAT, state };
}

/** Accepts a snapshot as parsed from JSON; refuses any format this code does not know. */
export function restore(value: unknown): RoomState {
  if (typeof value !== 'object' || value === null) {
    throw new ChorusError('INVALID_ARGUMENT', 'a room snapshot must be an object');
  }
  const { format, state } = value as { format?: unknown; state?: unknown };
  if (format !== SNAPSHOT_FORMAT) {
    throw new ChorusError('INVALID_ARGUMENT', `unknown room snapshot format ${String(format)}`, {
      expected: SNAPSHOT_FORMAT,
    });
  }
  if (typeof state !== 'object' || state === null || typeof (state as { id?: unknown }).id !== 'string') {
    throw new ChorusError('INVALID_ARGUMENT', 'a room snapshot has no room state');
  }
  const parsed = state as Omit<RoomState, 'queue'> & { queue: unknown };
  // The queue is written as its sorted array (Queue.toJSON) and read back into a tree here.
  const queue = parsed.queue instanceof Queue ? parsed.queue : Queue.fromSorted(parsed.queue as QueueEntry[]);
  return { ...parsed, queue };
}
