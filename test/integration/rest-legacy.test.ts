// The legacy API (DESIGN.md section 3) over a real `chorus serve`: the earlier system's routes and
// wire format (integer ids, durations in seconds, `votes` as the net score, `{message, queue}`),
// with its behaviours asserted: order after votes, play_next moving the head to history, metadata
// lookup, remove, clear; and `--no-legacy` switching it all off.

/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { cleanupChorus, startChorus, type ChorusProcess } from '../helpers/chorus-process.ts';
import { assertError, assertNoInternals, Http, ok, type HttpResponse, type Json } from '../helpers/http.ts';

let node: ChorusProcess;
let api: Http;

before(async () => {
  node = await startChorus();
  api = new Http(node.restUrl);
});

after(async () => {
  try {
    if (node?.running) assert.equal(await node.stop(), 0, node.stderr());
  } finally {
    await cleanupChorus();
  }
});

// Every test starts from an empty legacy room.
beforeEach(async () => {
  assert.deepEqual(ok(await api.post('/clear'), 200), { message: 'Queue cleared', queue: [] });
});

interface LegacyTrack {
  id: number;
  title: string;
  artist: string;
  duration: number;
  votes: number;
}

function legacyTrack(id: number, duration = 180): LegacyTrack {
  return { id, title: `Song ${id}`, artist: `Band ${id}`, duration, votes: 0 };
}

async function addTrack(t: Json): Promise<Json> {
  const body = ok(await api.post('/add_track', t), 200);
  assert.equal(body.message, 'Track added');
  return body;
}

async function queue(): Promise<LegacyTrack[]> {
  const body = ok(await api.get('/queue'), 200);
  assert.deepEqual(Object.keys(body), ['queue']);
  return body.queue as LegacyTrack[];
}

async function vote(id: Json, up: boolean | string): Promise<HttpResponse> {
  return api.post(`/vote?up=${String(up)}`, { id });
}

const ids = (tracks: readonly LegacyTrack[]): number[] => tracks.map((t) => t.id);

/** The legacy error shape: the earlier `message`, plus the Chorus error beside it. */
function assertLegacyError(res: HttpResponse, status: number, message: RegExp): void {
  assert.equal(res.status, status, `${res.method} ${res.path}: ${res.status} ${res.text}`);
  assert.equal(typeof res.body?.message, 'string', res.text);
  assert.match(res.body.message as string, message);
  assertNoInternals(res);
}

