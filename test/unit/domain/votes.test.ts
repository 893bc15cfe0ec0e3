// One vote per member per entry, voting off queued entries, skipping the playing one, anonymous votes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HOST, Room, T0 } from './helpers.ts';

function quietRoom(settings = {}): Room {
  return Room.create({ autoplay: false, ...settings }, ['m1', 'm2', 'm3', 'm4']);
}

void describe('vote', () => {
  void test('up, down and withdraw: one vote per member, counted in ups and downs', () => {
    const room = quietRoom();
    const e = room.add('m1', 'a');
    assert.deepEqual(room.vote('m1', e, 1), {
      type: 'vote',
      entryId: e,
      ups: 1,
      downs: 0,
      score: 1,
      effect: 'none',
      position: 1,
    });
    room.vote('m2', e, 1);
    room.vote('m3', e, -1);
    assert.deepEqual(room.s.queue.at(0)!.votes.toJSON(), { m1: 1, m2: 1, m3: -1 });
    assert.deepEqual([room.s.queue.at(0)!.ups, room.s.queue.at(0)!.downs], [2, 1]);

    // Changing one's mind moves the vote, it does not add one.
    assert.deepEqual(room.vote('m1', e, -1), {
      type: 'vote',
      entryId: e,
      ups: 1,
      downs: 2,
      score: -1,
      effect: 'none',
      position: 1,
    });
    assert.deepEqual(room.vote('m3', e, 0), {
      type: 'vote',
      entryId: e,
      ups: 1,
      downs: 1,
      score: 0,
      effect: 'none',
      position: 1,
    });
    assert.deepEqual(room.s.queue.at(0)!.votes.toJSON(), { m1: -1, m2: 1 });
  });

  void test('answers the place the entry moved to (1-based), and keeps it for a repeated vote', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    room.add('m1', 'b');
    const c = room.add('m1', 'c');
    assert.equal(room.vote('m2', c, 1).position, 1, 'up from 3rd to 1st');
    assert.equal(room.vote('m2', 'e-a', -1).position, 3, 'down from 2nd to 3rd');
    assert.equal(room.noop('m2', { type: 'vote', entryId: c, value: 1 }).position, 1);
    assert.deepEqual(room.queueIds(), [c, 'e-b', 'e-a']);
  });

  void test('emits voteChanged with the new counts, never the voter or the value (issue 20)', () => {
    const room = quietRoom();
    const e = room.add('m1', 'a');
    room.vote('m2', e, -1);
    const event = room.event('voteChanged');
    assert.deepEqual(
      { ...event },
      {
        type: 'voteChanged',
        entryId: e,
        ups: 0,
        downs: 1,
        score: -1,
        roomId: 'room-1',
        version: event.version,
        at: T0,
      },
    );
    room.vote('m2', e, 0);
    assert.deepEqual([room.event('voteChanged').ups, room.event('voteChanged').downs], [0, 0]);
  });

  void test('repeating the same vote, or withdrawing no vote, changes nothing and keeps the version', () => {
    const room = quietRoom();
    const e = room.add('m1', 'a');
    room.vote('m2', e, 1);
    const again = room.noop('m2', { type: 'vote', entryId: e, value: 1 });
    assert.deepEqual(again, {
      type: 'vote',
      entryId: e,
      ups: 1,
      downs: 0,
      score: 1,
      effect: 'none',
      position: 1,
    });
    room.noop('m3', { type: 'vote', entryId: e, value: 0 });
    room.vote('m3', e, -1);
    room.noop('m3', { type: 'vote', entryId: e, value: -1 });
  });

  void test('members may vote on the playing entry', () => {
    const room = Room.create({}, ['m1', 'm2']);
    const e = room.add('m1', 'a');
    room.vote('m2', e, 1);
    assert.deepEqual(room.s.nowPlaying!.entry.votes.toJSON(), { m2: 1 });
    assert.equal(room.s.nowPlaying!.entry.ups, 1);
  });

  void test('an unknown entry is NOT_FOUND', () => {
    const err = quietRoom().refused('m1', { type: 'vote', entryId: 'ghost', value: 1 }, 'NOT_FOUND');
    assert.deepEqual(err.details, { entryId: 'ghost' });
  });

  for (const value of [2, -2, 0.5, '1', true, null]) {
    void test(`a vote of ${JSON.stringify(value)} is INVALID_ARGUMENT`, () => {
      const room = quietRoom();
      const e = room.add('m1', 'a');
      const err = room.refused('m2', { type: 'vote', entryId: e, value }, 'INVALID_ARGUMENT');
      assert.match(err.message, /a vote is 1 \(up\), -1 \(down\) or 0 \(withdraw\)/);
    });
  }

  void test('a malformed entry id is INVALID_ARGUMENT', () => {
    const err = quietRoom().refused('m1', { type: 'vote', entryId: '', value: 1 }, 'INVALID_ARGUMENT');
    assert.match(err.message, /entryId must be/);
  });
});

