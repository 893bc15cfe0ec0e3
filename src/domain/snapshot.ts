// Snapshots: a room as a versioned JSON value. restore(snapshot(s)) followed by the commands after
// it gives exactly the state that applying every command from the start gives.

import { chorusError } from './reasons.ts';
import type { RoomState } from './types.ts';

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
    throw chorusError('SNAPSHOT_NOT_OBJECT');
  }
  const { format, state } = value as { format?: unknown; state?: unknown };
  if (format !== SNAPSHOT_FORMAT) {
    throw chorusError('SNAPSHOT_FORMAT_UNKNOWN', { format, expected: SNAPSHOT_FORMAT });
  }
  if (typeof state !== 'object' || state === null || typeof (state as { id?: unknown }).id !== 'string') {
    throw chorusError('SNAPSHOT_NO_STATE');
  }
  return state as RoomState;
}
