// Elections (after etcd-io/raft raft.go hup, campaign, poll, stepCandidate and Step's vote
// handling): pre-vote, then a real vote; randomized timeouts come from the node's `tick`.
//
// Invariants: a node votes at most once per term (the vote is persisted before the answer leaves);
// it grants only to a candidate whose log is at least as up to date (§5.4.1); a pre-vote changes
// neither term nor vote; a learner or a node with an unapplied conf change does not campaign.

import type { RaftNode } from './node.ts';
import { handleFromLeader } from './follower.ts';
import type { Message } from './types.ts';
import { NONE } from './types.ts';

export function campaignIfAllowed(n: RaftNode, transfer: boolean): void {
  if (n.role === 'leader' || !n.promotable()) return;
  // A committed but unapplied conf change may change who votes: wait until it is applied.
  for (const e of n.log.nextCommittedEntries(Infinity)) if (e.type === 'conf') return;
  // Leader transfer skips pre-vote: the old leader asked for it, no partition to guard against.
  if (n.preVote && !transfer) startCampaign(n, 'pre', false);
  else startCampaign(n, 'election', transfer);
}

export function startCampaign(n: RaftNode, kind: 'pre' | 'election', transfer: boolean): void {
  if (kind === 'pre') n.becomePreCandidate();
  else n.becomeCandidate();
  const voteTerm = kind === 'pre' ? n.term + 1 : n.term;
  const type = kind === 'pre' ? 'preVote' : 'vote';
  n.tracker.recordVote(n.id, true);
  if (n.tracker.tallyVotes().result === 'won') {
    // A single voter wins at once.
    if (kind === 'pre') startCampaign(n, 'election', transfer);
    else n.becomeLeader();
    return;
  }
  for (const to of n.tracker.voters) {
    if (to === n.id) continue;
    n.send({
      type,
      to,
      term: voteTerm,
      index: n.log.lastIndex(),
      logTerm: n.log.lastTerm(),
      context: transfer ? 'transfer' : '',
    });
  }
}

export function handleVote(n: RaftNode, m: Message): void {
  const canVote =
    n.vote === m.from || (n.vote === NONE && n.lead === NONE) || (m.type === 'preVote' && m.term > n.term);
  const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
  // Learners answer too: a promoted learner may not know it yet (etcd raft.go, Step).
  if (canVote && n.log.isUpToDate(m.logTerm, m.index)) {
    // Answer in the message's term: a pre-candidate ignores answers below its pre-vote term.
    n.send({ type: respType, to: m.from, term: m.term });
    if (m.type === 'vote') {
      n.electionElapsed = 0;
      n.vote = m.from;
    } else if (n.role === 'preCandidate' && ranksAbove(n, m)) {
      // Two pre-candidates at once (both lost the same leader and timed out close together): each
      // would win the other's pre-vote, and then split the real vote, costing a whole election
      // timeout. The one that ranks lower steps back (a pre-vote changed nothing yet) and waits a
      // full timeout; the other goes on and gets its vote. Only liveness is at stake: a step back
      // never grants or changes a vote.
      n.becomeFollower(n.term, NONE);
    }
  } else {
    n.send({ type: respType, to: m.from, reject: true });
  }
}

export function stepCandidate(n: RaftNode, m: Message): void {
  switch (m.type) {
    case 'app':
    case 'heartbeat':
    case 'snap':
      // A leader exists in our term (or a newer one, already adopted above).
      n.becomeFollower(m.term, m.from);
      handleFromLeader(n, m);
      return;
    case 'voteResp':
    case 'preVoteResp': {
      if ((m.type === 'voteResp') !== (n.role === 'candidate')) return;
      n.tracker.recordVote(m.from, !m.reject);
      const { result } = n.tracker.tallyVotes();
      if (result === 'won') {
        if (n.role === 'preCandidate') startCampaign(n, 'election', false);
        else n.becomeLeader();
      } else if (result === 'lost') {
        n.becomeFollower(n.term, NONE);
      }
      return;
    }
    default:
      return;
  }
}

/** The pre-candidate of `m` ranks above `n`: a more up-to-date log, or as up to date and a smaller id. */
function ranksAbove(n: RaftNode, m: Message): boolean {
  const [term, index] = [n.log.lastTerm(), n.log.lastIndex()];
  if (m.logTerm !== term) return m.logTerm > term;
  if (m.index !== index) return m.index > index;
  return m.from < n.id;
}
