// etcd-io/raft's behaviour tests (raft_test.go, raft_paper_test.go, testdata/*.txt) as scenarios on
// the deterministic simulation: pre-vote, check-quorum and leases, Figure 8's commit rule,
// ReadIndex, leader transfer, flow control and fast log rejection, dropped proposals, membership
// changes and learners. Where a feature is what makes a scenario pass, a contrast test runs the
// same scenario with the feature off and shows the harm it prevents.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as leaderOps from '../../../src/store/raft/leader.ts';
import type { RaftNode } from '../../../src/store/raft/node.ts';
import { Sim } from './sim.ts';

const ET = 10;

function leaderAndTerm(sim: Sim): { leader: string; term: number } {
  const leader = sim.checkOneLeader();
  return { leader, term: sim.raft(leader).term };
}

void describe('etcd: pre-vote and check-quorum', () => {
  for (const preVote of [true, false]) {
    void test(`a partitioned node ${preVote ? 'cannot' : 'can'} disrupt the leader on return (pre-vote ${preVote ? 'on' : 'off'})`, () => {
      const sim = new Sim({ seed: 401, voters: 3, raft: { preVote, checkQuorum: false } });
      sim.one(3);
      const { leader, term } = leaderAndTerm(sim);
      const lagging = sim.ids().find((id) => id !== leader)!;
      sim.disconnect(lagging);
      sim.ticks(5 * ET);
      if (preVote) assert.equal(sim.raft(lagging).term, term, 'a pre-candidate must not raise its term');
      else assert.ok(sim.raft(lagging).term > term, 'without pre-vote the isolated node keeps campaigning');
      sim.connect(lagging);
      sim.ticks(3 * ET);
      const after = leaderAndTerm(sim);
      if (preVote) assert.deepEqual(after, { leader, term }, 'the leader was disrupted');
      else assert.ok(after.term > term, 'without pre-vote the higher term forces a new election');
    });
  }

  void test('a disruptive follower with a stale log cannot win a pre-vote', () => {
    const sim = new Sim({ seed: 402, voters: 3, raft: { preVote: true, checkQuorum: true } });
    sim.one(3);
    const { leader, term } = leaderAndTerm(sim);
    const stale = sim.ids().find((id) => id !== leader)!;
    sim.disconnect(stale);
    for (let i = 0; i < 5; i++) sim.one(2);
    sim.connect(stale);
    sim.raft(stale).campaign(); // its election timer fires before the leader's next append arrives
    sim.ticks(3 * ET);
    assert.deepEqual(leaderAndTerm(sim), { leader, term });
    sim.one(3);
  });

  for (const checkQuorum of [true, false]) {
    void test(`a leader cut off from its quorum ${checkQuorum ? 'steps down' : 'stays leader'} (check-quorum ${checkQuorum ? 'on' : 'off'})`, () => {
      const sim = new Sim({ seed: 403, voters: 3, raft: { checkQuorum } });
      const { leader } = leaderAndTerm(sim);
      sim.disconnect(leader);
      sim.ticks(2 * ET + 1);
      assert.equal(sim.raft(leader).role, checkQuorum ? 'follower' : 'leader');
    });
  }

  void test('check-quorum frees a stuck candidate (pre-vote off)', () => {
    const sim = new Sim({ seed: 404, voters: 3, raft: { preVote: false, checkQuorum: true } });
    const { leader } = leaderAndTerm(sim);
    const stuck = sim.ids().find((id) => id !== leader)!;
    sim.disconnect(stuck);
    sim.ticks(4 * ET);
    const stuckTerm = sim.raft(stuck).term;
    assert.equal(sim.raft(stuck).role, 'candidate');
    sim.connect(stuck);
    // Its votes are refused under the leader's lease, but its answer to the leader's heartbeat
    // carries the higher term: the leader steps down and a fresh election includes it.
    sim.ticks(4 * ET);
    const now = leaderAndTerm(sim);
    assert.ok(now.term >= stuckTerm, `term ${now.term} < stuck candidate's ${stuckTerm}`);
    assert.equal(sim.raft(stuck).role === 'candidate', false, 'still stuck');
    sim.one(3);
  });

  void test('votes are refused while a leader is known (leader lease)', () => {
    const sim = new Sim({ seed: 405, voters: 3, raft: { preVote: false, checkQuorum: true } });
    sim.one(3); // equal logs: only the lease can make the third node refuse
    const { leader, term } = leaderAndTerm(sim);
    const other = sim.ids().find((id) => id !== leader)!;
    sim.raft(other).campaign();
    sim.ticks(ET / 2);
    // The third node and the leader refuse: the campaigner can't win; the leader keeps its place.
    assert.ok(sim.leaders().includes(leader) || sim.raft(leader).term > term);
    assert.ok(!sim.leaders().includes(other), 'a node won an election against a live leader');
  });
});

