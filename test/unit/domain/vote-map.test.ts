// The persistent vote map (src/domain/votes.ts) against the plain object it replaced: on random
// sequences of votes it holds the same votes, writes byte for byte the same JSON (keys in the same
// order, "__proto__" and numeric-looking ids included), reads that JSON back to the same map, and
// never changes a map it was derived from.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Votes, type VoteValue } from '../../../src/domain/index.ts';
import { fcParams } from './arbitraries.ts';

/** The old way (apply.ts before the split): copy, then delete or define the key. */
function plainWith(
  votes: Record<string, VoteValue>,
  voter: string,
  value: VoteValue | 0,
): Record<string, VoteValue> {
  const next = { ...votes };
  if (value === 0) delete next[voter];
  else Object.defineProperty(next, voter, { value, enumerable: true, writable: true, configurable: true });
  return next;
}

const voter = fc.constantFrom(
  'm1',
  'm2',
  'm3',
  'host',
  '__proto__',
  'constructor',
  '7',
  '12',
  '~anon:c1',
  'zz',
);
const op = fc.tuple(voter, fc.constantFrom<VoteValue | 0>(1, -1, 0));

void test('votes as a persistent map give the plain map’s votes and JSON, and older maps stay intact', () => {
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 60 }),
      fc.dictionary(voter, fc.constantFrom<VoteValue>(1, -1)),
      (ops, start) => {
        let plain: Record<string, VoteValue> = JSON.parse(JSON.stringify(start)) as Record<string, VoteValue>;
        let votes = Votes.fromRecord(plain);
        const history: [Votes, string][] = [[votes, JSON.stringify(votes)]];
        for (const [who, value] of ops) {
          plain = plainWith(plain, who, value);
          votes = votes.with(who, value);
          const json = JSON.stringify(votes);
          assert.equal(json, JSON.stringify(plain), `after ${who} ${value}`);
          assert.equal(votes.size, Object.keys(plain).length);
          assert.equal(votes.get(who), value);
          // Read back from its JSON, it is the same map and writes the same bytes.
          const back = Votes.fromRecord(JSON.parse(json) as Record<string, VoteValue>);
          assert.deepEqual(back, votes);
          assert.equal(JSON.stringify(back), json);
          history.push([votes, json]);
        }
        for (const [old, json] of history)
          assert.equal(JSON.stringify(old), json, 'an older map is unchanged');
      },
    ),
    fcParams(300),
  );
});

void test('a vote on an entry with 10,000 voters shares the map: one path copied, not every vote', () => {
  let votes = Votes.EMPTY;
  for (let i = 0; i < 10_000; i++) votes = votes.with(`v${i}`, i % 2 === 0 ? 1 : -1);
  const next = votes.with('v5001', 1);
  // Nodes not on v5001's path are the very same objects in both maps.
  const nodes = (v: Votes): Set<object> => {
    const out = new Set<object>();
    const walk = (n: { left: unknown; right: unknown } | null): void => {
      if (n === null) return;
      out.add(n);
      walk(n.left as never);
      walk(n.right as never);
    };
    walk(v.map.root);
    return out;
  };
  const before = nodes(votes);
  const fresh = [...nodes(next)].filter((n) => !before.has(n));
  assert.ok(fresh.length > 0 && fresh.length < 64, `${fresh.length} nodes copied of ${before.size}`);
  assert.equal(votes.get('v5001'), -1, 'the old map still says -1');
  assert.equal(next.get('v5001'), 1);
});
