// RaftNode: one member of a Raft group as a pure, deterministic state machine (after etcd-io/raft
// raft.go + rawnode.go). No I/O, no timers, no clock, no randomness of its own: time arrives as
// `tick()`, the network as `step(message)`, the election jitter from the injected `random()`.
// Modules: types.ts (messages, entries, Ready), log.ts (the log and its cursors), progress.ts (flow
// control, quorums), election.ts, follower.ts, leader.ts (replication, commit, ReadIndex, transfer,
// membership), read-only.ts (ReadIndex queue), ready.ts (Ready/Advance).
//
// The store's contract (the Ready loop; etcd README "Usage", thesis §10.2.1):
//   1. Feed inputs: `tick()` at a fixed interval (a leader heartbeats every `heartbeatTick` ticks; a
//      follower campaigns after a random [electionTick, 2 × electionTick) ticks of silence),
//      `step(m)` for each message received, and `propose`/`proposeConfChange`/`readIndex`/
//      `transferLeadership` for local requests. The core never forwards proposals: a follower's
//      `propose` fails with UNAVAILABLE and a `leader` hint, and the store forwards the command over
//      its ClientRequest RPC, because the forwarding node needs an answer (accepted at index/term,
//      or refused) that a fire-and-forget MsgProp cannot give. Reads are forwarded by the core
//      (`readIndex` on a follower asks the leader); read contexts must be unique cluster-wide.
//   2. When `hasReady()`, take `ready()` and, in this order:
//      a. persist `snapshot` (it replaces the whole persisted log), then `entries` (an entry at
//         index i replaces every persisted entry ≥ i), then `hardState`, durably (entries before
//         the hard state: a crash between the two must leave a commit index the log can back);
//      b. send `messages`, only after (a) is durable. Exception: when `mayReplicateBeforePersist`
//         (the node is leader) the messages may be sent while (a) is still being written: the leader
//         counts itself towards a quorum only from `advance`, i.e. once its own write is done;
//      c. restore `snapshot` (if any) into the state machine, then apply `committedEntries` in order;
//         a conf-change entry takes effect inside the core at `advance`. Without a snapshot, the
//         committed entries at or below `log.stabled` (durable before this Ready) may be applied
//         while (a) is still being written;
//      d. answer each of `readStates` once the state machine has applied its index;
//      e. call `advance()`. No other call may come between `ready()` and `advance()`.
//   3. A `snap` message carries one whole snapshot: splitting it into chunks (and joining them) is
//      the transport's job. For each one sent, the transport calls `reportSnapshot(to, ok)` when the
//      InstallSnapshot call ends (the leader sends that follower nothing else until then).
//   4. To compact: after `advance`, take `snapshotMeta()` and the state machine's state (at the
//      applied index); serialise and persist it (beside the loop if it is large), then call
//      `compactTo({ meta, data }, keepEntries)` between two Readies (never between `ready()` and
//      `advance()`). It becomes the snapshot sent to followers that fall behind the log;
//      `keepEntries` entries before it stay, so a slightly slow follower still gets appends.
//   5. Nothing is acknowledged twice and nothing is promised: a proposal accepted at (index, term)
//      is lost if a different entry is later applied at that index, and a read may be dropped
//      (leadership changed, a message was lost); the store times both out and retries, with the
//      command id making a retried write apply once.
// Crashes: whatever the store had not persisted is lost; a new RaftNode built from the persisted
// hard state, snapshot and entries (and `applied` = the snapshot's index) carries on safely.