void describe('etcd: commit rules', () => {
  void test('a leader counts replicas only for entries of its own term (Figure 8)', () => {
    const sim = new Sim({ seed: 411, voters: 3 });
    const { leader: old } = leaderAndTerm(sim);
    // The old leader never hears acknowledgements, so its entry X stays uncommitted on all three.
    sim.one(3); // followers in replicate state: X goes out at once
    sim.filter = (m) => !(m.type === 'appResp' && m.to === old);
    const x = sim.propose(old)!;
    sim.ticks(2);
    sim.filter = null;
    sim.disconnect(old);
    const { leader: next, term } = leaderAndTerm(sim);
    // Freeze the new leader's replication so we can set what it knows by hand.
    sim.filter = (m) => m.from !== next && m.to !== next;
    sim.ticks(1);
    const raft = sim.raft(next);
    assert.equal(raft.log.term(x.index), x.term);
    assert.ok(raft.log.committed < x.index, 'X was committed too early');
    const noop = raft.log.lastIndex();
    assert.equal(raft.log.term(noop), term);
    const peer = sim.ids().find((id) => id !== next && id !== old)!;
    raft.tracker.progress.get(peer)!.match = x.index; // a quorum (itself and peer) holds X
    assert.equal(leaderOps.maybeCommit(raft), false, 'committed an old-term entry by counting replicas');
    assert.ok(raft.log.committed < x.index);
    raft.tracker.progress.get(peer)!.match = noop; // now the quorum holds its own no-op
    assert.equal(leaderOps.maybeCommit(raft), true);
    assert.equal(raft.log.committed, noop, 'X commits with the no-op');
  });
});

void describe('etcd: ReadIndex', () => {
  for (const checkQuorum of [true, false]) {
    void test(`a partitioned stale leader never answers a read (check-quorum ${checkQuorum ? 'on' : 'off'})`, () => {
      const sim = new Sim({ seed: 421, voters: 5, raft: { checkQuorum } });
      sim.one(5);
      const { leader: stale } = leaderAndTerm(sim);
      const friend = sim.ids().find((id) => id !== stale)!;
      const majority = sim.ids().filter((id) => id !== stale && id !== friend);
      sim.partition([stale, friend], majority);
      assert.ok(sim.read(stale, 'stale-read'));
      let fresh = '';
      assert.ok(
        sim.until(() => (fresh = sim.leaders().find((id) => majority.includes(id)) ?? '') !== '', 5 * ET),
      );
      for (let i = 0; i < 3; i++) {
        const p = sim.propose(fresh)!;
        assert.ok(sim.until(() => sim.nApplied(p.cmd).count >= 3, 2 * ET));
      }
      assert.ok(sim.read(fresh, 'fresh-read'));
      assert.ok(
        sim.read(
          majority.find((id) => id !== fresh)!,
          'follower-read',
        ),
      );
      assert.ok(
        sim.until(
          () => sim.readAnswer('fresh-read') !== null && sim.readAnswer('follower-read') !== null,
          ET,
        ),
      );
      assert.ok(sim.readAnswer('fresh-read')! >= sim.inv.maxCommitted - 1);
      sim.ticks(3 * ET);
      // The sim fails the run if any read is answered below what was committed when it was asked.
      assert.equal(sim.readAnswer('stale-read'), null, 'the stale leader answered a read');
      sim.heal();
      sim.ticks(3 * ET);
      assert.equal(sim.readAnswer('stale-read'), null);
    });
  }

  void test('a new leader answers reads only after committing an entry of its term', () => {
    const sim = new Sim({ seed: 422, voters: 3 });
    sim.one(3);
    const { leader: old } = leaderAndTerm(sim);
    sim.crash(old);
    // Nobody hears append answers: a new leader can be elected but cannot commit.
    sim.filter = (m) => m.type !== 'appResp';
    let next = '';
    assert.ok(sim.until(() => (next = sim.leaders()[0] ?? '') !== '', 5 * ET));
    assert.ok(sim.read(next, 'early'));
    sim.ticks(2);
    assert.equal(sim.readAnswer('early'), null, 'answered before its first commit');
    sim.filter = null;
    assert.ok(sim.until(() => sim.readAnswer('early') !== null, 2 * ET));
    const raft = sim.raft(next);
    assert.equal(raft.log.term(sim.readAnswer('early')!), raft.term, 'read index below its own no-op');
  });
});

