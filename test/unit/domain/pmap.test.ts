// The persistent map (src/domain/pmap.ts) against a Map: random sets and deletes over a small key
// space (so keys come back often), including keys named after Object.prototype's properties; the
// same contents in key order, the same tree as one built from scratch (equal maps are equal
// objects), and older maps unchanged by later operations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PMap } from '../../../src/domain/pmap.ts';
import { fcParams } from './arbitraries.ts';
import { replay } from './map-model.ts';

const keyArb = fc.oneof(
  fc.nat(300).map((i) => `k${i}`),
  fc.constantFrom('__proto__', 'constructor', '', 'toString'),
);
const opArb = fc.tuple(fc.boolean(), keyArb, fc.integer());

void test('the persistent map holds what a Map holds, in key order, and old maps stay', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 20, maxLength: 500, size: 'max' }), (ops) => {
      const { map, model, versions } = replay(PMap.empty<number>(), ops);
      const sorted = versions.at(-1)![1];
      assert.equal(map.size, model.size);
      assert.deepEqual([...map], sorted);
      assert.deepEqual(map, PMap.from(sorted.toReversed()), 'the same tree however it was built');
      for (const [m, s] of versions.filter((_, i) => i % 23 === 0))
        assert.deepEqual([...m], s, 'an older map');
    }),
    fcParams(100),
  );
});
