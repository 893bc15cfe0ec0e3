// What only a leader does (after etcd-io/raft raft.go stepLeader, sendAppend, bcastHeartbeat and
// the ReadIndex / leader-transfer paths), as functions over a RaftNode: replication with flow
// control, commit by quorum of the current term's entries, check-quorum, ReadIndex, leader
// transfer, proposals and membership changes.
//
// Invariants: an entry is committed only when a quorum of voters holds it and it is of the current
// term (earlier entries commit with it, Figure 8); the leader's own match is its durable index;
// at most one membership change is uncommitted or unapplied; proposals are refused while a leader
// transfer is under way (the log must stop growing for the transferee to catch up).

import type { ErrorInfo } from '../../domain/errors.ts';
import { refusal } from '../../domain/reasons.ts';
import type { ProposeResult, RaftNode } from './node.ts';
import type { ConfChange, Entry, Message, NodeId } from './types.ts';
import { decodeConfChange, encodeConfChange, NONE, payloadSize } from './types.ts';

export function tickHeartbeat(n: RaftNode): void {
  n.heartbeatElapsed++;
  n.electionElapsed++;
  if (n.electionElapsed >= n.electionTick) {
    n.electionElapsed = 0;
    if (n.checkQuorum) {
      // Check-quorum: a leader that has not heard from a quorum in an election timeout may be on
      // the minority side of a partition; stepping down stops it serving stale reads and lets the
      // store send clients elsewhere.
      if (!n.tracker.quorumActive(n.id)) {
        n.becomeFollower(n.term, NONE);
        return;
      }
      for (const [id, pr] of n.tracker.progress) if (id !== n.id) pr.recentActive = false;
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (n.leadTransferee !== NONE) n.leadTransferee = NONE;
  }
  if (n.heartbeatElapsed >= n.heartbeatTick) {
    n.heartbeatElapsed = 0;
    bcastHeartbeat(n, n.readOnly.last() ?? '');
  }
}

export function bcastHeartbeat(n: RaftNode, context: string): void {
  for (const [to, pr] of n.tracker.progress) {
    if (to === n.id) continue;
    // Never tell a follower to commit past what it is known to hold.
    n.send({ type: 'heartbeat', to, commit: Math.min(pr.match, n.log.committed), context });
  }
}

/** Sends `to` the next append (or the snapshot it needs). False when nothing was sent. */
export function maybeSendAppend(n: RaftNode, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = n.tracker.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = n.log.term(prevIndex);
  if (prevTerm === undefined || prevIndex < n.log.firstIndex() - 1) return sendSnapshot(n, to);
  const last = n.log.lastIndex();
  const entries = pr.next <= last ? n.log.slice(pr.next, last + 1, n.maxSizePerMsg) : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  n.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: n.log.committed });
  pr.sentCommit = n.log.committed;
  pr.sentEntries(entries[entries.length - 1]?.index ?? prevIndex, payloadSize(entries), entries.length === 0);
  return true;
}

function sendSnapshot(n: RaftNode, to: NodeId): boolean {
  const pr = n.tracker.progress.get(to)!;
  // Shipping a whole snapshot to a node that may be down is wasteful: wait until it answers.
  if (!pr.recentActive) return false;
  const snapshot = n.log.snapshot;
  pr.becomeSnapshot(snapshot.meta.index);
  n.send({ type: 'snap', to, snapshot });
  return true;
}

export function sendAppend(n: RaftNode, to: NodeId): void {
  maybeSendAppend(n, to, true);
}

export function bcastAppend(n: RaftNode): void {
  for (const to of n.tracker.progress.keys()) if (to !== n.id) sendAppend(n, to);
}

/**
 * Called by `ready()`: one round of appends for every proposal since the last Ready; a follower
 * that none of them (nor any append since the commit index moved) told the new commit index gets
 * an append without entries that does (etcd's bcastAppend after maybeCommit, once per Ready instead
 * of once per answer that moved it).
 */
export function flushAppends(n: RaftNode): void {
  const tellCommit = n.commitPending;
  n.appendPending = false;
  n.commitPending = false;
  for (const [to, pr] of n.tracker.progress) {
    if (to === n.id) continue;
    while (maybeSendAppend(n, to, false)) {
      // as many appends as flow control allows
    }
    if (tellCommit && pr.sentCommit < n.log.committed) maybeSendAppend(n, to, true);
  }
}

