// A room's log and snapshot as Redis holds them: loading both (the snapshot, then every entry
// after it, without a gap), telling whether the log still holds what this node applied (after a
// failover or a restore it may not), and writing a new snapshot that trims the log behind it.

import type { RedisClient } from './connection.ts';
import { restore, snapshot, type RoomState } from '../../domain/index.ts';
import type { FollowedLog } from '../log-follower.ts';
import type { StoreLogger } from '../logger.ts';
import type { RoomKeys } from './keys.ts';
import { messageOf } from './link.ts';
import { SNAPSHOT } from './scripts.ts';
import { decodeEnvelope, idOf, parseEntries, type LogEntry } from './stream.ts';

export interface FetchedRoom {
  readonly base: RoomState | null;
  readonly baseSeq: number;
  /** Log entries baseSeq+1, baseSeq+2, ... without gaps. */
  readonly entries: readonly LogEntry[];
}

const XRANGE_PAGE = 1000;
const FETCH_ATTEMPTS = 5;

/** Thrown when a room's log does not continue its snapshot even after retries (data lost in Redis). */
export class BrokenLogError extends Error {}

/**
 * The newest snapshot and every log entry after it. Another node may write a newer snapshot and
 * trim the log between the two reads; the gap shows (entry ids are consecutive), so read again.
 */
export async function fetchRoom(cmd: RedisClient, roomId: string, keys: RoomKeys): Promise<FetchedRoom> {
  for (let attempt = 1; ; attempt++) {
    const [seq, data] = await cmd.hmget(keys.snap, 'seq', 'data');
    const baseSeq = seq ? Number(seq) : 0;
    const base = data ? restore(JSON.parse(data)) : null;
    const entries = await readLogAfter(cmd, keys.log, baseSeq);
    if (entries) return { base, baseSeq, entries };
    if (attempt >= FETCH_ATTEMPTS) {
      throw new BrokenLogError(
        `the log of room ${roomId} in Redis does not continue its snapshot (at ${baseSeq}); Redis lost data`,
      );
    }
  }
}

/** Entries after `after`, or null when the log does not continue from there. */
async function readLogAfter(cmd: RedisClient, key: string, after: number): Promise<LogEntry[] | null> {
  const out: LogEntry[] = [];
  let position = after;
  for (;;) {
    const page = parseEntries(await cmd.call('XRANGE', key, `(${idOf(position)}`, '+', 'COUNT', XRANGE_PAGE));
    for (const entry of page) {
      if (entry.seq !== position + 1) return null;
      out.push(entry);
      position = entry.seq;
    }
    if (page.length < XRANGE_PAGE) return out;
  }
}

/**
 * Why the room's log in Redis no longer holds what this node applied (an entry at its position,
 * with the command it applied there), or null when it does. After a failover (replication is
 * asynchronous) or a restore from an older backup, Redis may hold less or something else.
 */
export async function rewoundReason(
  cmd: RedisClient,
  keys: RoomKeys,
  log: FollowedLog,
): Promise<string | null> {
  const { position, lastCommandId } = log;
  if (position === 0) return null;
  const [lastReply, atReply] = await Promise.all([
    cmd.call('XREVRANGE', keys.log, '+', '-', 'COUNT', 1),
    cmd.call('XRANGE', keys.log, idOf(position), idOf(position)),
  ]);
  const last = parseEntries(lastReply, 'XREVRANGE')[0]?.seq ?? 0;
  const at = parseEntries(atReply)[0];
  if (last < position) {
    return `its log in Redis ends at entry ${last}, before entry ${position} that this node applied`;
  }
  if (at && lastCommandId !== null && decodeEnvelope(at.fields)?.commandId !== lastCommandId) {
    return `entry ${position} of its log in Redis is not the command this node applied there`;
  }
  return null;
}

export async function writeRoomSnapshot(
  cmd: RedisClient,
  room: FollowedLog & { readonly keys: RoomKeys },
  snapshotEvery: number,
  retainBehindSnapshot: number,
): Promise<void> {
  // Another node may have written one meanwhile: a small read saves uploading the whole room.
  const stored = Number((await cmd.hget(room.keys.snap, 'seq')) ?? 0);
  room.snapshotAt = Math.max(room.snapshotAt, stored);
  const state = room.replica.state;
  if (!state || room.position - room.snapshotAt < snapshotEvery) return;
  // State and position are read in the same tick, so the snapshot covers exactly that position.
  const seq = room.position;
  const data = JSON.stringify(snapshot(state));
  const after = await SNAPSHOT.run(cmd, [room.keys.snap, room.keys.log], [seq, data, retainBehindSnapshot]);
  room.snapshotAt = Math.max(room.snapshotAt, Number(after));
}

/**
 * The proposer of a command that leaves the room's log `snapshotEvery` entries past the newest
 * known snapshot writes a new one (rather than every node holding the room), in the background.
 * Two nodes may race; the script keeps the newest, so that is safe.
 */
export function maybeSnapshot(
  cmd: RedisClient,
  room: FollowedLog & { readonly keys: RoomKeys; snapshotting: boolean },
  opts: {
    readonly snapshotEvery: number;
    readonly retainBehindSnapshot: number;
    readonly logger: StoreLogger;
  },
): void {
  if (room.snapshotting || room.position - room.snapshotAt < opts.snapshotEvery) return;
  room.snapshotting = true;
  void writeRoomSnapshot(cmd, room, opts.snapshotEvery, opts.retainBehindSnapshot)
    .catch((err: unknown) => {
      opts.logger.warn(
        { roomId: room.id },
        `redis store: snapshot of room ${room.id} failed (${messageOf(err)})`,
      );
    })
    .finally(() => {
      room.snapshotting = false;
    });
}
