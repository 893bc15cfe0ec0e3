// TwoPcNode driven by hand, one input at a time, to pin the store contract in node.ts: what waits
// for persisted(), what a restart gives again, what status() shows. The simulation (sim.ts) runs
// the same contract at scale; these tests name each rule on its own.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jitter } from '../../../src/store/twopc/coordinator.ts';
import { TwoPcNode } from '../../../src/store/twopc/node.ts';
import type { LogRecord, Message, Output } from '../../../src/store/twopc/types.ts';

const NODES = ['n0', 'n1'];
const command = new TextEncoder().encode('cmd');

/** n1 of a two-node cluster, caught up (n0 told it there is nothing to catch up on). */
function participant(records: readonly LogRecord[] = []): TwoPcNode {
  const node = TwoPcNode.restart({ id: 'n1', nodes: NODES }, records);
  node.step({ type: 'CatchUpReply', from: 'n0', to: 'n1', entries: [], complete: true });
  node.takeOutput();
  return node;
}

function requestVote(txn: string, room = 'r', version = 1): Message {
  return { type: 'RequestVote', from: 'n0', to: 'n1', txn, participants: NODES, room, version, command };
}

function votes(out: Output): { txn: string; yes: boolean; reason?: string }[] {
  return out.messages.flatMap((m) =>
    m.type === 'Vote'
      ? [m.reason === undefined ? { txn: m.txn, yes: m.yes } : { txn: m.txn, yes: m.yes, reason: m.reason }]
      : [],
  );
}

void describe('TwoPcNode contract', () => {
  void test('a YES vote leaves only once its PREPARED record is persisted', () => {
    const node = participant();
    node.step(requestVote('t1'));
    const first = node.takeOutput();
    assert.equal(first.persist.length, 1);
    assert.deepEqual([first.persist[0]!.record.kind, first.persist[0]!.force], ['PREPARED', true]);
    assert.deepEqual(votes(first), [], 'no vote before the fsync');
    node.persisted(first.persist[0]!.lsn);
    assert.deepEqual(votes(node.takeOutput()), [{ txn: 't1', yes: true }]);
  });

  void test('a locked room votes NO at once; a wrong version votes NO with the position', () => {
    const node = participant();
    node.step(requestVote('t1'));
    node.persisted(node.takeOutput().persist[0]!.lsn);
    node.takeOutput();
    node.step(requestVote('t2'));
    node.step(requestVote('t3', 'other', 2));
    assert.deepEqual(votes(node.takeOutput()), [
      { txn: 't2', yes: false, reason: 'locked' },
      { txn: 't3', yes: false, reason: 'version' },
    ]);
  });

  void test('a COMMIT is applied and ACKed only once its record is durable, and once', () => {
    const node = participant();
    node.step(requestVote('t1'));
    node.persisted(node.takeOutput().persist[0]!.lsn);
    node.takeOutput();
    const decision: Message = { type: 'GlobalDecision', from: 'n0', to: 'n1', txn: 't1', outcome: 'commit' };
    node.step(decision);
    const out = node.takeOutput();
    assert.deepEqual([out.persist[0]?.record.kind, out.apply.length, out.messages.length], ['COMMIT', 0, 0]);
    node.persisted(out.persist[0]!.lsn);
    const after = node.takeOutput();
    assert.deepEqual(
      after.apply.map((e) => [e.txn, e.room, e.version]),
      [['t1', 'r', 1]],
    );
    assert.deepEqual(
      after.messages.map((m) => m.type),
      ['Ack'],
    );
    node.step(decision);
    const again = node.takeOutput();
    assert.deepEqual([again.apply.length, again.messages.map((m) => m.type)], [0, ['Ack']]);
  });

  void test('a restart gives every committed command again, in room order, and keeps in-doubt ones locked', () => {
    const records: LogRecord[] = [
      { kind: 'PREPARED', txn: 'a', coordinator: 'n0', participants: NODES, room: 'r', version: 1, command },
      { kind: 'COMMIT', txn: 'a', coordinator: 'n0', participants: NODES },
      { kind: 'PREPARED', txn: 'b', coordinator: 'n0', participants: NODES, room: 'r', version: 2, command },
    ];
    const node = TwoPcNode.restart({ id: 'n1', nodes: NODES }, records);
    const out = node.takeOutput();
    assert.deepEqual(
      out.apply.map((e) => e.txn),
      ['a'],
    );
    assert.equal(node.status().preparedCount, 1);
    node.tick();
    const asked = node.takeOutput().messages.filter((m) => m.type === 'GetDecision');
    assert.deepEqual(
      asked.map((m) => m.to),
      ['n0'],
      'it asks the coordinator about b at once',
    );
    assert.deepEqual(
      node.status().inDoubt.map((d) => d.txn),
      ['b'],
    );
  });

  void test('a coordinator restarting with its own PREPARED and no COMMIT aborts it', () => {
    const records: LogRecord[] = [
      {
        kind: 'PREPARED',
        txn: 'w#1',
        coordinator: 'n0',
        participants: NODES,
        room: 'r',
        version: 1,
        command,
      },
    ];
    const node = TwoPcNode.restart({ id: 'n0', nodes: NODES }, records);
    const out = node.takeOutput();
    assert.deepEqual(
      out.persist.map((p) => [p.record.kind, p.force]),
      [['ABORT', false]],
    );
    assert.ok(
      out.messages.some((m) => m.type === 'GlobalDecision' && m.outcome === 'abort' && m.to === 'n1'),
    );
    assert.equal(node.status().preparedCount, 0);
    assert.equal(node.status().counters.aborts.restart, 1);
  });

  void test('retry jitter is a function of the seed and attempt, within its span', () => {
    for (let seed = 0; seed < 200; seed++) {
      for (const span of [0, 1, 7, 64]) {
        const j = jitter(seed, 3, span);
        assert.ok(Number.isInteger(j) && j >= 0 && j <= span, `${seed}/${span}: ${j}`);
        assert.equal(jitter(seed, 3, span), j);
      }
    }
    const spread = new Set(Array.from({ length: 100 }, (_, seed) => jitter(seed, 1, 15)));
    assert.ok(spread.size > 8, `seeds spread the jitter (${spread.size} values)`);
  });
});
