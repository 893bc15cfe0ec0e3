// The Raft log as the core sees it: a snapshot, then entries, with three cursors (after etcd-io/raft
// log.go + log_unstable.go, folded into one array because the store persists every Ready before the
// next one is built).
//
//   offset ≤ snapshot.index ≤ applied ≤ committed ≤ lastIndex,   offset ≤ stabled ≤ lastIndex
//
// - `offset`/`offsetTerm`: the entry just before `entries[0]`; the log knows terms from `offset` on.
//   The snapshot covers everything up to `snapshot.index`; entries between offset and the snapshot
//   are kept only so a slightly slow follower can catch up without a snapshot.
// - `stabled`: the last index the store has made durable; entries above it go into the next Ready.
//   Truncating the log below it pulls it back (the store then overwrites from there).
// - `committed`: known committed (never decreases; an entry at or below it is never overwritten).
// - `applied`: handed to the state machine and acknowledged by `advance`.
// The log holds no I/O: the store keeps the durable copy, the core keeps this one in memory.

import type { Entry, Snapshot } from './types.ts';
import { dataSize } from './types.ts';

export class RaftLog {
  snapshot: Snapshot;
  /** A snapshot received from the leader that the store has not yet persisted and restored. */
  pendingSnapshot: Snapshot | null = null;
  private entries: Entry[];
  private offset: number;
  private offsetTerm: number;
  stabled: number;
  committed: number;
  applied: number;

  constructor(snapshot: Snapshot, entries: readonly Entry[], committed: number, applied: number) {
    this.snapshot = snapshot;
    this.offset = snapshot.meta.index;
    this.offsetTerm = snapshot.meta.term;
    // Entries the snapshot already covers are dropped: their terms before the snapshot are unknown.
    this.entries = entries.filter((e) => e.index > snapshot.meta.index);
    const first = this.entries[0];
    if (first !== undefined && first.index !== this.offset + 1) {
      throw new Error(`raft log: entries start at ${first.index}, after snapshot ${this.offset}`);
    }
    this.stabled = this.lastIndex();
    this.committed = Math.min(Math.max(committed, snapshot.meta.index), this.lastIndex());
    this.applied = Math.min(Math.max(applied, snapshot.meta.index), this.committed);
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** The term of entry `i`, or undefined when it is compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.offset) return this.offsetTerm;
    if (i === this.snapshot.meta.index) return this.snapshot.meta.term;
    if (i < this.offset || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset - 1]!.term;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** Election restriction (§5.4.1): is a log ending at (term, index) at least as up to date? */
  isUpToDate(lastTerm: number, lastIndex: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi), at most `maxBytes` of payload but always at least one entry. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.offset || hi > this.lastIndex() + 1) {
      throw new Error(`raft log: slice [${lo}, ${hi}) outside (${this.offset}, ${this.lastIndex()}]`);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.entries[i - this.offset - 1]!;
      bytes += dataSize(e.data);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends (or overwrites from `entries[0].index`); never touches committed entries. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.committed) {
      throw new Error(`raft log: overwrite of committed entry ${first.index} (committed ${this.committed})`);
    }
    if (first.index > this.lastIndex() + 1) {
      throw new Error(`raft log: gap appending ${first.index} after ${this.lastIndex()}`);
    }
    this.entries.length = first.index - this.offset - 1;
    this.entries.push(...entries);
    this.stabled = Math.min(this.stabled, first.index - 1);
  }

  /**
   * A follower's AppendEntries: when the log matches at (prevIndex, prevTerm), skip entries it already
   * has, overwrite from the first conflict, and move the commit index. Returns the last new index,
   * or undefined on mismatch.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    commit: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    let k = 0;
    // An entry the log already has with the same term is identical (Log Matching): skip it. Entries
    // below `offset` are compacted, so committed, so equal.
    while (k < entries.length) {
      const e = entries[k]!;
      const t = e.index <= this.offset ? e.term : this.term(e.index);
      if (t !== e.term) break;
      k++;
    }
    if (k < entries.length) this.append(entries.slice(k));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** The largest index ≤ `index` whose term is ≤ `term`, with its term (etcd's fast backtracking). */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (let i = Math.min(index, this.lastIndex()); i >= this.offset; i--) {
      const t = this.term(i);
      if (t === undefined) return [i, 0];
      if (t <= term) return [i, t];
    }
    return [this.offset, 0];
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) throw new Error(`raft log: commit ${i} beyond last index ${this.lastIndex()}`);
    this.committed = i;
  }

  /** Leader rule (Figure 8): commit by counting replicas only for an entry of the current term. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  unstableEntries(): Entry[] {
    return this.stabled >= this.lastIndex() ? [] : this.slice(this.stabled + 1, this.lastIndex() + 1);
  }

  /** Committed entries the state machine has not been given yet, at most `maxBytes` (one at least). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.committed < lo ? [] : this.slice(lo, this.committed + 1, maxBytes);
  }

  /** Install a snapshot from the leader; false when the log already has it (then only commit). */
  restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.meta;
    if (index <= this.committed) return false;
    if (this.matchTerm(index, term)) {
      // The log already holds the snapshot's last entry: everything up to it is committed.
      this.commitTo(index);
      return false;
    }
    this.snapshot = snapshot;
    this.pendingSnapshot = snapshot;
    this.entries = [];
    this.offset = index;
    this.offsetTerm = term;
    this.stabled = index;
    this.committed = index;
    this.applied = index;
    return true;
  }

  /**
   * Local log compaction after the store snapshotted its state machine at `snapshot.meta.index`
   * (≤ applied): the snapshot becomes the one sent to lagging followers, and entries up to
   * `keepFrom - 1` are dropped from memory.
   */
  compact(snapshot: Snapshot, keepFrom: number): void {
    const { index } = snapshot.meta;
    if (index > this.applied) throw new Error(`raft log: snapshot ${index} beyond applied ${this.applied}`);
    if (index < this.snapshot.meta.index) return;
    const dropTo = Math.min(Math.max(keepFrom - 1, this.offset), index);
    const dropTerm = this.term(dropTo);
    if (dropTerm === undefined) throw new Error(`raft log: unknown term at ${dropTo}`);
    this.snapshot = snapshot;
    this.entries = this.entries.slice(dropTo - this.offset);
    this.offset = dropTo;
    this.offsetTerm = dropTerm;
  }
}
