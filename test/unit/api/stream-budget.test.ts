// The node-wide budget of live streams: each stream's own cap, the shared byte budget (which blames
// only streams that hold a real backlog), the cap on open streams, and release on close.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChorusError } from '../../../src/domain/index.ts';
import { StreamBudget } from '../../../src/api/stream-budget.ts';
import { changeJson } from '../../../src/api/event-json.ts';

void test('a stream over its own cap is to be cut; under it, kept', () => {
  const budget = new StreamBudget({ perStreamBytes: 1000, totalBytes: 1_000_000 });
  const a = budget.account();
  assert.equal(a.update(1000), true);
  assert.equal(a.update(1001), false);
  assert.equal(budget.waitingBytes, 1001);
  a.close();
  assert.equal(budget.waitingBytes, 0);
  assert.equal(budget.open, 0);
});

void test('over the node-wide budget, the streams with a backlog are cut and the innocent kept', () => {
  const budget = new StreamBudget({ perStreamBytes: 10_000_000, totalBytes: 200_000 });
  const slow = budget.account();
  const healthy = budget.account();
  assert.equal(slow.update(150_000), true, 'under the budget');
  assert.equal(healthy.update(1000), true);
  assert.equal(slow.update(250_000), false, 'the slow one pushes the total over: cut');
  assert.equal(healthy.update(2000), true, 'a small backlog is never blamed');
  slow.close();
  assert.equal(budget.waitingBytes, 2000);
  assert.equal(healthy.update(0), true);
  healthy.close();
  healthy.close();
  assert.equal(budget.waitingBytes, 0, 'close is idempotent');
  assert.equal(budget.open, 0);
});

void test('beyond maxStreams an account is refused RESOURCE_EXHAUSTED; a closed one makes room', () => {
  const budget = new StreamBudget({ maxStreams: 2 });
  const a = budget.account();
  budget.account();
  assert.throws(
    () => budget.account(),
    (err: unknown) => err instanceof ChorusError && err.code === 'RESOURCE_EXHAUSTED',
  );
  a.close();
  assert.doesNotThrow(() => budget.account());
});

void test('a change message built from cached events is exactly what JSON.stringify writes', () => {
  const events = [
    { type: 'lockChanged', locked: true, roomId: 'r', version: 7, at: 5 },
    { type: 'settingsChanged', settings: { a: 'é"\n' }, roomId: 'r', version: 7, at: 5 },
  ] as never[];
  assert.equal(changeJson(7, events), JSON.stringify({ version: 7, events }));
  assert.equal(changeJson(7, events), JSON.stringify({ version: 7, events }), 'twice, from the cache');
});
