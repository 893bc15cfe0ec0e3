// The read model: viewRoom (positions, ETAs, myVote), historyPage (newest first, `before` cursor)
// and playingEndsAt.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { historyPage, playingEndsAt, viewQueueItem, viewRoom } from '../../../src/domain/index.ts';
import { HOST, Room, T0 } from './helpers.ts';

/** a (60 s) playing since T0; queued: b (30 s), c (45 s), d (20 s). */
function room(): Room {
  const r = Room.create({}, ['m1', 'm2']);
  r.add('m1', 'a', 60_000);
  r.add('m1', 'b', 30_000);
  r.add('m2', 'c', 45_000);
  r.add('m2', 'd', 20_000);
  return r;
}

void describe('viewRoom', () => {
  void test('each entry’s ETA is what is left of the current track plus the durations ahead of it', () => {
    const r = room();
    const view = viewRoom(r.s, { now: T0 + 15_000 });
    assert.deepEqual(
      view.queue.map((q) => [q.position, q.entryId, q.etaMs]),
      [
        [1, 'e-b', 45_000],
        [2, 'e-c', 75_000],
        [3, 'e-d', 120_000],
      ],
    );
    assert.deepEqual(
      [view.nowPlaying?.entryId, view.nowPlaying?.positionMs, view.nowPlaying?.remainingMs],
      ['e-a', 15_000, 45_000],
    );
  });

  void test('ETAs follow the order after votes', () => {
    const r = room();
    r.vote('m1', 'e-d', 1);
    const view = viewRoom(r.s, { now: T0 });
    assert.deepEqual(
      view.queue.map((q) => [q.entryId, q.etaMs, q.score]),
      [
        ['e-d', 60_000, 1],
        ['e-b', 80_000, 0],
        ['e-c', 110_000, 0],
      ],
    );
  });

  void test('progress is clamped to the track: before it starts, and after its scheduled end', () => {
    const r = room();
    let view = viewRoom(r.s, { now: T0 - 5_000 });
    assert.deepEqual([view.nowPlaying?.positionMs, view.nowPlaying?.remainingMs], [0, 60_000]);
    view = viewRoom(r.s, { now: T0 + 90_000 });
    assert.deepEqual([view.nowPlaying?.positionMs, view.nowPlaying?.remainingMs], [60_000, 0]);
    assert.equal(view.queue[0]!.etaMs, 0);
  });

  void test('with nothing playing, the head of the queue is due now', () => {
    const r = Room.create({ autoplay: false }, ['m1']);
    r.add('m1', 'a', 10_000);
    r.add('m1', 'b', 10_000);
    const view = viewRoom(r.s, { now: T0 });
    assert.equal(view.nowPlaying, null);
    assert.deepEqual(
      view.queue.map((q) => q.etaMs),
      [0, 10_000],
    );
  });

  void test('a window of the queue keeps true positions and ETAs', () => {
    const r = room();
    const view = viewRoom(r.s, { now: T0, offset: 1, limit: 1 });
    assert.equal(view.queueOffset, 1);
    assert.equal(view.queueLength, 3);
    assert.deepEqual(
      view.queue.map((q) => [q.position, q.entryId, q.etaMs]),
      [[2, 'e-c', 90_000]],
    );
    assert.deepEqual(viewRoom(r.s, { now: T0, offset: 5 }).queue, []);
    assert.deepEqual(viewRoom(r.s, { now: T0, limit: 0 }).queue, []);
  });

  void test('viewQueueItem is the one entry viewRoom shows at that index, whatever plays', () => {
    const rooms: [string, Room][] = [['playing', room()]];
    const voted = room();
    voted.vote('m1', 'e-d', 1);
    voted.vote('m2', 'e-b', -1);
    rooms.push(['voted', voted]);
    const idle = Room.create({ autoplay: false }, ['m1']);
    idle.add('m1', 'a', 10_000);
    idle.add('m1', 'b', 10_000);
    rooms.push(['idle', idle]);
    // A track of unknown length ahead: every ETA behind it is unknown.
    const unknown = Room.create({}, ['m1']);
    unknown.add('m1', 'a', 60_000);
    unknown.add('m1', 'b', 0);
    unknown.add('m1', 'c', 30_000);
    rooms.push(['unknown', unknown]);
    for (const [name, r] of rooms) {
      for (const viewer of [null, 'm1', 'm2']) {
        for (const now of [T0, T0 + 15_000, T0 + 90_000]) {
          for (let index = -1; index <= r.s.queue.length; index++) {
            const expected =
              index < 0 ? null : (viewRoom(r.s, { now, viewer, offset: index, limit: 1 }).queue[0] ?? null);
            assert.deepEqual(viewQueueItem(r.s, index, { now, viewer }), expected, `${name} ${index}`);
          }
        }
      }
    }
    assert.equal(viewQueueItem(voted.s, 0, { now: T0, viewer: 'm1' })?.entryId, 'e-d');
    assert.equal(viewQueueItem(unknown.s, 1, { now: T0 })?.etaMs, null);
  });

  void test('myVote and me are the viewer’s; anonymous viewers see 0 and null', () => {
    const r = room();
    r.vote('m1', 'e-c', -1);
    r.vote('m1', 'e-a', 1);
    r.vote('m2', 'e-b', 1);
    const m1 = viewRoom(r.s, { now: T0, viewer: 'm1' });
    assert.deepEqual(
      m1.queue.map((q) => [q.entryId, q.myVote]),
      [
        ['e-b', 0],
        ['e-d', 0],
        ['e-c', -1],
      ],
    );
    assert.equal(m1.nowPlaying?.myVote, 1);
    assert.equal(m1.me?.memberId, 'm1');
    const nobody = viewRoom(r.s, { now: T0 });
    assert.ok(nobody.queue.every((q) => q.myVote === 0));
    assert.equal(nobody.nowPlaying?.myVote, 0);
    assert.equal(nobody.me, null);
    // An id naming an Object.prototype property is just an unknown viewer.
    const odd = viewRoom(r.s, { now: T0, viewer: 'constructor' });
    assert.equal(odd.me, null);
    assert.ok(odd.queue.every((q) => q.myVote === 0));
  });

  void test('shows who added each entry by name, and the room summary', () => {
    const r = room();
    const view = viewRoom(r.s, { now: T0 });
    assert.deepEqual(view.queue[0]!.addedBy, { memberId: 'm1', name: 'Name of m1' });
    assert.deepEqual(view.nowPlaying?.addedBy, { memberId: 'm1', name: 'Name of m1' });
    assert.deepEqual(
      [view.id, view.hostId, view.memberCount, view.version, view.playCount, view.locked],
      ['room-1', HOST, 3, r.s.version, 0, false],
    );
  });
});

