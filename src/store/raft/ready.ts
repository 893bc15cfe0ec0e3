// The Ready/Advance handshake (after etcd-io/raft rawnode.go, with synchronous storage writes):
// what changed since the last Ready is handed to the store in one batch, and `advance` records that
// the store carried it out (persisted, sent, applied). See node.ts for the store's side.
//
// Invariants: one Ready at a time (a second `ready()` before `advance()` throws); entries count as
// durable, and committed entries as applied, only at `advance`; the leader counts its own log
// towards a quorum only from then; a conf-change entry takes effect when its Ready is advanced.

import * as leader from './leader.ts';
import type { RaftNode } from './node.ts';
import type { Entry, HardState, Ready, SoftState } from './types.ts';

export class ReadyTracker {
  private prevHard: HardState;
  private prevSoft: SoftState;
  private handedOut: { lastEntry: number; applied: number; snapshot: boolean } | null = null;
  private handedCommitted: readonly Entry[] = [];

  constructor(hard: HardState, soft: SoftState) {
    this.prevHard = hard;
    this.prevSoft = soft;
  }

  private hardChanged(hs: HardState): boolean {
    return (
      hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote || hs.commit !== this.prevHard.commit
    );
  }

  private softChanged(ss: SoftState): boolean {
    return ss.role !== this.prevSoft.role || ss.leader !== this.prevSoft.leader;
  }

  hasReady(n: RaftNode): boolean {
    return (
      (n.role === 'leader' && (n.appendPending || n.commitPending)) ||
      n.msgs.length > 0 ||
      n.readStates.length > 0 ||
      n.log.pendingSnapshot !== null ||
      n.log.stabled < n.log.lastIndex() ||
      n.log.committed > n.log.applied ||
      this.hardChanged(n.hardState()) ||
      this.softChanged(n.softState())
    );
  }

  ready(n: RaftNode): Ready {
    if (this.handedOut !== null) throw new Error('raft: ready() again before advance()');
    // Every proposal since the last Ready goes out in as few appends as the limits allow, and the
    // commit index, if it moved, once per follower.
    if (n.role === 'leader' && (n.appendPending || n.commitPending)) leader.flushAppends(n);
    const hs = n.hardState();
    const ss = n.softState();
    const entries = n.log.unstableEntries();
    const committedEntries = n.log.nextCommittedEntries(n.maxCommittedSizePerReady);
    const rd: Ready = {
      softState: this.softChanged(ss) ? ss : null,
      hardState: this.hardChanged(hs) ? hs : null,
      entries,
      snapshot: n.log.pendingSnapshot,
      committedEntries,
      messages: n.msgs,
      readStates: n.readStates,
      mayReplicateBeforePersist: n.role === 'leader',
      mustSync: entries.length > 0 || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote,
    };
    this.prevHard = hs;
    this.prevSoft = ss;
    n.msgs = [];
    n.readStates = [];
    this.handedOut = {
      lastEntry: entries[entries.length - 1]?.index ?? n.log.stabled,
      applied: committedEntries[committedEntries.length - 1]?.index ?? n.log.applied,
      snapshot: rd.snapshot !== null,
    };
    this.handedCommitted = committedEntries;
    return rd;
  }

  advance(n: RaftNode): void {
    const h = this.handedOut;
    if (h === null) throw new Error('raft: advance() without ready()');
    this.handedOut = null;
    if (h.snapshot) n.log.pendingSnapshot = null;
    n.log.stabled = Math.max(n.log.stabled, h.lastEntry);
    n.log.applied = Math.max(n.log.applied, h.applied);
    const applied = this.handedCommitted;
    this.handedCommitted = [];
    for (const e of applied) if (e.type === 'conf') leader.applyConfChange(n, e);
    if (n.role === 'leader') leader.selfPersisted(n);
  }
}