void describe('etcd: leader transfer', () => {
  void test('to an up-to-date follower: it takes over at once', () => {
    const sim = new Sim({ seed: 431, voters: 3 });
    sim.one(3);
    const { leader, term } = leaderAndTerm(sim);
    const target = sim.ids().find((id) => id !== leader)!;
    assert.equal(sim.raft(leader).transferLeadership(target), null);
    assert.ok(sim.until(() => sim.leaders().includes(target), 2));
    assert.equal(sim.raft(target).term, term + 1);
    sim.one(3);
  });

  void test('to a slow follower: it is caught up first, proposals wait', () => {
    const sim = new Sim({ seed: 432, voters: 3 });
    sim.one(3);
    const { leader } = leaderAndTerm(sim);
    const slow = sim.ids().find((id) => id !== leader)!;
    sim.disconnect(slow);
    for (let i = 0; i < 10; i++) sim.one(2);
    sim.connect(slow);
    assert.equal(sim.raft(leader).transferLeadership(slow), null);
    const refused = sim.raft(leader).propose('during-transfer');
    assert.equal(refused.ok, false, 'a proposal was taken during the transfer');
    assert.ok(sim.until(() => sim.leaders().includes(slow), ET));
    assert.equal(sim.raft(slow).log.lastIndex() >= sim.raft(leader).log.committed, true);
    sim.one(3);
  });

  void test('to an unreachable follower: aborted after an election timeout', () => {
    const sim = new Sim({ seed: 433, voters: 3 });
    sim.one(3);
    const { leader, term } = leaderAndTerm(sim);
    const gone = sim.ids().find((id) => id !== leader)!;
    sim.disconnect(gone);
    assert.equal(sim.raft(leader).transferLeadership(gone), null);
    assert.equal(sim.raft(leader).leadTransferee, gone);
    sim.ticks(ET + 1);
    assert.equal(sim.raft(leader).leadTransferee, '');
    assert.deepEqual(leaderAndTerm(sim), { leader, term });
    assert.ok(sim.raft(leader).propose('after-abort').ok);
  });

  void test('to a learner or a stranger: refused', () => {
    const sim = new Sim({ seed: 434, voters: 3, learners: ['l1'] });
    const { leader } = leaderAndTerm(sim);
    assert.equal(sim.raft(leader).transferLeadership('l1')?.code, 'FAILED_PRECONDITION');
    assert.equal(sim.raft(leader).transferLeadership('nobody')?.code, 'FAILED_PRECONDITION');
  });
});

