// Unit tests of the Raft core's pieces on their own: the log's append/conflict/compaction rules,
// fast backtracking's search, flow control, quorum arithmetic, payload sizes, and a single-node
// group driven by hand (binary payloads, batches, restart from what was persisted).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RaftLog } from '../../../src/store/raft/log.ts';
import { RaftNode, type RaftPersisted } from '../../../src/store/raft/node.ts';
import { Inflights, Progress, Tracker } from '../../../src/store/raft/progress.ts';
import type { Entry, Message, Snapshot } from '../../../src/store/raft/types.ts';
import { dataSize, decodeConfChange, encodeConfChange, message } from '../../../src/store/raft/types.ts';

const EMPTY: Snapshot = { meta: { index: 0, term: 0, conf: { voters: ['a'], learners: [] } }, data: '' };

function entries(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: `e${i + 1}` }));
}

void describe('raft log', () => {
  void test('an append that conflicts overwrites from the first conflict and moves stabled back', () => {
    const log = new RaftLog(EMPTY, entries(1, 1, 2, 2), 1, 0);
    assert.equal(log.stabled, 4);
    const last = log.maybeAppend(2, 1, 3, [
      { term: 2, index: 3, type: 'normal', data: 'e3' },
      { term: 3, index: 4, type: 'normal', data: 'new4' },
      { term: 3, index: 5, type: 'normal', data: 'new5' },
    ]);
    assert.equal(last, 5);
    assert.equal(log.term(4), 3);
    assert.equal(log.stabled, 3, 'entry 4 must be persisted again');
    assert.equal(log.committed, 3);
  });

  void test('an append whose previous entry does not match is refused; committed entries never move', () => {
    const log = new RaftLog(EMPTY, entries(1, 1, 2), 2, 0);
    assert.equal(log.maybeAppend(3, 1, 3, []), undefined);
    assert.throws(() => log.append([{ term: 5, index: 2, type: 'normal', data: 'x' }]), /committed/);
  });

  void test("findConflictByTerm skips a divergent tail by term (etcd's example)", () => {
    // idx 1 2 3 4 5 6 7 8 9; follower terms 1 3 3 4 4 5 5 5 6; leader probes at (8, term 3).
    const log = new RaftLog(EMPTY, entries(1, 3, 3, 4, 4, 5, 5, 5, 6), 0, 0);
    assert.deepEqual(log.findConflictByTerm(8, 3), [3, 3]);
    assert.deepEqual(log.findConflictByTerm(9, 0), [0, 0]);
  });

  void test('only a current-term entry commits by counting (Figure 8)', () => {
    const log = new RaftLog(EMPTY, entries(1, 2, 2), 1, 0);
    assert.equal(log.maybeCommit(3, 3), false);
    assert.equal(log.maybeCommit(3, 2), true);
    assert.equal(log.committed, 3);
  });

  void test('compaction keeps trailing entries, and the snapshot answers for its own index', () => {
    const log = new RaftLog(EMPTY, entries(1, 1, 2, 2, 2), 5, 5);
    log.compact({ meta: { index: 4, term: 2, conf: EMPTY.meta.conf }, data: 's' }, 3);
    assert.equal(log.firstIndex(), 3);
    assert.equal(log.term(2), 1);
    assert.equal(log.term(1), undefined);
    assert.equal(log.slice(3, 6).length, 3);
    assert.throws(() => log.slice(2, 3), /outside/);
  });

  void test('restoring a snapshot drops the log; one the log already holds only commits', () => {
    const log = new RaftLog(EMPTY, entries(1, 1, 2), 1, 1);
    const held: Snapshot = { meta: { index: 2, term: 1, conf: EMPTY.meta.conf }, data: 's' };
    assert.equal(log.restore(held), false);
    assert.equal(log.committed, 2);
    assert.equal(log.lastIndex(), 3);
    const newer: Snapshot = { meta: { index: 10, term: 4, conf: EMPTY.meta.conf }, data: 's' };
    assert.equal(log.restore(newer), true);
    assert.equal(log.lastIndex(), 10);
    assert.equal(log.pendingSnapshot, newer);
  });
});

