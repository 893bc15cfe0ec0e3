// The order function on its own: score descending, then insertion sequence ascending.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareEntries, scoreOf, Votes, type QueueEntry } from '../../../src/domain/index.ts';
import { track } from './helpers.ts';

function entry(seq: number, ups: number, downs: number): QueueEntry {
  return {
    entryId: `e${seq}`,
    track: track(`t${seq}`),
    addedBy: 'm',
    addedAt: 0,
    seq,
    votes: Votes.EMPTY,
    ups,
    downs,
  };
}

void test('scoreOf is ups minus downs', () => {
  assert.equal(scoreOf({ ups: 3, downs: 5 }), -2);
  assert.equal(scoreOf({ ups: 0, downs: 0 }), 0);
});

void test('compareEntries sorts by score descending, then seq ascending', () => {
  const entries = [
    entry(1, 0, 1),
    entry(2, 2, 0),
    entry(3, 1, 0),
    entry(4, 3, 1),
    entry(5, 0, 0),
    entry(6, 1, 1),
  ];
  const sorted = [...entries].sort(compareEntries).map((e) => e.entryId);
  assert.deepEqual(sorted, ['e2', 'e4', 'e3', 'e5', 'e6', 'e1']);
  assert.ok(compareEntries(entry(1, 0, 0), entry(2, 0, 0)) < 0);
  assert.ok(compareEntries(entry(2, 1, 0), entry(1, 0, 0)) < 0);
  assert.equal(compareEntries(entry(1, 0, 0), entry(1, 0, 0)), 0);
});