void describe('etcd: replication and flow control', () => {
  void test('fast log rejection: a long divergent tail costs a couple of round trips', () => {
    const sim = new Sim({ seed: 441, voters: 5 });
    sim.one(5);
    const { leader: old } = leaderAndTerm(sim);
    sim.disconnect(old);
    for (let i = 0; i < 100; i++) sim.propose(old); // an uncommitted tail of 100 on the old leader
    sim.ticks(1);
    for (let i = 0; i < 100; i++) sim.one(3);
    // A leader elected now starts probing the old one at the end of its own, longer log.
    sim.crash(sim.checkOneLeader());
    sim.one(3);
    const { leader } = leaderAndTerm(sim);
    // The logs share only a short prefix: a naive probe would walk back ~100 entries one by one.
    const common = sim.raft(old).log.committed;
    assert.ok(sim.raft(leader).tracker.progress.get(old)!.next > common + 100);
    let rejections = 0;
    sim.filter = (m) => {
      if (m.type === 'appResp' && m.from === old && m.reject) rejections++;
      return true;
    };
    sim.connect(old);
    sim.one(4);
    assert.ok(rejections >= 1, 'the divergent tail was never rejected');
    assert.ok(rejections <= 2, `${rejections} rejections to find the match point`);
    sim.checkAllApplied();
  });

  void test('reordered and duplicated messages: everything still replicates', () => {
    const sim = new Sim({ seed: 442, voters: 3 });
    sim.faults = { drop: 0, duplicate: 0.2, maxDelay: 12, longDelay: 0.05 };
    for (let i = 0; i < 40; i++) sim.one(3, true, 200);
    sim.checkAllApplied();
  });

  void test('a follower moves probe -> snapshot -> replicate as it falls behind and catches up', () => {
    const sim = new Sim({ seed: 443, voters: 3, snapshotEvery: 5 });
    sim.one(3);
    const { leader } = leaderAndTerm(sim);
    const behind = sim.ids().find((id) => id !== leader)!;
    sim.disconnect(behind);
    for (let i = 0; i < 20; i++) sim.one(2);
    const seen: string[] = [];
    sim.connect(behind);
    sim.until(() => {
      const state = sim.raft(leader).tracker.progress.get(behind)!.state;
      if (seen[seen.length - 1] !== state) seen.push(state);
      return seen.includes('snapshot') && state === 'replicate';
    }, 5 * ET);
    // Observed between rounds (probe may come and go inside one): it needed the snapshot, then
    // went back to streaming appends.
    assert.deepEqual(seen.slice(seen.indexOf('snapshot')), ['snapshot', 'replicate'], seen.join(' -> '));
    assert.ok(sim.appliedIndex(behind) >= sim.raft(leader).log.snapshot.meta.index);
  });

  void test('a follower that restored a snapshot after the log moved on gets the newer one', () => {
    const sim = new Sim({ seed: 362, voters: 3, snapshotEvery: 10 });
    sim.reportSnapshotSuccess = false; // the leader learns only from the follower's answer
    sim.one(3);
    for (let iter = 0; iter < 6; iter++) {
      const ids = sim.ids();
      const victim = ids[(ids.indexOf(sim.checkOneLeader()) + 1 + (iter % 2)) % 3]!;
      sim.disconnect(victim);
      for (let i = 0; i < 12; i++) sim.one(2);
      sim.connect(victim);
      sim.one(3, true, 200);
    }
    sim.checkAllApplied();
  });

  void test('many proposals share one append, bounded by maxSizePerMsg', () => {
    const sim = new Sim({ seed: 444, voters: 3, raft: { maxSizePerMsg: 1000 } });
    sim.one(3);
    const { leader } = leaderAndTerm(sim);
    let withEntries = 0;
    let biggest = 0;
    sim.filter = (m) => {
      if (m.type === 'app' && m.entries.length > 0) {
        withEntries++;
        biggest = Math.max(biggest, m.entries.length);
      }
      return true;
    };
    const ps = Array.from({ length: 100 }, () => sim.propose(leader, 90)!);
    assert.ok(sim.until(() => ps.every((p) => sim.nApplied(p.cmd).count === 3), ET));
    // ~9.5 KB of commands in ≤1000-byte appends: about 10 per follower, not 100.
    assert.ok(withEntries >= 20 && withEntries <= 24, `${withEntries} appends carried the 100 proposals`);
    assert.ok(biggest >= 9 && biggest <= 11, `largest append had ${biggest} entries`);
  });
});

