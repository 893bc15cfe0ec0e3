// The shared heartbeat of live streams (src/api/heartbeat.ts): one timer for all streams, each
// stream pinged once per interval while it is in and never after, the pings spread over the
// interval, a throwing ping harmless to the others, and no timer while no stream is in. Time is
// the test runner's mock clock: nothing here waits. A stream sent changes skips its pings (idlePing).

import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Heartbeat, idlePing } from '../../../src/api/heartbeat.ts';

function counting(n: number): { pings: (() => void)[]; counts: number[] } {
  const counts = Array.from({ length: n }, () => 0);
  return { counts, pings: counts.map((_, i) => () => void counts[i]!++) };
}

void test('every stream is pinged once per interval, whatever the number of streams', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const beat = new Heartbeat(1600, 16);
  const { pings, counts } = counting(40);
  for (const ping of pings) beat.add(ping);
  assert.equal(beat.size, 40);
  t.mock.timers.tick(1600);
  assert.deepEqual(
    counts,
    Array.from({ length: 40 }, () => 1),
    'one ping each in the first interval',
  );
  t.mock.timers.tick(1600 * 3);
  assert.deepEqual(
    counts,
    Array.from({ length: 40 }, () => 4),
    'one ping each per interval',
  );
});

void test('the pings of streams that joined at once are spread over the interval', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const beat = new Heartbeat(1600, 16);
  const { pings, counts } = counting(32);
  for (const ping of pings) beat.add(ping);
  const total = () => counts.reduce((a, b) => a + b, 0);
  // Each tenth of a slot apart, the 32 streams are pinged two at a time, never all at once.
  for (let slot = 1; slot <= 16; slot++) {
    t.mock.timers.tick(100);
    assert.equal(total(), slot * 2, `after slot ${slot}`);
  }
});

void test('a deleted stream is not pinged again; the timer stops with the last stream', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const beat = new Heartbeat(1000, 4);
  const { pings, counts } = counting(3);
  assert.equal(beat.running, false, 'no timer before any stream');
  for (const ping of pings) beat.add(ping);
  beat.add(pings[0]!); // adding twice is adding once
  assert.equal(beat.size, 3);
  assert.equal(beat.running, true);
  t.mock.timers.tick(1000);
  beat.delete(pings[1]!);
  t.mock.timers.tick(2000);
  assert.deepEqual(counts, [3, 1, 3]);
  beat.delete(pings[0]!);
  beat.delete(pings[2]!);
  beat.delete(pings[2]!); // deleting twice is harmless
  assert.equal(beat.size, 0);
  assert.equal(beat.running, false, 'no timer once every stream has gone');
  t.mock.timers.tick(5000);
  assert.deepEqual(counts, [3, 1, 3]);
});

void test('a ping that throws, or ends its own stream, does not keep the others from theirs', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const beat = new Heartbeat(1000, 1);
  const { pings, counts } = counting(2);
  const broken = mock.fn(() => {
    throw new Error('socket gone');
  });
  const leaving = mock.fn((): void => beat.delete(leaving));
  beat.add(broken);
  beat.add(leaving);
  for (const ping of pings) beat.add(ping);
  t.mock.timers.tick(2000);
  assert.deepEqual(counts, [2, 2]);
  assert.equal(broken.mock.callCount(), 2);
  assert.equal(leaving.mock.callCount(), 1, 'a stream that ended in its ping is not pinged again');
});

void test('a stream sent changes gets no ping; once idle, one within two intervals, then every interval', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const beat = new Heartbeat(1000, 1);
  let sent = 0;
  const stream = idlePing(() => void sent++);
  beat.add(stream.ping);
  // A change every half interval for 10 intervals: never a ping.
  for (let i = 0; i < 20; i++) {
    stream.busy();
    t.mock.timers.tick(500);
  }
  assert.equal(sent, 0, 'no ping while changes flow');
  // The last change was half an interval before the last tick, which skipped its ping: the next tick pings.
  t.mock.timers.tick(1000);
  assert.equal(sent, 1, 'a ping within two intervals of the last change');
  t.mock.timers.tick(3000);
  assert.equal(sent, 4, 'then one ping per interval while idle');
});
