// The page's words for times: only the first in line is "next".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eta } from '../src/format.ts';

void test('only the first in line says "next"; the one behind it says when', () => {
  assert.equal(eta(10_000), 'next');
  assert.equal(eta(10_000, true), 'next');
  assert.equal(eta(10_000, false), 'in 1 min', 'a second row never says "next"');
  assert.equal(eta(29_000 + 180_000, false), 'in 3 min');
  assert.equal(eta(null, false), '—');
});
