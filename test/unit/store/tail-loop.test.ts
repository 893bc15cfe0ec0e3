// The Redis tailers' shared loop (src/store/redis/tail-loop.ts): stopping it ends it, also when the
// first close of its connections leaves its read in flight (ioredis on a Redis Cluster queues a
// command redirected while the cluster disconnects, and it then waits for good: a reshard test
// once hung in the store's close).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TailLoop, type TailerHooks, type TailTarget } from '../../../src/store/redis/tail-loop.ts';

const hooks: TailerHooks = {
  beforeRead: () => Promise.resolve(),
  targets: () => [{ key: 'room-log', position: 0 }],
  deliver: () => Promise.resolve(),
  synced: () => undefined,
  failed: () => undefined,
};

/** A loop whose one read ends only at the `endsAt`-th disconnect. */
class StubbornLoop extends TailLoop {
  disconnects = 0;
  rounds = 0;
  private readonly endsAt: number;
  private fail: ((err: Error) => void) | null = null;

  constructor(endsAt: number) {
    super(hooks, 1_000);
    this.endsAt = endsAt;
  }

  protected round(_targets: readonly TailTarget[]): Promise<void> {
    this.rounds++;
    return new Promise((_, reject) => (this.fail = reject));
  }

  protected interrupt(): void {}

  protected disconnect(): void {
    this.disconnects++;
    if (this.disconnects >= this.endsAt) this.fail?.(new Error('Connection is closed.'));
  }
}

async function started(loop: StubbornLoop): Promise<void> {
  loop.start();
  while (loop.rounds === 0) await new Promise((r) => setImmediate(r));
}

void test('stop ends the loop once closing its connections ends the read in flight', async () => {
  const loop = new StubbornLoop(1);
  await started(loop);
  await loop.stop();
  assert.equal(loop.disconnects, 1);
  assert.equal(loop.rounds, 1, 'no read after stop');
});

// (A timeout: without the retry, stop never returns.)
void test(
  'stop closes the connections again while a read outlives the first close, until the loop ends',
  { timeout: 20_000 },
  async () => {
    const loop = new StubbornLoop(3);
    await started(loop);
    await loop.stop();
    assert.equal(loop.disconnects, 3);
    assert.equal(loop.rounds, 1, 'no read after stop');
  },
);