void describe('historyPage', () => {
  function played(n: number): Room {
    const r = Room.create({}, ['m1']);
    for (let i = 1; i <= n; i++) {
      r.add('m1', `t${i}`, 1000);
      r.tick(1000);
      r.change(null, { type: 'advance', expectedEntryId: `e-t${i}`, reason: 'finished' });
    }
    return r;
  }

  void test('pages newest first, following the `before` cursor to the oldest', () => {
    const r = played(5);
    const pages: number[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = historyPage(r.s, before === undefined ? { limit: 2 } : { limit: 2, before });
      pages.push(page.records.map((rec) => rec.playNo));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    assert.deepEqual(pages, [[5, 4], [3, 2], [1]]);
  });

  void test('no further page when the last page is exactly full', () => {
    const r = played(4);
    const first = historyPage(r.s, { limit: 2 });
    assert.equal(first.nextBefore, 3);
    const second = historyPage(r.s, { limit: 2, before: 3 });
    assert.deepEqual(
      second.records.map((rec) => rec.playNo),
      [2, 1],
    );
    assert.equal(second.nextBefore, null);
    assert.equal(historyPage(r.s, { limit: 4 }).nextBefore, null);
  });

  void test('records carry the name of who added them', () => {
    const r = played(1);
    const [rec] = historyPage(r.s, { limit: 10 }).records;
    assert.deepEqual(rec?.addedBy, { memberId: 'm1', name: 'Name of m1' });
    assert.equal(rec?.entryId, 'e-t1');
  });

  void test('an empty history is one empty page', () => {
    assert.deepEqual(historyPage(Room.create().s, { limit: 10 }), { records: [], nextBefore: null });
  });

  void test('a cursor older than everything gives an empty page', () => {
    assert.deepEqual(historyPage(played(3).s, { limit: 10, before: 1 }), { records: [], nextBefore: null });
  });

  void test('the cursor still works after old records were dropped by retention', () => {
    const r = played(5);
    r.change(HOST, { type: 'updateSettings', patch: { historyRetention: 3 } });
    const page = historyPage(r.s, { limit: 2, before: 5 });
    assert.deepEqual(
      page.records.map((rec) => rec.playNo),
      [4, 3],
    );
    assert.equal(page.nextBefore, null);
  });
});

void describe('playingEndsAt', () => {
  void test('is the start plus the duration, or null when idle', () => {
    const r = room();
    assert.equal(playingEndsAt(r.s), T0 + 60_000);
    assert.equal(playingEndsAt(Room.create().s), null);
  });
});
