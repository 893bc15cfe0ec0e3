// The page's room model: the same order as the server, events applied in place, my in-flight votes
// shown at once, and `stale` whenever the page cannot be sure (then it refetches).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoomEvent, RoomEventBody, Track, WireEntry } from '../../src/domain/types.ts';
import type { QueueItemView, RoomView } from '../../src/domain/view.ts';
import { ServerClock } from '../src/clock.ts';
import { applyEvents, etas, fromView, withPending, withVoteAnswer, type RoomModel } from '../src/model.ts';

const ME = 'm_me';
const ANN = 'm_ann';

const track = (n: number, minutes = 3): Track => ({
  trackId: `t${n}`,
  title: `Track ${n}`,
  artist: 'Artist',
  album: '',
  durationMs: minutes * 60_000,
});

const item = (n: number, ups = 0, downs = 0, myVote: -1 | 0 | 1 = 0): QueueItemView => ({
  position: n,
  entryId: `e${n}`,
  track: track(n),
  addedBy: { memberId: ANN, name: 'Ann' },
  addedAt: 0,
  seq: n,
  score: ups - downs,
  ups,
  downs,
  etaMs: 0,
  myVote,
});

function view(queue: QueueItemView[], extra: Partial<RoomView> = {}): RoomView {
  return {
    id: 'r',
    name: 'Room',
    hostId: ANN,
    createdAt: 0,
    settings: {
      public: true,
      maxQueueLength: 500,
      maxEntriesPerMember: 10,
      maxTrackDurationMs: 1_200_000,
      voteOffThreshold: 5,
      skipVotes: 3,
      replayProtectionMinutes: 0,
      historyRetention: 1000,
      autoplay: true,
      skipShare: 0.5,
      joinPolicy: 'open',
      maxMembers: 0,
      joinsPerMinute: 0,
    },
    locked: false,
    version: 10,
    memberCount: 2,
    queueLength: queue.length,
    playCount: 0,
    nowPlaying: null,
    queue,
    queueOffset: 0,
    me: { memberId: ME, name: 'Me', isHost: false, role: 'member', joinedAt: 0 },
    present: [],
    presentCount: 0,
    joinPending: false,
    pendingJoins: [],
    ...extra,
  };
}

const at = (version: number, ...bodies: RoomEventBody[]): RoomEvent[] =>
  bodies.map((b) => ({ ...b, roomId: 'r', version, at: 1000 }));

const order = (room: RoomModel): string[] => room.queue.map((e) => e.entryId);

const entry = (n: number, addedBy = ANN): WireEntry => ({
  entryId: `e${n}`,
  track: track(n),
  addedBy,
  addedAt: 0,
  seq: n,
  ups: 0,
  downs: 0,
  score: 0,
});

void test('a vote event reorders like the server: score descending, then insertion order', () => {
  const room = fromView(view([item(1), item(2), item(3)]));
  const up = applyEvents(room, at(11, { type: 'voteChanged', entryId: 'e3', ups: 1, downs: 0, score: 1 }));
  assert.deepEqual(order(up.room), ['e3', 'e1', 'e2']);
  assert.equal(up.room.version, 11);
  assert.equal(
    up.room.queue[0]!.myVote,
    0,
    'an event never says whose vote it was: mine comes from my answer',
  );
  assert.equal(up.stale, false);

  const tie = applyEvents(
    up.room,
    at(12, { type: 'voteChanged', entryId: 'e2', ups: 1, downs: 0, score: 1 }),
  );
  assert.deepEqual(order(tie.room), ['e2', 'e3', 'e1'], 'a tie goes to the older entry');
});

void test('added, started and ended tracks move between queue, now playing and history', () => {
  const room = fromView(view([item(1)]));
  const added = applyEvents(room, at(11, { type: 'entryAdded', entry: entry(2) }));
  assert.deepEqual(order(added.room), ['e1', 'e2']);
  assert.equal(added.room.queueLength, 2);
  assert.equal(added.room.queue[1]!.addedBy.name, 'Ann');
  assert.deepEqual(added.notices, ['Ann added “Track 2”']);

  const started = applyEvents(
    added.room,
    at(12, { type: 'trackStarted', nowPlaying: { entry: entry(1), startedAt: 5 } }),
  );
  assert.equal(started.room.nowPlaying?.entryId, 'e1');
  assert.deepEqual(order(started.room), ['e2']);
  assert.equal(started.room.queueLength, 1);

  const record = {
    playNo: 1,
    entryId: 'e1',
    track: track(1),
    addedBy: ANN,
    startedAt: 5,
    endedAt: 9,
    reason: 'skipped' as const,
    ups: 0,
    downs: 2,
  };
  const ended = applyEvents(
    started.room,
    at(
      13,
      { type: 'trackEnded', record },
      { type: 'trackStarted', nowPlaying: { entry: entry(2), startedAt: 9 } },
    ),
  );
  assert.equal(ended.room.nowPlaying?.entryId, 'e2');
  assert.equal(ended.room.queueLength, 0);
  assert.deepEqual(ended.ended, [{ ...record, addedBy: { memberId: record.addedBy, name: 'Ann' } }]);
  assert.equal(ended.room.playCount, 1);
});

