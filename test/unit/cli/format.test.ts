// The CLI's words and times: plural, spans, ETAs, local relative dates (run in two time zones).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { count, eta, mmss, span, when } from '../../../src/cli/format.ts';
import { WatchLines } from '../../../src/cli/watch-lines.ts';
import type { RoomEvent, RoomView } from '../../../src/domain/index.ts';

void test('count: singular and plural', () => {
  assert.equal(count(0, 'member'), '0 members');
  assert.equal(count(1, 'member'), '1 member');
  assert.equal(count(2, 'member'), '2 members');
  assert.equal(count(1_500, 'entry', 'entries'), '1,500 entries');
});

void test('lengths, spans and ETAs', () => {
  assert.equal(mmss(254_000), '4:14');
  assert.equal(mmss(3_725_000), '1:02:05');
  assert.equal(mmss(null), '—');
  assert.equal(span(45_000), '45 s');
  assert.equal(span(10_175_000), '2 h 50 min');
  assert.equal(span(7_200_000), '2 h');
  assert.equal(eta(0), 'now');
  assert.equal(eta(169 * 60_000 + 35_000), 'in 2 h 50 min', 'never "in 169:35"');
  assert.equal(eta(null), '—');
});

void test('when: local time of day, relative, with the day when it is not today', () => {
  const now = new Date(2026, 11, 3, 21, 30).getTime(); // local time
  assert.equal(when(now - 20_000, now), '21:29 (just now)');
  assert.equal(when(now - 3 * 60_000, now), '21:27 (3 min ago)');
  assert.equal(when(new Date(2026, 11, 2, 22, 0).getTime(), now), 'yesterday 22:00 (23 h 30 min ago)');
  assert.equal(when(new Date(2026, 10, 29, 8, 5).getTime(), now), '2026-11-29 08:05 (4 days ago)');
});

const room = {
  id: 'r',
  name: 'R',
  hostId: 'm_host',
  queue: [
    {
      entryId: 'e1',
      track: { trackId: 't1', title: 'Moonlight', artist: 'A', album: '', durationMs: 200_000 },
      addedBy: { memberId: 'm_bob', name: 'Bob' },
      seq: 1,
      ups: 1,
      downs: 0,
    },
  ],
  nowPlaying: null,
  me: null,
} as unknown as RoomView;

void test('watch lines name members and tracks and give the new place', () => {
  const lines = new WatchLines();
  lines.reset(room);
  const at = new Date(2026, 11, 3, 21, 4, 5).getTime();
  const base = { roomId: 'r', version: 2, at };
  const entry = {
    entryId: 'e2',
    track: { trackId: 't2', title: 'Sunrise', artist: 'B', album: '', durationMs: 180_000 },
    addedBy: 'm_ann',
    addedAt: at,
    seq: 2,
    ups: 0,
    downs: 0,
    score: 0,
  };
  const events = [
    {
      ...base,
      type: 'memberJoined',
      member: { memberId: 'm_ann', name: 'Ann', isHost: false, joinedAt: at },
    },
    { ...base, type: 'entryAdded', entry },
    { ...base, type: 'voteChanged', entryId: 'e2', ups: 1, downs: 0, score: 1 },
    { ...base, type: 'voteChanged', entryId: 'e2', ups: 2, downs: 0, score: 2 },
    { ...base, type: 'voteChanged', entryId: 'e2', ups: 1, downs: 0, score: 1 },
    { ...base, type: 'entryRemoved', entryId: 'e1', reason: 'removed', by: 'm_host' },
  ] as unknown as RoomEvent[];
  assert.deepEqual(
    events.map((e) => lines.line(e)),
    [
      '21:04:05 Ann joined',
      '21:04:05 Ann added Sunrise by B (3:00): #2',
      '21:04:05 votes on Sunrise: +1 (1 up, 0 down), now #2',
      '21:04:05 votes on Sunrise: +2 (2 up, 0 down), now #1',
      '21:04:05 votes on Sunrise: +1 (1 up, 0 down), now #2',
      '21:04:05 the host removed Moonlight',
    ],
  );
});