void describe('voting off a queued entry', () => {
  void test('the entry leaves once its score falls to -voteOffThreshold', () => {
    const room = quietRoom({ voteOffThreshold: 2 });
    const a = room.add('m1', 'a');
    room.add('m1', 'b');
    room.vote('m2', a, -1);
    assert.deepEqual(room.queueIds(), ['e-b', a], 'at -1 it is still queued');
    const value = room.change('m3', { type: 'vote', entryId: a, value: -1 });
    assert.deepEqual(value, {
      type: 'vote',
      entryId: a,
      ups: 0,
      downs: 2,
      score: -2,
      effect: 'votedOff',
      position: null,
    });
    assert.deepEqual(room.queueIds(), ['e-b']);
    assert.deepEqual(room.eventTypes(), ['voteChanged', 'entryRemoved']);
    const removed = room.event('entryRemoved');
    assert.deepEqual([removed.entryId, removed.reason, removed.by], [a, 'votedOff', null]);
    assert.deepEqual(room.s.history, [], 'a queued entry voted off never played');
  });

  void test('counts the score, not the downvotes: ups hold an entry in', () => {
    const room = quietRoom({ voteOffThreshold: 2 });
    const a = room.add('m1', 'a');
    room.vote('m1', a, 1);
    room.vote('m2', a, -1);
    room.vote('m3', a, -1);
    assert.deepEqual(room.queueIds(), [a], 'score -1');
    // Withdrawing the upvote drops the score to -2.
    assert.equal(room.vote('m1', a, 0).effect, 'votedOff');
    assert.deepEqual(room.queueIds(), []);
  });

  void test('a threshold of 0 never votes anything off', () => {
    const room = quietRoom({ voteOffThreshold: 0 });
    const a = room.add('m1', 'a');
    for (const m of ['m1', 'm2', 'm3', 'm4', HOST]) room.vote(m, a, -1);
    assert.equal(room.s.queue.at(0)!.downs, 5);
  });

  void test('an entry voted off can be added again', () => {
    const room = quietRoom({ voteOffThreshold: 1 });
    room.add('m1', 'a');
    room.vote('m2', 'e-a', -1);
    room.add('m1', 'a', 1000, 'again');
  });
});

void describe('skipping the playing track by downvotes', () => {
  function playing(settings = {}): Room {
    const room = Room.create({ skipVotes: 2, ...settings }, ['m1', 'm2', 'm3', 'm4']);
    room.add('m1', 'a', 60_000);
    room.add('m1', 'b', 60_000);
    room.tick(10_000);
    return room;
  }

  void test('ends it as votedOff when downvotes reach skipVotes, and starts the next', () => {
    const room = playing();
    room.vote('m2', 'e-a', 1);
    room.vote('m3', 'e-a', -1);
    assert.equal(room.playingId(), 'e-a');
    const value = room.change('m4', { type: 'vote', entryId: 'e-a', value: -1 });
    assert.deepEqual(value, {
      type: 'vote',
      entryId: 'e-a',
      ups: 1,
      downs: 2,
      score: -1,
      effect: 'skipped',
      position: null,
    });
    assert.deepEqual(room.eventTypes(), ['voteChanged', 'trackEnded', 'trackStarted']);
    assert.deepEqual(room.s.history, [
      {
        playNo: 1,
        entryId: 'e-a',
        track: room.s.history[0]!.track,
        addedBy: 'm1',
        startedAt: T0,
        endedAt: T0 + 10_000,
        reason: 'votedOff',
        ups: 1,
        downs: 2,
      },
    ]);
    assert.equal(room.playingId(), 'e-b');
    assert.equal(room.s.nowPlaying!.startedAt, T0 + 10_000);
  });

  void test('downvotes count, not the score: upvotes do not save the track', () => {
    const room = playing();
    room.vote('m1', 'e-a', 1);
    room.vote('m2', 'e-a', 1);
    room.vote('m3', 'e-a', 1);
    room.vote('m4', 'e-a', -1);
    assert.equal(room.vote(HOST, 'e-a', -1).effect, 'skipped');
  });

  void test('with autoplay off, nothing starts after the skip', () => {
    const room = playing();
    room.change(HOST, { type: 'updateSettings', patch: { autoplay: false } });
    room.vote('m2', 'e-a', -1);
    room.vote('m3', 'e-a', -1);
    assert.equal(room.s.nowPlaying, null);
    assert.deepEqual(room.queueIds(), ['e-b']);
    assert.equal(room.s.history[0]!.reason, 'votedOff');
  });

  void test('skipVotes 0 never skips', () => {
    const room = playing({ skipVotes: 0 });
    for (const m of ['m1', 'm2', 'm3', 'm4', HOST]) room.vote(m, 'e-a', -1);
    assert.equal(room.playingId(), 'e-a');
  });

  void test('the playing track is never voted off the queue by score', () => {
    const room = playing({ skipVotes: 0, voteOffThreshold: 1 });
    room.vote('m2', 'e-a', -1);
    room.vote('m3', 'e-a', -1);
    assert.equal(room.playingId(), 'e-a');
  });
});

