// The Raft store's state machine: every room of the cluster, fed by the committed log in order.
// One log for all rooms: a committed normal entry holds one command envelope (JSON, as codec.ts
// encodes it) and goes through that room's RoomReplica; an empty entry is a leader's no-op and a
// conf entry is the core's business (and the address book's). A snapshot is every room's snapshot
// and the members' addresses, as JSON.
//
// Invariants: `applied` is the index of the last entry (or snapshot) reflected in the rooms, and it
// only grows; applying is deterministic (the same log gives the same rooms on every node).

import { restore, type Envelope, type RoomState } from '../../domain/index.ts';
import { decodeCommand } from '../codec.ts';
import { jsonOf } from '../disk/snapshot-file.ts';
import type { Lifecycle } from '../lifecycle.ts';
import type { StoreLogger } from '../logger.ts';
import { RoomReplica } from '../replica.ts';
import { RoomTable, type HeldRoom } from '../room-table.ts';
import { Slicer } from '../slicer.ts';
import type { CommitOutcome } from '../types.ts';
import { dataBuffer, dataText } from './storage.ts';
import type { Peer } from './transport.ts';
import type { Entry, EntryData, Snapshot } from './types.ts';

const SNAPSHOT_FORMAT = 'chorus.raft-rooms/1';
/** How snapshot data begins: serialiseRooms writes it, parseSnapshot looks for it. */
const SNAPSHOT_PREFIX = Buffer.from(`{"format":${JSON.stringify(SNAPSHOT_FORMAT)},"rooms":[`, 'utf8');

export interface Applied {
  readonly env: Envelope;
  readonly outcome: CommitOutcome;
}

export class RaftRooms {
  readonly table: RoomTable<HeldRoom>;
  applied = 0;
  private readonly logger: StoreLogger;

  constructor(life: Lifecycle, readTimeoutMs: number, logger: StoreLogger) {
    this.logger = logger;
    this.table = new RoomTable<HeldRoom>({
      life,
      readTimeoutMs,
      load: (roomId) => Promise.resolve(this.hold(roomId)),
      dropEmpty: true,
    });
  }

  /** Applies one committed entry; the command and its outcome when it carried one. */
  apply(entry: Entry): Applied | null {
    if (entry.index <= this.applied) return null; // already in a snapshot restored meanwhile
    this.applied = entry.index;
    if (entry.type !== 'normal') return null;
    const json = dataText(entry.data);
    if (json === '') return null; // a new leader's no-op
    let env: Envelope;
    try {
      env = decodeCommand(json);
    } catch {
      // The leader only proposes what it parsed; skip alike on every node rather than stop.
      this.logger.warn({ index: entry.index }, 'raft entry is not a command; skipped');
      return null;
    }
    const roomId = typeof env?.roomId === 'string' ? env.roomId : String(env?.roomId);
    const room = this.hold(roomId);
    const outcome = room.replica.applyCommitted(env);
    this.table.release(room);
    return { env, outcome };
  }

  /**
   * Every room's state as of `applied`, taken now (O(rooms): states are immutable, so serialising
   * them later, while more entries are applied, still gives the rooms at this index).
   */
  capture(): readonly RoomState[] {
    const states: RoomState[] = [];
    for (const { replica } of this.table.values()) if (replica.state) states.push(replica.state);
    return states;
  }

  /**
   * Replaces every room with the snapshot's (a snapshot from the leader, or at start); the members'
   * addresses it carries (none when it is not newer than what is applied here). The snapshot is
   * parsed a room at a time with pauses (parseSnapshot), and the rooms are swapped in one step at
   * the end: a read meanwhile sees the rooms as they were, never half of each.
   */
  async restore(snap: Snapshot): Promise<readonly Peer[]> {
    if (snap.meta.index <= this.applied) return [];
    const parsed = await parseSnapshot(snap.data);
    if (snap.meta.index <= this.applied) return [];
    const states = new Map(parsed.states.map((s) => [s.id, s]));
    for (const room of [...this.table.values()]) {
      room.replica.reset(states.get(room.id) ?? null);
      states.delete(room.id);
      this.table.release(room);
    }
    for (const [id, state] of states) {
      this.table.add({ id, replica: new RoomReplica(id, state, this.logger), busy: 0 });
    }
    this.applied = Math.max(this.applied, snap.meta.index);
    return parsed.peers;
  }

