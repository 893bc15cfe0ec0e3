// The playback timeline: conditional advance, autoplay, history and its retention, replay protection.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  wireNowPlaying,
  ENDED_EARLY_TOLERANCE_MS,
  playingEndsAt,
  viewRoom,
  type Command,
} from '../../../src/domain/index.ts';
import { HOST, MINUTE, Room, T0, track } from './helpers.ts';

type Advance = Extract<Command, { type: 'advance' }>;
const finished = (expectedEntryId: string | null): Advance => ({
  type: 'advance',
  expectedEntryId,
  reason: 'finished',
});
const skipped = (expectedEntryId: string | null): Advance => ({
  type: 'advance',
  expectedEntryId,
  reason: 'skipped',
});

/** Autoplay room: a (60 s) is playing since T0, b (30 s) and c (45 s) wait. */
function playing(settings = {}): Room {
  const room = Room.create(settings, ['m1', 'm2']);
  room.add('m1', 'a', 60_000);
  room.add('m2', 'b', 30_000);
  room.add('m1', 'c', 45_000);
  return room;
}

void describe('advance: finished', () => {
  void test('is refused while the track still has time left', () => {
    const room = playing();
    room.tick(59_999);
    const err = room.refused(null, finished('e-a'), 'FAILED_PRECONDITION');
    assert.deepEqual(err.details, { remainingMs: 1 });
    assert.match(err.message, /still playing \(1 ms left\)/);
  });

  void test('once the time is up, anyone (the playback clock too) ends the track and starts the next', () => {
    const room = playing();
    room.tick(60_000);
    const value = room.change(null, finished('e-a'));
    const record = {
      playNo: 1,
      entryId: 'e-a',
      track: track('a', 60_000),
      addedBy: 'm1',
      startedAt: T0,
      endedAt: T0 + 60_000,
      reason: 'finished' as const,
      ups: 0,
      downs: 0,
    };
    assert.deepEqual(value, {
      type: 'advance',
      advanced: true,
      ended: record,
      nowPlaying: wireNowPlaying(room.s.nowPlaying!),
    });
    assert.deepEqual(room.s.history, [record]);
    assert.equal(room.playingId(), 'e-b');
    assert.equal(room.s.nowPlaying!.startedAt, T0 + 60_000);
    assert.deepEqual(room.queueIds(), ['e-c']);
    assert.deepEqual(room.eventTypes(), ['trackEnded', 'trackStarted']);
    assert.equal(room.s.playCount, 1);
  });

  void test('a late clock still records the scheduled end; the next track starts when the clock noticed', () => {
    const room = playing();
    room.tick(95_000);
    room.change('m2', finished('e-a'));
    assert.equal(room.s.history[0]!.endedAt, T0 + 60_000);
    assert.equal(room.s.nowPlaying!.startedAt, T0 + 95_000);
  });

  void test('takes effect once: the same advance proposed again (by another node) is a no-op', () => {
    const room = playing();
    room.tick(60_000);
    room.change(null, finished('e-a'));
    const value = room.noop(null, finished('e-a'));
    assert.deepEqual(value, {
      type: 'advance',
      advanced: false,
      ended: null,
      nowPlaying: wireNowPlaying(room.s.nowPlaying!),
    });
    assert.equal(room.s.history.length, 1);
  });

  void test('a mismatched expectation is a no-op, even before the time is up', () => {
    const room = playing();
    room.noop(null, finished('e-b'));
    room.noop(null, finished(null));
    room.noop(HOST, skipped('e-c'));
    assert.equal(room.playingId(), 'e-a');
  });

  void test('the last track ends into an idle room', () => {
    const room = Room.create({}, ['m1']);
    room.add('m1', 'a', 1000);
    room.tick(1000);
    const value = room.change(null, finished('e-a'));
    assert.equal(value.nowPlaying, null);
    assert.equal(room.s.nowPlaying, null);
    assert.deepEqual(room.eventTypes(), ['trackEnded']);
    room.noop(null, finished(null));
  });
});