void describe('raft flow control and quorums', () => {
  void test('inflights: full by count or by bytes, freed up to an index', () => {
    const inf = new Inflights(3, 100);
    inf.add(1, 10);
    inf.add(2, 10);
    assert.equal(inf.full(), false);
    inf.add(3, 10);
    assert.equal(inf.full(), true);
    inf.freeLE(2);
    assert.equal(inf.count(), 1);
    inf.add(4, 90);
    assert.equal(inf.full(), true, 'by bytes');
  });

  void test('progress: a stale rejection is ignored; a real one moves next back by the hint', () => {
    const pr = new Progress(11, false, 4, 1000);
    assert.equal(pr.maybeDecrTo(5, 3), false, 'rejects an index the leader did not send last');
    assert.equal(pr.maybeDecrTo(10, 3), true);
    assert.equal(pr.next, 4);
    pr.maybeUpdate(6);
    pr.becomeReplicate();
    pr.sentEntries(9, 30, false);
    assert.equal(pr.next, 10);
    assert.equal(pr.maybeDecrTo(5, 1), false, 'at or below match');
    assert.equal(pr.maybeDecrTo(9, 1), true);
    assert.equal(pr.next, 7);
  });

  void test('quorum commit index and vote tallies, odd and even', () => {
    const t = new Tracker({ voters: ['a', 'b', 'c', 'd'], learners: ['l'] });
    for (const [id, match] of [
      ['a', 9],
      ['b', 7],
      ['c', 5],
      ['d', 1],
      ['l', 100],
    ] as const) {
      const pr = new Progress(1, id === 'l', 4, 1000);
      pr.match = match;
      t.progress.set(id, pr);
    }
    assert.equal(t.committedIndex(), 5, 'three of four voters hold 5; learners do not count');
    t.recordVote('a', true);
    t.recordVote('b', false);
    t.recordVote('c', false);
    assert.equal(t.tallyVotes().result, 'lost');
    t.votes.clear();
    for (const id of ['a', 'b', 'c']) t.recordVote(id, true);
    assert.equal(t.tallyVotes().result, 'won');
  });

  void test('payload sizes are UTF-8 bytes; conf changes round-trip and junk is refused', () => {
    assert.equal(dataSize('aé€😀'), 1 + 2 + 3 + 4);
    assert.equal(dataSize(new Uint8Array(7)), 7);
    const cc = { type: 'addLearner', node: 'x' } as const;
    assert.deepEqual(decodeConfChange(new TextEncoder().encode(encodeConfChange(cc))), cc);
    assert.throws(() => decodeConfChange('{"type":"boom","node":"x"}'), /not a conf change/);
  });
});

