// Token buckets: a burst, then the steady rate, a wait that says when, keys apart, and a bounded table.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChorusError } from '../../../src/domain/index.ts';
import { RateLimiter } from '../../../src/node/rate-limit.ts';

const refused = (f: () => void): number => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ChorusError && err.code === 'RESOURCE_EXHAUSTED');
    return (err.details as { retryAfterMs: number }).retryAfterMs;
  }
  return -1;
};

void test('a burst, then one request per 1/rate seconds; the refusal says how long to wait', () => {
  let now = 1_000_000;
  const limiter = new RateLimiter('writes', { rate: 10, burst: 3 }, () => now);
  for (let i = 0; i < 3; i++) limiter.take('ann');
  assert.equal(
    refused(() => limiter.take('ann')),
    100,
  );
  now += 50;
  assert.equal(
    refused(() => limiter.take('ann')),
    50,
    'half a token back after 50 ms',
  );
  now += 50;
  limiter.take('ann');
  assert.ok(refused(() => limiter.take('ann')) > 0);
  limiter.take('bob'); // another key has its own bucket
  now += 10_000;
  for (let i = 0; i < 3; i++) limiter.take('ann');
  assert.ok(refused(() => limiter.take('ann')) > 0, 'never more than the burst, however long the wait');
});

void test('the table stays bounded: full buckets and then the quietest keys are forgotten', () => {
  let now = 0;
  const limiter = new RateLimiter('joins', { rate: 1, burst: 1 }, () => now, 10);
  for (let i = 0; i < 50; i++) {
    now += 1;
    limiter.take(`k${i}`);
  }
  const size = (limiter as unknown as { buckets: Map<string, unknown> }).buckets.size;
  assert.ok(size <= 10, `at most maxKeys buckets, got ${size}`);
  assert.ok(refused(() => limiter.take('k49')) > 0, 'the busiest key is still counted');
});