  private hold(roomId: string): HeldRoom {
    return (
      this.table.get(roomId) ??
      this.table.add({ id: roomId, replica: new RoomReplica(roomId, null, this.logger), busy: 0 })
    );
  }
}

/**
 * The snapshot data of captured rooms (`RaftRooms.capture`) and the members' addresses: the UTF-8
 * JSON of `{ format, rooms, peers }` (what `restore` reads), made of each room's cached JSON
 * (`jsonOf`: a room unchanged since the last snapshot is not serialised again) with pauses for the
 * event loop, so that a large snapshot does not hold the node's heartbeats and answers behind it.
 */
export async function serialiseRooms(states: readonly RoomState[], peers: readonly Peer[]): Promise<Buffer> {
  const slice = new Slicer();
  const parts: Buffer[] = [SNAPSHOT_PREFIX];
  const comma = Buffer.from(',', 'utf8');
  for (const [i, state] of states.entries()) {
    if (i > 0) parts.push(comma);
    parts.push(jsonOf(state));
    await slice.yieldIfLong();
  }
  parts.push(Buffer.from(`],"peers":${JSON.stringify(peers)}}`, 'utf8'));
  // The bytes already encoded, copied into one buffer a room at a time with the same pauses: joining
  // the rooms' JSON into one string and encoding it (or one Buffer.concat) held the loop for
  // hundreds of ms at 50 MB, most of it the first touch of that much fresh memory.
  const out = Buffer.allocUnsafe(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    at += part.copy(out, at);
    await slice.yieldIfLong();
  }
  return out;
}

/** What snapshot data holds: the rooms' states and the members' addresses. */
export interface ParsedSnapshot {
  readonly states: readonly RoomState[];
  readonly peers: readonly Peer[];
}

const [COMMA, QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [
  0x2c, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d,
];

/**
 * Parses snapshot data (what serialiseRooms makes) a room at a time, with pauses for the event loop:
 * a 44 MB snapshot parsed in one go held the loop for about 330 ms. Each room's JSON is found by
 * its brackets (outside strings; UTF-8's multi-byte sequences never contain an ASCII byte) and
 * parsed alone. Data laid out otherwise (by another writer: it is JSON all the same) is parsed
 * whole.
 */
export async function parseSnapshot(data: EntryData): Promise<ParsedSnapshot> {
  const bytes = dataBuffer(data);
  if (bytes.length === 0) return { states: [], peers: [] };
  const slice = new Slicer();
  if (!bytes.subarray(0, SNAPSHOT_PREFIX.length).equals(SNAPSHOT_PREFIX)) {
    const value = JSON.parse(bytes.toString('utf8')) as { rooms?: unknown[]; peers?: Peer[] };
    const states: RoomState[] = [];
    for (const r of value.rooms ?? []) {
      states.push(restore(r));
      await slice.yieldIfLong();
    }
    return { states, peers: Array.isArray(value.peers) ? value.peers : [] };
  }
  const states: RoomState[] = [];
  let at = SNAPSHOT_PREFIX.length;
  while (bytes[at] !== CLOSE_BRACKET) {
    const end = endOfObject(bytes, at);
    states.push(restore(JSON.parse(bytes.toString('utf8', at, end))));
    at = end;
    if (bytes[at] === COMMA) at++;
    else if (bytes[at] !== CLOSE_BRACKET)
      throw new Error(`raft snapshot: unexpected byte at ${at} after a room`);
    await slice.yieldIfLong();
  }
  // What follows the rooms: `,"peers":[...]}` (or `}` alone).
  const rest = bytes.toString('utf8', at + 1);
  const tail = (rest === '}' ? {} : JSON.parse(`{${rest.slice(1)}`)) as { peers?: Peer[] };
  return { states, peers: Array.isArray(tail.peers) ? tail.peers : [] };
}

/** The index just past the JSON object that starts at `start`. */
function endOfObject(bytes: Buffer, start: number): number {
  if (bytes[start] !== OPEN_BRACE) throw new Error(`raft snapshot: a room does not start at ${start}`);
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error(`raft snapshot: the room starting at ${start} does not end`);
}
