// The persistent member map (src/domain/members.ts) against the plain object it replaced, changed
// the way the old code changed it (spread to set, rest destructuring to remove): the same members,
// the same key order (JSON byte for byte, Object.keys order for ids() and values()), the same map
// again from its JSON (a snapshot), and older maps unchanged by later operations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Members, type Member } from '../../../src/domain/index.ts';
import { fcParams } from './arbitraries.ts';

const idArb = fc.oneof(
  { weight: 8, arbitrary: fc.nat(40).map((i) => `m${i}`) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', '0', '10') },
);
type Op = { readonly remove: boolean; readonly id: string; readonly name: string };
const opArb: fc.Arbitrary<Op> = fc.record({
  remove: fc.boolean(),
  id: idArb,
  name: fc.string({ maxLength: 3 }),
});

const member = (id: string, name: string): Member => ({ memberId: id, name, isHost: false, joinedAt: 1 });

/** The old way: a plain object, a key defined (so "__proto__" is a key like any other). */
function setPlain(record: Record<string, Member>, m: Member): Record<string, Member> {
  const out = { ...record };
  Object.defineProperty(out, m.memberId, { value: m, enumerable: true, writable: true, configurable: true });
  return out;
}

void test('the member map holds and orders members as the plain object did, and old maps stay', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 200 }), (ops) => {
      let members = Members.EMPTY;
      let plain: Record<string, Member> = {};
      const versions: [Members, string][] = [];
      for (const op of ops) {
        if (op.remove) {
          members = members.without(op.id);
          const { [op.id]: _gone, ...rest } = plain;
          plain = rest;
        } else {
          members = members.with(member(op.id, op.name));
          plain = setPlain(plain, member(op.id, op.name));
        }
        versions.push([members, JSON.stringify(plain)]);
      }
      assert.equal(JSON.stringify(members), JSON.stringify(plain), 'JSON byte for byte');
      assert.equal(members.size, Object.keys(plain).length);
      assert.deepEqual(members.ids(), Object.keys(plain), 'ids in the object key order');
      assert.deepEqual(members.values(), Object.values(plain));
      for (const { id } of ops) {
        assert.equal(members.has(id), Object.hasOwn(plain, id), `has ${id}`);
        assert.deepEqual(members.get(id), Object.hasOwn(plain, id) ? plain[id] : undefined, `get ${id}`);
      }
      const back = Members.fromRecord(JSON.parse(JSON.stringify(members)) as Record<string, Member>);
      assert.equal(JSON.stringify(back), JSON.stringify(plain), 'from its JSON, the same JSON');
      assert.deepEqual(back, members, 'from its JSON, the same map');
      for (const [m, json] of versions.filter((_, i) => i % 17 === 0)) {
        assert.equal(JSON.stringify(m), json, 'an older map');
      }
    }),
    fcParams(200),
  );
});
