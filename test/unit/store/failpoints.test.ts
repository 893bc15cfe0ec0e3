// The failpoint parser: unset is no failpoint at all, and a name or action it does not know refuses
// to start (a typo in a crash test must not silently crash nothing).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Failpoints } from '../../../src/store/failpoints.ts';

void test('unset or empty CHORUS_FAILPOINTS arms nothing', () => {
  for (const spec of [undefined, '', '  ']) {
    const fp = Failpoints.parse(spec);
    assert.equal(fp.isArmed('twopc-after-prepared'), false);
    assert.equal(fp.isArmed('twopc-after-commit-record'), false);
    fp.hit('twopc-after-prepared'); // a no-op: this process is still here
  }
  assert.equal(Failpoints.fromEnv({}).isArmed('twopc-after-prepared'), false);
});

void test('named failpoints are armed, and only those', () => {
  const fp = Failpoints.parse('twopc-after-commit-record=kill');
  assert.equal(fp.isArmed('twopc-after-commit-record'), true);
  assert.equal(fp.isArmed('twopc-after-prepared'), false);
  const both = Failpoints.fromEnv({
    CHORUS_FAILPOINTS: 'twopc-after-prepared=kill, twopc-after-commit-record=kill',
  });
  assert.equal(both.isArmed('twopc-after-prepared'), true);
  assert.equal(both.isArmed('twopc-after-commit-record'), true);
});

void test('an unknown failpoint or action is refused', () => {
  assert.throws(
    () => Failpoints.parse('twopc-after-prepare=kill'),
    /no failpoint named "twopc-after-prepare"/,
  );
  assert.throws(() => Failpoints.parse('twopc-after-prepared=panic'), /the only action is kill/);
  assert.throws(() => Failpoints.parse('twopc-after-prepared'), /the only action is kill/);
});
