// TEST ORACLE (issue 21): src/domain/snapshot.ts as it was before the room's structures became persistent,
// kept unchanged so that property tests can check the new structures against it. Not used by src/.
//
// Snapshots: a room as a versioned JSON value. restore(snapshot(s)) followed by the commands after
// it gives exactly the state that applying every command from the start gives.

import { ChorusError } from '../../src/domain/errors.ts';
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
  return state as RoomState;
}