void describe('advance: skipped', () => {
  void test('the host cuts the track short; it ends now', () => {
    const room = playing();
    room.tick(20_000);
    const value = room.change(HOST, skipped('e-a'));
    assert.equal(value.ended?.reason, 'skipped');
    assert.equal(value.ended?.endedAt, T0 + 20_000);
    assert.equal(room.playingId(), 'e-b');
  });

  void test('a skip noticed after the scheduled end records the scheduled end', () => {
    const room = playing();
    room.tick(70_000);
    assert.equal(room.change(HOST, skipped('e-a')).ended?.endedAt, T0 + 60_000);
  });

  void test('only the host may skip', () => {
    const room = playing();
    room.refused('m1', skipped('e-a'), 'PERMISSION_DENIED');
    room.refused(null, skipped('e-a'), 'UNAUTHENTICATED');
  });

  void test('starts the next track even with autoplay off ("play next")', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'a');
    room.add('m1', 'b');
    const started = room.change(HOST, skipped(null));
    assert.deepEqual(
      [started.advanced, started.ended, started.nowPlaying?.entry.entryId],
      [true, null, 'e-a'],
    );
    room.change(HOST, skipped('e-a'));
    assert.equal(room.playingId(), 'e-b');
  });
});

void describe('advance: bad input', () => {
  void test('refuses an unknown reason', () => {
    const err = playing().refused(
      HOST,
      { type: 'advance', expectedEntryId: 'e-a', reason: 'bored' },
      'INVALID_ARGUMENT',
    );
    assert.match(err.message, /advance reason must be 'finished', 'skipped' or 'ended'/);
  });

  void test('refuses a malformed expected entry id (null means "nothing playing")', () => {
    const room = playing();
    for (const expectedEntryId of ['', 'a b', undefined, 3]) {
      const err = room.refused(
        HOST,
        { type: 'advance', expectedEntryId, reason: 'skipped' },
        'INVALID_ARGUMENT',
      );
      assert.match(err.message, /expectedEntryId must be/);
    }
  });
});

void describe('autoplay', () => {
  void test('off: tracks wait; the clock may not start them; a finished track starts nothing', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'a', 1000);
    room.add('m1', 'b', 1000);
    assert.equal(room.s.nowPlaying, null);
    const err = room.refused(null, finished(null), 'FAILED_PRECONDITION');
    assert.match(err.message, /autoplay is off/);
    room.change(HOST, skipped(null));
    room.tick(1000);
    room.change(null, finished('e-a'));
    assert.equal(room.s.nowPlaying, null);
    assert.deepEqual(room.queueIds(), ['e-b']);
  });

  void test('turned on in an idle room with waiting tracks, starts the head of the queue', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'a');
    room.add('m1', 'b');
    room.vote('m1', 'e-b', 1);
    room.tick(5);
    room.change(HOST, { type: 'updateSettings', patch: { autoplay: true } });
    assert.deepEqual(room.eventTypes(), ['settingsChanged', 'trackStarted']);
    assert.equal(room.playingId(), 'e-b');
    assert.equal(room.s.nowPlaying!.startedAt, T0 + 5);
  });

  void test('on, with nothing queued, advance on an idle room is a no-op', () => {
    const room = Room.create();
    room.noop(null, finished(null));
    room.noop(HOST, skipped(null));
  });

  void test('the highest-scored entry plays next, not the oldest', () => {
    const room = playing();
    room.vote('m1', 'e-c', 1);
    room.tick(60_000);
    room.change(null, finished('e-a'));
    assert.equal(room.playingId(), 'e-c');
  });
});