import type { ErrorInfo } from '../../domain/errors.ts';
import * as election from './election.ts';
import * as follower from './follower.ts';
import * as leader from './leader.ts';
import { notLeader } from './leader.ts';
import { RaftLog } from './log.ts';
import { Progress, Tracker } from './progress.ts';
import { ReadOnly } from './read-only.ts';
import { ReadyTracker } from './ready.ts';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotMeta,
  SoftState,
} from './types.ts';
import { EMPTY_CONF, encodeConfChange, message, NONE } from './types.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without a leader before campaigning; the real timeout is drawn from [n, 2n). */
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  /** Uniform in [0, 1): the only source of randomness, injected (seeded in tests). */
  readonly random: () => number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /** Payload bytes per append message (one entry at least): many proposals share one append. */
  readonly maxSizePerMsg?: number;
  readonly maxInflightMsgs?: number;
  readonly maxInflightBytes?: number;
  /** Leader refuses proposals beyond this many uncommitted payload bytes (0: no limit). */
  readonly maxUncommittedSize?: number;
  readonly maxCommittedSizePerReady?: number;
}

/** What the store persisted: all empty for a new node (then a founder passes `bootstrap`). */
export interface RaftPersisted {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  /** The state machine's applied index on start (the snapshot's index when it rebuilds from it). */
  readonly applied?: number;
}

export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; error: ErrorInfo };

export class RaftNode {
  readonly id: NodeId;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedSize: number;
  readonly maxCommittedSizePerReady: number;
  private readonly random: () => number;

  term: number;
  vote: NodeId;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  readonly tracker: Tracker;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /** Index of the last conf change appended by this leader; another waits until it is applied. */
  pendingConfIndex = 0;
  uncommittedSize = 0;
  readonly readOnly = new ReadOnly();
  /** Reads that arrived before this leader committed an entry of its term. */
  pendingReads: { context: string; from: NodeId }[] = [];
  /** Set by proposals; `ready()` then sends appends once for all of them. */
  appendPending = false;
  /**
   * Set when the commit index moves on a leader; `ready()` then tells each follower once, in the
   * append it is sent anyway or in one without entries (not once per move: several answers stepped
   * before one Ready each moved it).
   */
  commitPending = false;
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  private readonly readyTracker: ReadyTracker;

  constructor(config: RaftConfig, persisted: RaftPersisted, bootstrap: ConfState = EMPTY_CONF) {
    this.id = config.id;
    this.electionTick = config.electionTick ?? 10;
    this.heartbeatTick = config.heartbeatTick ?? 1;
    if (this.heartbeatTick <= 0 || this.electionTick <= this.heartbeatTick) {
      throw new Error('raft: electionTick must be greater than heartbeatTick > 0');
    }
    this.random = config.random;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxSizePerMsg = config.maxSizePerMsg ?? 64 * 1024;
    this.maxInflightMsgs = config.maxInflightMsgs ?? 64;
    this.maxInflightBytes = config.maxInflightBytes ?? 8 * 1024 * 1024;
    this.maxUncommittedSize = config.maxUncommittedSize ?? 16 * 1024 * 1024;
    this.maxCommittedSizePerReady = config.maxCommittedSizePerReady ?? 4 * 1024 * 1024;
    const snapshot = persisted.snapshot ?? { meta: { index: 0, term: 0, conf: EMPTY_CONF }, data: '' };
    this.log = new RaftLog(snapshot, persisted.entries, persisted.hardState.commit, persisted.applied ?? 0);
    this.tracker = new Tracker(snapshot.meta.conf);
    this.term = persisted.hardState.term;
    this.vote = persisted.hardState.vote;
    this.readyTracker = new ReadyTracker(this.hardState(), this.softState());
    // Membership is what is applied: replay the conf changes the state machine already applied
    // after the snapshot (the rest take effect as their Readies are advanced).
    for (let i = this.log.snapshot.meta.index + 1; i <= this.log.applied; i++) {
      const e = this.log.slice(i, i + 1)[0]!;
      if (e.type === 'conf') leader.applyConfChange(this, e);
    }
    const empty = persisted.snapshot === null && persisted.entries.length === 0 && this.term === 0;
    if (empty && bootstrap.voters.length > 0) this.bootstrap(bootstrap);
    this.becomeFollower(this.term, NONE);
  }

