// The Raft store's operational pieces without processes: conf changes carrying addresses, the
// address book, the admin request checks, /readyz (raftHealth) for non-members and learners cut off
// from their leader, and the metrics read off the Ready loop.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChorusError } from '../../../src/domain/index.ts';
import { AddressBook, confChangeOf } from '../../../src/store/raft/membership.ts';
import { RaftMetrics } from '../../../src/store/raft/metrics.ts';
import { RaftNode } from '../../../src/store/raft/node.ts';
import { raftHealth } from '../../../src/store/raft/store-helpers.ts';
import { decodeConfChange, encodeConfChange, EMPTY_CONF, message } from '../../../src/store/raft/types.ts';
import type { StoreTelemetry } from '../../../src/store/telemetry.ts';

const EMPTY = { hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [] };

void test('a conf change carries the new member’s address through its encoding; old entries still decode', () => {
  const cc = { type: 'addLearner', node: 'n4', address: '127.0.0.1:5004' } as const;
  assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  assert.deepEqual(decodeConfChange('{"type":"addVoter","node":"n2"}'), { type: 'addVoter', node: 'n2' });
  assert.throws(() => decodeConfChange('{"type":"addVoter","node":"n2","address":5}'), /not a conf change/);
});

void test('the address book follows applied conf changes and snapshots, and never forgets this node', () => {
  const book = new AddressBook('n1', [
    { id: 'n1', address: 'h:1' },
    { id: 'n2', address: 'h:2' },
  ]);
  assert.deepEqual(book.apply({ type: 'addLearner', node: 'n3', address: 'h:3' }), {
    set: { id: 'n3', address: 'h:3' },
  });
  assert.deepEqual(book.apply({ type: 'addVoter', node: 'n3' }), {}, 'a promotion keeps the address');
  assert.equal(book.get('n3'), 'h:3');
  assert.deepEqual(book.apply({ type: 'removeNode', node: 'n2' }), { removed: 'n2' });
  assert.deepEqual(book.apply({ type: 'removeNode', node: 'n1' }), {});
  assert.deepEqual(
    book.peers().map((p) => p.id),
    ['n1', 'n3'],
  );
  const restored = new AddressBook('n9', []);
  restored.restore(JSON.parse(JSON.stringify(book.toJSON())) as { id: string; address: string }[]);
  assert.equal(restored.get('n3'), 'h:3');
});

void test('admin requests are checked: type, node id, and an address for a node the group does not know', () => {
  const book = new AddressBook('n1', [{ id: 'n1', address: 'h:1' }]);
  const bad = (req: { type: string; node: string; address: string }, pattern: RegExp): void =>
    assert.throws(
      () => confChangeOf(req, book),
      (e: unknown) => e instanceof ChorusError && e.code === 'INVALID_ARGUMENT' && pattern.test(e.message),
    );
  bad({ type: 'addWitness', node: 'n2', address: 'h:2' }, /type must be one of/);
  bad({ type: 'addVoter', node: 'N2!', address: 'h:2' }, /not a node id/);
  bad({ type: 'addVoter', node: 'n2', address: '' }, /not known here: give its address/);
  bad({ type: 'addVoter', node: 'n2', address: 'nohost' }, /not HOST:PORT/);
  assert.deepEqual(confChangeOf({ type: 'addVoter', node: 'n1', address: '' }, book), {
    type: 'addVoter',
    node: 'n1',
    address: 'h:1',
  });
  assert.deepEqual(confChangeOf({ type: 'removeNode', node: 'n7', address: '' }, book), {
    type: 'removeNode',
    node: 'n7',
  });
});

void test('/readyz: a node that is no member is not ready; a learner that lost its leader stops being ready', () => {
  const joiner = new RaftNode({ id: 'n4', random: () => 0.5 }, EMPTY, EMPTY_CONF);
  for (let i = 0; i < 50; i++) joiner.tick();
  assert.equal(joiner.term, 0, 'a joining node never campaigns');
  assert.match(raftHealth(joiner, 0).detail, /not a member/);

  const learner = new RaftNode({ id: 'n2', random: () => 0.5 }, EMPTY, { voters: ['n1'], learners: ['n2'] });
  learner.step(message({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 2 }));
  assert.equal(raftHealth(learner, 0).ready, false, 'not caught up to the commit index');
  assert.equal(raftHealth(learner, learner.log.committed).ready, true);
  for (let i = 0; i < 2 * learner.electionTick; i++) learner.tick();
  assert.equal(learner.role, 'follower', 'a learner never campaigns');
  const h = raftHealth(learner, learner.log.committed);
  assert.equal(h.ready, false);
  assert.match(h.detail, /no word from leader n1/);
});

void test('metrics: elections started and won, role, commit latency on the leader, entries per append', () => {
  const counts = new Map<string, number>();
  const gauges = new Map<string, number>();
  const observed = new Map<string, number[]>();
  const key = (name: string, labels?: Readonly<Record<string, string>>): string =>
    labels ? `${name}${JSON.stringify(labels)}` : name;
  const t: StoreTelemetry = {
    count: (name, labels, by = 1) => counts.set(key(name, labels), (counts.get(key(name, labels)) ?? 0) + by),
    set: (name, value, labels) => gauges.set(key(name, labels), value),
    observe: (name, value) => observed.set(name, [...(observed.get(name) ?? []), value]),
  };
  const m = new RaftMetrics(t);
  const node = new RaftNode({ id: 'n1', random: () => 0 }, EMPTY, { voters: ['n1'], learners: [] });
  const drain = (now: number): void => {
    while (node.hasReady()) {
      const rd = node.ready();
      m.ready(rd, now);
      node.advance();
      m.state(node, node.log.applied);
    }
  };
  m.state(node, 0);
  assert.equal(gauges.get(key('chorus_raft_role', { role: 'follower' })), 1);
  for (let i = 0; i < 30 && node.role !== 'leader'; i++) {
    node.tick();
    drain(0);
  }
  assert.equal(node.role, 'leader');
  assert.equal(counts.get('chorus_raft_elections_started_total'), 1);
  assert.equal(counts.get('chorus_raft_elections_won_total'), 1);
  assert.equal(gauges.get('chorus_raft_is_leader'), 1);
  assert.equal(gauges.get('chorus_raft_term'), node.term);
  const r = node.propose('x');
  assert.ok(r.ok);
  m.proposed(r.index, 1000);
  drain(1250);
  assert.deepEqual(observed.get('chorus_raft_commit_latency_seconds'), [0.25]);
  assert.equal(gauges.get('chorus_raft_commit_index'), r.index);
  assert.equal(gauges.get('chorus_raft_applied_index'), r.index);
  m.ready(
    {
      softState: null,
      hardState: null,
      entries: [],
      snapshot: null,
      committedEntries: [],
      readStates: [],
      mayReplicateBeforePersist: true,
      mustSync: false,
      messages: [
        message({
          type: 'app',
          from: 'n1',
          to: 'n2',
          term: 2,
          entries: [1, 2, 3].map((i) => ({ term: 2, index: i, type: 'normal', data: '' })),
        }),
        message({ type: 'app', from: 'n1', to: 'n3', term: 2 }),
      ],
    },
    0,
  );
  assert.deepEqual(observed.get('chorus_raft_append_entries'), [3], 'empty appends (probes) are not batches');
});