void describe('history', () => {
  function playAll(room: Room, n: number): void {
    for (let i = 0; i < n; i++) {
      room.add('m1', `t${i}`, 1000);
      room.tick(1000);
      room.change(null, finished(`e-t${i}`));
    }
  }

  void test('one record per play, oldest first, numbered from 1', () => {
    const room = Room.create({}, ['m1']);
    playAll(room, 3);
    assert.deepEqual(
      room.s.history.map((r) => [r.playNo, r.entryId, r.reason]),
      [
        [1, 'e-t0', 'finished'],
        [2, 'e-t1', 'finished'],
        [3, 'e-t2', 'finished'],
      ],
    );
  });

  void test('keeps at most historyRetention records, dropping the oldest', () => {
    const room = Room.create({ historyRetention: 2 }, ['m1']);
    playAll(room, 4);
    assert.deepEqual(
      room.s.history.map((r) => r.playNo),
      [3, 4],
    );
    assert.equal(room.s.playCount, 4);
  });

  void test('lowering historyRetention trims the history at once', () => {
    const room = Room.create({}, ['m1']);
    playAll(room, 4);
    room.change(HOST, { type: 'updateSettings', patch: { historyRetention: 1 } });
    assert.deepEqual(
      room.s.history.map((r) => r.playNo),
      [4],
    );
  });

  void test('records the final votes', () => {
    const room = Room.create({}, ['m1', 'm2']);
    room.add('m1', 'a', 1000);
    room.vote('m1', 'e-a', 1);
    room.vote('m2', 'e-a', -1);
    room.tick(1000);
    const ended = room.change(null, finished('e-a')).ended!;
    assert.deepEqual([ended.ups, ended.downs, ended.addedBy], [1, 1, 'm1']);
  });
});

void describe('replay protection', () => {
  void test('off by default: a track may be queued again right after it played', () => {
    const room = Room.create({}, ['m1']);
    room.add('m1', 'a', 1000);
    room.tick(1000);
    room.change(null, finished('e-a'));
    room.add('m1', 'a', 1000, 'again');
  });

  void test('refuses a track that ended less than replayProtectionMinutes ago', () => {
    const room = Room.create({ replayProtectionMinutes: 10 }, ['m1']);
    room.add('m1', 'a', 1000);
    room.tick(1000);
    room.change(null, finished('e-a'));
    const endedAt = T0 + 1000;

    room.now = endedAt + 10 * MINUTE - 1;
    const err = room.refused(
      'm1',
      { type: 'addTrack', entryId: 'again', track: track('a', 1000) },
      'FAILED_PRECONDITION',
    );
    assert.deepEqual(err.details, { replayProtectionMinutes: 10, lastEndedAt: endedAt });
    assert.match(err.message, /"Title a" was played less than 10 minutes ago/);
    // The host is not exempt.
    room.refused(
      HOST,
      { type: 'addTrack', entryId: 'again', track: track('a', 1000) },
      'FAILED_PRECONDITION',
    );

    room.now = endedAt + 10 * MINUTE;
    room.add('m1', 'a', 1000, 'again');
  });

  void test('counts skipped and voted-off plays too', () => {
    const room = Room.create({ replayProtectionMinutes: 5, skipVotes: 1 }, ['m1']);
    room.add('m1', 'a');
    room.add('m1', 'b');
    room.change(HOST, skipped('e-a'));
    room.vote('m1', 'e-b', -1);
    for (const t of ['a', 'b']) {
      room.refused('m1', { type: 'addTrack', entryId: `x-${t}`, track: track(t) }, 'FAILED_PRECONDITION');
    }
  });
});

const ended = (expectedEntryId: string): Advance => ({ type: 'advance', expectedEntryId, reason: 'ended' });