  /**
   * A founding member of a new group writes the initial membership into its log as committed
   * conf-change entries of term 1 (etcd rawnode.go Bootstrap): every founder writes the same ones,
   * and a node added later learns the whole membership by replicating the log (a membership kept
   * only outside the log would never reach it). A node that joins later starts with no bootstrap.
   */
  private bootstrap(conf: ConfState): void {
    const changes: ConfChange[] = [
      ...conf.voters.map((node): ConfChange => ({ type: 'addVoter', node })),
      ...conf.learners.map((node): ConfChange => ({ type: 'addLearner', node })),
    ];
    this.log.append(
      changes.map((cc, i) => ({ term: 1, index: i + 1, type: 'conf', data: encodeConfChange(cc) })),
    );
    this.log.commitTo(changes.length);
    this.term = 1;
    this.tracker.setConf(conf);
  }

  // ---- state -------------------------------------------------------------------------------------

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { role: this.role, leader: this.lead };
  }

  /** A voter with no snapshot waiting to be restored may campaign; learners and outsiders never. */
  promotable(): boolean {
    return this.tracker.voters.has(this.id) && this.log.pendingSnapshot === null;
  }

  send(fields: Omit<Parameters<typeof message>[0], 'from' | 'term'> & { term?: number }): void {
    this.msgs.push(message({ from: this.id, term: this.term, ...fields }));
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTick + Math.floor(this.random() * this.electionTick);
  }

  reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.tracker.votes.clear();
    this.tracker.progress.clear();
    for (const id of this.tracker.members()) {
      const pr = this.newProgress(id);
      // The leader's own match is what it has made durable (see the contract, step 2b).
      if (id === this.id) pr.match = this.log.stabled;
      this.tracker.progress.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.pendingReads = [];
    this.appendPending = false;
    this.commitPending = false;
  }

  newProgress(id: NodeId): Progress {
    return new Progress(
      this.log.lastIndex() + 1,
      this.tracker.learners.has(id),
      this.maxInflightMsgs,
      this.maxInflightBytes,
    );
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become pre-candidate');
    // A pre-candidate changes neither its term nor its vote: it only asks whether it could win.
    this.tracker.votes.clear();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // The no-op of the new term: committing it commits every earlier entry (Figure 8, §5.4.2),
    // and it unblocks ReadIndex.
    leader.appendEntries(this, [{ type: 'normal', data: '' }], true);
    // No membership change until the no-op is applied: a conf change may hide in the uncommitted
    // tail, and a leader must commit an entry of its term before changing the configuration
    // (Ongaro's fix for single-server changes, raft-dev 2015).
    this.pendingConfIndex = this.log.lastIndex();
    leader.bcastAppend(this);
  }

  // ---- time --------------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') {
      leader.tickHeartbeat(this);
      return;
    }
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      election.campaignIfAllowed(this, false);
    }
  }

  /** Starts an election now (pre-vote first when enabled), as an election timeout would. */
  campaign(): void {
    election.campaignIfAllowed(this, false);
  }

  // ---- messages ----------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.from === this.id) return;
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease on votes: while we hear from a leader, refuse to help depose it (unless the
        // leader itself asked, by timeoutNow).
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTick;
        if (m.context !== 'transfer' && inLease) return;
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // A pre-vote never changes our term; a granted pre-vote carries the candidate's future term.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (or one cut off while we moved on): tell it our term so it steps down,
        // instead of silently ignoring it and leaving it stuck.
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      election.handleVote(this, m);
      return;
    }
    if (this.role === 'leader') leader.stepLeader(this, m);
    else if (this.role === 'follower') follower.stepFollower(this, m);
    else election.stepCandidate(this, m);
  }

  // ---- local requests ----------------------------------------------------------------------------

  /** Appends a normal entry (leader only); the store forwards to `error.details.leader` otherwise. */
  propose(data: Entry['data']): ProposeResult {
    return leader.propose(this, [{ type: 'normal', data }]);
  }

  /** Several entries at once, all or none: one batch, sent in as few appends as the limits allow. */
  proposeBatch(datas: readonly Entry['data'][]): ProposeResult {
    return leader.propose(
      this,
      datas.map((data) => ({ type: 'normal', data })),
    );
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return leader.proposeConfChange(this, cc);
  }

  /** Linearizable read: a ReadState with `context` comes out once its index is confirmed. */
  readIndex(context: string): ErrorInfo | null {
    if (this.role === 'leader') {
      leader.handleReadIndex(this, context, this.id);
      return null;
    }
    if (this.lead === NONE) return notLeader(this, 'no leader is known');
    this.send({ type: 'readIndex', to: this.lead, context });
    return null;
  }

  transferLeadership(to: NodeId): ErrorInfo | null {
    return leader.transferLeadership(this, to);
  }

  /**
   * The store's link to `to` broke. A leader probes it instead of streaming blindly. A follower
   * whose leader it is has most likely lost that leader (its process died: the connection was
   * reset), so it skips the fixed part of its election timeout and keeps only the random part
   * (a few ticks, drawn apart on each node): it campaigns soon instead of waiting out a whole
   * timeout of silence. It also stops defending the old leader's lease. Safe when the leader is in
   * fact alive: its next heartbeat resets the count, and pre-vote asks the others (who still hear
   * it) before any term changes.
   */
  reportUnreachable(to: NodeId): void {
    const pr = this.tracker.progress.get(to);
    if (this.role === 'leader' && pr?.state === 'replicate') pr.becomeProbe();
    if (this.role === 'follower' && to === this.lead && to !== NONE) {
      this.electionElapsed = Math.max(this.electionElapsed, this.electionTick);
    }
  }

  /** The transport's InstallSnapshot to `to` finished (or failed, so it is retried later). */
  reportSnapshot(to: NodeId, ok: boolean): void {
    const pr = this.tracker.progress.get(to);
    if (this.role !== 'leader' || pr?.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    pr.flowPaused = true; // wait for the follower's answer or the next heartbeat
  }

  /**
   * What a snapshot of the state machine taken now describes (after `advance`): the applied index,
   * its term, and the membership as of it (conf changes take effect exactly when applied).
   */
  snapshotMeta(): SnapshotMeta {
    const index = this.log.applied;
    const term = this.log.term(index);
    if (term === undefined) throw new Error(`raft: cannot snapshot at unknown index ${index}`);
    return { index, term, conf: this.tracker.conf() };
  }

  /**
   * Local compaction with a snapshot taken earlier (its meta from `snapshotMeta()` then), which the
   * store serialised and persisted since, while the log moved on. False, and nothing changes, when
   * the log already has a snapshot at least as new (one from the leader was installed meanwhile).
   */
  compactTo(snapshot: Snapshot, keepEntries = 0): boolean {
    const { index } = snapshot.meta;
    if (index <= this.log.snapshot.meta.index) return false;
    this.log.compact(snapshot, index - keepEntries + 1);
    return true;
  }

  // ---- Ready / Advance (ready.ts) ---------------------------------------------------------------

  hasReady(): boolean {
    return this.readyTracker.hasReady(this);
  }

  ready(): Ready {
    return this.readyTracker.ready(this);
  }

  advance(): void {
    this.readyTracker.advance(this);
  }

  status(): {
    id: NodeId;
    hardState: HardState;
    softState: SoftState;
    applied: number;
    lastIndex: number;
    conf: ConfState;
    progress: Map<NodeId, { match: number; next: number; state: string; recentActive: boolean }>;
  } {
    const progress = new Map<NodeId, { match: number; next: number; state: string; recentActive: boolean }>();
    if (this.role === 'leader') {
      for (const [id, pr] of this.tracker.progress) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
      }
    }
    return {
      id: this.id,
      hardState: this.hardState(),
      softState: this.softState(),
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      conf: this.tracker.conf(),
      progress,
    };
  }
}
