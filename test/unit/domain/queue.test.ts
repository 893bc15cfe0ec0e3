// Adding, ordering, removing, locking and clearing the queue.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HOST, MINUTE, Room, T0, track } from './helpers.ts';
import { publicEntry, Votes } from '../../../src/domain/index.ts';

/** A room where nothing starts by itself, so every added entry stays in the queue. */
function quietRoom(settings = {}, members = ['m1', 'm2', 'm3']): Room {
  return Room.create({ autoplay: false, ...settings }, members);
}

void describe('order: score descending, then insertion sequence ascending', () => {
  void test('entries with equal scores keep the order they were added in', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    room.add('m2', 'b');
    room.add('m3', 'c');
    assert.deepEqual(room.queueIds(), ['e-a', 'e-b', 'e-c']);
    assert.deepEqual(
      room.s.queue.map((e) => e.seq),
      [1, 2, 3],
    );
  });

  void test('votes move entries, and ties fall back to the earlier entry', () => {
    const room = quietRoom();
    for (const t of ['a', 'b', 'c', 'd']) room.add('m1', t);
    room.vote('m1', 'e-c', 1);
    assert.deepEqual(room.queueIds(), ['e-c', 'e-a', 'e-b', 'e-d']);
    room.vote('m2', 'e-d', 1);
    assert.deepEqual(room.queueIds(), ['e-c', 'e-d', 'e-a', 'e-b'], 'c and d tie at +1; c came first');
    room.vote('m3', 'e-d', 1);
    assert.deepEqual(room.queueIds(), ['e-d', 'e-c', 'e-a', 'e-b']);
    room.vote('m1', 'e-a', -1);
    assert.deepEqual(room.queueIds(), ['e-d', 'e-c', 'e-b', 'e-a']);
    room.vote('m1', 'e-c', 0);
    room.vote('m2', 'e-d', 0);
    room.vote('m3', 'e-d', 0);
    room.vote('m1', 'e-a', 0);
    assert.deepEqual(room.queueIds(), ['e-a', 'e-b', 'e-c', 'e-d'], 'all back to 0: insertion order');
  });

  void test('a new entry goes after every entry with a score of 0 or more, before negative ones', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    room.add('m1', 'b');
    room.vote('m2', 'e-a', -1);
    room.add('m2', 'c');
    assert.deepEqual(room.queueIds(), ['e-b', 'e-c', 'e-a']);
  });

  void test('the insertion sequence keeps counting across removals', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    room.change('m1', { type: 'removeEntry', entryId: 'e-a' });
    room.add('m1', 'b');
    assert.equal(room.s.queue.at(0)!.seq, 2);
  });
});