void describe('pause and resume', () => {
  void test('the host pauses: the timeline freezes, the view says so, the clock cannot end it', () => {
    const room = playing();
    room.tick(20_000);
    const value = room.change(HOST, { type: 'pause' });
    assert.deepEqual(value.nowPlaying, wireNowPlaying({ ...room.s.nowPlaying!, pausedAt: T0 + 20_000 }));
    assert.deepEqual(
      room.last.events.map((e) => e.type),
      ['playbackPaused'],
    );
    room.tick(5 * MINUTE);
    const view = viewRoom(room.s, { now: room.now });
    assert.equal(view.nowPlaying?.paused, true);
    assert.deepEqual([view.nowPlaying?.positionMs, view.nowPlaying?.remainingMs], [20_000, 40_000]);
    // ETAs count from the frozen position, as if it resumed now.
    assert.deepEqual(
      view.queue.map((q) => q.etaMs),
      [40_000, 70_000],
    );
    assert.equal(playingEndsAt(room.s), null);
    const err = room.refused(null, finished('e-a'), 'FAILED_PRECONDITION');
    assert.match(err.message, /paused/);
    room.refused('m1', ended('e-a'), 'FAILED_PRECONDITION');
    // Pausing again changes nothing.
    room.ok(HOST, { type: 'pause' });
    assert.equal(room.last.events.length, 0);
  });

  void test('resume carries on from the pause: startedAt moves on by the time paused', () => {
    const room = playing();
    room.tick(20_000);
    room.change(HOST, { type: 'pause' });
    room.tick(90_000);
    const value = room.change(HOST, { type: 'resume' });
    assert.deepEqual(value.nowPlaying.startedAt, T0 + 90_000);
    assert.equal(value.nowPlaying.pausedAt, undefined);
    assert.deepEqual(
      room.last.events.map((e) => e.type),
      ['playbackResumed'],
    );
    const view = viewRoom(room.s, { now: room.now });
    assert.deepEqual([view.nowPlaying?.paused, view.nowPlaying?.positionMs], [false, 20_000]);
    assert.equal(playingEndsAt(room.s), T0 + 90_000 + 60_000);
    room.tick(39_999);
    room.refused(null, finished('e-a'), 'FAILED_PRECONDITION');
    room.tick(1);
    const done = room.change(null, finished('e-a'));
    assert.equal(done.ended?.endedAt, T0 + 150_000);
    room.ok(HOST, { type: 'resume' }); // b plays, not paused: nothing to resume
    assert.equal(room.last.events.length, 0);
  });

  void test('only the host pauses or resumes, and only while something plays', () => {
    const room = playing();
    for (const type of ['pause', 'resume'] as const) {
      assert.match(room.refused('m1', { type }, 'PERMISSION_DENIED').message, /only the host/);
    }
    const idle = Room.create({ autoplay: false }, ['m1']);
    for (const type of ['pause', 'resume'] as const) {
      assert.match(idle.refused(HOST, { type }, 'FAILED_PRECONDITION').message, /nothing is playing/);
    }
  });

  void test('a skip while paused ends the play at its pause and starts the next one playing', () => {
    const room = playing();
    room.tick(10_000);
    room.change(HOST, { type: 'pause' });
    room.tick(30_000);
    const value = room.change(HOST, skipped('e-a'));
    assert.equal(value.ended?.endedAt, T0 + 10_000);
    assert.equal(room.s.nowPlaying?.entry.entryId, 'e-b');
    assert.equal(room.s.nowPlaying?.pausedAt, undefined);
    assert.equal(room.s.nowPlaying?.startedAt, T0 + 40_000);
  });
});

void describe('advance: ended (a device played the track to its end)', () => {
  void test('advances once however many devices report it; the later reports change nothing', () => {
    const room = playing();
    room.tick(60_000 - 1200);
    const first = room.change('m1', ended('e-a'));
    assert.equal(first.advanced, true);
    assert.equal(first.ended?.reason, 'finished');
    // It ended when the device said so, and the next track starts then.
    assert.equal(first.ended?.endedAt, T0 + 58_800);
    assert.equal(room.s.nowPlaying?.startedAt, T0 + 58_800);
    room.tick(300);
    for (const device of ['m2', HOST]) {
      const later = room.ok(device, ended('e-a'));
      assert.equal(later.advanced, false);
      assert.equal(room.last.events.length, 0);
    }
    assert.equal(room.s.history.length, 1);
    assert.equal(room.playingId(), 'e-b');
  });

  void test('is refused from a device more than 5 s early, and from non-members', () => {
    const room = playing();
    room.tick(60_000 - ENDED_EARLY_TOLERANCE_MS - 1);
    const err = room.refused('m1', ended('e-a'), 'FAILED_PRECONDITION');
    assert.deepEqual(err.details, { remainingMs: ENDED_EARLY_TOLERANCE_MS + 1 });
    room.refused(null, ended('e-a'), 'UNAUTHENTICATED');
    room.refused('stranger', ended('e-a'), 'PERMISSION_DENIED');
    room.tick(1);
    room.change('m2', ended('e-a'));
  });

  void test('without autoplay it ends the track and starts nothing', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'a', 60_000);
    room.add('m1', 'b', 60_000);
    room.change(HOST, skipped(null));
    room.tick(60_000);
    room.change('m1', ended('e-a'));
    assert.equal(room.s.nowPlaying, null);
  });
});