void describe('raft node driven by hand', () => {
  const persisted: RaftPersisted = {
    hardState: { term: 0, vote: '', commit: 0 },
    snapshot: null,
    entries: [],
  };

  /** Runs Readies until quiet; returns what was applied and what a disk would hold. */
  function drain(node: RaftNode, disk: Entry[], applied: Entry[]): void {
    for (let i = 0; node.hasReady(); i++) {
      assert.ok(i < 20, 'never quiet');
      const rd = node.ready();
      assert.deepEqual(rd.messages, [], 'a single node has no one to talk to');
      if (rd.entries.length > 0) disk.splice(rd.entries[0]!.index - 1, Infinity, ...rd.entries);
      applied.push(...rd.committedEntries);
      node.advance();
    }
  }

  void test('a Ready must be synced for its entries or a new term or vote, not for a commit index alone', () => {
    const node = new RaftNode({ id: 'a', random: () => 0.5 }, persisted, { voters: ['a'], learners: [] });
    drain(node, [], []); // the founding membership's entry
    const expect = (what: string, hard: boolean, entries: boolean, mustSync: boolean): void => {
      const rd = node.ready();
      assert.equal(rd.hardState !== null, hard, `${what}: hard state`);
      assert.equal(rd.entries.length > 0, entries, `${what}: entries`);
      assert.equal(rd.mustSync, mustSync, `${what}: mustSync`);
      node.advance();
    };
    node.campaign(); // a new term, a vote for itself, and its no-op entry
    expect('elected', true, true, true);
    expect('its no-op committed', true, false, false);
    assert.ok(node.propose('x').ok);
    expect('a proposal', false, true, true);
    expect('the proposal committed', true, false, false);
    assert.equal(node.hasReady(), false);
  });

  void test('a single voter elects itself, commits on its own write, and takes binary and batched data', () => {
    const node = new RaftNode({ id: 'a', random: () => 0.5 }, persisted, { voters: ['a'], learners: [] });
    const disk: Entry[] = [];
    const applied: Entry[] = [];
    drain(node, disk, applied);
    assert.throws(() => node.advance(), /without ready/);
    node.campaign();
    assert.equal(node.role, 'leader');
    drain(node, disk, applied);
    const bytes = new Uint8Array([1, 2, 3]);
    const one = node.propose(bytes);
    const batch = node.proposeBatch(['x', 'y', 'z']);
    assert.ok(one.ok && batch.ok);
    const rd = node.ready();
    assert.equal(rd.committedEntries.length, 0, 'nothing commits before its own write is durable');
    assert.throws(() => node.ready(), /before advance/);
    disk.push(...rd.entries);
    node.advance();
    drain(node, disk, applied);
    const data = applied.filter((e) => e.type === 'normal' && dataSize(e.data) > 0).map((e) => e.data);
    assert.deepEqual(data, [bytes, 'x', 'y', 'z']);
    assert.equal(batch.index, disk.length);

    // Restart from the disk: same term, same log, nothing applied twice when `applied` is given.
    const again = new RaftNode(
      { id: 'a', random: () => 0.5 },
      { hardState: node.hardState(), snapshot: null, entries: disk, applied: disk.length },
    );
    assert.equal(again.term, node.term);
    assert.equal(again.log.lastIndex(), disk.length);
    const replay: Entry[] = [];
    drain(again, [...disk], replay);
    assert.deepEqual(replay, []);
    assert.deepEqual(
      again.tracker.conf(),
      { voters: ['a'], learners: [] },
      'the membership of the applied log',
    );
    assert.ok(again.promotable());
  });

  void test('reportUnreachable sends a replicating follower back to probing', () => {
    const node = new RaftNode({ id: 'a', random: () => 0 }, persisted, {
      voters: ['a', 'b', 'c'],
      learners: [],
    });
    const disk: Entry[] = [];
    drain2(node, disk);
    node.campaign();
    node.becomeLeader();
    node.tracker.progress.get('b')!.becomeReplicate();
    node.reportUnreachable('b');
    assert.equal(node.tracker.progress.get('b')!.state, 'probe');
  });

  void test('a follower whose link to its leader broke campaigns after the random part of its timeout only', () => {
    const conf = { voters: ['a', 'b', 'c'], learners: [] };
    // random() = 0.5: a timeout of 15 ticks (electionTick 10); the random part is 5 ticks.
    const node = new RaftNode({ id: 'a', random: () => 0.5 }, persisted, conf);
    const disk: Entry[] = [];
    drain2(node, disk);
    node.step(message({ type: 'heartbeat', from: 'b', to: 'a', term: 2 }));
    drain2(node, disk);
    assert.equal(node.lead, 'b');
    node.reportUnreachable('c'); // not its leader: nothing changes
    for (let i = 0; i < 5; i++) node.tick();
    assert.equal(node.role, 'follower');
    node.reportUnreachable('b');
    for (let i = 0; i < 4; i++) node.tick();
    assert.equal(node.role, 'follower', 'still the random part of the timeout to wait');
    node.tick();
    assert.equal(node.role, 'preCandidate', 'then it asks for pre-votes');
    assert.ok(node.msgs.some((m) => m.type === 'preVote' && m.to === 'c'));
  });

  void test('two pre-candidates at once: the lower-ranked steps back, so the real vote does not split', () => {
    const conf = { voters: ['a', 'b', 'c'], learners: [] };
    const a = new RaftNode({ id: 'a', random: () => 0 }, persisted, conf);
    const b = new RaftNode({ id: 'b', random: () => 0 }, persisted, conf);
    const out = new Map<string, Message[]>([
      ['a', []],
      ['b', []],
    ]);
    const flush = (n: RaftNode): void => {
      for (let i = 0; n.hasReady() && i < 20; i++) {
        out.get(n.id)!.push(...n.ready().messages);
        n.advance();
      }
    };
    const deliver = (from: RaftNode, to: RaftNode): void => {
      const msgs = out.get(from.id)!.filter((m) => m.to === to.id);
      out.set(
        from.id,
        out.get(from.id)!.filter((m) => m.to !== to.id),
      );
      for (const m of msgs) to.step(m);
      flush(to);
    };
    flush(a);
    flush(b);
    // Both lost c and time out together: each asks the other for a pre-vote before hearing it.
    a.campaign();
    b.campaign();
    flush(a);
    flush(b);
    assert.equal(a.role, 'preCandidate');
    assert.equal(b.role, 'preCandidate');
    deliver(a, b); // b grants a (as up to date, smaller id) and steps back
    assert.equal(b.role, 'follower');
    deliver(b, a); // a grants b's pre-vote but, ranking above, goes on; b's grant wins a its pre-vote
    assert.equal(a.role, 'candidate');
    deliver(a, b); // a's grant reaches b (a follower now: ignored), then a's vote request
    deliver(b, a);
    assert.equal(a.role, 'leader');
    deliver(a, b); // the new leader's first append
    assert.equal(b.lead, 'a');
    assert.equal(b.term, a.term);
  });

  void test('a commit index that moves several times before a Ready reaches each follower once', () => {
    const conf = { voters: ['a', 'b', 'c'], learners: [] };
    const [a, b, c] = ['a', 'b', 'c'].map((id) => new RaftNode({ id, random: () => 0 }, persisted, conf));
    const nodes = new Map([a!, b!, c!].map((n) => [n.id, n]));
    const outbox: Message[] = [];
    const flush = (n: RaftNode): void => {
      for (let i = 0; n.hasReady() && i < 20; i++) {
        outbox.push(...n.ready().messages);
        n.advance();
      }
    };
    /** Steps every message queued for `to` (all of them, before its next Ready). */
    const deliverTo = (to: RaftNode): void => {
      const mine = outbox.filter((m) => m.to === to.id);
      outbox.splice(0, Infinity, ...outbox.filter((m) => m.to !== to.id));
      for (const m of mine) to.step(m);
    };
    const settle = (): void => {
      for (let round = 0; round < 20 && outbox.length > 0; round++) {
        for (const n of nodes.values()) {
          deliverTo(n);
          flush(n);
        }
      }
    };
    for (const n of nodes.values()) flush(n);
    a!.campaign();
    flush(a!);
    settle();
    assert.equal(a!.role, 'leader');
    const sentTo = (to: string): Message[] => outbox.filter((m) => m.from === 'a' && m.to === to);

    // Two proposals in two Readies: two appends in flight to each follower.
    for (const data of ['x1', 'x2']) {
      assert.ok(a!.propose(data).ok);
      flush(a!);
    }
    const second = a!.log.lastIndex();
    // b stores both and answers both; c says nothing yet.
    outbox.splice(0, Infinity, ...outbox.filter((m) => m.to !== 'c'));
    deliverTo(b!);
    flush(b!);
    assert.equal(outbox.filter((m) => m.type === 'appResp').length, 2);
    // The leader steps both answers (each moves its commit index) and a third proposal, then makes
    // one Ready: one append per follower, carrying the third entry and the latest commit index.
    deliverTo(a!);
    assert.ok(a!.propose('x3').ok);
    flush(a!);
    for (const to of ['b', 'c']) {
      const apps = sentTo(to).filter((m) => m.type === 'app');
      assert.equal(apps.length, 1, `appends to ${to}: ${JSON.stringify(apps)}`);
      assert.equal(apps[0]!.entries.length, 1, `the append to ${to} carries x3`);
      assert.equal(apps[0]!.commit, second);
    }
    // b answers; the commit index moves again with no entry to send: one append without entries
    // each, and nothing more once they were told.
    outbox.splice(0, Infinity, ...outbox.filter((m) => m.to !== 'c'));
    deliverTo(b!);
    flush(b!);
    deliverTo(a!);
    flush(a!);
    for (const to of ['b', 'c']) {
      const apps = sentTo(to).filter((m) => m.type === 'app');
      assert.deepEqual(
        apps.map((m) => [m.entries.length, m.commit]),
        [[0, a!.log.lastIndex()]],
        `to ${to}`,
      );
    }
    assert.equal(a!.hasReady(), false);
    settle();
    for (const n of nodes.values()) assert.equal(n.log.committed, a!.log.lastIndex(), n.id);
  });

  function drain2(node: RaftNode, disk: Entry[]): void {
    for (let i = 0; node.hasReady() && i < 20; i++) {
      const rd = node.ready();
      disk.push(...rd.entries);
      node.advance();
    }
  }
});