void describe('addTrack', () => {
  void test('records the entry: track, who, when, sequence, no votes', () => {
    const room = quietRoom();
    room.now = T0 + 42;
    const value = room.change('m1', { type: 'addTrack', entryId: 'e1', track: track('t1', 1000) });
    const entry = {
      entryId: 'e1',
      track: track('t1', 1000),
      addedBy: 'm1',
      addedAt: T0 + 42,
      seq: 1,
      ups: 0,
      downs: 0,
    };
    // Answers and events carry the public entry (its score, no voter map); the state holds the votes.
    assert.deepEqual(value, { type: 'addTrack', entry: { ...entry, score: 0 }, started: false });
    assert.deepEqual([...room.s.queue], [{ ...entry, votes: Votes.EMPTY }]);
    assert.deepEqual(room.eventTypes(), ['entryAdded']);
    assert.deepEqual(room.event('entryAdded').entry, { ...entry, score: 0 });
  });

  void test('keeps only the known track fields, trimmed', () => {
    const room = quietRoom();
    const sent = {
      ...track('t1'),
      title: '  Song ',
      artist: ' Band ',
      year: 1999,
      genre: 'pop',
      extra: 'dropped',
    };
    room.change('m1', { type: 'addTrack', entryId: 'e1', track: sent });
    assert.deepEqual(room.s.queue.at(0)!.track, {
      trackId: 't1',
      title: 'Song',
      artist: 'Band',
      album: 'Album',
      durationMs: 180_000,
      year: 1999,
      genre: 'pop',
    });
  });

  void test('with autoplay, the first track added to an idle room starts playing', () => {
    const room = Room.create({}, ['m1']);
    room.now = T0 + 7;
    const value = room.change('m1', { type: 'addTrack', entryId: 'e1', track: track('t1') });
    assert.equal(value.started, true);
    assert.deepEqual(room.eventTypes(), ['entryAdded', 'trackStarted']);
    assert.equal(room.playingId(), 'e1');
    assert.equal(room.s.nowPlaying!.startedAt, T0 + 7);
    assert.deepEqual(room.queueIds(), []);
    const second = room.change('m1', { type: 'addTrack', entryId: 'e2', track: track('t2') });
    assert.equal(second.started, false);
    assert.deepEqual(room.queueIds(), ['e2']);
  });

  void test('without autoplay, nothing starts', () => {
    const room = quietRoom();
    const value = room.change('m1', { type: 'addTrack', entryId: 'e1', track: track('t1') });
    assert.equal(value.started, false);
    assert.equal(room.s.nowPlaying, null);
  });

  void describe('duplicates', () => {
    void test('a track already queued is refused with the existing entry', () => {
      const room = quietRoom();
      room.add('m1', 't1');
      room.vote('m2', 'e-t1', 1);
      const err = room.refused(
        'm2',
        { type: 'addTrack', entryId: 'other', track: track('t1') },
        'ALREADY_EXISTS',
      );
      // The public view of the entry: its counts, not who voted which way.
      assert.deepEqual(err.details, { existing: publicEntry(room.s, room.s.queue.at(0)!), where: 'queue' });
      assert.equal((err.details?.['existing'] as { ups: number }).ups, 1);
      assert.ok(!('votes' in (err.details?.['existing'] as object)), 'no voter map in the refusal');
      assert.match(err.message, /"Title t1" is already in the queue/);
    });

    void test('a track playing now is refused with the playing entry', () => {
      const room = Room.create({}, ['m1', 'm2']);
      room.add('m1', 't1');
      const err = room.refused(
        'm2',
        { type: 'addTrack', entryId: 'other', track: track('t1') },
        'ALREADY_EXISTS',
      );
      assert.deepEqual(err.details, {
        existing: publicEntry(room.s, room.s.nowPlaying!.entry),
        where: 'nowPlaying',
      });
      assert.match(err.message, /playing right now/);
    });

    void test('the same track may come back once it has left', () => {
      const room = quietRoom();
      room.add('m1', 't1');
      room.change('m1', { type: 'removeEntry', entryId: 'e-t1' });
      room.add('m1', 't1', 180_000, 'again');
      assert.deepEqual(room.queueIds(), ['again']);
    });

    void test('an entry id in use, queued or playing, is refused', () => {
      const room = Room.create({}, ['m1']);
      room.add('m1', 't1', 180_000, 'e1');
      room.add('m1', 't2', 180_000, 'e2');
      for (const entryId of ['e1', 'e2']) {
        const err = room.refused('m1', { type: 'addTrack', entryId, track: track('t3') }, 'ALREADY_EXISTS');
        assert.deepEqual(err.details, { entryId });
      }
    });
  });

  void describe('limits', () => {
    void test('the queue length is capped, for the host too, and the playing track does not count', () => {
      const room = Room.create({ maxQueueLength: 2 }, ['m1', 'm2']);
      room.add('m1', 'playing');
      room.add('m1', 'a');
      room.add('m2', 'b');
      for (const actor of ['m2', HOST]) {
        const err = room.refused(
          actor,
          { type: 'addTrack', entryId: 'c', track: track('c') },
          'FAILED_PRECONDITION',
        );
        assert.deepEqual(err.details, { maxQueueLength: 2 });
        assert.match(err.message, /the queue is full \(2 entries\)/);
      }
      room.change('m1', { type: 'removeEntry', entryId: 'e-a' });
      room.add('m2', 'c');
    });

    void test('a member may have at most maxEntriesPerMember entries waiting; the host is exempt', () => {
      const room = quietRoom({ maxEntriesPerMember: 2 });
      room.add('m1', 'a');
      room.add('m1', 'b');
      const err = room.refused(
        'm1',
        { type: 'addTrack', entryId: 'c', track: track('c') },
        'FAILED_PRECONDITION',
      );
      assert.deepEqual(err.details, { maxEntriesPerMember: 2 });
      assert.match(err.message, /you already have 2 tracks waiting; the room allows 2 per member/);
      room.add('m2', 'c');
      for (const t of ['h1', 'h2', 'h3']) room.add(HOST, t);
      // Once one of m1's entries is playing, it is no longer waiting.
      room.change(HOST, { type: 'advance', expectedEntryId: null, reason: 'skipped' });
      assert.equal(room.s.nowPlaying!.entry.addedBy, 'm1');
      room.add('m1', 'd');
    });

    void test('maxEntriesPerMember 0 means no limit', () => {
      const room = quietRoom({ maxEntriesPerMember: 0 });
      for (let i = 0; i < 12; i++) room.add('m1', `t${i}`);
      assert.equal(room.s.queue.length, 12);
    });

    void test('a track longer than maxTrackDurationMs is refused; one exactly as long is accepted', () => {
      const room = quietRoom({ maxTrackDurationMs: 5 * MINUTE + 30_000 });
      const err = room.refused(
        'm1',
        { type: 'addTrack', entryId: 'long', track: track('long', 5 * MINUTE + 30_001) },
        'FAILED_PRECONDITION',
      );
      assert.deepEqual(err.details, {
        durationMs: 5 * MINUTE + 30_001,
        maxTrackDurationMs: 5 * MINUTE + 30_000,
      });
      assert.match(err.message, /longer than the room allows \(5 min 30 s\)/);
      room.add('m1', 'fits', 5 * MINUTE + 30_000);
      // The host is not exempt from the duration cap.
      room.refused(
        HOST,
        { type: 'addTrack', entryId: 'x', track: track('x', 6 * MINUTE) },
        'FAILED_PRECONDITION',
      );
    });
  });

  void describe('bad input', () => {
    const good = track('t1');
    const cases: [string, unknown, RegExp][] = [
      ['a track that is not an object', 'song', /track must be an object/],
      ['a track that is an array', [good], /track must be an object/],
      ['no track', undefined, /track must be an object/],
      ['a missing trackId', { ...good, trackId: undefined }, /track.trackId must be a string/],
      ['a blank trackId', { ...good, trackId: '  ' }, /track.trackId must not be empty/],
      ['an empty title', { ...good, title: '' }, /track.title must not be empty/],
      ['a title too long', { ...good, title: 't'.repeat(301) }, /track.title must be at most 300 characters/],
      [
        'a title with a newline',
        { ...good, title: 'a\nb' },
        /track.title must not contain control characters/,
      ],
      ['an artist that is a number', { ...good, artist: 5 }, /track.artist must be a string/],
      ['a missing album', { ...good, album: undefined }, /track.album must be a string/],
      [
        'a negative duration',
        { ...good, durationMs: -1 },
        /track.durationMs must be a whole number from 0 to 86400000/,
      ],
      ['a fractional duration', { ...good, durationMs: 1.5 }, /track.durationMs/],
      ['a duration over a day', { ...good, durationMs: 86_400_001 }, /track.durationMs/],
      ['a duration as text', { ...good, durationMs: '180000' }, /track.durationMs/],
      ['a year of 10000', { ...good, year: 10_000 }, /track.year must be a whole number from 0 to 9999/],
      ['an empty artwork URL', { ...good, artworkUrl: '' }, /track.artworkUrl must not be empty/],
      ['a genre that is not text', { ...good, genre: 3 }, /track.genre must be a string/],
      [
        'a source URI too long',
        { ...good, sourceUri: 'u'.repeat(2049) },
        /track.sourceUri must be at most 2048/,
      ],
      [
        'an audio URL on another site',
        { ...good, audioUrl: 'https://elsewhere.example/t1.mp3' },
        /track.audioUrl must be \/v1\/tracks\/\{trackId\}\/audio/,
      ],
      [
        "another track's audio URL",
        { ...good, audioUrl: '/v1/tracks/t2/audio' },
        /track.audioUrl must be \/v1\/tracks\/\{trackId\}\/audio/,
      ],
    ];
    for (const [what, badTrack, pattern] of cases) {
      void test(`refuses ${what}, naming the field`, () => {
        const room = quietRoom();
        const err = room.refused(
          'm1',
          { type: 'addTrack', entryId: 'e1', track: badTrack },
          'INVALID_ARGUMENT',
        );
        assert.match(err.message, pattern);
        assert.ok(typeof err.details?.['field'] === 'string', 'details name the field');
      });
    }

    void test("keeps the track's own audio URL and a client's link, drops a server's file: path", () => {
      const room = quietRoom();
      const audioUrl = '/v1/tracks/file%3Aabc/audio';
      room.change('m1', {
        type: 'addTrack',
        entryId: 'e1',
        track: { ...good, trackId: 'file:abc', audioUrl, sourceUri: 'FILE:///home/me/Music/a.mp3' },
      });
      room.change('m1', {
        type: 'addTrack',
        entryId: 'e2',
        track: { ...good, trackId: 't2', sourceUri: 'https://example.org/t2' },
      });
      const byId = (id: string) => room.s.queue.find((e) => e.entryId === id)?.track;
      const [first, second] = [byId('e1'), byId('e2')];
      assert.equal(first?.audioUrl, audioUrl);
      assert.equal(first?.sourceUri, undefined);
      assert.equal(second?.sourceUri, 'https://example.org/t2');
    });

    void test('accepts an empty album and genre', () => {
      const room = quietRoom();
      room.change('m1', { type: 'addTrack', entryId: 'e1', track: { ...good, album: '', genre: '' } });
    });

    for (const entryId of ['', 'has space', 'x'.repeat(129), 12]) {
      void test(`refuses the entry id ${JSON.stringify(entryId)}`, () => {
        const err = quietRoom().refused('m1', { type: 'addTrack', entryId, track: good }, 'INVALID_ARGUMENT');
        assert.match(err.message, /entryId must be 1-128 characters/);
      });
    }
  });
});

