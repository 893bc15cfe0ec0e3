// The timeline a player needs, over a real `chorus serve`: the host pauses and resumes (REST, gRPC,
// the CLI), the playback clock leaves a paused track alone, and devices report "ended", which
// advances the room exactly once however many report it. Every change shows in the SSE feed.

/* eslint-disable @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GrpcClient } from '../../src/cli/grpc-client.ts';
import {
  cleanupChorus,
  makeTempDir,
  runChorus,
  startChorus,
  type ChorusProcess,
} from '../helpers/chorus-process.ts';
import { Http, isSse, ok, openSse, type Json, type SseStream } from '../helpers/http.ts';

const CLOCK_MS = 50;
let node: ChorusProcess;
let api: Http;
let home: string;

before(async () => {
  node = await startChorus({ args: ['--clock-interval-ms', String(CLOCK_MS)], waitForGrpc: true });
  api = new Http(node.restUrl);
  home = await makeTempDir('chorus-cli-');
});

after(async () => {
  try {
    if (node?.running) assert.equal(await node.stop(), 0, `graceful stop failed:\n${node.stderr()}`);
  } finally {
    await cleanupChorus();
  }
});

interface Room {
  readonly id: string;
  readonly host: string;
  readonly member: string;
}

let rooms = 0;
async function roomPlaying(durationsMs: readonly number[]): Promise<Room> {
  const id = `play-${++rooms}`;
  const host = ok(await api.post('/v1/rooms', { roomId: id, name: 'Party', hostName: 'Ann' }), 201).token;
  const member = ok(await api.post(`/v1/rooms/${id}/members`, { name: 'Bob' }), 201).token;
  for (const [i, durationMs] of durationsMs.entries()) {
    const track = { trackId: `t${i}`, title: `Track ${i}`, artist: 'Band', album: '', durationMs };
    ok(await api.post(`/v1/rooms/${id}/queue`, { track }, { token: host }), 201);
  }
  return { id, host, member };
}

async function events(room: Room): Promise<SseStream> {
  const stream = await openSse(`${node.restUrl}/v1/rooms/${room.id}/events`);
  assert.ok(isSse(stream));
  assert.equal((await stream.next()).event, 'reset');
  return stream;
}

/** The event types of the next change on the feed. */
async function nextTypes(stream: SseStream): Promise<string[]> {
  const message = await stream.next(10_000);
  assert.equal(message.event, 'change');
  return (message.data.events as Json[]).map((e) => e.type as string);
}

void describe('pause and resume', () => {
  void test('over REST: the timeline freezes, the clock leaves it, resume carries on from the pause', async () => {
    const room = await roomPlaying([1500, 60_000]);
    const feed = await events(room);
    try {
      const paused = ok(await api.post(`/v1/rooms/${room.id}/pause`, undefined, { token: room.host }), 200);
      assert.equal(paused.nowPlaying.paused, true);
      assert.deepEqual(await nextTypes(feed), ['playbackPaused']);
      const frozenAt = paused.nowPlaying.positionMs as number;
      // Past the track's length, the clock (every 50 ms) must not have ended it.
      const wait = 1500 - frozenAt + 10 * CLOCK_MS;
      await new Promise((r) => setTimeout(r, wait));
      const still = ok(await api.get(`/v1/rooms/${room.id}`), 200);
      assert.equal(still.nowPlaying.entryId, paused.nowPlaying.entryId);
      assert.deepEqual([still.nowPlaying.paused, still.nowPlaying.positionMs], [true, frozenAt]);
      assert.equal(still.playCount, 0);
      // A member may not pause or resume.
      const denied = await api.post(`/v1/rooms/${room.id}/resume`, undefined, { token: room.member });
      assert.equal(denied.status, 403);

      const resumed = ok(await api.post(`/v1/rooms/${room.id}/resume`, undefined, { token: room.host }), 200);
      assert.equal(resumed.nowPlaying.paused, false);
      assert.ok(resumed.nowPlaying.positionMs >= frozenAt, JSON.stringify(resumed.nowPlaying));
      assert.ok(resumed.nowPlaying.startedAt >= paused.nowPlaying.startedAt + wait);
      assert.deepEqual(await nextTypes(feed), ['playbackResumed']);
      // Then the clock ends it once its remaining time has played.
      assert.deepEqual(await nextTypes(feed), ['trackEnded', 'trackStarted']);
    } finally {
      feed.close();
    }
  });

  void test('over gRPC and the CLI', async () => {
    const room = await roomPlaying([60_000]);
    const grpc = new GrpcClient({ server: node.grpcAddress!, token: room.host });
    try {
      assert.equal((await grpc.setPaused(room.id, true)).nowPlaying?.paused, true);
      assert.equal((await grpc.setPaused(room.id, false)).nowPlaying?.paused, false);
    } finally {
      grpc.close();
    }
    const cli = (...args: string[]) =>
      runChorus(args, {
        env: { CHORUS_SERVER: node.restUrl, CHORUS_CREDENTIALS: path.join(home, 'bob.json') },
      });
    const joined = await cli('join', room.id, 'Cleo');
    assert.equal(joined.code, 0, joined.stderr);
    const refused = await cli('pause', room.id);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /PERMISSION_DENIED: only the host can pause playback/);
  });
});

