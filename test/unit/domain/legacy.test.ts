// Issue 13 in the state machine: tracks of unknown length (durationMs 0), anonymous (legacy) votes
// kept as counts, and replaceQueue (the legacy /sync) as one atomic command.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  apply,
  playingEndsAt,
  restore,
  snapshot,
  viewRoom,
  type RoomState,
} from '../../../src/domain/index.ts';
import { HOST, Room, T0, track } from './helpers.ts';

const envOf = (state: RoomState) => ({
  commandId: `c${state.version}`,
  roomId: state.id,
  actor: HOST,
  at: T0,
});
const skipCommand = (expectedEntryId: string | null) =>
  ({ type: 'advance', expectedEntryId, reason: 'skipped' }) as const;
const finish = (expectedEntryId: string | null) =>
  ({ type: 'advance', expectedEntryId, reason: 'finished' }) as const;

void describe('tracks of unknown length (durationMs 0)', () => {
  void test('are accepted, and maxTrackDurationMs does not refuse them', () => {
    const room = Room.create({ maxTrackDurationMs: 1000, autoplay: false }, ['m1']);
    room.add('m1', 'stream', 0);
    assert.equal(room.s.queue.at(0)!.track.durationMs, 0);
    room.refused(
      'm1',
      { type: 'addTrack', entryId: 'e-long', track: track('long', 1001) },
      'FAILED_PRECONDITION',
    );
  });

  void test('play until skipped: the clock has no end to wait for and "finished" is refused', () => {
    const room = Room.create({}, ['m1']);
    room.add('m1', 'stream', 0); // autoplay: starts at once
    room.add('m1', 'next', 60_000);
    assert.equal(room.playingId(), 'e-stream');
    assert.equal(playingEndsAt(room.s), null, 'the playback clock never proposes to end it');
    room.tick(48 * 3_600_000);
    const err = room.refused(null, finish('e-stream'), 'FAILED_PRECONDITION');
    assert.match(err.message, /unknown length/);
    assert.equal(room.playingId(), 'e-stream');
    room.change(HOST, skipCommand('e-stream'));
    assert.equal(room.playingId(), 'e-next');
    const record = room.s.history[0]!;
    assert.deepEqual([record.reason, record.startedAt, record.endedAt], ['skipped', T0, T0 + 48 * 3_600_000]);
  });

  void test('make the ETA of every entry behind them unknown (null); the ETA ahead stays known', () => {
    const room = Room.create({}, ['m1']);
    room.add('m1', 'a', 60_000); // playing
    room.add('m1', 'b', 30_000);
    room.add('m1', 'stream', 0);
    room.add('m1', 'c', 45_000);
    const view = viewRoom(room.s, { now: T0 + 10_000 });
    assert.deepEqual(
      view.queue.map((q) => [q.entryId, q.etaMs]),
      [
        ['e-b', 50_000],
        ['e-stream', 80_000],
        ['e-c', null],
      ],
    );
    // A window after the unknown one: unknown too (the index path of durationBefore).
    assert.deepEqual(
      viewRoom(room.s, { now: T0, offset: 2, limit: 1 }).queue.map((q) => q.etaMs),
      [null],
    );
    assert.deepEqual(
      viewRoom(room.s, { now: T0, offset: 1, limit: 1 }).queue.map((q) => q.etaMs),
      [90_000],
    );
  });

  void test('playing, it leaves everything queued without an ETA and has no remaining time', () => {
    const room = Room.create({}, ['m1']);
    room.add('m1', 'stream', 0);
    room.add('m1', 'b', 30_000);
    const view = viewRoom(room.s, { now: T0 + 5 * 3_600_000 });
    assert.equal(view.nowPlaying?.positionMs, 5 * 3_600_000, 'the position keeps counting');
    assert.equal(view.nowPlaying?.remainingMs, null);
    assert.deepEqual(
      view.queue.map((q) => q.etaMs),
      [null],
    );
  });

  void test('property: an ETA is null exactly when an unknown-length track plays or is ahead', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600_000 })), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.nat(700_000),
        fc.nat(12),
        fc.nat(12),
        (lengths, elapsed, offset, limit) => {
          const room = Room.create({ maxEntriesPerMember: 0 }, ['m1']);
          lengths.forEach((ms, i) => room.add('m1', `t${i}`, ms));
          const view = viewRoom(room.s, { now: T0 + elapsed, offset, limit });
          const playing = lengths[0]!;
          view.queue.forEach((q) => {
            const ahead = lengths.slice(1, q.position); // queue = lengths[1..]
            const unknown = playing === 0 || ahead.includes(0);
            const left = playing - Math.min(elapsed, playing);
            assert.equal(
              q.etaMs,
              unknown ? null : left + ahead.reduce((a, b) => a + b, 0),
              `position ${q.position}`,
            );
          });
        },
      ),
      { verbose: 1 },
    );
  });
});

