// The chorus.v1 gRPC API against a real `chorus serve` process: every RPC, its error codes (with the
// Chorus error in the trailers), deadlines, Watch (fed by REST writes, resumed without gap or
// duplicate), health, reflection and the metrics of gRPC calls.

import { Metadata, status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Stubs } from '../../src/api/grpc/client.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import type * as health from '../../src/api/grpc/generated/grpc/health/v1/index.ts';
import { call, md, rejectsWith, soon, watch } from '../helpers/grpc-calls.ts';
import { startGrpcNode, type GrpcNode } from '../helpers/grpc-node.ts';
import { callDescribed, describe as reflect, listServices } from '../helpers/grpc-reflection.ts';
import { until } from '../helpers/until.ts';

let node: GrpcNode;
let s: Stubs;

before(async () => {
  node = await startGrpcNode();
  s = node.stubs;
});

after(async () => {
  assert.equal(await node.stop(), 0, `chorus serve did not stop cleanly:\n${node.stderr()}`);
});

// ---- Small helpers over the stubs ------------------------------------------------------------------

const createRoom = (request: pb.CreateRoomRequest, metadata = new Metadata()) =>
  call<pb.JoinResponse__Output>((done) => s.rooms.CreateRoom(request, metadata, soon(), done));
const join = (roomId: string, name: string, invite = '') =>
  call<pb.JoinResponse__Output>((done) => s.sessions.Join({ roomId, name, invite }, md(), soon(), done));
const getRoom = (request: pb.GetRoomRequest, token?: string, deadlineMs?: number) =>
  call<pb.Room__Output>((done) => s.rooms.GetRoom(request, md(token), soon(deadlineMs), done));
const addTrack = (token: string | undefined, request: pb.AddTrackRequest, key?: string) =>
  call<pb.AddTrackResponse__Output>((done) => s.queue.AddTrack(request, md(token, key), soon(), done));
const vote = (token: string, roomId: string, entryId: string, direction: pb.VoteDirection) =>
  call<pb.VoteResponse__Output>((done) =>
    s.queue.Vote({ roomId, entryId, direction }, md(token), soon(), done),
  );
const remove = (token: string, roomId: string, entryId: string) =>
  call<pb.RemoveEntryResponse__Output>((done) =>
    s.queue.RemoveEntry({ roomId, entryId }, md(token), soon(), done),
  );
const advance = (token: string, request: pb.AdvanceRequest) =>
  call<pb.AdvanceResponse__Output>((done) => s.queue.Advance(request, md(token), soon(), done));
const updateSettings = (token: string, roomId: string, patch: pb.SettingsPatch) =>
  call<pb.Room__Output>((done) => s.rooms.UpdateSettings({ roomId, patch }, md(token), soon(), done));
const setLocked = (token: string, roomId: string, locked: boolean) =>
  call<pb.Room__Output>((done) => s.rooms.SetLocked({ roomId, locked }, md(token), soon(), done));
const history = (request: pb.GetHistoryRequest) =>
  call<pb.HistoryPage__Output>((done) => s.rooms.GetHistory(request, md(), soon(), done));

const ownTrack = (n: number): pb.Track => ({
  trackId: `own:${n}`,
  title: `Song ${n}`,
  artist: 'Tester',
  album: '',
  durationMs: 180_000,
});

let roomCounter = 0;
/** A fresh room with a host and one member; autoplay off so queues stay put unless a test moves them. */
async function freshRoom(settings: pb.SettingsPatch = {}) {
  const roomId = `grpc-room-${++roomCounter}`;
  const host = await createRoom({
    name: `Room ${roomCounter}`,
    hostName: 'Hana',
    roomId,
    settings: { autoplay: false, ...settings },
  });
  // A private room's members join with its invite.
  const member = await join(roomId, 'Mo', host.invite);
  return { roomId, host: host.token, member: member.token, memberId: member.memberId, hostId: host.memberId };
}

