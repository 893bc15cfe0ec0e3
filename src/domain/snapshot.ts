// Snapshots: a room as a versioned JSON value. restore(snapshot(s)) followed by the commands after
// it gives exactly the state that applying every command from the start gives.

import { chorusError } from './reasons.ts';
import { Members } from './members.ts';
import { Queue } from './queue.ts';
import { RecentWindow } from './recent.ts';
import type { Member, NowPlaying, QueueEntry, RecentCommand, RoomState, VoteValue } from './types.ts';
import { Votes } from './votes.ts';

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
  const parsed = state as Omit<RoomState, 'members' | 'queue' | 'recent' | 'nowPlaying'> & {
    members: Members | Readonly<Record<string, Member>>;
    queue: unknown;
    recent: unknown;
    nowPlaying: (Omit<NowPlaying, 'entry'> & { entry: JsonEntry }) | null;
  };
  // The members, the queue, its entries' votes and the window are written as plain arrays and objects (their
  // toJSON) and read back here.
  const queue =
    parsed.queue instanceof Queue
      ? parsed.queue
      : Queue.fromSorted((parsed.queue as JsonEntry[]).map(entryFromJson));
  const recent =
    parsed.recent instanceof RecentWindow
      ? parsed.recent
      : RecentWindow.fromArray(parsed.recent as RecentCommand[], parsed.version);
  const members = parsed.members instanceof Members ? parsed.members : Members.fromRecord(parsed.members);
  const np = parsed.nowPlaying;
  const nowPlaying = np === null ? null : { ...np, entry: entryFromJson(np.entry) };
  return { ...parsed, members, queue, recent, nowPlaying };
}

/** An entry as JSON holds it: its votes a plain object (or already a map, for a state not parsed). */
type JsonEntry = Omit<QueueEntry, 'votes'> & { votes: Votes | Readonly<Record<string, VoteValue>> };

function entryFromJson(entry: JsonEntry): QueueEntry {
  return entry.votes instanceof Votes
    ? (entry as QueueEntry)
    : { ...entry, votes: Votes.fromRecord(entry.votes) };
}