void describe('legacy API', () => {
  void test('add_track and queue: integer ids, duration in seconds, votes as the net score', async () => {
    assert.deepEqual(await queue(), []);
    const first = await addTrack(legacyTrack(1, 200));
    assert.deepEqual(first.queue, [{ id: 1, title: 'Song 1', artist: 'Band 1', duration: 200, votes: 0 }]);
    // A string of digits is still an integer id; fractional seconds round; `votes` sent is ignored.
    const second = await addTrack({ id: '2', title: 'Song 2', artist: 'Band 2', duration: 61.4, votes: 99 });
    assert.deepEqual(second.queue[1], { id: 2, title: 'Song 2', artist: 'Band 2', duration: 61, votes: 0 });
    const q = await queue();
    assert.deepEqual(ids(q), [1, 2]);
    for (const t of q) {
      assert.equal(typeof t.id, 'number');
      assert.ok(Number.isInteger(t.duration));
      assert.deepEqual(Object.keys(t).sort(), ['artist', 'duration', 'id', 'title', 'votes']);
    }
    // The same room is visible through v1, with durations in ms.
    const room = ok(await api.get('/v1/rooms/legacy'), 200);
    assert.equal(room.queueLength, 2);
    assert.deepEqual(
      (room.queue as Json[]).map((e) => [e.track.trackId, e.track.durationMs]),
      [
        ['1', 200_000],
        ['2', 61_400],
      ],
    );
    assert.equal(room.nowPlaying, null, 'the legacy room does not start playing by itself');
  });

  void test('add_track refuses bad bodies with 400 and a message', async () => {
    for (const body of [
      { title: 'No id', artist: 'A', duration: 10 },
      { id: 'abc', title: 'T', artist: 'A', duration: 10 },
      { id: -1, title: 'T', artist: 'A', duration: 10 },
      { id: 1.5, title: 'T', artist: 'A', duration: 10 },
      { id: 3, artist: 'A', duration: 10 },
      { id: 3, title: '', artist: 'A', duration: 10 },
      { id: 3, title: 'T', artist: 'A', duration: 0 },
      { id: 3, title: 'T', artist: 'A', duration: -5 },
      { id: 3, title: 'T', artist: 'A', duration: 'long' },
      { id: 3, title: 'T', artist: 'A', duration: 100_000 },
    ]) {
      const res = await api.post('/add_track', body);
      assertLegacyError(res, 400, /./);
      assert.equal(res.body.error.code, 'INVALID_ARGUMENT', res.text);
    }
    assertLegacyError(
      await api.request('POST', '/add_track', {
        raw: '{oops',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      /./,
    );
    assert.deepEqual(await queue(), []);
  });

  void test('vote?up=true|false: up then down nets 0; the queue reorders by votes, ties by arrival', async () => {
    for (const id of [1, 2, 3]) await addTrack(legacyTrack(id));
    const up3 = ok(await vote(3, true), 200);
    assert.equal(up3.message, 'Vote updated');
    assert.deepEqual(
      (up3.queue as LegacyTrack[]).map((t) => [t.id, t.votes]),
      [
        [3, 1],
        [1, 0],
        [2, 0],
      ],
    );
    ok(await vote(2, true), 200);
    assert.deepEqual(ids(await queue()), [2, 3, 1], 'equal votes keep the order they were added in');
    const down2 = ok(await vote(2, false), 200);
    assert.deepEqual(
      (down2.queue as LegacyTrack[]).map((t) => [t.id, t.votes]),
      [
        [3, 1],
        [1, 0],
        [2, 0],
      ],
      'up then down nets 0',
    );
    // Each legacy vote is a fresh voter: many ups add up, and downs go below zero.
    ok(await vote(1, true), 200);
    ok(await vote(1, true), 200);
    ok(await vote(2, false), 200);
    assert.deepEqual(
      (await queue()).map((t) => [t.id, t.votes]),
      [
        [1, 2],
        [3, 1],
        [2, -1],
      ],
    );
    const meta = ok(await api.get('/metadata/2'), 200);
    assert.equal(meta.votes, -1);
  });

  void test('vote: unknown id is 404 Track not found; a missing or bad ?up is 400', async () => {
    await addTrack(legacyTrack(1));
    assertLegacyError(await vote(404, true), 404, /Track not found/);
    assertLegacyError(await api.post('/vote', { id: 1 }), 400, /up/);
    assertLegacyError(await vote(1, 'maybe'), 400, /./);
    assertLegacyError(await api.post('/vote?up=true', {}), 400, /./);
    assert.deepEqual(
      (await queue()).map((t) => t.votes),
      [0],
    );
  });

  void test('metadata/{id}: the track in the earlier format; 404 for an unknown id', async () => {
    await addTrack({ id: 42, title: 'Answer', artist: 'Deep Thought', duration: 42 });
    assert.deepEqual(ok(await api.get('/metadata/42'), 200), {
      id: 42,
      title: 'Answer',
      artist: 'Deep Thought',
      duration: 42,
      votes: 0,
    });
    assertLegacyError(await api.get('/metadata/43'), 404, /Track not found/);
    assertLegacyError(await api.get('/metadata/not-a-number'), 404, /Track not found/);
    assertLegacyError(await api.get('/metadata/-1'), 404, /Track not found/);
  });

  void test('remove_track removes by id; unknown id is 404', async () => {
    for (const id of [1, 2, 3]) await addTrack(legacyTrack(id));
    const removed = ok(await api.post('/remove_track', { id: 2 }), 200);
    assert.equal(removed.message, 'Track removed');
    assert.deepEqual(ids(removed.queue as LegacyTrack[]), [1, 3]);
    assert.deepEqual(ids(await queue()), [1, 3]);
    assertLegacyError(await api.post('/remove_track', { id: 2 }), 404, /Track not found/);
    assertLegacyError(await api.post('/remove_track', {}), 400, /./);
    assertLegacyError(await api.get('/metadata/2'), 404, /Track not found/);
  });

  void test('play_next moves the head out of the queue into /history; 400 Queue empty when nothing is left', async () => {
    for (const id of [1, 2, 3]) await addTrack(legacyTrack(id));
    ok(await vote(3, true), 200); // order 3, 1, 2
    const first = ok(await api.post('/play_next'), 200);
    assert.deepEqual(first, { id: 3, title: 'Song 3', artist: 'Band 3', duration: 180, votes: 1 });
    assert.deepEqual(ids(await queue()), [1, 2]);
    assert.deepEqual(ok(await api.get('/history'), 200), { history: [{ ...legacyTrack(3), votes: 1 }] });

    const second = ok(await api.post('/play_next'), 200);
    assert.equal(second.id, 1);
    assert.deepEqual(ids(await queue()), [2]);
    assert.deepEqual(
      ids(ok(await api.get('/history'), 200).history as LegacyTrack[]),
      [3, 1],
      'oldest first',
    );
    // What was played can still be looked up.
    assert.equal(ok(await api.get('/metadata/3'), 200).id, 3);

    assert.equal(ok(await api.post('/play_next'), 200).id, 2);
    assert.deepEqual(await queue(), []);
    const empty = await api.post('/play_next');
    assertLegacyError(empty, 400, /^Queue empty$/);
    assert.deepEqual(ids(ok(await api.get('/history'), 200).history as LegacyTrack[]), [3, 1, 2]);
    const room = ok(await api.get('/v1/rooms/legacy'), 200);
    assert.equal(room.nowPlaying.track.trackId, '2');
    assert.equal(room.playCount, 2);
  });

  void test('clear empties the queue and the history', async () => {
    for (const id of [7, 8]) await addTrack(legacyTrack(id));
    ok(await api.post('/play_next'), 200);
    const cleared = ok(await api.post('/clear'), 200);
    assert.deepEqual(cleared, { message: 'Queue cleared', queue: [] });
    assert.deepEqual(await queue(), []);
    assert.deepEqual(ok(await api.get('/history'), 200), { history: [] });
    assertLegacyError(await api.get('/metadata/7'), 404, /Track not found/);
    // Clearing an empty room is fine too.
    assert.deepEqual(ok(await api.post('/clear'), 200), { message: 'Queue cleared', queue: [] });
  });

  void test('hundreds of tracks from one anonymous caller are accepted (the earlier limits)', async () => {
    const n = 150;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => api.post('/add_track', legacyTrack(1000 + i))),
    );
    for (const res of results) ok(res, 200);
    const q = await queue();
    assert.equal(q.length, n);
    assert.deepEqual(
      [...ids(q)].sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => 1000 + i),
    );
  });
});

