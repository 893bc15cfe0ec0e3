// The persistent hash map (src/domain/hmap.ts) against a Map: random sets and deletes over a small
// key space (so keys come back often and share slots at the upper levels), with keys whose whole
// hashes collide and keys named after Object.prototype's properties; the same contents, the same
// tree as one built from scratch in another order (equal maps are equal objects), and older maps
// unchanged by later operations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HMap } from '../../../src/domain/hmap.ts';
import { hashKey } from '../../../src/domain/pmap.ts';
import { fcParams } from './arbitraries.ts';
import { byKey, replay } from './map-model.ts';

/** Pairs of keys with equal 32-bit hashes (found by a search over 2 million keys). */
const COLLIDING = [
  ['x185523y215', 'x130604y150'],
  ['x318460y268', 'x163179y894'],
  ['x587101y251', 'x268400y46'],
] as const;

const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat(300).map((i) => `k${i}`) },
  { weight: 2, arbitrary: fc.constantFrom(...COLLIDING.flat()) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', '', 'toString') },
);
const opArb = fc.tuple(fc.boolean(), keyArb, fc.integer());

void test('the colliding keys of the test do collide', () => {
  for (const [a, b] of COLLIDING) assert.equal(hashKey(a), hashKey(b), `${a} ${b}`);
});

void test('the persistent hash map holds what a Map holds, in a canonical tree, and old maps stay', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 20, maxLength: 500, size: 'max' }), (ops) => {
      const { map, model, versions } = replay(HMap.empty<number>(), ops);
      assert.equal(map.size, model.size);
      assert.deepEqual([...map].sort(byKey), [...model].sort(byKey));
      let fresh = HMap.empty<number>();
      for (const [key, value] of [...model].sort(byKey).toReversed()) fresh = fresh.set(key, value);
      assert.deepEqual(map, fresh, 'the same tree however it was built');
      for (const [m, s] of versions.filter((_, i) => i % 23 === 0)) {
        assert.deepEqual([...m].sort(byKey), s, 'an older map');
      }
    }),
    fcParams(100),
  );
});

void test('deleting every key leaves the empty map, and setting a value again changes nothing', () => {
  let map = HMap.empty<number>();
  const keys = [...COLLIDING.flat(), ...Array.from({ length: 2000 }, (_, i) => `k${i}`)];
  for (const key of keys) map = map.set(key, 1);
  assert.equal(map.size, keys.length);
  assert.equal(map.set('k7', 1), map, 'an unchanged value gives the same map');
  assert.equal(map.delete('absent'), map);
  for (const key of keys.toReversed()) map = map.delete(key);
  assert.deepEqual(map, HMap.empty<number>());
});
