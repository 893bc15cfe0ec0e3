// REST API v1 over a node in this process (test/helpers/in-process.ts; a real `chorus serve` for the
// graceful stop): every route, every error code reachable over REST with its HTTP status and the
// one error body, idempotent retries, SSE with resume, minVersion reads, operations endpoints and
// the server-owned playback clock.

/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { cleanupChorus, startChorus } from '../helpers/chorus-process.ts';
import { startInProcess, type InProcessNode } from '../helpers/in-process.ts';
import type { Http } from '../helpers/http.ts';
import {
  assertError,
  isSse,
  ok,
  openSse,
  type HttpResponse,
  type Json,
  type SseStream,
} from '../helpers/http.ts';
import { until } from '../helpers/until.ts';

const READ_TIMEOUT_MS = 200;

// The node runs in this process (routes, schemas and errors need no process of their own); requests
// go through app.inject, streams over its loopback port. The graceful-stop test starts a process.
let node: InProcessNode;
let api: Http;

before(async () => {
  node = await startInProcess({ readTimeoutMs: String(READ_TIMEOUT_MS), clockIntervalMs: '50' });
  api = node.api;
});

after(async () => {
  try {
    await node?.close();
  } finally {
    await cleanupChorus();
  }
});

// ---- Helpers -------------------------------------------------------------------------------------

let counter = 0;
function uniqueId(prefix: string): string {
  counter++;
  return `${prefix}-${counter}-${randomUUID().slice(0, 6)}`;
}

interface Room {
  readonly id: string;
  readonly hostToken: string;
  readonly hostId: string;
}

interface Member {
  readonly memberId: string;
  readonly token: string;
}

async function createRoom(settings: Json = {}, name = 'Test room'): Promise<Room> {
  const id = uniqueId('room');
  const body = ok(await api.post('/v1/rooms', { name, hostName: 'Hostess', roomId: id, settings }), 201);
  return { id, hostToken: body.token, hostId: body.memberId };
}

async function join(roomId: string, name = 'Member'): Promise<Member> {
  const body = ok(await api.post(`/v1/rooms/${roomId}/members`, { name }), 201);
  return { memberId: body.memberId, token: body.token };
}

function track(id: string, durationMs = 600_000): Json {
  return { trackId: id, title: `Title ${id}`, artist: `Artist ${id}`, album: 'Album', durationMs };
}

async function addTrack(roomId: string, token: string, t: Json): Promise<Json> {
  return ok(await api.post(`/v1/rooms/${roomId}/queue`, { track: t }, { token }), 201);
}

async function roomView(roomId: string, token?: string): Promise<Json> {
  return ok(await api.get(`/v1/rooms/${roomId}?limit=1000`, token ? { token } : {}), 200);
}

async function catalogTracks(query: string, limit = 10): Promise<Json[]> {
  const body = ok(await api.get(`/v1/catalog/search?q=${encodeURIComponent(query)}&limit=${limit}`), 200);
  return body.tracks as Json[];
}

/** The queue as "trackId" in order. */
function order(room: Json): string[] {
  return (room.queue as Json[]).map((q) => q.track.trackId as string);
}

// ---- Operations ----------------------------------------------------------------------------------

