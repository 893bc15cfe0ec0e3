// The leader's view of each member (after etcd-io/raft tracker/progress.go, inflights.go,
// tracker.go and design.md), plus quorum arithmetic over the voters.
//
// A follower's Progress is in one of three states:
// - probe: the leader does not know where the follower's log ends; at most one append is in flight
//   per heartbeat interval, and `next` moves back on each rejection (fast, by the reject hint).
// - replicate: the follower took the last append; the leader streams appends optimistically,
//   advancing `next` on send, bounded by `inflights` (count and bytes). A rejection drops to probe.
// - snapshot: the follower needs entries the leader compacted; nothing is sent until the snapshot
//   is reported done (an appResp at or past it, or reportSnapshot).
// Invariant: match < next. `recentActive` is set by any response and cleared by the check-quorum
// sweep once per election timeout.

import type { ConfState, NodeId } from './types.ts';

/** The indexes (and bytes) of appends sent but not yet acknowledged, oldest first. */
export class Inflights {
  private readonly items: { index: number; bytes: number }[] = [];
  private bytes = 0;
  private readonly maxCount: number;
  private readonly maxBytes: number;

  constructor(maxCount: number, maxBytes: number) {
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  add(index: number, bytes: number): void {
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  /** Frees every append up to and including `index` (acknowledged by an appResp). */
  freeLE(index: number): void {
    while (this.items.length > 0 && this.items[0]!.index <= index) this.bytes -= this.items.shift()!.bytes;
  }

  full(): boolean {
    return this.items.length >= this.maxCount || this.bytes >= this.maxBytes;
  }

  count(): number {
    return this.items.length;
  }

  reset(): void {
    this.items.length = 0;
    this.bytes = 0;
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Heard from within the current election timeout (check-quorum). */
  recentActive = false;
  /** The commit index carried by the last append sent to this member. */
  sentCommit = 0;
  /**
   * Sending is paused: in probe, a probe is out (until its answer or the next heartbeat answer);
   * in replicate, the inflights are full. A heartbeat answer lifts it for one append, which is how
   * a follower recovers when every append in flight was lost (etcd MsgAppFlowPaused).
   */
  flowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, isLearner: boolean, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.flowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it (the follower restored it, or we learn otherwise).
    const next =
      this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState('probe');
    this.next = next;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An append ending at `lastIndex` (`bytes` of payload; none for an empty one) left. */
  sentEntries(lastIndex: number, bytes: number, empty: boolean): void {
    if (this.state === 'replicate') {
      if (!empty && lastIndex >= this.next) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      this.flowPaused = this.inflights.full();
    } else if (this.state === 'probe') {
      // Every append in probe state is a probe, empty or not.
      this.flowPaused = true;
    }
  }

  /** A successful appResp for index `n`; false when it was stale. */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.flowPaused = false;
    return true;
  }

  /**
   * A rejection of the append anchored at `rejected`; `hint` is the highest index that may match.
   * False when the rejection is stale (the leader already moved on).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.flowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
      case 'replicate':
        return this.flowPaused;
      case 'snapshot':
        return true;
    }
  }
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** The membership plus each member's Progress (leader) and each voter's ballot (candidate). */
export class Tracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  constructor(conf: ConfState) {
    this.setConf(conf);
  }

  setConf(conf: ConfState): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners.filter((id) => !this.voters.has(id)));
  }

  conf(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  members(): NodeId[] {
    return [...this.voters, ...this.learners];
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** The largest index replicated on a quorum of voters. */
  committedIndex(): number {
    const matches = [...this.voters].map((id) => this.progress.get(id)?.match ?? 0).sort((a, b) => b - a);
    return matches[this.quorum() - 1] ?? 0;
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    const result = granted >= q ? 'won' : this.voters.size - rejected < q ? 'lost' : 'pending';
    return { granted, rejected, result };
  }

  /** Check-quorum: did a quorum of voters (counting `self`) respond within the last timeout? */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) if (id === self || this.progress.get(id)?.recentActive === true) active++;
    return active >= this.quorum();
  }
}
