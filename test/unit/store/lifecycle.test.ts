// The phase machine every store starts and closes through: start and close are idempotent, a
// failed start may be tried again, a close during a start waits for it and wins, and every
// refusal of a store that is not open is the same UNAVAILABLE.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChorusError } from '../../../src/domain/index.ts';
import { Lifecycle } from '../../../src/store/lifecycle.ts';

function unavailable(message: string): (err: unknown) => boolean {
  return (err) => err instanceof ChorusError && err.code === 'UNAVAILABLE' && err.message === message;
}

void describe('Lifecycle', () => {
  void test('start runs once while starting or open; close runs once; closed refuses alike', async () => {
    const life = new Lifecycle('test store', { where: 'here' });
    assert.throws(() => life.assertOpen(), unavailable('the test store is not started'));
    let starts = 0;
    const startUp = async (): Promise<void> => {
      starts++;
    };
    const first = life.start(startUp);
    assert.equal(life.start(startUp), first, 'the same promise while starting');
    await first;
    assert.equal(life.phase, 'open');
    await life.start(startUp);
    assert.equal(starts, 1);
    life.assertOpen();

    let shutdowns = 0;
    const shutdown = async (wasOpen: boolean): Promise<void> => {
      assert.equal(wasOpen, true);
      assert.equal(life.phase, 'closing');
      assert.throws(() => life.assertOpen(), unavailable('the test store is closed'));
      shutdowns++;
    };
    await Promise.all([life.close(shutdown), life.close(shutdown)]);
    await life.close(shutdown);
    assert.equal(shutdowns, 1);
    assert.equal(life.phase, 'closed');
    assert.deepEqual(life.unavailable().details, { where: 'here' });
    await assert.rejects(life.start(startUp), unavailable('the test store is closed'));
    assert.equal(life.notOpenDetail(), 'test store is closed');
  });

  void test('a failed start goes back to new and may be tried again', async () => {
    const life = new Lifecycle('test store');
    await assert.rejects(
      life.start(() => Promise.reject(new Error('no server'))),
      /no server/,
    );
    assert.equal(life.phase, 'new');
    await life.start(() => Promise.resolve());
    assert.equal(life.phase, 'open');
  });

  void test('a close during a start waits for it, fails the start, and shuts down what it began', async () => {
    const life = new Lifecycle('test store');
    let finishStart: () => void = () => undefined;
    const started = life.start(() => new Promise<void>((resolve) => (finishStart = resolve)));
    const seen: boolean[] = [];
    const closed = life.close(async (wasOpen) => void seen.push(wasOpen));
    assert.equal(life.closeRequested, true);
    finishStart();
    await assert.rejects(started, unavailable('the test store is not started'));
    await closed;
    assert.deepEqual(seen, [false], 'shutdown ran once, for a store that never opened');
    assert.equal(life.phase, 'closed');
  });

  void test('closing a store never started runs no shutdown', async () => {
    const life = new Lifecycle('test store');
    await life.close(() => assert.fail('no shutdown for a store never started'));
    assert.equal(life.phase, 'closed');
  });
});