void describe('anonymous votes are counts', () => {
  void test('10,000 anonymous votes leave no voter key and count every one', () => {
    const room = Room.create({ voteOffThreshold: 0, skipVotes: 0 }, ['m1']);
    const e = room.add('m1', 'a');
    room.add('m1', 'b');
    room.vote('m1', e, 1);
    for (let i = 0; i < 10_000; i++) {
      room.ok(HOST, { type: 'anonymousVote', entryId: e, value: i % 4 === 0 ? -1 : 1 });
    }
    const entry =
      room.s.nowPlaying?.entry.entryId === e
        ? room.s.nowPlaying.entry
        : room.s.queue.find((x) => x.entryId === e)!;
    assert.deepEqual(entry.votes.toJSON(), { m1: 1 }, 'only the member keeps a key');
    assert.deepEqual(
      [entry.anonymousUps, entry.anonymousDowns, entry.ups, entry.downs],
      [7_500, 2_500, 7_501, 2_500],
    );
  });

  void test('a room written with anonymous voter keys keeps its scores, and new votes add counts', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'a');
    room.add('m1', 'b');
    // What a room from before counts looked like: one "~anon:<commandId>" key per legacy vote.
    const old = JSON.parse(JSON.stringify(snapshot(room.s))) as {
      state: { queue: Record<string, unknown>[] };
    };
    old.state.queue[0]!['votes'] = { '~anon:c1': 1, '~anon:c2': 1, '~anon:c3': -1 };
    old.state.queue[0]!['ups'] = 2;
    old.state.queue[0]!['downs'] = 1;
    const restored: RoomState = restore(old);
    const out = apply(restored, {
      commandId: 'c4',
      roomId: restored.id,
      actor: HOST,
      at: T0,
      command: { type: 'anonymousVote', entryId: 'e-a', value: 1 },
    });
    assert.ok(out.result.ok && out.state);
    const a = out.state.queue.at(0)!;
    assert.equal(a.entryId, 'e-a');
    assert.deepEqual([a.ups, a.downs, a.anonymousUps ?? 0], [3, 1, 1], 'the old keys still count');
    assert.equal(a.votes.size, 3, 'the old keys stay as they were');
    const down = apply(out.state, {
      ...envOf(out.state),
      command: { type: 'anonymousVote', entryId: 'e-a', value: -1 },
    });
    assert.ok(down.result.ok && down.state);
    assert.deepEqual(
      viewRoom(down.state, { now: T0 }).queue.map((q) => [q.entryId, q.score]),
      [
        ['e-a', 1],
        ['e-b', 0],
      ],
    );
  });
});