void describe('--no-legacy', () => {
  void test('switches every legacy route off (404), the v1 API stays', async () => {
    const plain = await startChorus({ args: ['--no-legacy'] });
    try {
      const other = new Http(plain.restUrl);
      for (const [method, path, body] of [
        ['GET', '/queue', undefined],
        ['GET', '/history', undefined],
        ['GET', '/metadata/1', undefined],
        ['POST', '/add_track', legacyTrack(1)],
        ['POST', '/remove_track', { id: 1 }],
        ['POST', '/vote?up=true', { id: 1 }],
        ['POST', '/play_next', undefined],
        ['POST', '/clear', undefined],
      ] as const) {
        assertError(
          await other.request(method, path, body === undefined ? {} : { json: body }),
          404,
          'NOT_FOUND',
        );
      }
      assertError(await other.get('/v1/rooms/legacy'), 404, 'NOT_FOUND');
      assert.equal((await other.get('/healthz')).status, 200);
    } finally {
      assert.equal(await plain.stop(), 0, plain.stderr());
    }
  });

  void test('CHORUS_NO_LEGACY in the environment does the same; --legacy-room picks another room', async () => {
    const [envOff, moved] = await Promise.all([
      startChorus({ env: { CHORUS_NO_LEGACY: 'true' } }),
      startChorus({ args: ['--legacy-room', 'old-queue'] }),
    ]);
    try {
      assertError(await new Http(envOff.restUrl).get('/queue'), 404, 'NOT_FOUND');
      const m = new Http(moved.restUrl);
      ok(await m.post('/add_track', legacyTrack(5)), 200);
      assert.equal(ok(await m.get('/v1/rooms/old-queue'), 200).queueLength, 1);
      assertError(await m.get('/v1/rooms/legacy'), 404, 'NOT_FOUND');
    } finally {
      assert.equal(await envOff.stop(), 0, envOff.stderr());
      assert.equal(await moved.stop(), 0, moved.stderr());
    }
  });
});