void test('what the page cannot know makes it stale (then it refetches)', () => {
  const room = fromView(view([item(1)]));
  const stranger = applyEvents(room, at(11, { type: 'entryAdded', entry: entry(2, 'm_unknown') }));
  assert.equal(stranger.stale, true, 'a member who joined before the page loaded: no name yet');

  const joined = applyEvents(
    room,
    at(11, { type: 'memberJoined', member: { memberId: 'm_bo', name: 'Bo', isHost: false, joinedAt: 1 } }),
  );
  const named = applyEvents(joined.room, at(12, { type: 'entryAdded', entry: entry(2, 'm_bo') }));
  assert.equal(named.stale, false);
  assert.equal(named.room.queue[1]!.addedBy.name, 'Bo');

  // Holding only the head of a longer queue, a change below it is invisible.
  const partial = fromView(view([item(1), item(2)], { queueLength: 5 }));
  const below = applyEvents(
    partial,
    at(11, { type: 'voteChanged', entryId: 'e4', ups: 1, downs: 0, score: 1 }),
  );
  assert.equal(below.stale, true);
  const removed = applyEvents(
    partial,
    at(11, { type: 'entryRemoved', entryId: 'e1', reason: 'removed', by: ANN }),
  );
  assert.equal(removed.stale, true, 'the window must be refilled from below');
});

void test('my in-flight votes show at once; removals hide the entry', () => {
  const room = fromView(view([item(1, 1, 0), item(2, 0, 0), item(3, 0, 1, -1)]));
  const shown = withPending(
    room,
    new Map([
      ['e2', 1],
      ['e3', 0],
    ]),
    new Set(['e1']),
  );
  assert.deepEqual(order(shown), ['e2', 'e3']);
  assert.deepEqual(
    shown.queue.map((e) => [e.ups, e.downs, e.myVote]),
    [
      [1, 0, 1],
      [0, 0, 0],
    ],
    'a changed vote moves my one vote, not adds another',
  );
  assert.equal(shown.queueLength, 2);
  assert.equal(withPending(room, new Map(), new Set()), room, 'nothing pending: the same object');
});

void test('the answer to my vote sets its counts when newer than the stream, and my vote always', () => {
  const room = fromView(view([item(1), item(2)]));
  const newer = withVoteAnswer(room, { entryId: 'e2', ups: 2, downs: 0, version: 12 }, 1);
  assert.deepEqual(order(newer), ['e2', 'e1']);
  assert.equal(newer.queue[0]!.myVote, 1);
  assert.equal(newer.version, 10, 'the stream still has to bring versions 11 and 12');
  // The stream already brought the counts (events carry no voter): only my vote is taken.
  const streamed = applyEvents(
    room,
    at(11, { type: 'voteChanged', entryId: 'e2', ups: 1, downs: 0, score: 1 }),
  );
  const older = withVoteAnswer(streamed.room, { entryId: 'e2', ups: 5, downs: 0, version: 11 }, 1);
  assert.deepEqual(
    older.queue.map((e) => [e.entryId, e.ups, e.myVote]),
    [
      ['e2', 1, 1],
      ['e1', 0, 0],
    ],
  );
});

void test('a track that starts keeps my vote from its queued entry (the event carries counts only)', () => {
  const room = fromView(view([item(1, 1, 0, 1), item(2)]));
  const started = applyEvents(
    room,
    at(11, { type: 'trackStarted', nowPlaying: { entry: { ...entry(1), ups: 1, score: 1 }, startedAt: 5 } }),
  );
  assert.equal(started.room.nowPlaying?.myVote, 1);
});

void test('ETAs: what is left of the playing track, then the durations ahead', () => {
  const room = fromView(
    view([item(1), item(2)], {
      nowPlaying: {
        entryId: 'e0',
        track: track(0, 4),
        addedBy: { memberId: ANN, name: 'Ann' },
        startedAt: 1_000_000,
        paused: false,
        positionMs: 0,
        remainingMs: 240_000,
        score: 0,
        ups: 0,
        downs: 0,
        myVote: 0,
      },
    }),
  );
  assert.deepEqual(etas(room, 1_000_000 + 60_000), [180_000, 360_000]);
  assert.deepEqual(etas(room, 1_000_000 + 600_000), [0, 180_000], 'an overdue track counts as ended');
});

void test('the server clock follows the best sample and never stays behind an event', () => {
  let local = 1_000;
  const clock = new ServerClock(() => local);
  clock.sample(51_000, 900, 1_100); // the server said 51 000 in the middle of a 200 ms round trip
  assert.equal(clock.now(), 51_000);
  clock.sampleDateHeader(new Date(90_000).toUTCString(), 900, 1_100); // coarser: ignored
  assert.equal(clock.now(), 51_000);
  local = 2_000;
  clock.atLeast(53_000, 2_000); // an event proposed at 53 000 has arrived: the server is past it
  assert.equal(clock.now(), 53_000);
});
