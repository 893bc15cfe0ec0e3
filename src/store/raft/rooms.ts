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
import { dataText } from './storage.ts';
import type { Peer } from './transport.ts';
import type { Entry, Snapshot } from './types.ts';

const SNAPSHOT_FORMAT = 'chorus.raft-rooms/1';

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
   * addresses it carries (none when it is not newer than what is applied here).
   */
  restore(snap: Snapshot): readonly Peer[] {
    if (snap.meta.index <= this.applied) return [];
    const text = dataText(snap.data);
    const value = (text === '' ? { rooms: [] } : JSON.parse(text)) as { rooms?: unknown[]; peers?: Peer[] };
    const states = new Map((value.rooms ?? []).map((r) => restore(r)).map((s) => [s.id, s]));
    for (const room of [...this.table.values()]) {
      room.replica.reset(states.get(room.id) ?? null);
      states.delete(room.id);
      this.table.release(room);
    }
    for (const [id, state] of states) {
      this.table.add({ id, replica: new RoomReplica(id, state, this.logger), busy: 0 });
    }
    this.applied = Math.max(this.applied, snap.meta.index);
    return Array.isArray(value.peers) ? value.peers : [];
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
  const parts: Buffer[] = [Buffer.from(`{"format":${JSON.stringify(SNAPSHOT_FORMAT)},"rooms":[`, 'utf8')];
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
