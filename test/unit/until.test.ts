// The tests' one poll (test/helpers/until.ts): it returns the check's first value that is not
// undefined or false, retries a check that throws, fails at the deadline naming what it waited for
// and the last error, and ends at once on GiveUp.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GiveUp, until } from '../helpers/until.ts';

void test('until returns the first value that is not undefined or false, retrying throws', async () => {
  let calls = 0;
  const value = await until(
    'the third call',
    () => {
      calls++;
      if (calls === 1) throw new Error('not listening yet');
      return calls === 2 ? false : calls === 3 ? undefined : { calls };
    },
    { intervalMs: 1 },
  );
  assert.deepEqual(value, { calls: 4 });
  assert.equal(await until('a zero', () => 0), 0, 'zero and the empty string are values');
});

void test('until fails at the deadline with what it waited for and the last error', async () => {
  await assert.rejects(
    until(
      'the moon',
      () => {
        throw new Error('still night');
      },
      { timeoutMs: 30, intervalMs: 5 },
    ),
    { message: 'timed out after 30 ms waiting for the moon: still night' },
  );
});

void test('a check that throws GiveUp ends the wait at once', async () => {
  let calls = 0;
  await assert.rejects(
    until(
      'a process that exited',
      () => {
        calls++;
        throw new GiveUp('it exited');
      },
      { timeoutMs: 2_000 },
    ),
    (err: unknown) => err instanceof GiveUp && err.message === 'it exited',
  );
  assert.equal(calls, 1);
});