/** The commit index moved: followers learn it at the next Ready (flushAppends). */
function commitMoved(n: RaftNode): void {
  n.commitPending = true;
}

export function appendEntries(
  n: RaftNode,
  entries: readonly Pick<Entry, 'type' | 'data'>[],
  force = false,
): ErrorInfo | null {
  const size = payloadSize(entries as Entry[]);
  if (
    !force &&
    n.maxUncommittedSize > 0 &&
    n.uncommittedSize > 0 &&
    n.uncommittedSize + size > n.maxUncommittedSize
  ) {
    return refusal('RAFT_PROPOSALS_DROPPED', { uncommittedBytes: n.uncommittedSize });
  }
  const last = n.log.lastIndex();
  n.log.append(entries.map((e, i) => ({ term: n.term, index: last + 1 + i, type: e.type, data: e.data })));
  n.uncommittedSize += size;
  n.appendPending = true;
  return null;
}

export function propose(n: RaftNode, entries: readonly Pick<Entry, 'type' | 'data'>[]): ProposeResult {
  if (n.role !== 'leader')
    return { ok: false, error: notLeader(n, n.lead === NONE ? 'no leader' : 'forward') };
  if (n.leadTransferee !== NONE) {
    return { ok: false, error: notLeader(n, `leadership is moving to ${n.leadTransferee}`) };
  }
  if (!n.tracker.progress.has(n.id)) return { ok: false, error: notLeader(n, 'removed from the group') };
  const err = appendEntries(n, entries);
  if (err !== null) return { ok: false, error: err };
  // A single voter commits on its own write (at advance); others wait for the appends.
  return { ok: true, index: n.log.lastIndex(), term: n.term };
}

export function proposeConfChange(n: RaftNode, cc: ConfChange): ProposeResult {
  const refuse = (message: string): ProposeResult => ({
    ok: false,
    error: refusal('RAFT_CHANGE_REFUSED', { problem: message }),
  });
  if (n.role !== 'leader') return propose(n, []);
  if (n.pendingConfIndex > n.log.applied) return refuse('another membership change is not applied yet');
  const { voters, learners } = n.tracker;
  if (cc.type === 'addVoter' && voters.has(cc.node)) return refuse(`${cc.node} is already a voter`);
  if (cc.type === 'addLearner' && (voters.has(cc.node) || learners.has(cc.node))) {
    return refuse(`${cc.node} is already a member`);
  }
  if (cc.type === 'removeNode') {
    if (!voters.has(cc.node) && !learners.has(cc.node)) return refuse(`${cc.node} is not a member`);
    if (voters.has(cc.node) && voters.size === 1) return refuse('cannot remove the last voter');
  }
  const res = propose(n, [{ type: 'conf', data: encodeConfChange(cc) }]);
  if (res.ok) n.pendingConfIndex = res.index;
  return res;
}

/** A conf-change entry was applied: membership changes now, on every node alike. */
export function applyConfChange(n: RaftNode, e: Entry): void {
  const cc = decodeConfChange(e.data);
  const { voters, learners, progress } = n.tracker;
  if (cc.type === 'addVoter') {
    learners.delete(cc.node);
    voters.add(cc.node);
  } else if (cc.type === 'addLearner') {
    if (!voters.has(cc.node)) learners.add(cc.node);
  } else {
    voters.delete(cc.node);
    learners.delete(cc.node);
  }
  if (n.role !== 'leader') return;
  if (cc.type === 'removeNode') {
    progress.delete(cc.node);
    if (n.leadTransferee === cc.node) n.leadTransferee = NONE;
    if (cc.node === n.id) {
      // A leader that removed itself steps down; the others elect a leader among themselves.
      n.becomeFollower(n.term, NONE);
      return;
    }
  } else {
    const pr = progress.get(cc.node);
    if (pr === undefined) progress.set(cc.node, n.newProgress(cc.node));
    else pr.isLearner = learners.has(cc.node);
  }
  // The quorum changed: what is committed may have too.
  if (maybeCommit(n)) commitMoved(n);
  else for (const to of progress.keys()) if (to !== n.id) maybeSendAppend(n, to, false);
}

/** Commits what a quorum of voters holds, if it is of the current term. */
export function maybeCommit(n: RaftNode): boolean {
  const before = n.log.committed;
  if (!n.log.maybeCommit(n.tracker.committedIndex(), n.term)) return false;
  n.uncommittedSize = Math.max(
    0,
    n.uncommittedSize - payloadSize(n.log.slice(before + 1, n.log.committed + 1)),
  );
  releasePendingReads(n);
  return true;
}

