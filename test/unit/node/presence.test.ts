// The node's presence reporter (src/node/presence.ts): batching, the grace, resets after a start
// and after a failed report, lease renewals, and what the reports add up to when applied in order.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from '../../../src/domain/index.ts';
import { PresenceTracker } from '../../../src/node/presence.ts';
import { until } from '../../helpers/until.ts';

type Report = Extract<Command, { type: 'presence' }>;

/** What the room would hold from this node after the reports sent so far (in order). */
function held(reports: readonly Report[]): string[] {
  let mine = new Set<string>();
  for (const r of reports) {
    if (r.reset === true) mine = new Set();
    for (const id of r.arrive) mine.add(id);
    for (const id of r.depart) mine.delete(id);
  }
  return [...mine].sort();
}

function tracker(options: { graceMs?: number; leaseMs?: number; fail?: () => boolean } = {}) {
  const sent: Report[] = [];
  const t = new PresenceTracker({
    node: 'n1',
    graceMs: options.graceMs ?? 50,
    leaseMs: options.leaseMs ?? 60_000,
    batchMs: 20,
    submit: (roomId, command) => {
      assert.equal(roomId, 'room');
      if (options.fail?.()) return Promise.reject(new Error('the store is down'));
      sent.push(command);
      return Promise.resolve();
    },
  });
  return { t, sent };
}

void test('many arrivals at once go in one reset command; a reconnect within the grace sends nothing', async () => {
  const { t, sent } = tracker();
  try {
    const leave = ['a', 'b', 'c', 'd'].map((m) => t.connect('room', m));
    const second = t.connect('room', 'a'); // a second tab
    await until('one report', () => sent.length === 1, { timeoutMs: 5_000 });
    assert.equal(sent[0]!.reset, true, 'the first report after a start is a reset');
    assert.deepEqual([...sent[0]!.arrive].sort(), ['a', 'b', 'c', 'd']);
    leave[0]!();
    second();
    const again = t.connect('room', 'a'); // back within the grace
    // Nothing may happen: only waiting past grace and batch shows it (no timing is asserted).
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(sent.length, 1, 'nothing to report');
    again();
    leave[1]!();
    await until('a and b depart after the grace', () => held(sent).join() === 'c,d', { timeoutMs: 5_000 });
    assert.ok(sent.every((r) => r.node === 'n1' && r.leaseMs === 60_000));
  } finally {
    t.stop();
  }
});

void test('a failed report is followed by a reset carrying everyone here', async () => {
  let failing = true;
  const { t, sent } = tracker({ fail: () => failing });
  try {
    t.connect('room', 'a');
    t.connect('room', 'b');
    await new Promise((r) => setTimeout(r, 60));
    failing = false;
    await until('a report once the store answers', () => sent.length >= 1, { timeoutMs: 5000 });
    assert.equal(sent[0]!.reset, true);
    assert.deepEqual(held(sent), ['a', 'b']);
  } finally {
    t.stop();
  }
});

void test('the lease is renewed while anyone is connected, by commands without ids', async () => {
  const { t, sent } = tracker({ leaseMs: 90 });
  try {
    const leave = t.connect('room', 'a');
    await until('renewals', () => sent.length >= 4, { timeoutMs: 5_000 });
    assert.ok(
      sent.slice(1).some((r) => r.arrive.length === 0 && r.depart.length === 0),
      'a renewal',
    );
    assert.deepEqual(held(sent), ['a']);
    leave();
    await until('the departure', () => held(sent).length === 0, { timeoutMs: 5_000 });
    const count = sent.length;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(sent.length, count, 'no renewals once nobody is here');
  } finally {
    t.stop();
  }
});
