// Small pieces of the Raft store kept out of store.ts: the election jitter's PRNG, the UNAVAILABLE
// with a leader hint, the waiting ReadIndex reads, the group status for GET /v1/cluster, and the
// leadership hand-over of a graceful stop.

import { randomUUID } from 'node:crypto';
import { chorusError, type ChorusError } from '../../domain/index.ts';
import type { StoreLogger } from '../logger.ts';
import type { GroupStatus, MemberStatus, StoreHealth } from '../types.ts';
import type { RaftNode } from './node.ts';
import type { Peer } from './transport.ts';
import { NONE, type NodeId, type ReadState } from './types.ts';

/** UNAVAILABLE naming the leader this node knows (if any) and its address, so a client can go there. */
export function unavailableWithHint(core: RaftNode, peers: readonly Peer[], why: string): ChorusError {
  const leader = core.lead === NONE ? null : core.lead;
  const leaderAddress = peers.find((p) => p.id === leader)?.address ?? null;
  return chorusError('RAFT_NOT_LEADER', { nodeId: core.id, why, leader, leaderAddress });
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Reads waiting for ReadIndex: each has a context; its ReadState confirms it once applied. */
export class ReadIndexWaiters {
  private readonly waiting = new Map<string, Waiter>();
  /** Confirmed reads whose index this node has not applied yet, by index. */
  private later: ReadState[] = [];

  wait(timeoutMs: number): { context: string; promise: Promise<void> } {
    const context = randomUUID();
    const promise = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(context);
        reject(chorusError('RAFT_READ_TIMEOUT'));
      }, timeoutMs);
      this.waiting.set(context, { resolve, reject, timer });
    });
    return { context, promise };
  }

  fail(context: string, err: Error): void {
    const w = this.waiting.get(context);
    if (!w) return;
    this.waiting.delete(context);
    clearTimeout(w.timer);
    w.reject(err);
  }

  /** New ReadStates, and the index this node has applied: answers every read it covers. */
  confirmed(states: readonly ReadState[], applied: number): void {
    this.later.push(...states);
    if (this.later.length === 0) return;
    const still: ReadState[] = [];
    for (const rs of this.later) {
      if (rs.index > applied) {
        still.push(rs);
        continue;
      }
      const w = this.waiting.get(rs.context);
      if (!w) continue;
      this.waiting.delete(rs.context);
      clearTimeout(w.timer);
      w.resolve();
    }
    this.later = still;
  }

  closeAll(err: Error): void {
    for (const context of [...this.waiting.keys()]) this.fail(context, err);
    this.later = [];
  }
}

const ROLE: Record<string, string> = {
  leader: 'leader',
  follower: 'follower',
  candidate: 'candidate',
  preCandidate: 'candidate',
};

export function groupStatus(
  core: RaftNode,
  peers: readonly Peer[],
  applied: number,
  lastContact: ReadonlyMap<NodeId, number>,
): GroupStatus {
  const st = core.status();
  const now = Date.now();
  const learner = st.conf.learners.includes(core.id);
  const members: MemberStatus[] = peers.map((p) => {
    const pr = st.progress.get(p.id);
    const seen = lastContact.get(p.id);
    return {
      id: p.id,
      address: p.address,
      role: st.conf.learners.includes(p.id) ? 'learner' : 'voter',
      details: {
        matchIndex: pr?.match ?? null,
        nextIndex: pr?.next ?? null,
        progress: pr?.state ?? null,
        lastContactMs: p.id === core.id ? 0 : seen === undefined ? null : now - seen,
      },
    };
  });
  const leaderId = st.softState.leader === NONE ? null : st.softState.leader;
  return {
    nodeId: core.id,
    role: learner ? 'learner' : (ROLE[st.softState.role] ?? st.softState.role),
    leaderId,
    members,
    details: {
      term: st.hardState.term,
      vote: st.hardState.vote === NONE ? null : st.hardState.vote,
      commitIndex: st.hardState.commit,
      appliedIndex: applied,
      lastIndex: st.lastIndex,
      leaderAddress: peers.find((p) => p.id === leaderId)?.address ?? null,
    },
  };
}

/** Leader transfer to the follower with the highest match index; waits (bounded) for it to happen. */
export async function handOverLeadership(
  core: RaftNode,
  input: (fn: (core: RaftNode) => void) => void,
  waitMs: number,
  logger: StoreLogger,
): Promise<void> {
  if (core.role !== 'leader') return;
  let best: NodeId = NONE;
  let bestMatch = -1;
  for (const [id, pr] of core.status().progress) {
    if (id !== core.id && pr.match > bestMatch) [best, bestMatch] = [id, pr.match];
  }
  if (best === NONE) return;
  input((c) => void c.transferLeadership(best));
  const deadline = Date.now() + waitMs;
  while (core.role === 'leader' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  logger.info({ to: best, handedOver: core.role !== 'leader' }, 'raft leadership transfer on stop');
}

/**
 * Ready when a leader is known and this node has applied everything it knows committed. A node
 * that is no member (removed, or started with --join and not added yet) is not ready, and neither
 * is one that has not heard from its leader for two election timeouts: a learner never campaigns,
 * so without this it would keep naming a leader it lost and serve ever staler reads as "ready".
 */
export function raftHealth(core: RaftNode, applied: number): StoreHealth {
  const { lead, log, id } = core;
  const conf = core.tracker.conf();
  if (!conf.voters.includes(id) && !conf.learners.includes(id))
    return { ready: false, detail: `raft node ${id}: not a member of the group (yet)` };
  if (lead === NONE) return { ready: false, detail: `raft node ${id}: no leader known` };
  if (core.role !== 'leader' && core.electionElapsed >= 2 * core.electionTick)
    return { ready: false, detail: `raft node ${id}: no word from leader ${lead} for two election timeouts` };
  if (applied < log.committed) {
    return { ready: false, detail: `raft node ${id}: applied ${applied} of ${log.committed} committed` };
  }
  return { ready: true, detail: `raft node ${id}: leader ${lead}, applied ${applied}` };
}