void describe('removeEntry', () => {
  void test('a member removes their own entry', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    room.add('m1', 'b');
    const value = room.change('m1', { type: 'removeEntry', entryId: 'e-a' });
    assert.deepEqual(value, { type: 'removeEntry', entryId: 'e-a' });
    assert.deepEqual(room.queueIds(), ['e-b']);
    const event = room.event('entryRemoved');
    assert.deepEqual([event.entryId, event.reason, event.by], ['e-a', 'removed', 'm1']);
  });

  void test('the host removes anyone’s entry', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    room.change(HOST, { type: 'removeEntry', entryId: 'e-a' });
    assert.equal(room.event('entryRemoved').by, HOST);
    assert.deepEqual(room.queueIds(), []);
  });

  void test('another member may not remove it', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    const err = room.refused('m2', { type: 'removeEntry', entryId: 'e-a' }, 'PERMISSION_DENIED');
    assert.match(err.message, /only the member who added an entry, or the host, can remove it/);
  });

  void test('an unknown entry is NOT_FOUND', () => {
    const room = quietRoom();
    const err = room.refused('m1', { type: 'removeEntry', entryId: 'nope' }, 'NOT_FOUND');
    assert.deepEqual(err.details, { entryId: 'nope' });
  });

  void test('the playing entry cannot be removed (the host skips it instead)', () => {
    const room = Room.create({}, ['m1']);
    room.add('m1', 'a');
    for (const actor of ['m1', HOST]) {
      const err = room.refused(actor, { type: 'removeEntry', entryId: 'e-a' }, 'FAILED_PRECONDITION');
      assert.match(err.message, /skip/);
    }
  });

  for (const entryId of ['', 'a b', null]) {
    void test(`a malformed entry id ${JSON.stringify(entryId)} is INVALID_ARGUMENT`, () => {
      const err = quietRoom().refused('m1', { type: 'removeEntry', entryId }, 'INVALID_ARGUMENT');
      assert.match(err.message, /entryId must be/);
    });
  }
});