void describe('etcd: proposals refused', () => {
  void test('no leader, or not the leader: UNAVAILABLE with a leader hint', () => {
    const sim = new Sim({ seed: 451, voters: 3 });
    const early = sim.raft('n1').propose('x');
    assert.equal(early.ok, false);
    assert.equal(!early.ok && early.error.code, 'UNAVAILABLE');
    assert.equal(!early.ok && early.error.reason, 'RAFT_NOT_LEADER');
    assert.deepEqual(!early.ok && early.error.details, { leader: null, leaderAddress: null });
    const { leader } = leaderAndTerm(sim);
    sim.ticks(1);
    const follower = sim.ids().find((id) => id !== leader)!;
    const res = sim.raft(follower).propose('x');
    assert.equal(!res.ok && res.error.reason, 'RAFT_NOT_LEADER');
    assert.deepEqual(!res.ok && res.error.details, { leader, leaderAddress: null });
  });

  void test('too many uncommitted bytes: RESOURCE_EXHAUSTED until the log commits', () => {
    const sim = new Sim({ seed: 452, voters: 3, raft: { maxUncommittedSize: 1000 } });
    const { leader } = leaderAndTerm(sim);
    for (const id of sim.ids()) if (id !== leader) sim.disconnect(id);
    let accepted = 0;
    const next = (): ReturnType<RaftNode['propose']> =>
      sim.raft(leader).propose(`u${accepted}:${'y'.repeat(95)}`);
    let refused = next();
    while (refused.ok && accepted < 100) {
      accepted++;
      refused = next();
    }
    assert.ok(accepted >= 9 && accepted <= 11, `${accepted} proposals accepted`);
    assert.equal(!refused.ok && refused.error.code, 'RESOURCE_EXHAUSTED');
    sim.heal();
    sim.one(3);
    assert.ok(sim.raft(sim.checkOneLeader()).propose('z'.repeat(100)).ok);
  });
});

void describe('etcd: membership', () => {
  void test('add a voter, refuse a second change while one is pending, remove the leader', () => {
    const sim = new Sim({ seed: 461, voters: 3, extra: ['n4'] });
    sim.one(3);
    const { leader } = leaderAndTerm(sim);
    const add = sim.raft(leader).proposeConfChange({ type: 'addVoter', node: 'n4' });
    assert.ok(add.ok);
    const second = sim.raft(leader).proposeConfChange({ type: 'addLearner', node: 'x9' });
    assert.equal(!second.ok && second.error.code, 'FAILED_PRECONDITION');
    assert.ok(sim.until(() => sim.ids().every((id) => sim.raft(id).tracker.voters.has('n4')), 3 * ET));
    sim.one(4);
    const remove = sim.raft(leader).proposeConfChange({ type: 'removeNode', node: leader });
    assert.ok(remove.ok);
    assert.ok(
      sim.until(() => sim.raft(leader).role !== 'leader', 3 * ET),
      'the removed leader stayed',
    );
    const next = sim.checkOneLeader();
    assert.notEqual(next, leader);
    assert.deepEqual(
      [...sim.raft(next).tracker.voters].sort(),
      sim
        .ids()
        .filter((id) => id !== leader)
        .sort(),
    );
    sim.one(3);
    // The removed node's elections never disturb the new group.
    const { term } = leaderAndTerm(sim);
    sim.ticks(5 * ET);
    assert.equal(leaderAndTerm(sim).term, term);
  });

  void test('a learner replicates, never campaigns, and can be promoted', () => {
    const sim = new Sim({ seed: 462, voters: 3, learners: ['l1'] });
    sim.one(4);
    const { leader } = leaderAndTerm(sim);
    for (const id of sim.ids()) if (id !== 'l1') sim.crash(id);
    sim.ticks(5 * ET);
    assert.equal(sim.raft('l1').role, 'follower', 'a learner campaigned');
    for (const id of sim.ids()) sim.restart(id);
    sim.one(3);
    const now = sim.checkOneLeader();
    assert.ok(sim.raft(now).proposeConfChange({ type: 'addVoter', node: 'l1' }).ok);
    assert.ok(sim.until(() => sim.ids().every((id) => sim.raft(id).tracker.voters.has('l1')), 3 * ET));
    assert.ok(sim.ids().every((id) => !sim.raft(id).tracker.learners.has('l1')));
    sim.crash(leader === now ? sim.ids().find((id) => id !== now && id !== 'l1')! : leader);
    sim.one(3);
    sim.checkAllApplied();
  });
});
