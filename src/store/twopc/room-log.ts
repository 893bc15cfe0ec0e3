// Each room's committed commands on this node, in position order, and its lock. The position of a
// room is how many commands it has committed; the next transaction on it must carry position + 1.
// Invariants: the entries kept of a room are contiguous and end at its position; they start after
// its base (the position compaction cut it to, 0 before any), and compaction always keeps the last
// entry, so the transaction at a room's position is always known. A room has at most one lock,
// held by the one transaction prepared on it. Catch-up reads from here.

import type { CommittedEntry, RoomId, TxnId } from './types.ts';

interface Room {
  /** Position before the first kept entry. */
  base: number;
  kept: CommittedEntry[];
}

export class RoomLog {
  private readonly rooms = new Map<RoomId, Room>();
  private readonly locks = new Map<RoomId, TxnId>();

  position(room: RoomId): number {
    const r = this.rooms.get(room);
    return r === undefined ? 0 : r.base + r.kept.length;
  }

  /** Appends a committed entry; false (and nothing changes) when it is not the next position. */
  commit(entry: CommittedEntry): boolean {
    const r = this.rooms.get(entry.room) ?? { base: 0, kept: [] };
    if (entry.version !== r.base + r.kept.length + 1) return false;
    r.kept.push(entry);
    this.rooms.set(entry.room, r);
    return true;
  }

  /** The transaction committed at `version` in the room, when it is still kept here. */
  txnAt(room: RoomId, version: number): TxnId | undefined {
    const r = this.rooms.get(room);
    if (r === undefined || version <= r.base) return undefined;
    return r.kept[version - r.base - 1]?.txn;
  }

  positions(): Record<RoomId, number> {
    const out: Record<RoomId, number> = {};
    for (const [room, r] of this.rooms) out[room] = r.base + r.kept.length;
    return out;
  }

  /**
   * Committed entries after the given positions, at most `limit`, each room in order. `refused`:
   * rooms whose entries after the requester's position are compacted away here.
   */
  after(
    positions: Readonly<Record<RoomId, number>>,
    limit: number,
  ): { entries: CommittedEntry[]; complete: boolean; refused: RoomId[] } {
    const entries: CommittedEntry[] = [];
    const refused: RoomId[] = [];
    for (const [room, r] of this.rooms) {
      const from = Object.hasOwn(positions, room) ? (positions[room] ?? 0) : 0;
      if (from >= r.base + r.kept.length) continue;
      if (from < r.base) {
        refused.push(room);
        continue;
      }
      for (let i = from - r.base; i < r.kept.length; i++) {
        if (entries.length >= limit) return { entries, complete: false, refused };
        entries.push(r.kept[i]!);
      }
    }
    return { entries, complete: refused.length === 0, refused };
  }

  /** Each room's last committed entry (what compaction keeps, and a checkpoint carries). */
  lastEntries(): CommittedEntry[] {
    const out: CommittedEntry[] = [];
    for (const r of this.rooms.values()) {
      const last = r.kept.at(-1);
      if (last !== undefined) out.push(last);
    }
    return out;
  }

  /** Forgets every entry but each room's last one (they are in a snapshot now). */
  trim(): void {
    for (const r of this.rooms.values()) {
      if (r.kept.length <= 1) continue;
      r.base += r.kept.length - 1;
      r.kept = r.kept.slice(-1);
    }
  }

  /** A room from a checkpoint: at its last entry's position, that entry kept. */
  restore(last: CommittedEntry): void {
    this.rooms.set(last.room, { base: last.version - 1, kept: [last] });
  }

  holder(room: RoomId): TxnId | undefined {
    return this.locks.get(room);
  }

  lock(room: RoomId, txn: TxnId): void {
    this.locks.set(room, txn);
  }

  unlock(room: RoomId, txn: TxnId): void {
    if (this.locks.get(room) === txn) this.locks.delete(room);
  }
}