void describe('devices report "ended"', () => {
  void test('two devices report it at once: the room advances once, the other answer says so', async () => {
    // 4 s long: within the 5 s a device may be early, so they can report it at once.
    const room = await roomPlaying([4000, 60_000]);
    const feed = await events(room);
    try {
      const entryId = ok(await api.get(`/v1/rooms/${room.id}`), 200).nowPlaying.entryId;
      const answers = await Promise.all(
        [room.host, room.member].map(async (token) =>
          ok(await api.post(`/v1/rooms/${room.id}/ended`, { entryId }, { token }), 200),
        ),
      );
      assert.deepEqual(answers.map((a) => a.advanced).sort(), [false, true]);
      assert.deepEqual(await nextTypes(feed), ['trackEnded', 'trackStarted']);
      const history = ok(await api.get(`/v1/rooms/${room.id}/history`), 200);
      assert.deepEqual(
        history.records.map((r: Json) => [r.entryId, r.reason]),
        [[entryId, 'finished']],
      );
      // A late third report, over gRPC, changes nothing.
      const grpc = new GrpcClient({ server: node.grpcAddress!, token: room.member });
      try {
        assert.equal((await grpc.reportEnded(room.id, entryId)).advanced, false);
      } finally {
        grpc.close();
      }
      const after = ok(await api.get(`/v1/rooms/${room.id}`), 200);
      assert.equal(after.playCount, 1);
      assert.equal(feed.pending, 0);
    } finally {
      feed.close();
    }
  });

  void test('a report long before the end is refused; a non-member cannot report', async () => {
    const room = await roomPlaying([60_000]);
    const entryId = ok(await api.get(`/v1/rooms/${room.id}`), 200).nowPlaying.entryId;
    const early = await api.post(`/v1/rooms/${room.id}/ended`, { entryId }, { token: room.member });
    assert.equal(early.status, 409);
    assert.match(early.body.error.message, /still playing/);
    assert.equal((await api.post(`/v1/rooms/${room.id}/ended`, { entryId })).status, 401);
    const env = { CHORUS_SERVER: node.restUrl, CHORUS_CREDENTIALS: path.join(home, 'dan.json') };
    assert.equal((await runChorus(['join', room.id, 'Dan'], { env })).code, 0);
    const cli = await runChorus(['ended', room.id], { env });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /FAILED_PRECONDITION: the track is still playing/);
    assert.equal(ok(await api.get(`/v1/rooms/${room.id}`), 200).nowPlaying.entryId, entryId);
  });
});