void describe('operations', () => {
  void test('/healthz and /readyz', async () => {
    const health = await api.get('/healthz');
    assert.deepEqual(ok(health, 200), { status: 'ok' });
    const ready = ok(await api.get('/readyz'), 200);
    assert.equal(ready.ready, true);
    assert.equal(ready.store, 'memory');
    assert.equal(typeof ready.detail, 'string');
  });

  void test('/metrics is Prometheus text with request, commit, room and SSE metrics', async () => {
    const room = await createRoom();
    await roomView(room.id);
    // A refused write (no such entry) is counted apart from the ones that succeeded.
    const refused = await api.put(
      `/v1/rooms/${room.id}/queue/e_missing/vote`,
      { value: 1 },
      { token: room.hostToken },
    );
    assert.equal(refused.status, 404, refused.text);
    const res = await api.get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = res.text;
    for (const name of [
      'chorus_http_request_duration_seconds',
      'chorus_store_commit_duration_seconds',
      'chorus_rooms_loaded',
      'chorus_sse_connections',
      'chorus_clock_advances_total',
      'process_cpu_seconds_total',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${name} `, 'm'), `missing ${name}`);
    }
    assert.match(
      text,
      /^chorus_http_request_duration_seconds_count\{[^}]*method="POST"[^}]*route="\/v1\/rooms"[^}]*status="201"[^}]*\} [1-9]/m,
    );
    assert.match(
      text,
      /^chorus_http_request_duration_seconds_count\{[^}]*route="\/v1\/rooms\/:roomId"[^}]*\} [1-9]/m,
    );
    assert.match(
      text,
      /^chorus_store_commit_duration_seconds_count\{[^}]*command="createRoom"[^}]*outcome="ok"[^}]*\} [1-9]/m,
    );
    assert.match(
      text,
      /^chorus_store_commit_duration_seconds_count\{[^}]*command="vote"[^}]*outcome="refused"[^}]*\} [1-9]/m,
    );
    const rooms = /^chorus_rooms_loaded (\d+)/m.exec(text);
    assert.ok(rooms && Number(rooms[1]) >= 2, 'rooms loaded counts the legacy room and ours');
  });

  void test('/docs/json is an OpenAPI document of every v1 route; /docs serves the UI', async () => {
    const doc = ok(await api.get('/docs/json'), 200);
    assert.match(String(doc.openapi), /^3\./);
    const expected: Record<string, string[]> = {
      '/v1/rooms': ['get', 'post'],
      '/v1/rooms/{roomId}': ['get'],
      '/v1/rooms/{roomId}/members': ['post'],
      '/v1/rooms/{roomId}/queue': ['post'],
      '/v1/rooms/{roomId}/queue/{entryId}': ['delete'],
      '/v1/rooms/{roomId}/queue/{entryId}/vote': ['put'],
      '/v1/rooms/{roomId}/advance': ['post'],
      '/v1/rooms/{roomId}/settings': ['patch'],
      '/v1/rooms/{roomId}/lock': ['put'],
      '/v1/rooms/{roomId}/history': ['get'],
      '/v1/rooms/{roomId}/events': ['get'],
      '/v1/catalog/search': ['get'],
      '/v1/catalog/tracks/{trackId}': ['get'],
      '/v1/catalog/tracks/{trackId}/artwork': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      assert.ok(doc.paths[path], `OpenAPI lacks ${path}`);
      for (const m of methods) assert.ok(doc.paths[path][m], `OpenAPI lacks ${m.toUpperCase()} ${path}`);
    }
    const create = doc.paths['/v1/rooms'].post;
    const schema = create.requestBody.content['application/json'].schema;
    assert.ok(schema.properties.name && schema.properties.hostName, 'create-room body schema is documented');
    assert.ok(create.responses['201'] && create.responses['400'], 'responses are documented');
    const ui = await api.get('/docs');
    assert.equal(ui.status, 200);
    assert.match(ui.headers.get('content-type') ?? '', /text\/html/);
  });
});

// ---- Rooms and members ---------------------------------------------------------------------------

void describe('rooms and members', () => {
  void test('create a room: 201, the host member, token and default settings', async () => {
    const id = uniqueId('create');
    const res = await api.post('/v1/rooms', { name: ' Friday  ', hostName: 'Ann', roomId: id });
    const body = ok(res, 201);
    assert.equal(body.room.id, id);
    assert.equal(body.room.name, 'Friday');
    assert.equal(body.room.version, 1);
    assert.equal(body.room.memberCount, 1);
    assert.equal(body.room.hostId, body.memberId);
    assert.deepEqual(body.room.me, {
      memberId: body.memberId,
      name: 'Ann',
      isHost: true,
      role: 'host',
      joinedAt: body.room.createdAt,
    });
    assert.match(body.recoveryKey, /^[A-Za-z0-9_-]{32}$/, 'a recovery key, shown once');
    assert.equal(body.invite, undefined, 'a public room needs no invite');
    assert.equal(typeof body.token, 'string');
    assert.ok(body.token.length > 20);
    assert.deepEqual(body.room.settings, {
      public: true,
      autoplay: true,
      maxQueueLength: 500,
      maxEntriesPerMember: 10,
      maxTrackDurationMs: 20 * 60_000,
      voteOffThreshold: 5,
      skipVotes: 3,
      replayProtectionMinutes: 0,
      historyRetention: 1000,
      skipShare: 0.5,
      joinPolicy: 'open',
      maxMembers: 0,
      joinsPerMinute: 0,
    });
    assert.equal(body.room.nowPlaying, null);
    assert.deepEqual(body.room.queue, []);
    assert.equal(body.room.locked, false);
  });

  void test('create without an id derives a slug from the name; settings are applied', async () => {
    const body = ok(
      await api.post('/v1/rooms', {
        name: 'Friday Party!',
        hostName: 'Ann',
        settings: { maxQueueLength: 7, public: false },
      }),
      201,
    );
    assert.match(body.room.id, /^friday-party-[a-z0-9]+$/);
    assert.equal(body.room.settings.maxQueueLength, 7);
    assert.equal(body.room.settings.public, false);
    // A private room is read with its invite (or a member token).
    assert.match(body.invite, /^[A-Za-z0-9_-]{22}$/);
    const again = await roomView(body.room.id as string, body.token as string);
    assert.equal(again.settings.maxQueueLength, 7);
  });

  void test('creating an existing room id is ALREADY_EXISTS 409', async () => {
    const room = await createRoom();
    const res = await api.post('/v1/rooms', { name: 'Other', hostName: 'Bob', roomId: room.id });
    const error = assertError(res, 409, 'ALREADY_EXISTS');
    assert.equal(error.details?.['roomId'], room.id);
    assert.equal((await roomView(room.id)).name, 'Test room', 'the first room is untouched');
  });

  void test('list public rooms, newest first, with a limit; private rooms are not listed', async () => {
    const pub = await createRoom({}, 'Listed');
    const priv = await createRoom({ public: false }, 'Hidden');
    const all = ok(await api.get('/v1/rooms?limit=500'), 200);
    const ids = (all.rooms as Json[]).map((r) => r.id as string);
    assert.ok(ids.includes(pub.id));
    assert.ok(!ids.includes(priv.id));
    const listing = (all.rooms as Json[]).find((r) => r.id === pub.id);
    assert.deepEqual(
      { name: listing.name, memberCount: listing.memberCount, queueLength: listing.queueLength },
      { name: 'Listed', memberCount: 1, queueLength: 0 },
    );
    assert.equal(listing.nowPlaying, null);
    const created = (all.rooms as Json[]).map((r) => r.createdAt as number);
    assert.deepEqual(
      created,
      [...created].sort((a, b) => b - a),
      'newest first',
    );
    const one = ok(await api.get('/v1/rooms?limit=1'), 200);
    assert.equal(one.rooms.length, 1);
    assertError(await api.get('/v1/rooms?limit=0'), 400, 'INVALID_ARGUMENT');
    assertError(await api.get('/v1/rooms?limit=many'), 400, 'INVALID_ARGUMENT');
  });

  void test('get a room: public read without a token, `me` with one', async () => {
    const room = await createRoom();
    const anon = await roomView(room.id);
    assert.equal(anon.id, room.id);
    assert.equal(anon.me, null);
    const mine = await roomView(room.id, room.hostToken);
    assert.equal(mine.me.memberId, room.hostId);
    const other = await createRoom();
    const foreign = await roomView(room.id, other.hostToken);
    assert.equal(foreign.me, null, "another room's token does not make you a viewer here");
    assertError(await api.get(`/v1/rooms/${uniqueId('nope')}`), 404, 'NOT_FOUND');
    assertError(await api.get('/v1/rooms/Not_A_Slug'), 400, 'INVALID_ARGUMENT');
  });

  void test('join: 201 with a member id and token; errors for bad names and unknown rooms', async () => {
    const room = await createRoom();
    const res = await api.post(`/v1/rooms/${room.id}/members`, { name: 'Bea' });
    const body = ok(res, 201);
    assert.match(body.memberId, /^[A-Za-z0-9_.:~-]+$/);
    assert.notEqual(body.memberId, room.hostId);
    assert.equal(body.room.memberCount, 2);
    assert.equal(body.room.me.isHost, false);
    assert.equal(body.room.me.name, 'Bea');
    assert.equal((await roomView(room.id, body.token as string)).me.memberId, body.memberId);
    assertError(await api.post(`/v1/rooms/${uniqueId('nope')}/members`, { name: 'Bea' }), 404, 'NOT_FOUND');
    assertError(await api.post(`/v1/rooms/${room.id}/members`, { name: '' }), 400, 'INVALID_ARGUMENT');
    assertError(
      await api.post(`/v1/rooms/${room.id}/members`, { name: 'x'.repeat(81) }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(await api.post(`/v1/rooms/${room.id}/members`, { name: '   ' }), 400, 'INVALID_ARGUMENT');
    assertError(
      await api.post(`/v1/rooms/${room.id}/members`, { name: 'a\u0007b' }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(await api.post(`/v1/rooms/${room.id}/members`, {}), 400, 'INVALID_ARGUMENT', /name/);
    assert.equal((await roomView(room.id)).memberCount, 2, 'refused joins add no one');
  });
});

// ---- Queue -----------------------------------------------------------------------------------------

void describe('queue', () => {
  void test('add by catalog id: the first starts playing in an idle room, the next is queued with an ETA', async () => {
    const room = await createRoom();
    const [first, second] = await catalogTracks('', 2);
    const started = ok(
      await api.post(`/v1/rooms/${room.id}/queue`, { trackId: first.trackId }, { token: room.hostToken }),
      201,
    );
    assert.equal(started.started, true);
    assert.equal(started.entry, null);
    assert.equal(started.version, 2);
    const queued = ok(
      await api.post(`/v1/rooms/${room.id}/queue`, { trackId: second.trackId }, { token: room.hostToken }),
      201,
    );
    assert.equal(queued.started, false);
    assert.equal(queued.version, 3);
    assert.equal(queued.entry.position, 1);
    assert.deepEqual(queued.entry.track, second);
    assert.deepEqual(queued.entry.addedBy, { memberId: room.hostId, name: 'Hostess' });
    assert.equal(queued.entry.score, 0);
    assert.equal(queued.entry.myVote, 0);
    const view = await roomView(room.id);
    assert.deepEqual(view.nowPlaying.track, first);
    assert.equal(view.nowPlaying.remainingMs + view.nowPlaying.positionMs, first.durationMs);
    // ETA of the head = what is left of the playing track.
    assert.equal(view.queue[0].etaMs, view.nowPlaying.remainingMs, JSON.stringify(view));
    assert.ok(first.durationMs - queued.entry.etaMs < 5_000, JSON.stringify(queued));
  });

  void test('add with supplied metadata keeps a copy of it', async () => {
    const room = await createRoom({ autoplay: false });
    const t = {
      ...track('own-1', 123_000),
      year: 1999,
      genre: 'Ambient',
      artworkUrl: 'https://example.com/a.png',
    };
    const added = await addTrack(room.id, room.hostToken, t);
    assert.deepEqual(added.entry.track, t);
    const view = await roomView(room.id);
    assert.deepEqual(view.queue[0].track, t);
    // ETAs add up the durations ahead.
    await addTrack(room.id, room.hostToken, track('own-2', 1_000));
    assert.deepEqual(
      (await roomView(room.id)).queue.map((q: Json) => q.etaMs),
      [0, 123_000],
    );
  });

  void test('add: unknown catalog id is NOT_FOUND; malformed input is INVALID_ARGUMENT', async () => {
    const room = await createRoom();
    const path = `/v1/rooms/${room.id}/queue`;
    const token = room.hostToken;
    assertError(await api.post(path, { trackId: 'no-such-track' }, { token }), 404, 'NOT_FOUND');
    const [t] = await catalogTracks('', 1);
    assertError(
      await api.post(path, { trackId: t.trackId, track: track('x') }, { token }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(await api.post(path, {}, { token }), 400, 'INVALID_ARGUMENT');
    assertError(
      await api.post(path, { track: { ...track('x'), durationMs: -1 } }, { token }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.post(path, { track: { ...track('x'), durationMs: 1.5 } }, { token }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.post(path, { track: { ...track('x'), title: '' } }, { token }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.post(path, { track: { ...track('x'), title: 'x'.repeat(301) } }, { token }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.post(path, { track: { ...track('x'), artist: 'a\nb' } }, { token }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.post(path, { track: { title: 'only a title' } }, { token }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.equal((await roomView(room.id)).version, 1, 'nothing was added');
  });

  void test('duplicates are ALREADY_EXISTS 409 with the existing entry; too long is FAILED_PRECONDITION', async () => {
    const room = await createRoom();
    const member = await join(room.id);
    await addTrack(room.id, room.hostToken, track('dup-playing'));
    const queued = await addTrack(room.id, room.hostToken, track('dup-queued'));
    const path = `/v1/rooms/${room.id}/queue`;
    const q = assertError(
      await api.post(path, { track: track('dup-queued') }, { token: member.token }),
      409,
      'ALREADY_EXISTS',
    );
    assert.equal(q.details?.['where'], 'queue');
    assert.equal(q.details?.['existing'].entryId, queued.entry.entryId);
    assert.equal(q.details?.['existing'].track.trackId, 'dup-queued');
    const p = assertError(
      await api.post(path, { track: track('dup-playing') }, { token: member.token }),
      409,
      'ALREADY_EXISTS',
    );
    assert.equal(p.details?.['where'], 'nowPlaying');
    assert.equal(p.details?.['existing'].track.trackId, 'dup-playing');
    const long = assertError(
      await api.post(path, { track: track('too-long', 20 * 60_000 + 1) }, { token: member.token }),
      409,
      'FAILED_PRECONDITION',
    );
    assert.equal(long.details?.['maxTrackDurationMs'], 20 * 60_000);
    const view = await roomView(room.id);
    assert.equal(view.queueLength, 1);
    assert.equal(view.version, 4);
  });

  void test('votes: up, down, withdraw; one vote per member; the order follows score then insertion', async () => {
    const room = await createRoom({ autoplay: false });
    const m1 = await join(room.id, 'One');
    const m2 = await join(room.id, 'Two');
    const a = (await addTrack(room.id, room.hostToken, track('A'))).entry.entryId as string;
    const b = (await addTrack(room.id, room.hostToken, track('B'))).entry.entryId as string;
    const c = (await addTrack(room.id, room.hostToken, track('C'))).entry.entryId as string;
    assert.deepEqual(order(await roomView(room.id)), ['A', 'B', 'C']);
    const vote = (entry: string, value: Json, token: string): Promise<HttpResponse> =>
      api.put(`/v1/rooms/${room.id}/queue/${entry}/vote`, { value }, { token });

    const up = ok(await vote(c, 1, m1.token), 200);
    assert.deepEqual(
      {
        ups: up.ups,
        downs: up.downs,
        score: up.score,
        effect: up.effect,
        position: up.position,
        entryId: up.entryId,
        myVote: up.myVote,
      },
      { ups: 1, downs: 0, score: 1, effect: 'none', position: 1, entryId: c, myVote: 1 },
    );
    assert.deepEqual(order(await roomView(room.id)), ['C', 'A', 'B']);

    const before = (await roomView(room.id)).version as number;
    const again = ok(await vote(c, 1, m1.token), 200);
    assert.equal(again.ups, 1, 'a second identical vote counts once');
    assert.equal((await roomView(room.id)).version, before, 'and changes nothing');

    ok(await vote(b, 1, m2.token), 200);
    assert.deepEqual(order(await roomView(room.id)), ['B', 'C', 'A'], 'equal scores: insertion order');

    const down = ok(await vote(c, -1, m1.token), 200);
    assert.deepEqual([down.ups, down.downs, down.score, down.position, down.myVote], [0, 1, -1, 3, -1]);
    assert.deepEqual(order(await roomView(room.id)), ['B', 'A', 'C']);
    assert.equal((await roomView(room.id, m1.token)).queue[2].myVote, -1);

    const withdrawn = ok(await vote(c, 0, m1.token), 200);
    assert.deepEqual([withdrawn.ups, withdrawn.downs, withdrawn.score, withdrawn.myVote], [0, 0, 0, 0]);
    const view = await roomView(room.id, m2.token);
    assert.deepEqual(order(view), ['B', 'A', 'C']);
    assert.deepEqual(
      (view.queue as Json[]).map((q) => [q.position, q.score, q.ups, q.downs, q.myVote]),
      [
        [1, 1, 1, 0, 1],
        [2, 0, 0, 0, 0],
        [3, 0, 0, 0, 0],
      ],
    );
    assertError(await vote(a, 2, m1.token), 400, 'INVALID_ARGUMENT');
    assertError(await vote(a, 'up', m1.token), 400, 'INVALID_ARGUMENT');
    assertError(
      await api.put(`/v1/rooms/${room.id}/queue/${a}/vote`, {}, { token: m1.token }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(await vote('e_missing', 1, m1.token), 404, 'NOT_FOUND');
    assertError(await vote(a, 1, ''), 401, 'UNAUTHENTICATED');
  });

  void test('votes: an entry voted down to -voteOffThreshold leaves; skipVotes downvotes skip the playing track', async () => {
    const room = await createRoom({ voteOffThreshold: 1, skipVotes: 1 });
    const m = await join(room.id);
    await addTrack(room.id, room.hostToken, track('playing'));
    const queued = (await addTrack(room.id, room.hostToken, track('doomed'))).entry.entryId as string;
    await addTrack(room.id, room.hostToken, track('next'));
    const off = ok(
      await api.put(`/v1/rooms/${room.id}/queue/${queued}/vote`, { value: -1 }, { token: m.token }),
      200,
    );
    assert.equal(off.effect, 'votedOff');
    assert.equal(off.position, null);
    assert.deepEqual(order(await roomView(room.id)), ['next']);
    const playing = (await roomView(room.id)).nowPlaying.entryId as string;
    const skip = ok(
      await api.put(`/v1/rooms/${room.id}/queue/${playing}/vote`, { value: -1 }, { token: m.token }),
      200,
    );
    assert.equal(skip.effect, 'skipped');
    const view = await roomView(room.id);
    assert.equal(view.nowPlaying.track.trackId, 'next');
    const history = ok(await api.get(`/v1/rooms/${room.id}/history`), 200);
    assert.equal(history.records[0].track.trackId, 'playing');
    assert.equal(history.records[0].reason, 'votedOff');
    assert.equal(history.records[0].downs, 1);
  });

  void test('remove: own entry, any entry as host; not others\u2019 as a member; not the playing one', async () => {
    const room = await createRoom();
    const m1 = await join(room.id, 'One');
    const m2 = await join(room.id, 'Two');
    await addTrack(room.id, room.hostToken, track('host-playing'));
    const own = (await addTrack(room.id, m1.token, track('m1-own'))).entry.entryId as string;
    const other = (await addTrack(room.id, m2.token, track('m2-other'))).entry.entryId as string;
    const del = (entry: string, token: string | null): Promise<HttpResponse> =>
      api.delete(`/v1/rooms/${room.id}/queue/${entry}`, { token });

    assertError(await del(other, m1.token), 403, 'PERMISSION_DENIED');
    assertError(await del(other, null), 401, 'UNAUTHENTICATED');
    const removed = ok(await del(own, m1.token), 200);
    assert.equal(removed.entryId, own);
    assert.equal(typeof removed.version, 'number');
    assert.equal((await roomView(room.id)).version, removed.version);
    assertError(await del(own, m1.token), 404, 'NOT_FOUND');
    ok(await del(other, room.hostToken), 200);
    const playing = (await roomView(room.id)).nowPlaying.entryId as string;
    assertError(await del(playing, room.hostToken), 409, 'FAILED_PRECONDITION');
    assertError(await del('bad id!', room.hostToken), 400, 'INVALID_ARGUMENT');
    const view = await roomView(room.id);
    assert.deepEqual(order(view), []);
    assert.equal(view.nowPlaying.track.trackId, 'host-playing');
  });

  void test('advance: the host skips (members may not); a stale expectedEntryId is a no-op', async () => {
    const room = await createRoom();
    const m = await join(room.id);
    await addTrack(room.id, room.hostToken, track('first'));
    await addTrack(room.id, room.hostToken, track('second'));
    const first = (await roomView(room.id)).nowPlaying.entryId as string;
    assertError(
      await api.post(`/v1/rooms/${room.id}/advance`, {}, { token: m.token }),
      403,
      'PERMISSION_DENIED',
    );
    assertError(await api.post(`/v1/rooms/${room.id}/advance`, {}), 401, 'UNAUTHENTICATED');

    const skipped = ok(
      await api.post(`/v1/rooms/${room.id}/advance`, { expectedEntryId: first }, { token: room.hostToken }),
      200,
    );
    assert.equal(skipped.advanced, true);
    assert.equal(skipped.ended.entryId, first);
    assert.equal(skipped.ended.reason, 'skipped');
    assert.equal(skipped.ended.playNo, 1);
    assert.equal(skipped.ended.addedBy.name, 'Hostess');
    assert.equal(skipped.room.nowPlaying.track.trackId, 'second');
    assert.deepEqual(skipped.room.queue, []);

    const stale = ok(
      await api.post(`/v1/rooms/${room.id}/advance`, { expectedEntryId: first }, { token: room.hostToken }),
      200,
    );
    assert.equal(stale.advanced, false);
    assert.equal(stale.ended, null);
    assert.equal(stale.room.version, skipped.room.version, 'a stale advance changes nothing');

    // An empty object: skip whatever plays now.
    const bare = ok(await api.post(`/v1/rooms/${room.id}/advance`, {}, { token: room.hostToken }), 200);
    assert.equal(bare.advanced, true);
    assert.equal(bare.ended.track.trackId, 'second');
    assert.equal(bare.room.nowPlaying, null);
    const history = ok(await api.get(`/v1/rooms/${room.id}/history`), 200);
    assert.deepEqual(
      (history.records as Json[]).map((r) => [r.track.trackId, r.reason]),
      [
        ['second', 'skipped'],
        ['first', 'skipped'],
      ],
    );
  });

  void test('advance without any body (the body is optional) skips what plays now', async () => {
    const room = await createRoom();
    await addTrack(room.id, room.hostToken, track('only'));
    const res = await api.request('POST', `/v1/rooms/${room.id}/advance`, { token: room.hostToken });
    const bare = ok(res, 200);
    assert.equal(bare.advanced, true);
    assert.equal(bare.ended.track.trackId, 'only');
    assert.equal(bare.room.nowPlaying, null);
  });

  void test('advance starts playback of an idle room without autoplay', async () => {
    const room = await createRoom({ autoplay: false });
    const added = await addTrack(room.id, room.hostToken, track('waiting'));
    assert.equal(added.started, false);
    assert.equal((await roomView(room.id)).nowPlaying, null);
    const started = ok(
      await api.post(`/v1/rooms/${room.id}/advance`, { expectedEntryId: null }, { token: room.hostToken }),
      200,
    );
    assert.equal(started.advanced, true);
    assert.equal(started.ended, null);
    assert.equal(started.room.nowPlaying.track.trackId, 'waiting');
  });
});

// ---- Settings and lock ---------------------------------------------------------------------------

void describe('settings and lock', () => {
  void test('the host changes settings; members may not; bad settings are INVALID_ARGUMENT', async () => {
    const room = await createRoom();
    const m = await join(room.id);
    const path = `/v1/rooms/${room.id}/settings`;
    const changed = ok(
      await api.patch(path, { maxEntriesPerMember: 1, skipVotes: 0 }, { token: room.hostToken }),
      200,
    );
    assert.equal(changed.settings.maxEntriesPerMember, 1);
    assert.equal(changed.settings.skipVotes, 0);
    assert.equal(changed.settings.maxQueueLength, 500, 'other settings stay');
    const version = changed.version as number;
    const same = ok(await api.patch(path, { maxEntriesPerMember: 1 }, { token: room.hostToken }), 200);
    assert.equal(same.version, version, 'no change, no new version');
    assertError(
      await api.patch(path, { maxEntriesPerMember: 2 }, { token: m.token }),
      403,
      'PERMISSION_DENIED',
    );
    assertError(
      await api.patch(path, { noSuchSetting: 1 }, { token: room.hostToken }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.patch(path, { maxQueueLength: 0 }, { token: room.hostToken }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.patch(path, { maxQueueLength: 2_000_000 }, { token: room.hostToken }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(await api.patch(path, { public: 'yes' }, { token: room.hostToken }), 400, 'INVALID_ARGUMENT');
    assertError(await api.patch(path, [1, 2], { token: room.hostToken }), 400, 'INVALID_ARGUMENT');
    assert.equal((await roomView(room.id)).version, version);

    // The per-member cap now applies (the host is exempt; a playing track is not waiting).
    await addTrack(room.id, room.hostToken, track('host-playing'));
    await addTrack(room.id, room.hostToken, track('host-queued'));
    await addTrack(room.id, m.token, track('mine-1'));
    const capped = assertError(
      await api.post(`/v1/rooms/${room.id}/queue`, { track: track('mine-2') }, { token: m.token }),
      409,
      'FAILED_PRECONDITION',
    );
    assert.equal(capped.details?.['maxEntriesPerMember'], 1);
  });

  void test('a full queue is FAILED_PRECONDITION', async () => {
    const room = await createRoom({ maxQueueLength: 1, autoplay: false });
    await addTrack(room.id, room.hostToken, track('fits'));
    const full = assertError(
      await api.post(`/v1/rooms/${room.id}/queue`, { track: track('overflow') }, { token: room.hostToken }),
      409,
      'FAILED_PRECONDITION',
    );
    assert.match(full.message, /full/);
    assert.equal(full.details?.['maxQueueLength'], 1);
  });

  void test('lock: members cannot add or remove while locked; the host can; only the host locks', async () => {
    const room = await createRoom({ autoplay: false });
    const m = await join(room.id);
    const mine = (await addTrack(room.id, m.token, track('before-lock'))).entry.entryId as string;
    const lockPath = `/v1/rooms/${room.id}/lock`;
    assertError(await api.put(lockPath, { locked: true }, { token: m.token }), 403, 'PERMISSION_DENIED');
    assertError(
      await api.put(lockPath, { locked: 'yes' }, { token: room.hostToken }),
      400,
      'INVALID_ARGUMENT',
    );
    const locked = ok(await api.put(lockPath, { locked: true }, { token: room.hostToken }), 200);
    assert.equal(locked.locked, true);
    assert.equal((await roomView(room.id)).locked, true);
    assertError(
      await api.post(`/v1/rooms/${room.id}/queue`, { track: track('while-locked') }, { token: m.token }),
      409,
      'FAILED_PRECONDITION',
      /locked/,
    );
    assertError(
      await api.delete(`/v1/rooms/${room.id}/queue/${mine}`, { token: m.token }),
      409,
      'FAILED_PRECONDITION',
    );
    await addTrack(room.id, room.hostToken, track('host-while-locked'));
    const unlocked = ok(await api.put(lockPath, { locked: false }, { token: room.hostToken }), 200);
    assert.equal(unlocked.locked, false);
    await addTrack(room.id, m.token, track('after-unlock'));
    assert.deepEqual(order(await roomView(room.id)), ['before-lock', 'host-while-locked', 'after-unlock']);
  });
});

// ---- History -------------------------------------------------------------------------------------

void describe('history', () => {
  void test('pages newest first with nextBefore until null', async () => {
    const room = await createRoom({ autoplay: false });
    for (let i = 1; i <= 5; i++) await addTrack(room.id, room.hostToken, track(`h${i}`));
    ok(
      await api.post(`/v1/rooms/${room.id}/advance`, { expectedEntryId: null }, { token: room.hostToken }),
      200,
    );
    for (let i = 1; i <= 5; i++)
      ok(await api.post(`/v1/rooms/${room.id}/advance`, {}, { token: room.hostToken }), 200);
    const path = `/v1/rooms/${room.id}/history`;
    const first = ok(await api.get(`${path}?limit=2`), 200);
    assert.deepEqual(
      (first.records as Json[]).map((r) => [r.playNo, r.track.trackId]),
      [
        [5, 'h5'],
        [4, 'h4'],
      ],
    );
    assert.equal(first.nextBefore, 4);
    assert.equal(first.version, (await roomView(room.id)).version);
    const second = ok(await api.get(`${path}?limit=2&before=${first.nextBefore}`), 200);
    assert.deepEqual(
      (second.records as Json[]).map((r) => r.playNo),
      [3, 2],
    );
    assert.equal(second.nextBefore, 2);
    const last = ok(await api.get(`${path}?limit=2&before=${second.nextBefore}`), 200);
    assert.deepEqual(
      (last.records as Json[]).map((r) => r.playNo),
      [1],
    );
    assert.equal(last.nextBefore, null);
    const r = last.records[0];
    assert.equal(r.reason, 'skipped');
    assert.deepEqual(r.addedBy, { memberId: room.hostId, name: 'Hostess' });
    assert.ok(r.endedAt >= r.startedAt);
    const all = ok(await api.get(path), 200);
    assert.equal(all.records.length, 5, 'default limit covers them all');
    assert.equal(all.nextBefore, null);
    assertError(await api.get(`${path}?limit=0`), 400, 'INVALID_ARGUMENT');
    assertError(await api.get(`${path}?limit=201`), 400, 'INVALID_ARGUMENT');
    assertError(await api.get(`${path}?before=0`), 400, 'INVALID_ARGUMENT');
    assertError(await api.get(`/v1/rooms/${uniqueId('nope')}/history`), 404, 'NOT_FOUND');
  });
});

// ---- Catalog -------------------------------------------------------------------------------------

void describe('catalog', () => {
  void test('search finds tracks by words, with a limit; get by id; artwork 404 without a music folder', async () => {
    const all = await catalogTracks('', 100);
    assert.ok(all.length >= 50, 'the demo catalog has a few hundred tracks');
    const sample = all[17];
    const word = String(sample.artist).split(/\s+/)[0]!;
    const found = await catalogTracks(word, 100);
    assert.ok(
      found.some((t) => t.trackId === sample.trackId),
      `searching "${word}" finds ${sample.trackId}`,
    );
    for (const t of found) {
      const text = `${t.title} ${t.artist} ${t.album} ${t.genre ?? ''}`.toLowerCase();
      assert.ok(text.includes(word.toLowerCase().slice(0, 3)), `${JSON.stringify(t)} matches "${word}"`);
    }
    assert.ok((await catalogTracks(word, 1)).length <= 1);
    assert.deepEqual(await catalogTracks('zzqqxxnothingmatches'), []);
    const got = ok(await api.get(`/v1/catalog/tracks/${encodeURIComponent(sample.trackId as string)}`), 200);
    assert.deepEqual(got, sample);
    for (const key of ['trackId', 'title', 'artist', 'album', 'durationMs']) assert.ok(key in got, key);
    assertError(await api.get('/v1/catalog/tracks/no-such-track'), 404, 'NOT_FOUND');
    assertError(
      await api.get(`/v1/catalog/tracks/${encodeURIComponent(sample.trackId as string)}/artwork`),
      404,
      'NOT_FOUND',
    );
    assertError(await api.get(`/v1/catalog/search?q=${'a'.repeat(201)}`), 400, 'INVALID_ARGUMENT');
    assertError(await api.get('/v1/catalog/search?limit=0'), 400, 'INVALID_ARGUMENT');
    assertError(await api.get('/v1/catalog/search?limit=101'), 400, 'INVALID_ARGUMENT');
  });
});

// ---- Server-Sent Events --------------------------------------------------------------------------

async function sse(roomId: string, query = '', headers: Record<string, string> = {}): Promise<SseStream> {
  const stream = await openSse(`${node.restUrl}/v1/rooms/${roomId}/events${query}`, headers);
  assert.ok(
    isSse(stream),
    `expected an event stream, got ${isSse(stream) ? '' : `${stream.status} ${stream.text}`}`,
  );
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  return stream;
}

void describe('events (SSE)', () => {
  void test('a fresh stream starts with a reset, then one change per version', async () => {
    const room = await createRoom({ autoplay: false });
    const stream = await sse(room.id);
    try {
      const reset = await stream.next();
      assert.equal(reset.event, 'reset');
      assert.equal(reset.id, '1');
      assert.equal(reset.data.version, 1);
      assert.equal(reset.data.room.id, room.id);
      await addTrack(room.id, room.hostToken, track('s1'));
      await addTrack(room.id, room.hostToken, track('s2'));
      const added = await stream.next();
      assert.equal(added.event, 'change');
      assert.equal(added.id, '2');
      assert.equal(added.data.version, 2);
      assert.deepEqual(
        (added.data.events as Json[]).map((e) => e.type),
        ['entryAdded'],
      );
      assert.equal(added.data.events[0].entry.track.trackId, 's1');
      assert.equal((await stream.next()).id, '3');
      ok(
        await api.post(`/v1/rooms/${room.id}/advance`, { expectedEntryId: null }, { token: room.hostToken }),
        200,
      );
      const started = await stream.next();
      assert.deepEqual(
        [started.id, (started.data.events as Json[]).map((e) => e.type)],
        ['4', ['trackStarted']],
      );
      ok(await api.post(`/v1/rooms/${room.id}/advance`, {}, { token: room.hostToken }), 200);
      const skipped = await stream.next();
      assert.equal(skipped.id, '5');
      assert.deepEqual(
        (skipped.data.events as Json[]).map((e) => [e.type, e.version]),
        [
          ['trackEnded', 5],
          ['trackStarted', 5],
        ],
        'one message carries every event of one version',
      );
      const m = await join(room.id, 'Watcher');
      const joined = await stream.next();
      assert.equal(joined.id, '6');
      assert.equal(joined.data.events[0].type, 'memberJoined');
      assert.equal(joined.data.events[0].member.memberId, m.memberId);
    } finally {
      stream.close();
    }
  });

  void test('resume with Last-Event-ID or ?after= replays exactly the missed versions, no reset', async () => {
    const room = await createRoom({ autoplay: false });
    for (let i = 1; i <= 4; i++) await addTrack(room.id, room.hostToken, track(`r${i}`)); // versions 2..5
    const resumed = await sse(room.id, '', { 'last-event-id': '3' });
    try {
      const a = await resumed.next();
      const b = await resumed.next();
      assert.deepEqual([a.event, a.id, b.event, b.id], ['change', '4', 'change', '5']);
      assert.equal(a.data.events[0].entry.track.trackId, 'r3');
      await addTrack(room.id, room.hostToken, track('r5'));
      assert.equal((await resumed.next()).id, '6');
    } finally {
      resumed.close();
    }
    const after = await sse(room.id, '?after=4');
    try {
      assert.deepEqual([(await after.next()).id, (await after.next()).id], ['5', '6']);
      await addTrack(room.id, room.hostToken, track('r6'));
      const live = await after.next();
      assert.deepEqual([live.event, live.id], ['change', '7']);
    } finally {
      after.close();
    }
    // Up to date: nothing until the next change.
    const current = await sse(room.id, '?after=7');
    try {
      await join(room.id);
      const next = await current.next();
      assert.deepEqual([next.event, next.id], ['change', '8']);
    } finally {
      current.close();
    }
    // The header wins over the query.
    const both = await sse(room.id, '?after=2', { 'last-event-id': '7' });
    try {
      assert.equal((await both.next()).id, '8');
    } finally {
      both.close();
    }
  });

  void test('events of an unknown room are NOT_FOUND; a bad ?after= is INVALID_ARGUMENT', async () => {
    const missing = await openSse(`${node.restUrl}/v1/rooms/${uniqueId('nope')}/events`);
    assert.ok(!isSse(missing), 'no stream for a missing room');
    assertError(missing, 404, 'NOT_FOUND');
    const room = await createRoom();
    const bad = await openSse(`${node.restUrl}/v1/rooms/${room.id}/events?after=-1`);
    assert.ok(!isSse(bad));
    assertError(bad, 400, 'INVALID_ARGUMENT');
  });
});

// ---- minVersion ----------------------------------------------------------------------------------

void describe('minVersion reads', () => {
  void test('a read at a version already applied answers at once', async () => {
    const room = await createRoom();
    const v = (await roomView(room.id)).version as number;
    const view = ok(await api.get(`/v1/rooms/${room.id}?minVersion=${v}`), 200);
    assert.equal(view.version, v);
    ok(await api.get(`/v1/rooms/${room.id}/history?minVersion=${v}`), 200);
  });

  void test('a read waits for a version that arrives meanwhile (read your writes)', async () => {
    const room = await createRoom();
    const v = (await roomView(room.id)).version as number;
    const waiting = api.get(`/v1/rooms/${room.id}?minVersion=${v + 1}`);
    const joined = await join(room.id);
    const view = ok(await waiting, 200);
    assert.ok(view.version >= v + 1);
    assert.ok(view.memberCount >= 2, `${joined.memberId} is visible`);
  });

  void test('a version that never comes is DEADLINE_EXCEEDED 504 after the read timeout', async () => {
    const room = await createRoom();
    const v = (await roomView(room.id)).version as number;
    const started = Date.now();
    const res = await api.get(`/v1/rooms/${room.id}?minVersion=${v + 100}`);
    const elapsed = Date.now() - started;
    const error = assertError(res, 504, 'DEADLINE_EXCEEDED');
    assert.equal(error.details?.['minVersion'], v + 100);
    assert.equal(error.details?.['version'], v);
    assert.ok(elapsed >= READ_TIMEOUT_MS - 20, `waited ${elapsed} ms`);
    assert.ok(elapsed < 5_000, `waited ${elapsed} ms`);
    assertError(
      await api.get(`/v1/rooms/${room.id}/history?minVersion=${v + 100}`),
      504,
      'DEADLINE_EXCEEDED',
    );
    assertError(await api.get(`/v1/rooms/${room.id}?minVersion=-1`), 400, 'INVALID_ARGUMENT');
    assertError(await api.get(`/v1/rooms/${room.id}?minVersion=soon`), 400, 'INVALID_ARGUMENT');
  });
});

// ---- Errors over REST ----------------------------------------------------------------------------

void describe('errors', () => {
  void test('INVALID_ARGUMENT 400: bad JSON, empty body, wrong content type, oversized body, wrong shapes', async () => {
    const room = await createRoom();
    const path = `/v1/rooms/${room.id}/members`;
    const json = { 'content-type': 'application/json' };
    assertError(
      await api.request('POST', path, { raw: '{"name": "Bea"', headers: json }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(await api.request('POST', path, { raw: 'not json', headers: json }), 400, 'INVALID_ARGUMENT');
    assertError(await api.request('POST', path, { raw: '', headers: json }), 400, 'INVALID_ARGUMENT');
    assertError(
      await api.request('POST', path, { raw: '{"name":"Bea"}', headers: { 'content-type': 'text/plain' } }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.request('POST', path, {
        raw: 'name=Bea',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(await api.request('POST', path), 400, 'INVALID_ARGUMENT');
    const huge = await api.post(path, { name: 'Bea', padding: 'x'.repeat(200 * 1024) });
    assertError(huge, 400, 'INVALID_ARGUMENT', /too large/);
    assertError(await api.post(path, 'Bea'), 400, 'INVALID_ARGUMENT');
    assertError(await api.post(path, null), 400, 'INVALID_ARGUMENT');
    assertError(await api.post(path, { name: ['a', 'b'] }), 400, 'INVALID_ARGUMENT');
    assertError(await api.post(path, { name: { first: 'Bea' } }), 400, 'INVALID_ARGUMENT');
    assertError(
      await api.post('/v1/rooms', { name: 'x', hostName: 'y', roomId: 'UPPER' }),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.post('/v1/rooms', { name: 'x', hostName: 'y', settings: { bogus: 1 } }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.equal((await roomView(room.id)).memberCount, 1, 'no bad request joined anyone');
  });

  void test('UNAUTHENTICATED 401: no token, a malformed header, a forged or garbled token', async () => {
    const room = await createRoom();
    const path = `/v1/rooms/${room.id}/queue`;
    const body = { track: track('auth') };
    assertError(await api.post(path, body), 401, 'UNAUTHENTICATED');
    assertError(
      await api.post(path, body, { headers: { authorization: `Basic ${room.hostToken}` } }),
      401,
      'UNAUTHENTICATED',
    );
    assertError(await api.post(path, body, { headers: { authorization: 'Bearer' } }), 401, 'UNAUTHENTICATED');
    assertError(await api.post(path, body, { token: 'garbage' }), 401, 'UNAUTHENTICATED');
    const [prefix, payload, mac] = room.hostToken.split('.');
    const forged = `${prefix}.${Buffer.from(JSON.stringify({ r: room.id, m: 'm_intruder' })).toString('base64url')}.${mac}`;
    assertError(await api.post(path, body, { token: forged }), 401, 'UNAUTHENTICATED');
    const flipped = `${prefix}.${payload}.${mac!.slice(0, -2)}${mac!.endsWith('AA') ? 'BB' : 'AA'}`;
    assertError(await api.post(path, body, { token: flipped }), 401, 'UNAUTHENTICATED');
    assertError(
      await api.patch(`/v1/rooms/${room.id}/settings`, { public: false }, { token: 'v1.x.y' }),
      401,
      'UNAUTHENTICATED',
    );
    assert.equal((await roomView(room.id)).version, 1);
  });

  void test("PERMISSION_DENIED 403: another room's token; a member acting as host", async () => {
    const room = await createRoom();
    const other = await createRoom();
    assertError(
      await api.post(`/v1/rooms/${room.id}/queue`, { track: track('p') }, { token: other.hostToken }),
      403,
      'PERMISSION_DENIED',
      new RegExp(other.id),
    );
    assertError(
      await api.put(`/v1/rooms/${room.id}/lock`, { locked: true }, { token: other.hostToken }),
      403,
      'PERMISSION_DENIED',
    );
    const m = await join(room.id);
    assertError(
      await api.patch(`/v1/rooms/${room.id}/settings`, { public: false }, { token: m.token }),
      403,
      'PERMISSION_DENIED',
    );
    assert.equal((await roomView(room.id)).version, 2);
  });

  void test('NOT_FOUND 404: unknown routes, methods, rooms, entries, tracks', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/v1'],
      ['GET', '/v2/rooms'],
      ['POST', '/v1/rooms/x/y/z'],
      ['DELETE', '/v1/rooms'],
      ['PATCH', '/v1/catalog/search'],
    ] as const) {
      const error = assertError(await api.request(method, path), 404, 'NOT_FOUND');
      assert.match(error.message, /no route/);
    }
    const room = await createRoom();
    assertError(await api.post(`/v1/rooms/${uniqueId('nope')}/members`, { name: 'x' }), 404, 'NOT_FOUND');
    assertError(
      await api.delete(`/v1/rooms/${room.id}/queue/e_none`, { token: room.hostToken }),
      404,
      'NOT_FOUND',
    );
    assertError(
      await api.put(`/v1/rooms/${room.id}/queue/e_none/vote`, { value: 1 }, { token: room.hostToken }),
      404,
      'NOT_FOUND',
    );
    assertError(
      await api.post(`/v1/rooms/${room.id}/queue`, { trackId: 'demo:none' }, { token: room.hostToken }),
      404,
      'NOT_FOUND',
    );
  });

  void test('ALREADY_EXISTS, FAILED_PRECONDITION and DEADLINE_EXCEEDED keep their statuses (409, 409, 504)', async () => {
    // Each is exercised in detail above; here the status of each code in one place.
    const room = await createRoom({ autoplay: false, maxQueueLength: 1 });
    await addTrack(room.id, room.hostToken, track('only'));
    assertError(
      await api.post(`/v1/rooms/${room.id}/queue`, { track: track('only') }, { token: room.hostToken }),
      409,
      'ALREADY_EXISTS',
    );
    assertError(
      await api.post(`/v1/rooms/${room.id}/queue`, { track: track('more') }, { token: room.hostToken }),
      409,
      'FAILED_PRECONDITION',
    );
    assertError(await api.get(`/v1/rooms/${room.id}?minVersion=999`), 504, 'DEADLINE_EXCEEDED');
  });
});

interface RawAnswer {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** One raw HTTP/1.1 connection: write requests as text, read answers (Content-Length bodies) one by one. */
class RawConnection {
  private readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly answers: RawAnswer[] = [];
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect(Number(port), hostname);
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
      this.wake?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    this.socket.on('error', () => undefined);
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(text, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** The next answer, or null when the server closed the connection first. */
  async next(timeoutMs = 15_000): Promise<RawAnswer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = this.answers.shift();
      if (answer) return answer;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${timeoutMs} ms: ${this.buffer.toString('utf8')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.subarray(0, end).toString('utf8');
      const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? '0');
      if (this.buffer.length < end + 4 + length) return;
      this.answers.push({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? '0'),
        head,
        body: this.buffer.subarray(end + 4, end + 4 + length).toString('utf8'),
      });
      this.buffer = this.buffer.subarray(end + 4 + length);
    }
  }
}

function rawToResponse(answer: RawAnswer, path: string): HttpResponse {
  let body: Json;
  try {
    body = JSON.parse(answer.body);
  } catch {
    body = undefined;
  }
  const headers = new Headers(
    answer.head
      .split('\r\n')
      .slice(1)
      .map((l): [string, string] => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: answer.status, headers, text: answer.body, body, method: 'GET', path };
}

void describe('UNAVAILABLE while stopping', () => {
  void test('a request reaching a stopping node is served, or refused as UNAVAILABLE 503 with the error body', async () => {
    const stopping = await startChorus({ args: ['--read-timeout-ms', '3000'], logLevel: 'info' });
    const conn = new RawConnection(stopping.restUrl);
    try {
      // A slow read on a keep-alive connection (it waits for a version that never comes).
      await conn.write('GET /v1/rooms/legacy?minVersion=1000000 HTTP/1.1\r\nHost: chorus\r\n\r\n');
      // Answered on another connection after the slow read was on the wire: the node has it.
      assert.equal((await fetch(`${stopping.restUrl}/healthz`)).status, 200);
      stopping.signal('SIGTERM');
      const slow = await conn.next();
      assert.equal(slow?.status, 504, 'the in-flight request is finished');
      assert.match(
        stopping.stderr(),
        /SIGTERM: stopping/,
        'the stop began while the slow read was in flight',
      );
      // If the node keeps the connection open, a request on it reaches the stopping node: it is
      // either still served, or refused as UNAVAILABLE 503 in the one error shape. (Closing the
      // connection after the last in-flight answer is fine too.)
      if (!/^connection:\s*close/im.test(slow.head)) {
        await conn.write('GET /v1/rooms/legacy HTTP/1.1\r\nHost: chorus\r\n\r\n').catch(() => undefined);
        const late = await conn.next();
        if (late !== null && late.status !== 200) {
          const res = rawToResponse(late, 'GET /v1/rooms/legacy (while stopping)');
          assertError(res, 503, 'UNAVAILABLE');
          assert.ok(res.headers.get('retry-after'), 'a 503 says when to retry');
        }
      }
    } finally {
      conn.close();
      assert.equal(await stopping.stop(), 0, stopping.stderr());
    }
  });
});

// ---- Idempotent retries --------------------------------------------------------------------------

void describe('Idempotency-Key', () => {
  void test('a retried add returns the first answer and changes nothing', async () => {
    const room = await createRoom({ autoplay: false });
    const key = `add-${randomUUID()}`;
    const send = (): Promise<HttpResponse> =>
      api.post(
        `/v1/rooms/${room.id}/queue`,
        { track: track('idem') },
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      );
    const first = ok(await send(), 201);
    const version = (await roomView(room.id)).version as number;
    const second = ok(await send(), 201);
    assert.equal(second.entry.entryId, first.entry.entryId);
    assert.equal(second.version, first.version);
    const view = await roomView(room.id);
    assert.equal(view.version, version);
    assert.equal(view.queueLength, 1);
    // The key belongs to that command, even with another body.
    const other = ok(
      await api.post(
        `/v1/rooms/${room.id}/queue`,
        { track: track('idem-2') },
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      ),
      201,
    );
    assert.equal(other.entry.entryId, first.entry.entryId);
    assert.equal((await roomView(room.id)).queueLength, 1);
  });

  void test('retried create-room, join and vote return the first answer and change nothing', async () => {
    const id = uniqueId('idem');
    const key = `create-${randomUUID()}`;
    const create = (): Promise<HttpResponse> =>
      api.post(
        '/v1/rooms',
        { name: 'Idem', hostName: 'H', roomId: id },
        { headers: { 'idempotency-key': key } },
      );
    const c1 = ok(await create(), 201);
    const c2 = ok(await create(), 201);
    assert.equal(c2.memberId, c1.memberId);
    assert.equal(c2.token, c1.token);
    assert.equal(c2.room.version, 1);

    const joinKey = `join-${randomUUID()}`;
    const joinOnce = (): Promise<HttpResponse> =>
      api.post(`/v1/rooms/${id}/members`, { name: 'J' }, { headers: { 'idempotency-key': joinKey } });
    const j1 = ok(await joinOnce(), 201);
    const j2 = ok(await joinOnce(), 201);
    assert.equal(j2.memberId, j1.memberId);
    assert.equal(j2.token, j1.token);
    assert.equal((await roomView(id)).memberCount, 2);

    await addTrack(id, c1.token as string, track('playing'));
    const entry = (await addTrack(id, c1.token as string, track('voted'))).entry.entryId as string;
    const voteKey = `vote-${randomUUID()}`;
    const vote = (value: number, k: string): Promise<HttpResponse> =>
      api.put(
        `/v1/rooms/${id}/queue/${entry}/vote`,
        { value },
        { token: j1.token as string, headers: { 'idempotency-key': k } },
      );
    const v1 = ok(await vote(1, voteKey), 200);
    ok(await vote(0, `withdraw-${randomUUID()}`), 200);
    const version = (await roomView(id)).version as number;
    const retried = ok(await vote(1, voteKey), 200);
    // The same answer; its version may be the room's current one (still at least the first one's).
    assert.deepEqual(
      { ...retried, version: v1.version },
      v1,
      'the retry answers what the first attempt answered',
    );
    assert.ok(retried.version >= v1.version);
    const view = await roomView(id);
    assert.equal(view.version, version, 'and does not vote again');
    assert.equal(view.queue[0].ups, 0);
  });

  void test("a key is a member's own: another member reusing it gets an answer of their own", async () => {
    const room = await createRoom({ autoplay: false });
    const key = `shared-${randomUUID()}`;
    const hostAdd = ok(
      await api.post(
        `/v1/rooms/${room.id}/queue`,
        { track: track('host-key') },
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      ),
      201,
    );
    const bob = ok(await api.post(`/v1/rooms/${room.id}/members`, { name: 'Bob' }), 201);
    const bobAdd = ok(
      await api.post(
        `/v1/rooms/${room.id}/queue`,
        { track: track('bob-key') },
        { token: bob.token as string, headers: { 'idempotency-key': key } },
      ),
      201,
    );
    assert.notEqual(bobAdd.entry.entryId, hostAdd.entry.entryId, "Bob does not get the host's answer");
    assert.equal(bobAdd.entry.track.trackId, 'bob-key');
    assert.equal((await roomView(room.id)).queueLength, 2);
  });

  void test('a key reused for a different kind of request is refused with a 4xx and changes nothing', async () => {
    const room = await createRoom({ autoplay: false });
    const key = `mixed-${randomUUID()}`;
    const added = ok(
      await api.post(
        `/v1/rooms/${room.id}/queue`,
        { track: track('mixed') },
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      ),
      201,
    );
    const version = (await roomView(room.id)).version as number;
    const attempts: HttpResponse[] = [
      await api.put(
        `/v1/rooms/${room.id}/queue/${added.entry.entryId}/vote`,
        { value: 1 },
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      ),
      await api.delete(`/v1/rooms/${room.id}/queue/${added.entry.entryId}`, {
        token: room.hostToken,
        headers: { 'idempotency-key': key },
      }),
      await api.patch(
        `/v1/rooms/${room.id}/settings`,
        { maxQueueLength: 3 },
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      ),
      await api.put(
        `/v1/rooms/${room.id}/lock`,
        { locked: true },
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      ),
      await api.post(
        `/v1/rooms/${room.id}/advance`,
        {},
        { token: room.hostToken, headers: { 'idempotency-key': key } },
      ),
      // (A join with this key is not here: keys are scoped by member, and a join is nobody's yet,
      // so it is a request of its own; see "a key is a member's own".)
      await api.post(
        '/v1/rooms',
        { name: 'Again', hostName: 'K', roomId: room.id },
        { headers: { 'idempotency-key': key } },
      ),
    ];
    // Another command's stored answer is not an answer to this one: refuse it (4xx), never a 5xx,
    // and never a 2xx claiming a removal, a lock or a setting that did not happen.
    const wrong = attempts
      .filter((res) => res.status < 400 || res.status >= 500)
      .map((res) => `${res.method} ${res.path} -> ${res.status} ${res.text.slice(0, 120)}`);
    const view = await roomView(room.id);
    assert.deepEqual(wrong, [], 'requests whose Idempotency-Key was already used for an add');
    for (const res of attempts) assertError(res, res.status, res.body?.error?.code as string);
    assert.equal(view.version, version, 'a reused key repeats nothing and does nothing new');
  });

  void test('a malformed Idempotency-Key is INVALID_ARGUMENT', async () => {
    const room = await createRoom();
    assertError(
      await api.post(
        `/v1/rooms/${room.id}/members`,
        { name: 'x' },
        { headers: { 'idempotency-key': 'has spaces' } },
      ),
      400,
      'INVALID_ARGUMENT',
    );
    assertError(
      await api.post(
        `/v1/rooms/${room.id}/members`,
        { name: 'x' },
        { headers: { 'idempotency-key': 'k'.repeat(129) } },
      ),
      400,
      'INVALID_ARGUMENT',
    );
  });
});

// ---- Playback clock ------------------------------------------------------------------------------

void describe('playback clock', () => {
  void test('a track advances by itself when its duration has passed: history reason finished', async () => {
    const room = await createRoom();
    const started = await addTrack(room.id, room.hostToken, track('short', 1_500));
    assert.equal(started.started, true);
    await addTrack(room.id, room.hostToken, track('long'));
    const stream = await sse(room.id);
    try {
      const history = await until(
        'the short track to finish',
        async () => {
          const page = ok(await api.get(`/v1/rooms/${room.id}/history`), 200);
          return page.records.length > 0 ? page : undefined;
        },
        { timeoutMs: 8_000, intervalMs: 50 },
      );
      const record = history.records[0];
      assert.equal(record.track.trackId, 'short');
      assert.equal(record.reason, 'finished');
      assert.equal(record.endedAt - record.startedAt, 1_500, 'a finished track ends exactly on time');
      assert.ok(Date.now() >= record.endedAt - 1_000);
      const view = await roomView(room.id);
      assert.equal(view.nowPlaying.track.trackId, 'long', 'autoplay started the next track');
      assert.equal(view.playCount, 1);
      // The change feed tells watchers.
      await stream.next(); // reset
      const change = await stream.next(5_000);
      assert.deepEqual(
        (change.data.events as Json[]).map((e) => e.type),
        ['trackEnded', 'trackStarted'],
      );
      assert.equal(change.data.events[0].record.reason, 'finished');
    } finally {
      stream.close();
    }
    const metrics = await api.get('/metrics');
    const advances = /^chorus_clock_advances_total (\d+)/m.exec(metrics.text);
    assert.ok(advances && Number(advances[1]) >= 1, 'the clock counts its advances');
  });

  void test('without autoplay the finished track goes to history and nothing starts', async () => {
    const room = await createRoom({ autoplay: false });
    await addTrack(room.id, room.hostToken, track('brief', 1_000));
    await addTrack(room.id, room.hostToken, track('waits'));
    ok(
      await api.post(`/v1/rooms/${room.id}/advance`, { expectedEntryId: null }, { token: room.hostToken }),
      200,
    );
    const view = await until(
      'the brief track to finish',
      async () => {
        const v = await roomView(room.id);
        return v.playCount === 1 ? v : undefined;
      },
      { timeoutMs: 8_000, intervalMs: 50 },
    );
    assert.equal(view.nowPlaying, null);
    assert.deepEqual(order(view), ['waits']);
    const page = ok(await api.get(`/v1/rooms/${room.id}/history`), 200);
    assert.equal(page.records[0].reason, 'finished');
    const v = view.version as number;
    // The clock does not keep proposing once the room is idle.
    const later = ok(await api.get(`/v1/rooms/${room.id}?minVersion=${v + 1}`), 504);
    assert.equal(later.error.code, 'DEADLINE_EXCEEDED');
  });
});