async function rest(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${node.restUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await response.json()) as Record<string, unknown>;
  assert.ok(response.ok, `REST ${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

// ---- Rooms and sessions --------------------------------------------------------------------------

void describe('rooms and sessions', () => {
  void it('CreateRoom answers the room, the host id and a token; the id cannot be taken twice', async () => {
    const created = await createRoom({
      name: 'Friday',
      hostName: 'Ada',
      roomId: 'friday-grpc',
      settings: { maxQueueLength: 7 },
    });
    assert.equal(created.room?.id, 'friday-grpc');
    assert.equal(created.room?.settings?.maxQueueLength, 7);
    assert.equal(created.room?.me?.isHost, true);
    assert.equal(created.room?.hostId, created.memberId);
    assert.match(created.token, /^v1\./);
    const taken = await rejectsWith(
      createRoom({ name: 'Again', hostName: 'Bo', roomId: 'friday-grpc' }),
      status.ALREADY_EXISTS,
    );
    assert.equal(taken?.code, 'ALREADY_EXISTS');
  });

  void it('CreateRoom without an id makes one from the name; bad input is INVALID_ARGUMENT', async () => {
    const created = await createRoom({ name: 'Late Night Jazz', hostName: 'Ada' });
    assert.match(created.room?.id ?? '', /^late-night-jazz-[a-z0-9]+$/);
    await rejectsWith(
      createRoom({ name: 'x', hostName: 'Ada', roomId: 'Not A Slug!' }),
      status.INVALID_ARGUMENT,
    );
    await rejectsWith(createRoom({ name: '', hostName: 'Ada' }), status.INVALID_ARGUMENT);
    const bounds = await rejectsWith(
      createRoom({ name: 'x', hostName: 'Ada', settings: { maxQueueLength: -5 } }),
      status.INVALID_ARGUMENT,
    );
    assert.equal(bounds?.code, 'INVALID_ARGUMENT');
  });

  void it('the same idempotency-key creates one room and answers the first result again', async () => {
    const metadata = md(undefined, 'create-once-1');
    const first = await createRoom({ name: 'Once', hostName: 'Ada', roomId: 'once-grpc' }, metadata);
    const again = await createRoom(
      { name: 'Once', hostName: 'Ada', roomId: 'once-grpc' },
      md(undefined, 'create-once-1'),
    );
    assert.equal(again.memberId, first.memberId);
    await rejectsWith(
      createRoom({ name: 'x', hostName: 'y' }, md(undefined, 'bad key with spaces')),
      status.INVALID_ARGUMENT,
    );
  });

  void it('Join answers a member token; unknown rooms are NOT_FOUND', async () => {
    const { roomId } = await freshRoom();
    const joined = await join(roomId, 'Zed');
    assert.equal(joined.room?.me?.name, 'Zed');
    assert.equal(joined.room?.me?.isHost, false);
    await rejectsWith(join('no-such-room', 'Zed'), status.NOT_FOUND);
    await rejectsWith(join(roomId, ''), status.INVALID_ARGUMENT);
  });

  void it('ListRooms shows public rooms, not private ones', async () => {
    const open = await freshRoom();
    const hidden = await freshRoom({ public: false });
    const { rooms } = await call<pb.ListRoomsResponse__Output>((done) =>
      s.rooms.ListRooms({ limit: 500 }, md(), soon(), done),
    );
    const ids = rooms.map((r) => r.id);
    assert.ok(ids.includes(open.roomId));
    assert.ok(!ids.includes(hidden.roomId));
    await rejectsWith(
      call((done) => s.rooms.ListRooms({ limit: 501 }, md(), soon(), done)),
      status.INVALID_ARGUMENT,
    );
  });

  void it('GetRoom shows the viewer with a token, nobody without; NOT_FOUND for no room', async () => {
    const { roomId, member } = await freshRoom();
    assert.equal((await getRoom({ roomId }, member)).me?.name, 'Mo');
    assert.equal((await getRoom({ roomId })).me, null);
    await rejectsWith(getRoom({ roomId: 'missing-room' }), status.NOT_FOUND);
    await rejectsWith(getRoom({ roomId, limit: 5000 }), status.INVALID_ARGUMENT);
  });

  void it('GetRoom respects the deadline while waiting for min_version', async () => {
    const { roomId } = await freshRoom();
    const started = Date.now();
    await rejectsWith(getRoom({ roomId, minVersion: 1_000_000 }, undefined, 300), status.DEADLINE_EXCEEDED);
    // The node's own read timeout is 5 s: the caller's 300 ms deadline ended it.
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });
});

// ---- Queue ---------------------------------------------------------------------------------------

void describe('queue', () => {
  void it('AddTrack takes a catalog id or a track of your own, and refuses duplicates', async () => {
    const { roomId, member } = await freshRoom();
    const fromCatalog = await addTrack(member, { roomId, trackId: 'demo:0001' });
    assert.equal(fromCatalog.started, false);
    assert.equal(fromCatalog.entry?.track?.title, 'Sweet Lullaby');
    assert.equal(fromCatalog.entry?.position, 1);
    const own = await addTrack(member, { roomId, track: { ...ownTrack(1), genre: 'Test', year: 1999 } });
    assert.equal(own.entry?.track?.genre, 'Test');
    assert.equal(own.entry?.track?.year, 1999);
    assert.equal(own.entry?.track?.artworkUrl, undefined);
    assert.equal(own.entry?.position, 2);
    assert.ok(own.version > fromCatalog.version);
    const dup = await rejectsWith(addTrack(member, { roomId, trackId: 'demo:0001' }), status.ALREADY_EXISTS);
    assert.ok(dup?.details, 'the duplicate refusal names the existing entry');
  });

  void it('AddTrack refuses missing tracks, missing sources and bad tracks', async () => {
    const { roomId, member } = await freshRoom();
    await rejectsWith(addTrack(member, { roomId, trackId: 'demo:9999999' }), status.NOT_FOUND);
    await rejectsWith(addTrack(member, { roomId }), status.INVALID_ARGUMENT);
    await rejectsWith(
      addTrack(member, { roomId, track: { ...ownTrack(2), durationMs: -1 } }),
      status.INVALID_ARGUMENT,
    );
    await rejectsWith(
      addTrack(member, { roomId, track: { ...ownTrack(2), title: '' } }),
      status.INVALID_ARGUMENT,
    );
  });

  void it('a track of unknown length (duration_ms 0): accepted, eta_ms unset behind it, no remaining_ms; skipped by the host', async () => {
    const { roomId, host, member } = await freshRoom({ maxTrackDurationMs: 60_000 });
    await addTrack(member, { roomId, track: { ...ownTrack(1), durationMs: 30_000 } });
    await addTrack(member, { roomId, track: { ...ownTrack(2), durationMs: 0 } });
    await addTrack(member, { roomId, track: { ...ownTrack(3), durationMs: 30_000 } });
    const queued = await getRoom({ roomId });
    assert.deepEqual(
      queued.queue.map((q) => [q.track?.durationMs, q.etaMs ?? null, q._etaMs ?? null]),
      [
        [30_000, 0, 'etaMs'],
        [0, 30_000, 'etaMs'],
        [30_000, null, null],
      ],
      'an unknown ETA is an unset field, not 0',
    );
    // The host starts the head, then skips to the unknown-length one: it plays with no end.
    await advance(host, { roomId });
    await advance(host, { roomId });
    const playing = await getRoom({ roomId });
    assert.equal(playing.nowPlaying?.track?.trackId, 'own:2');
    assert.equal(playing.nowPlaying?.remainingMs, undefined);
    assert.equal(playing.queue[0]?.etaMs, undefined);
    const skipped = await advance(host, { roomId });
    assert.equal(skipped.ended?.track?.trackId, 'own:2');
    assert.equal(skipped.ended?.reason, 'END_REASON_SKIPPED');
  });

  void it('writes need a valid token for the room', async () => {
    const { roomId } = await freshRoom();
    const other = await freshRoom();
    const none = await rejectsWith(
      addTrack(undefined, { roomId, trackId: 'demo:0001' }),
      status.UNAUTHENTICATED,
    );
    assert.equal(none?.code, 'UNAUTHENTICATED');
    await rejectsWith(addTrack('v1.forged.token', { roomId, trackId: 'demo:0001' }), status.UNAUTHENTICATED);
    const wrongScheme = new Metadata();
    wrongScheme.set('authorization', 'Basic abc');
    await rejectsWith(
      call((done) => s.queue.AddTrack({ roomId, trackId: 'demo:0001' }, wrongScheme, soon(), done)),
      status.UNAUTHENTICATED,
    );
    await rejectsWith(addTrack(other.member, { roomId, trackId: 'demo:0001' }), status.PERMISSION_DENIED);
  });

  void it('a retried AddTrack with the same idempotency-key adds once', async () => {
    const { roomId, member } = await freshRoom();
    const first = await addTrack(member, { roomId, track: ownTrack(3) }, 'add-once-1');
    const again = await addTrack(member, { roomId, track: ownTrack(3) }, 'add-once-1');
    assert.equal(again.entry?.entryId, first.entry?.entryId);
    assert.equal((await getRoom({ roomId })).queueLength, 1);
  });

  void it('Vote reorders the queue: up, down, withdraw; unspecified is refused', async () => {
    const { roomId, member, host } = await freshRoom();
    const a = await addTrack(member, { roomId, track: ownTrack(10) });
    const b = await addTrack(member, { roomId, track: ownTrack(11) });
    const up = await vote(host, roomId, b.entry!.entryId, 'VOTE_DIRECTION_UP');
    assert.deepEqual(
      [up.ups, up.downs, up.score, up.position, up.effect, up.myVote],
      [1, 0, 1, 1, 'VOTE_EFFECT_NONE', 1],
    );
    const down = await vote(member, roomId, a.entry!.entryId, 'VOTE_DIRECTION_DOWN');
    assert.equal(down.score, -1);
    const back = await vote(member, roomId, a.entry!.entryId, 'VOTE_DIRECTION_WITHDRAW');
    assert.equal(back.score, 0);
    const room = await getRoom({ roomId }, host);
    assert.deepEqual(
      room.queue.map((q) => q.entryId),
      [b.entry!.entryId, a.entry!.entryId],
    );
    assert.equal(room.queue[0]!.myVote, 1);
    await rejectsWith(
      vote(member, roomId, a.entry!.entryId, 'VOTE_DIRECTION_UNSPECIFIED'),
      status.INVALID_ARGUMENT,
    );
    await rejectsWith(vote(member, roomId, 'e_missing', 'VOTE_DIRECTION_UP'), status.NOT_FOUND);
    await rejectsWith(vote(member, roomId, 'bad id!', 'VOTE_DIRECTION_UP'), status.INVALID_ARGUMENT);
  });

  void it('Vote can vote an entry off the queue', async () => {
    const { roomId, member, host } = await freshRoom({ voteOffThreshold: 1 });
    const a = await addTrack(member, { roomId, track: ownTrack(12) });
    const off = await vote(host, roomId, a.entry!.entryId, 'VOTE_DIRECTION_DOWN');
    assert.equal(off.effect, 'VOTE_EFFECT_VOTED_OFF');
    assert.equal(off.position, 0);
  });

  void it('RemoveEntry: your own, or any as the host', async () => {
    const { roomId, member, host } = await freshRoom();
    const mine = await addTrack(member, { roomId, track: ownTrack(20) });
    const hosts = await addTrack(host, { roomId, track: ownTrack(21) });
    await rejectsWith(remove(member, roomId, hosts.entry!.entryId), status.PERMISSION_DENIED);
    const removed = await remove(member, roomId, mine.entry!.entryId);
    assert.equal(removed.entryId, mine.entry!.entryId);
    await remove(host, roomId, hosts.entry!.entryId);
    assert.equal((await getRoom({ roomId })).queueLength, 0);
    await rejectsWith(remove(host, roomId, hosts.entry!.entryId), status.NOT_FOUND);
  });

  void it('Advance: the host starts and skips; members may not; a stale expected entry is a no-op', async () => {
    const { roomId, member, host } = await freshRoom();
    await addTrack(member, { roomId, track: ownTrack(30) });
    await addTrack(member, { roomId, track: ownTrack(31) });
    await rejectsWith(advance(member, { roomId }), status.PERMISSION_DENIED);
    const started = await advance(host, { roomId });
    assert.equal(started.advanced, true);
    assert.equal(started.ended, null);
    const playing = started.room!.nowPlaying!;
    assert.equal(playing.track?.trackId, 'own:30');
    const stale = await advance(host, { roomId, expectedEntryId: 'e_not_playing' });
    assert.equal(stale.advanced, false);
    const skipped = await advance(host, { roomId, expectedEntryId: playing.entryId });
    assert.equal(skipped.ended?.reason, 'END_REASON_SKIPPED');
    assert.equal(skipped.ended?.track?.trackId, 'own:30');
    assert.equal(skipped.room?.nowPlaying?.track?.trackId, 'own:31');
  });

  void it('UpdateSettings and SetLocked are the host’s; limits then refuse with FAILED_PRECONDITION', async () => {
    const { roomId, member, host } = await freshRoom();
    await rejectsWith(updateSettings(member, roomId, { maxQueueLength: 1 }), status.PERMISSION_DENIED);
    const changed = await updateSettings(host, roomId, { maxQueueLength: 1 });
    assert.equal(changed.settings?.maxQueueLength, 1);
    assert.equal(changed.settings?.autoplay, false, 'unset fields keep their value');
    await rejectsWith(updateSettings(host, roomId, { skipVotes: -1 }), status.INVALID_ARGUMENT);
    await addTrack(member, { roomId, track: ownTrack(40) });
    const full = await rejectsWith(
      addTrack(member, { roomId, track: ownTrack(41) }),
      status.FAILED_PRECONDITION,
    );
    assert.equal(full?.code, 'FAILED_PRECONDITION');

    await updateSettings(host, roomId, { maxQueueLength: 10 });
    await rejectsWith(setLocked(member, roomId, true), status.PERMISSION_DENIED);
    assert.equal((await setLocked(host, roomId, true)).locked, true);
    await rejectsWith(addTrack(member, { roomId, track: ownTrack(42) }), status.FAILED_PRECONDITION);
    assert.equal((await setLocked(host, roomId, false)).locked, false);
    await addTrack(member, { roomId, track: ownTrack(42) });
  });

  void it('GetHistory pages newest first with next_before', async () => {
    const { roomId, member, host } = await freshRoom();
    for (let i = 0; i < 4; i++) await addTrack(member, { roomId, track: ownTrack(50 + i) });
    for (let i = 0; i < 4; i++) await advance(host, { roomId });
    const first = await history({ roomId, limit: 2 });
    assert.deepEqual(
      first.records.map((r) => r.playNo),
      [3, 2],
    );
    assert.equal(first.records[0]!.addedBy?.name, 'Mo');
    assert.ok(first.records[0]!.addedBy?.memberId, 'a MemberRef, as in the queue');
    assert.equal(first.nextBefore, 2);
    const second = await history({ roomId, limit: 2, before: first.nextBefore });
    assert.deepEqual(
      second.records.map((r) => r.playNo),
      [1],
    );
    assert.equal(second.nextBefore, 0);
    await rejectsWith(history({ roomId, limit: 500 }), status.INVALID_ARGUMENT);
    await rejectsWith(history({ roomId: 'nope-room' }), status.NOT_FOUND);
  });
});

// ---- Catalog -------------------------------------------------------------------------------------

void describe('catalog', () => {
  void it('SearchTracks and GetTrack', async () => {
    const found = await call<pb.SearchTracksResponse__Output>((done) =>
      s.catalog.SearchTracks({ query: 'lullaby', limit: 5 }, md(), soon(), done),
    );
    assert.ok(found.tracks.some((t) => t.trackId === 'demo:0001'));
    assert.ok(found.tracks.length <= 5);
    const track = await call<pb.Track__Output>((done) =>
      s.catalog.GetTrack({ trackId: 'demo:0001' }, md(), soon(), done),
    );
    assert.deepEqual(
      [track.title, track.artist, track.year, track.durationMs],
      ['Sweet Lullaby', 'Harbor Lights Collective', 2014, 254000],
    );
    await rejectsWith(
      call((done) => s.catalog.GetTrack({ trackId: 'nope' }, md(), soon(), done)),
      status.NOT_FOUND,
    );
    await rejectsWith(
      call((done) => s.catalog.GetTrack({ trackId: '' }, md(), soon(), done)),
      status.INVALID_ARGUMENT,
    );
    await rejectsWith(
      call((done) => s.catalog.SearchTracks({ query: 'x'.repeat(201) }, md(), soon(), done)),
      status.INVALID_ARGUMENT,
    );
  });
});

// ---- Watch ---------------------------------------------------------------------------------------

void describe('Watch', () => {
  void it('starts with the whole room, then one message per version for REST writes', async () => {
    const { roomId, member, memberId, host } = await freshRoom();
    const watcher = watch(s, { roomId }, md(member));
    const reset = await until('the first message', () => watcher.messages[0]);
    assert.equal(reset.kind, 'reset');
    assert.equal(reset.reset?.me?.name, 'Mo', 'the watcher’s token makes it the viewer');
    // A watch with a token makes its member present: the node reports that as a command of its own
    // (issue 20), which takes a version. Wait for it to land, so that the writes below are the only
    // changes after \`start\`.
    const presentAt = await until('the watcher counted present', () => {
      if (reset.reset?.present.some((m) => m.memberId === memberId) === true) return reset.version;
      return watcher.messages.find((m) =>
        m.change?.events.some((e) => e.presenceChanged?.present.includes(memberId) === true),
      )?.version;
    });
    await watcher.reach(presentAt);
    const start = Math.max(...watcher.messages.map((m) => m.version));

    const added = await rest('POST', `/v1/rooms/${roomId}/queue`, member, {
      track: { ...ownTrack(60), trackId: 'own:60' },
    });
    const entryId = (added['entry'] as { entryId: string }).entryId;
    await rest('PUT', `/v1/rooms/${roomId}/queue/${entryId}/vote`, host, { value: 1 });
    await watcher.reach(start + 2);
    const changes = watcher.messages.filter((m) => m.kind === 'change' && m.version > start);
    assert.deepEqual(
      changes.map((m) => m.version),
      [start + 1, start + 2],
    );
    assert.equal(changes[0]!.change?.events[0]?.entryAdded?.entry?.track?.trackId, 'own:60');
    const voted = changes[1]!.change?.events[0]?.voteChanged;
    // Counts only: the event never says who voted or which way (issue 20).
    assert.deepEqual([voted?.entryId, voted?.ups, voted?.downs, voted?.score], [entryId, 1, 0, 1]);
    assert.deepEqual(Object.keys(voted ?? {}).sort(), ['downs', 'entryId', 'score', 'ups']);
    watcher.cancel();
    assert.equal((await watcher.ended)?.code, status.CANCELLED);
  });

  void it('resumed from the last version it saw, it misses nothing and repeats nothing', async () => {
    const { roomId, member, host } = await freshRoom();
    const first = watch(s, { roomId });
    await until('the reset', () => first.messages[0]);
    const from = first.messages[0]!.version;
    for (let i = 0; i < 5; i++) await addTrack(member, { roomId, track: ownTrack(70 + i) });
    await first.reach(from + 5);
    first.cancel();
    const seen = first.changeVersions();
    const last = seen.at(-1)!;

    // While nobody watches: writes over both transports.
    for (let i = 0; i < 3; i++) await addTrack(member, { roomId, track: ownTrack(80 + i) });
    for (let i = 0; i < 3; i++) {
      await rest('POST', `/v1/rooms/${roomId}/queue`, host, {
        track: { ...ownTrack(90 + i), trackId: `own:${90 + i}` },
      });
    }
    const resumed = watch(s, { roomId, afterVersion: last });
    await addTrack(member, { roomId, track: ownTrack(99) });
    const latest = (await getRoom({ roomId })).version;
    await resumed.reach(latest);
    resumed.cancel();

    assert.ok(
      resumed.messages.every((m) => m.kind !== 'reset'),
      'the events were still held: no reset',
    );
    const all = [...seen, ...resumed.changeVersions()];
    const expected = Array.from({ length: latest - from }, (_, i) => from + 1 + i);
    assert.deepEqual(all, expected, 'every version exactly once, in order');
  });

  void it('a watcher ahead of the node skips what it has already seen', async () => {
    const { roomId, member } = await freshRoom();
    await addTrack(member, { roomId, track: ownTrack(100) });
    const version = (await getRoom({ roomId })).version;
    const watcher = watch(s, { roomId, afterVersion: version });
    await addTrack(member, { roomId, track: ownTrack(101) });
    await watcher.reach(version + 1);
    watcher.cancel();
    assert.deepEqual(watcher.changeVersions(), [version + 1]);
  });

  void it('refuses a room that does not exist, and ends at the caller’s deadline', async () => {
    const missing = watch(s, { roomId: 'no-room-here' });
    assert.equal((await missing.ended)?.code, status.NOT_FOUND);
    const bad = watch(s, { roomId: 'Bad Room' });
    assert.equal((await bad.ended)?.code, status.INVALID_ARGUMENT);
    const { roomId } = await freshRoom();
    const timed = watch(s, { roomId }, md(), { deadline: Date.now() + 500 });
    assert.equal((await timed.ended)?.code, status.DEADLINE_EXCEEDED);
  });
});

// ---- Health and reflection -----------------------------------------------------------------------

void describe('health and reflection', () => {
  const check = (service: string) =>
    call<health.HealthCheckResponse__Output>((done) => s.health.Check({ service }, md(), soon(), done));

  void it('grpc.health.v1 reports SERVING for the server and each service, NOT_FOUND for others', async () => {
    assert.equal((await check('')).status, 'SERVING');
    for (const service of ['chorus.v1.RoomService', 'chorus.v1.QueueService', 'queue.QueueService']) {
      assert.equal((await check(service)).status, 'SERVING', service);
    }
    await rejectsWith(check('no.such.Service'), status.NOT_FOUND);
    const stream = s.health.Watch({ service: '' }, md());
    const ended = new Promise<number>((resolve) =>
      stream.on('error', (err: { code: number }) => resolve(err.code)),
    );
    const first = await new Promise<health.HealthCheckResponse__Output>((resolve) =>
      stream.once('data', resolve),
    );
    assert.equal(first.status, 'SERVING');
    stream.cancel();
    assert.equal(await ended, status.CANCELLED);
  });

  void it('/metrics counts the gRPC calls by method and status code', async () => {
    const { roomId } = await freshRoom();
    await rejectsWith(getRoom({ roomId: 'no-room-here' }), status.NOT_FOUND);
    await getRoom({ roomId });
    const text = await (await fetch(`${node.restUrl.replace(/\/$/, '')}/metrics`)).text();
    const count = (method: string, code: string): number =>
      Number(
        new RegExp(
          `^chorus_grpc_request_duration_seconds_count\\{method="${method}",code="${code}"\\} (\\d+)$`,
          'm',
        ).exec(text)?.[1] ?? 0,
      );
    assert.ok(count('/chorus.v1.RoomService/GetRoom', 'OK') >= 1, text);
    assert.ok(count('/chorus.v1.RoomService/GetRoom', 'NOT_FOUND') >= 1, text);
    assert.ok(count('/chorus.v1.RoomService/CreateRoom', 'OK') >= 1, text);
    assert.match(text, /^# HELP chorus_grpc_streams /m);
  });

  void it('reflection lists the services and describes them well enough to call one, as grpcurl does', async () => {
    const services = await listServices(node.grpcAddress);
    for (const name of [
      'chorus.v1.CatalogService',
      'chorus.v1.QueueService',
      'chorus.v1.RoomService',
      'chorus.v1.SessionService',
      'grpc.health.v1.Health',
      'queue.QueueService',
    ]) {
      assert.ok(services.includes(name), `${name} in ${services.join(', ')}`);
    }
    // Only what reflection answered: no local .proto files.
    const described = await reflect(node.grpcAddress, 'chorus.v1.CatalogService');
    const track = await callDescribed(node.grpcAddress, described, 'chorus.v1.CatalogService', 'GetTrack', {
      trackId: 'demo:0002',
    });
    assert.equal(track.title, 'Take Me Higher');
  });
});
