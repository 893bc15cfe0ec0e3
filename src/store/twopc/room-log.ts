// Each room's committed commands on this node, in position order, and its lock. The position of a
// room is how many commands it has committed; the next transaction on it must carry position + 1.
// Invariants: entries of a room are contiguous from position 1; a room has at most one lock, held
// by the one transaction prepared on it. Catch-up reads from here (the whole history is kept in
// memory in this core; the store will serve older entries from its snapshot and log instead).

import type { CommittedEntry, RoomId, TxnId } from './types.ts';

export class RoomLog {
  private readonly entries = new Map<RoomId, CommittedEntry[]>();
  private readonly locks = new Map<RoomId, TxnId>();

  position(room: RoomId): number {
    return this.entries.get(room)?.length ?? 0;
  }

  /** Appends a committed entry; false (and nothing changes) when it is not the next position. */
  commit(entry: CommittedEntry): boolean {
    const list = this.entries.get(entry.room) ?? [];
    if (entry.version !== list.length + 1) return false;
    list.push(entry);
    this.entries.set(entry.room, list);
    return true;
  }

  positions(): Record<RoomId, number> {
    const out: Record<RoomId, number> = {};
    for (const [room, list] of this.entries) out[room] = list.length;
    return out;
  }

  /** Committed entries after the given positions, at most `limit`, each room in order. */
  after(
    positions: Readonly<Record<RoomId, number>>,
    limit: number,
  ): { entries: CommittedEntry[]; complete: boolean } {
    const entries: CommittedEntry[] = [];
    for (const [room, list] of this.entries) {
      const from = Object.hasOwn(positions, room) ? (positions[room] ?? 0) : 0;
      for (let i = from; i < list.length; i++) {
        if (entries.length >= limit) return { entries, complete: false };
        entries.push(list[i]!);
      }
    }
    return { entries, complete: true };
  }

  /** Every committed entry, room by room in position order (what a restart applies again). */
  all(): CommittedEntry[] {
    return [...this.entries.values()].flat();
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