void describe('anonymousVote (the legacy API)', () => {
  void test('each one counts as a fresh voter, so up then down nets 0', () => {
    const room = quietRoom();
    const e = room.add('m1', 'a');
    room.change(HOST, { type: 'anonymousVote', entryId: e, value: 1 }, { commandId: 'legacy-1' });
    room.change(HOST, { type: 'anonymousVote', entryId: e, value: 1 }, { commandId: 'legacy-2' });
    const value = room.change(
      HOST,
      { type: 'anonymousVote', entryId: e, value: -1 },
      { commandId: 'legacy-3' },
    );
    assert.deepEqual(value, {
      type: 'vote',
      entryId: e,
      ups: 2,
      downs: 1,
      score: 1,
      effect: 'none',
      position: 1,
    });
    // Counts, not voter keys (issue 13): the vote map stays empty however many are cast.
    assert.deepEqual(room.s.queue.at(0)!.votes.toJSON(), {});
    assert.equal(room.s.queue.at(0)!.anonymousUps, 2);
    assert.equal(room.s.queue.at(0)!.anonymousDowns, 1);
  });

  void test('a retried anonymous vote counts once', () => {
    const room = quietRoom();
    const e = room.add('m1', 'a');
    room.change(HOST, { type: 'anonymousVote', entryId: e, value: 1 }, { commandId: 'legacy-1' });
    room.noop(HOST, { type: 'anonymousVote', entryId: e, value: 1 }, { commandId: 'legacy-1' });
    assert.equal(room.s.queue.at(0)!.ups, 1);
  });

  void test('can vote off and skip like member votes', () => {
    const room = Room.create({ voteOffThreshold: 1, skipVotes: 1 }, ['m1']);
    room.add('m1', 'a');
    room.add('m1', 'b');
    assert.equal(room.ok(HOST, { type: 'anonymousVote', entryId: 'e-b', value: -1 }).effect, 'votedOff');
    assert.equal(room.ok(HOST, { type: 'anonymousVote', entryId: 'e-a', value: -1 }).effect, 'skipped');
    assert.equal(room.s.history[0]!.reason, 'votedOff');
  });

  void test('refuses a withdrawal or any value but 1 and -1, and unknown entries', () => {
    const room = quietRoom();
    const e = room.add('m1', 'a');
    const err = room.refused(HOST, { type: 'anonymousVote', entryId: e, value: 0 }, 'INVALID_ARGUMENT');
    assert.match(err.message, /an anonymous vote is 1 \(up\) or -1 \(down\)/);
    room.refused(HOST, { type: 'anonymousVote', entryId: 'nope', value: 1 }, 'NOT_FOUND');
    room.refused(HOST, { type: 'anonymousVote', entryId: 'no pe', value: 1 }, 'INVALID_ARGUMENT');
  });

  void test('only the host (the legacy gateway) may cast them', () => {
    const room = quietRoom();
    const e = room.add('m1', 'a');
    room.refused('m1', { type: 'anonymousVote', entryId: e, value: 1 }, 'PERMISSION_DENIED');
    room.refused(null, { type: 'anonymousVote', entryId: e, value: 1 }, 'UNAUTHENTICATED');
  });
});