void describe('locked queue', () => {
  void test('only the host may lock; locking twice changes nothing', () => {
    const room = quietRoom();
    room.refused('m1', { type: 'setLocked', locked: true }, 'PERMISSION_DENIED');
    assert.deepEqual(room.change(HOST, { type: 'setLocked', locked: true }), {
      type: 'setLocked',
      locked: true,
    });
    assert.equal(room.s.locked, true);
    assert.equal(room.event('lockChanged').locked, true);
    room.noop(HOST, { type: 'setLocked', locked: true });
    room.refused(HOST, { type: 'setLocked', locked: 'yes' }, 'INVALID_ARGUMENT');
  });

  void test('refuses adds and removals by members; the host still can; votes still count', () => {
    const room = quietRoom();
    room.add('m1', 'a');
    room.change(HOST, { type: 'setLocked', locked: true });
    let err = room.refused(
      'm1',
      { type: 'addTrack', entryId: 'b', track: track('b') },
      'FAILED_PRECONDITION',
    );
    assert.match(err.message, /locked/);
    err = room.refused('m1', { type: 'removeEntry', entryId: 'e-a' }, 'FAILED_PRECONDITION');
    assert.match(err.message, /locked/);
    room.vote('m2', 'e-a', 1);
    room.add(HOST, 'b');
    room.change(HOST, { type: 'removeEntry', entryId: 'e-a' });
    room.change(HOST, { type: 'setLocked', locked: false });
    room.add('m1', 'c');
    room.change('m1', { type: 'removeEntry', entryId: 'e-c' });
  });
});

void describe('clear', () => {
  void test('empties the queue, the playing track and the history; the play count carries on', () => {
    const room = Room.create({}, ['m1']);
    room.add('m1', 'a', 1000);
    room.add('m1', 'b', 1000);
    room.add('m1', 'c', 1000);
    room.tick(1000);
    room.change(null, { type: 'advance', expectedEntryId: 'e-a', reason: 'finished' });
    assert.deepEqual(room.change(HOST, { type: 'clear' }), {
      type: 'clear',
      removedEntries: 2,
      removedHistory: 1,
    });
    assert.deepEqual(room.eventTypes(), ['cleared']);
    assert.deepEqual([[...room.s.queue], room.s.nowPlaying, room.s.history], [[], null, []]);
    room.add('m1', 'd', 1000);
    room.tick(1000);
    const value = room.change(null, { type: 'advance', expectedEntryId: 'e-d', reason: 'finished' });
    assert.equal(value.ended?.playNo, 2);
  });

  void test('clearing an empty room changes nothing', () => {
    const room = Room.create();
    assert.deepEqual(room.noop(HOST, { type: 'clear' }), {
      type: 'clear',
      removedEntries: 0,
      removedHistory: 0,
    });
  });
});