void describe('replaceQueue (the legacy /sync)', () => {
  const entries = (...ids: [string, number?][]) =>
    ids.map(([id, votes]) => ({
      entryId: `s-${id}`,
      track: track(id, 1000),
      ...(votes === undefined ? {} : { votes }),
    }));

  void test('replaces the whole queue in one change, in the order given, with net votes as counts', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'old1');
    room.add('m1', 'old2');
    const value = room.change(HOST, {
      type: 'replaceQueue',
      entries: entries(['x'], ['y', 2], ['z', -1], ['w']),
    });
    assert.deepEqual(value, { type: 'replaceQueue', removed: 2, added: 4 });
    assert.deepEqual(room.queueIds(), ['s-y', 's-x', 's-w', 's-z']);
    const y = room.s.queue.at(0)!;
    assert.deepEqual([y.ups, y.downs, y.anonymousUps, y.votes.toJSON()], [2, 0, 2, {}]);
    assert.deepEqual(room.eventTypes(), [
      'entryRemoved',
      'entryRemoved',
      'entryAdded',
      'entryAdded',
      'entryAdded',
      'entryAdded',
    ]);
  });

  void test('keeps a track given twice, or the one playing, once; an entry id given twice is refused', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'p');
    room.change(HOST, skipCommand(null));
    room.change(HOST, {
      type: 'replaceQueue',
      entries: [...entries(['a'], ['p'], ['b']), { entryId: 's-a2', track: track('a', 5) }],
    });
    assert.deepEqual(room.queueIds(), ['s-a', 's-b']);
    room.refused(
      HOST,
      { type: 'replaceQueue', entries: [...entries(['c']), { entryId: 's-c', track: track('d') }] },
      'ALREADY_EXISTS',
    );
  });

  void test('is refused whole: a bad track, too many, or not the host leave the old queue', () => {
    const room = Room.create({ autoplay: false, maxQueueLength: 2 }, ['m1']);
    room.add('m1', 'keep');
    room.refused(
      HOST,
      {
        type: 'replaceQueue',
        entries: [...entries(['a']), { entryId: 's-b', track: { ...track('b'), title: '' } }],
      },
      'INVALID_ARGUMENT',
    );
    room.refused(
      HOST,
      { type: 'replaceQueue', entries: entries(['a'], ['b'], ['c']) },
      'FAILED_PRECONDITION',
    );
    room.refused('m1', { type: 'replaceQueue', entries: entries(['a']) }, 'PERMISSION_DENIED');
    assert.deepEqual(room.queueIds(), ['e-keep']);
  });

  void test('an empty list on an empty queue changes nothing', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.noop(HOST, { type: 'replaceQueue', entries: [] });
  });
});

void describe('legacy commands naming a track instead of an entry', () => {
  void test('anonymousVote and removeEntry with trackId act on the queued entry of that track, found in log order', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', '7');
    room.add('m1', '8');
    const vote = room.change(HOST, { type: 'anonymousVote', entryId: 'stale-guess', trackId: '8', value: 1 });
    assert.deepEqual([vote.entryId, vote.score], ['e-8', 1]);
    assert.deepEqual(room.queueIds(), ['e-8', 'e-7']);
    room.change(HOST, { type: 'removeEntry', entryId: 'stale-guess', trackId: '7' });
    assert.deepEqual(room.queueIds(), ['e-8']);
    const err = room.refused(
      HOST,
      { type: 'anonymousVote', entryId: 'e-8', trackId: '9', value: 1 },
      'NOT_FOUND',
    );
    assert.deepEqual(err.details, { trackId: '9' });
    room.refused(HOST, { type: 'removeEntry', entryId: 'e-8', trackId: '' }, 'INVALID_ARGUMENT');
  });
});

void describe('advance with requireNext (the legacy play_next)', () => {
  void test('an empty queue leaves the playing track alone; otherwise it skips to the head', () => {
    const room = Room.create({ autoplay: false }, ['m1']);
    room.add('m1', 'a');
    room.change(HOST, { ...skipCommand(null), requireNext: true });
    assert.equal(room.playingId(), 'e-a');
    const value = room.noop(HOST, { ...skipCommand('e-a'), requireNext: true });
    assert.deepEqual([value.advanced, room.playingId()], [false, 'e-a']);
    room.change(HOST, skipCommand('e-a'));
    assert.equal(room.playingId(), null, 'without it, a skip on an empty queue ends the track');
    room.refused(
      HOST,
      { ...skipCommand(null), requireNext: 'yes' as unknown as boolean },
      'INVALID_ARGUMENT',
    );
  });
});
