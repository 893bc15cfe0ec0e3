// A follower's side of replication (after etcd-io/raft raft.go stepFollower, handleAppendEntries,
// handleHeartbeat, handleSnapshot): take the leader's appends, heartbeats and snapshots, answer with
// how far its log matches, and ask for a campaign on timeoutNow.
//
// Invariants: an append is taken only when the log matches at its previous entry (Log Matching),
// entries already present are never rewritten, committed ones never; a rejection carries the hint
// for fast backtracking; the commit index follows the leader's only as far as the log is known to
// match.

import { campaignIfAllowed } from './election.ts';
import type { RaftNode } from './node.ts';
import type { Message } from './types.ts';

export function stepFollower(n: RaftNode, m: Message): void {
  switch (m.type) {
    case 'app':
    case 'heartbeat':
    case 'snap':
      n.electionElapsed = 0;
      n.lead = m.from;
      handleFromLeader(n, m);
      return;
    case 'timeoutNow':
      campaignIfAllowed(n, true);
      return;
    case 'readIndexResp':
      n.readStates.push({ index: m.index, context: m.context });
      return;
    default:
      return;
  }
}

export function handleFromLeader(n: RaftNode, m: Message): void {
  if (m.type === 'heartbeat') {
    n.log.commitTo(m.commit);
    n.send({ type: 'heartbeatResp', to: m.from, context: m.context });
  } else if (m.type === 'app') {
    handleAppend(n, m);
  } else if (m.snapshot !== null) {
    // Restored: we now end at the snapshot. Not restored (we had it): claim only what is
    // committed, since our tail past the snapshot may diverge from the leader's.
    const restored = n.log.restore(m.snapshot);
    if (restored) n.tracker.setConf(m.snapshot.meta.conf);
    n.send({ type: 'appResp', to: m.from, index: restored ? n.log.lastIndex() : n.log.committed });
  }
}

export function handleAppend(n: RaftNode, m: Message): void {
  if (m.index < n.log.committed) {
    n.send({ type: 'appResp', to: m.from, index: n.log.committed });
    return;
  }
  const lastNew = n.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    n.send({ type: 'appResp', to: m.from, index: lastNew });
    return;
  }
  // Fast backtracking: the largest (index, term) here with term ≤ the append's, so the leader
  // skips our whole divergent tail in one round trip (etcd raft.go handleAppendEntries).
  const [hintIndex, hintTerm] = n.log.findConflictByTerm(Math.min(m.index, n.log.lastIndex()), m.logTerm);
  n.send({
    type: 'appResp',
    to: m.from,
    index: m.index,
    reject: true,
    rejectHint: hintIndex,
    logTerm: hintTerm,
  });
}
