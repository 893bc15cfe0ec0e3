// The persistent queue (src/domain/queue.ts) against a sorted array, on queues far longer than the
// room properties reach (they use eight tracks): random inserts, removals, re-scorings and
// replacements (a vote: in the same leaf slot when the entry stays between its neighbours),
// checked for order, positions, duration sums, iteration from any position, equality with a queue
// built from the array (deep equality sees the indexes, functions of the entries; the B-tree is
// private), the tree's own invariants (checkShape: balance, node widths, keys, sizes and sums) and
// persistence (an older queue is unchanged by later operations).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareEntries, insertionIndex, Queue, Votes, type QueueEntry } from '../../../src/domain/index.ts';
import { fcParams } from './arbitraries.ts';

function entry(seq: number, score: number, durationMs: number): QueueEntry {
  return {
    entryId: `e${seq}`,
    track: { trackId: `t${seq}`, title: '', artist: '', album: '', durationMs },
    addedBy: 'm',
    addedAt: 0,
    seq,
    votes: Votes.EMPTY,
    ups: Math.max(score, 0),
    downs: Math.max(-score, 0),
  };
}

type Op =
  | { readonly kind: 'insert'; readonly score: number; readonly durationMs: number }
  | { readonly kind: 'remove' | 'rescore'; readonly pick: number; readonly score: number }
  | { readonly kind: 'replace'; readonly pick: number; readonly delta: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      score: fc.integer({ min: -3, max: 3 }),
      durationMs: fc.constantFrom(0, 1000, 2500),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('remove' as const, 'rescore' as const),
      pick: fc.nat(),
      score: fc.integer({ min: -3, max: 3 }),
    }),
  },
  {
    // A vote: a small change of score, often one that leaves the entry between its neighbours.
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('replace' as const),
      pick: fc.nat(),
      delta: fc.constantFrom(-1, 0, 1),
    }),
  },
);

function check(queue: Queue, model: readonly QueueEntry[]): void {
  assert.equal(queue.length, model.length);
  assert.deepEqual([...queue], model, 'in order');
  assert.deepEqual(queue, Queue.fromSorted(model), 'equal to the queue built from the array');
  for (const k of [0, 1, model.length >> 1, model.length - 1, model.length, model.length + 1]) {
    assert.equal(queue.at(k), model[k], `at ${k}`);
    assert.deepEqual(queue.slice(k, k + 3), model.slice(k, k + 3), `slice from ${k}`);
    const head = model.slice(0, k);
    assert.deepEqual(queue.durationOfFirst(k), {
      durationMs: head.reduce((s, e) => s + e.track.durationMs, 0),
      unknown: head.filter((e) => e.track.durationMs === 0).length,
    });
  }
  model.forEach((e, i) => assert.equal(queue.indexOf(e), i, `indexOf ${e.entryId}`));
  assert.equal(queue.indexOf(entry(-1, 0, 0)), -1);
}

void test('the persistent queue orders, counts and sums as a sorted array does, and old queues stay', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 50, maxLength: 400, size: 'max' }), (ops) => {
      let queue = Queue.EMPTY;
      let model: QueueEntry[] = [];
      const versions: [Queue, QueueEntry[]][] = [];
      let seq = 1;
      for (const op of ops) {
        if (op.kind === 'insert') {
          const e = entry(seq++, op.score, op.durationMs);
          queue = queue.insert(e);
          model = [...model, e].sort(compareEntries);
        } else if (op.kind === 'replace') {
          if (model.length === 0) continue;
          const old = model[op.pick % model.length]!;
          const e = {
            ...old,
            ups: old.ups + Math.max(op.delta, 0),
            downs: old.downs + Math.max(-op.delta, 0),
          };
          queue = queue.replace(old, e);
          model = model.map((x) => (x === old ? e : x)).sort(compareEntries);
          assert.equal(queue.byEntry(e.entryId), e, 'the index holds the new entry');
        } else if (model.length > 0) {
          const old = model[op.pick % model.length]!;
          queue = queue.remove(old);
          model = model.filter((e) => e !== old);
          if (op.kind === 'rescore') {
            const e = { ...old, ups: Math.max(op.score, 0), downs: Math.max(-op.score, 0) };
            queue = queue.insert(e);
            model = [...model, e].sort(compareEntries);
          }
        }
        versions.push([queue, model]);
      }
      check(queue, model);
      for (const [q, m] of versions.filter((_, i) => i % 37 === 0))
        assert.deepEqual([...q], m, 'an older version');
    }),
    fcParams(60),
  );
});

void test('a queue refuses entries out of order and removals of entries it does not hold', () => {
  assert.throws(() => Queue.fromSorted([entry(2, 0, 0), entry(1, 0, 0)]), /not in order/);
  const queue = Queue.of([entry(2, 0, 0), entry(1, 0, 0)]);
  assert.deepEqual(
    [...queue].map((e) => e.seq),
    [1, 2],
  );
  assert.throws(() => queue.remove(entry(3, 0, 0)), /not where its order says/);
  assert.throws(() => queue.remove({ ...entry(1, 0, 0), entryId: 'other' }), /not where its order says/);
  assert.deepEqual(JSON.parse(JSON.stringify(queue)), JSON.parse(JSON.stringify([...queue])));
});

void test('a long queue keeps its tree balanced through growth, votes and shrinkage to nothing', () => {
  // Thousands of entries: leaves split into branches that split in turn, then removals rejoin them
  // level by level (the room properties stay at a few entries, a single leaf).
  fc.assert(
    fc.property(
      fc.integer({ min: 600, max: 2500 }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(-2, -1, 1, 2)), { minLength: 200, maxLength: 1500 }),
      fc.nat(),
      (grow, votes, salt) => {
        let queue = Queue.EMPTY;
        const model: QueueEntry[] = [];
        const step = (i: number) => {
          if (i % 97 === 0) queue.checkShape();
        };
        for (let seq = 1; seq <= grow; seq++) {
          const e = entry(seq, (seq * 7 + salt) % 3 === 0 ? 1 : 0, seq % 5 === 0 ? 0 : 1000);
          queue = queue.insert(e);
          model.splice(insertionIndex(model, e), 0, e); // binary search: the model stays cheap on long queues
          step(seq);
        }
        const grown = queue;
        votes.forEach(([pick, delta], i) => {
          const old = model[pick % model.length]!;
          const e = { ...old, ups: old.ups + Math.max(delta, 0), downs: old.downs + Math.max(-delta, 0) };
          queue = queue.replace(old, e);
          model.splice(model.indexOf(old), 1);
          model.splice(insertionIndex(model, e), 0, e); // binary search: the model stays cheap on long queues
          step(i);
        });
        check(queue, model);
        queue.checkShape();
        // Removed in a scattered order until nothing is left.
        let k = salt;
        while (model.length > 0) {
          k = (k * 31 + 17) % model.length;
          queue = queue.remove(model[k]!);
          model.splice(k, 1);
          step(model.length);
        }
        queue.checkShape();
        assert.equal(queue.length, 0);
        assert.deepEqual(queue, Queue.EMPTY);
        assert.equal(grown.length, grow, 'the grown queue is unchanged by later removals');
        grown.checkShape();
      },
    ),
    fcParams(8),
  );
});