/** The leader's own write is durable: it counts towards the quorum from now on. */
export function selfPersisted(n: RaftNode): void {
  const self = n.tracker.progress.get(n.id);
  if (self === undefined) return;
  if (self.maybeUpdate(n.log.stabled) && maybeCommit(n)) commitMoved(n);
}

export function stepLeader(n: RaftNode, m: Message): void {
  if (m.type === 'readIndex') {
    handleReadIndex(n, m.context, m.from);
    return;
  }
  const pr = n.tracker.progress.get(m.from);
  if (pr === undefined) return;
  if (m.type === 'appResp') {
    pr.recentActive = true;
    if (m.reject) {
      // Skip every index whose term here is above the follower's term at its hint: they must
      // mismatch too (etcd raft.go stepLeader, MsgAppResp), so one probe per term at most.
      const next = m.logTerm > 0 ? n.log.findConflictByTerm(m.rejectHint, m.logTerm)[0] : m.rejectHint;
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        sendAppend(n, m.from);
      }
      return;
    }
    if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe')) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match + 1 >= n.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
        // It restored the snapshot, but the log was compacted past it meanwhile: probe, which
        // sends the newer snapshot, instead of waiting for a report that may never come.
        pr.becomeProbe();
      } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
      if (maybeCommit(n)) commitMoved(n);
      else if (pr.match < n.log.committed) sendAppend(n, m.from); // it lags: tell it the commit index
      while (maybeSendAppend(n, m.from, false)) {
        // fill the pipeline
      }
      if (m.from === n.leadTransferee && pr.match === n.log.lastIndex()) {
        n.send({ type: 'timeoutNow', to: m.from });
      }
    }
    return;
  }
  if (m.type === 'heartbeatResp') {
    pr.recentActive = true;
    pr.flowPaused = false;
    if (pr.match < n.log.lastIndex() || pr.state === 'probe') sendAppend(n, m.from);
    if (m.context !== '' && n.readOnly.ack(m.from, m.context, n.tracker.voters) >= n.tracker.quorum()) {
      for (const req of n.readOnly.release(m.context)) answerRead(n, req.context, req.index, req.from);
    }
  }
}

function answerRead(n: RaftNode, context: string, index: number, from: NodeId): void {
  if (from === n.id) n.readStates.push({ index, context });
  else n.send({ type: 'readIndexResp', to: from, index, context });
}

export function handleReadIndex(n: RaftNode, context: string, from: NodeId): void {
  // Until it commits an entry of its term, a new leader does not know the commit index (§6.4).
  if (n.log.term(n.log.committed) !== n.term) {
    n.pendingReads.push({ context, from });
    return;
  }
  if (n.tracker.voters.size === 1 && n.tracker.voters.has(n.id)) {
    answerRead(n, context, n.log.committed, from);
    return;
  }
  n.readOnly.add({ context, index: n.log.committed, from }, n.id);
  bcastHeartbeat(n, context);
}

function releasePendingReads(n: RaftNode): void {
  if (n.pendingReads.length === 0 || n.log.term(n.log.committed) !== n.term) return;
  const reads = n.pendingReads;
  n.pendingReads = [];
  for (const r of reads) handleReadIndex(n, r.context, r.from);
}

export function transferLeadership(n: RaftNode, to: NodeId): ErrorInfo | null {
  if (n.role !== 'leader') return notLeader(n, 'only the leader can hand over');
  if (!n.tracker.voters.has(to)) {
    return refusal('RAFT_TRANSFER_REFUSED', { problem: `${to} is not a voter` });
  }
  if (to === n.id || n.leadTransferee === to) return null;
  n.electionElapsed = 0; // the transfer must finish within an election timeout
  n.leadTransferee = to;
  const pr = n.tracker.progress.get(to)!;
  if (pr.match === n.log.lastIndex()) n.send({ type: 'timeoutNow', to });
  else sendAppend(n, to);
  return null;
}

/** A proposal or read refused: this node does not lead (the store adds the leader's address). */
export function notLeader(node: RaftNode, why: string): ErrorInfo {
  return refusal('RAFT_NOT_LEADER', {
    nodeId: node.id,
    why,
    leader: node.lead === NONE ? null : node.lead,
    leaderAddress: null,
  });
}
