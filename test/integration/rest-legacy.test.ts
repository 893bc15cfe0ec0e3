// The legacy REST API (docs/architecture.md section 3) over a real `chorus serve`: issue 13's table, answer for
// answer (test/helpers/legacy-contract.ts, the same suite the cluster test runs through nginx), a
// track of unknown length seen through v1, the earlier limits; and `--no-legacy` switching it off.

/* eslint-disable @typescript-eslint/no-unsafe-return --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cleanupChorus, startChorus } from '../helpers/chorus-process.ts';
import { assertError, Http, type Json } from '../helpers/http.ts';
import { startInProcess, type InProcessNode } from '../helpers/in-process.ts';
import {
  eventually,
  ok,
  PyRequests,
  restContract,
  track as legacyTrack,
} from '../helpers/legacy-contract.ts';

// The node runs in this process (routes, schemas and answers need no process of their own); v1
// requests go through app.inject, the legacy contract through the node's loopback port.
let node: InProcessNode;
let api: Http;

before(async () => {
  node = await startInProcess();
  api = node.api;
});

after(async () => {
  try {
    await node?.close();
  } finally {
    await cleanupChorus();
  }
});

restContract(() => ({ rest: node.restUrl }));

void describe('legacy REST beside v1', () => {
  void test('a track of unknown length: durationMs 0 in v1, ETA null behind it, no remaining time', async () => {
    const py = new PyRequests(node.restUrl);
    ok(await py.post('/clear'));
    ok(await py.post('/add_track', { json: legacyTrack(1, 60) }));
    ok(await py.post('/add_track', { json: legacyTrack(2, 0) }));
    ok(await py.post('/add_track', { json: legacyTrack(3, 60) }));
    const room = ok(await py.get('/v1/rooms/legacy'));
    assert.deepEqual(
      (room.queue as Json[]).map((e) => [e.track.trackId, e.track.durationMs, e.etaMs]),
      [
        ['1', 60_000, 0],
        ['2', 0, 60_000],
        ['3', 60_000, null],
      ],
    );
    // Play the unknown one: nothing queued behind it has an ETA, and it has no remaining time.
    ok(await py.post('/remove_track', { json: { id: 1 } }));
    assert.equal(ok(await py.post('/play_next')).now_playing.duration, 0);
    const playing = ok(await py.get('/v1/rooms/legacy'));
    assert.equal(playing.nowPlaying.remainingMs, null);
    assert.deepEqual(
      (playing.queue as Json[]).map((e) => e.etaMs),
      [null],
    );
  });

  void test('the playback clock ends a 1 s track but never one of unknown length (added over v1); the host skips it', async () => {
    const create = (roomId: string) =>
      api.post('/v1/rooms', { roomId, name: roomId, hostName: 'Ann', settings: { autoplay: true } });
    const [stream, short] = await Promise.all([create('unknown-length'), create('one-second')]);
    const add = (roomId: string, token: string, durationMs: number) =>
      api.request('POST', `/v1/rooms/${roomId}/queue`, {
        json: { track: { trackId: `t-${roomId}`, title: 'T', artist: 'A', album: '', durationMs } },
        token,
      });
    assert.equal((await add('unknown-length', stream.body.token as string, 0)).status, 201);
    assert.equal((await add('one-second', short.body.token as string, 1000)).status, 201);
    // Once the clock has ended the 1 s track (it ticks over every loaded room), it has looked at
    // the unknown-length one too, and left it playing.
    await eventually('the clock ends the 1 s track', async () => {
      const history = (await api.get('/v1/rooms/one-second/history')).body;
      assert.equal(history.records[0]?.reason, 'finished');
    });
    const tick = (await api.get('/v1/rooms/one-second/history')).body.records[0].endedAt as number;
    await eventually('a later clock pass', async () => {
      const view = (await api.get('/v1/rooms/one-second')).body;
      assert.ok(Date.now() > tick + 2000, JSON.stringify(view.version));
    });
    const view = (await api.get('/v1/rooms/unknown-length')).body;
    assert.equal(view.nowPlaying.track.durationMs, 0);
    assert.equal(view.nowPlaying.remainingMs, null);
    assert.ok(view.nowPlaying.positionMs >= 2000, JSON.stringify(view.nowPlaying));
    assert.equal(view.playCount, 0);
    // The host skips it: that ends it.
    const skipped = await api.request('POST', '/v1/rooms/unknown-length/advance', {
      json: {},
      token: stream.body.token as string,
    });
    assert.equal(skipped.status, 200, skipped.text);
    const history = (await api.get('/v1/rooms/unknown-length/history')).body;
    assert.deepEqual(
      (history.records as Json[]).map((r) => [r.track.durationMs, r.reason]),
      [[0, 'skipped']],
    );
  });

  void test('/history pages with ?offset=&limit= (an extension); without them, the whole history', async () => {
    const py = new PyRequests(node.restUrl);
    ok(await py.post('/clear'));
    for (let id = 1; id <= 5; id++) ok(await py.post('/add_track', { json: legacyTrack(id, 60) }));
    for (let i = 0; i < 5; i++) ok(await py.post('/play_next'));
    const all = await api.get('/history');
    assert.deepEqual(
      (all.body as Json[]).map((t) => t.id),
      [1, 2, 3, 4, 5],
    );
    assert.equal(all.headers.get('x-total-count'), '5');
    const page = await api.get('/history?offset=3&limit=10');
    assert.deepEqual(
      (page.body as Json[]).map((t) => t.id),
      [4, 5],
    );
    const newest = await api.get('/history?offset=2&limit=2');
    assert.deepEqual(
      (newest.body as Json[]).map((t) => t.id),
      [3, 4],
    );
    const bad = await api.get('/history?limit=0');
    assert.equal(bad.status, 422, bad.text);
    assert.deepEqual(bad.body.detail[0].loc, ['query', 'limit']);
  });

  void test('hundreds of tracks from one anonymous caller are accepted (the earlier limits)', async () => {
    const py = new PyRequests(node.restUrl);
    ok(await py.post('/clear'));
    const n = 150;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => py.post('/add_track', { json: legacyTrack(1000 + i) })),
    );
    for (const res of results) ok(res);
    const q = ok(await py.get('/queue')) as { id: number }[];
    assert.deepEqual(
      q.map((t) => t.id).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => 1000 + i),
    );
  });
});

void describe('--no-legacy', () => {
  void test('switches every legacy route off (404), the v1 API stays', async () => {
    const plain = await startInProcess({ legacy: false });
    try {
      const other = plain.api;
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
      await plain.close();
    }
  });

  void test('CHORUS_NO_LEGACY in the environment does the same; --legacy-room picks another room', async () => {
    const [envOff, moved] = await Promise.all([
      startChorus({ env: { CHORUS_NO_LEGACY: 'true' } }),
      // The environment is read by the command line: a process of its own; the option needs none.
      startInProcess({ legacyRoom: 'old-queue' }),
    ]);
    try {
      assertError(await new Http(envOff.restUrl).get('/queue'), 404, 'NOT_FOUND');
      const m = moved.api;
      assert.equal((await m.post('/add_track', legacyTrack(5))).status, 200);
      assert.equal((await m.get('/v1/rooms/old-queue')).body.queueLength, 1);
      assertError(await m.get('/v1/rooms/legacy'), 404, 'NOT_FOUND');
    } finally {
      assert.equal(await envOff.stop(), 0, envOff.stderr());
      await moved.close();
    }
  });
});
