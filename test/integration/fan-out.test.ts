// Fan-out of one room's changes to many live streams (src/api/feed.ts): each change is made into a
// message once per version however many SSE streams and gRPC watchers send it, written straight to
// the sockets and HTTP/2 streams, framed as their protocol wants (counted by
// FEED_COUNTS, read in this process: the node runs in-process, its streams are real sockets), and
// a stream that stops reading is cut off at its bound while every other stream gets every version
// (a gRPC Watch that never reads is reset once its grace passes, so its backlog is dropped).

import assert from 'node:assert/strict';
import type { MethodDefinition } from '@grpc/grpc-js';
import {
  connect as http2Connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
} from 'node:http2';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { connect, type Stubs } from '../../src/api/grpc/client.ts';
import { FEED_COUNTS } from '../../src/api/feed.ts';
import { loadProtos } from '../../src/api/grpc/protos.ts';
import { watch, type Watcher } from '../helpers/grpc-calls.ts';
import { isSse, openSse, type SseStream } from '../helpers/http.ts';
import { startInProcess, type InProcessNode } from '../helpers/in-process.ts';
import { until } from '../helpers/until.ts';

let node: InProcessNode;
let stubs: Stubs;

before(async () => {
  // The host writes as fast as it can here: its write rate is not what these tests are about.
  node = await startInProcess({ writesPerMember: '1000000' });
  stubs = connect(node.node.grpcAddress);
});

after(async () => {
  stubs.close();
  await node.close();
});

async function createRoom(roomId: string): Promise<string> {
  const created = await fetch(`${node.restUrl}/v1/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      roomId,
      name: roomId,
      hostName: 'Ann',
      settings: { maxQueueLength: 100_000, maxEntriesPerMember: 0, autoplay: false, voteOffThreshold: 0 },
    }),
  });
  assert.equal(created.status, 201);
  return ((await created.json()) as { token: string }).token;
}

/** Adds one entry (one new room version); `large` makes its change message about 3 KB. */
async function add(roomId: string, token: string, i: number, large = false): Promise<void> {
  const long = large ? 'x'.repeat(280) : '';
  const response = await fetch(`${node.restUrl}/v1/rooms/${roomId}/queue`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      track: {
        trackId: `t:${i}`,
        title: `Track ${i}${long}`,
        artist: `Artist${long}`,
        album: `Album${long}`,
        durationMs: 60_000,
        ...(large ? { artworkUrl: `https://example.invalid/${'a'.repeat(1900)}` } : {}),
      },
    }),
  });
  assert.equal(response.status, 201, await response.text());
}

/** The versions of an SSE stream's change messages, read until `last` (they must be in order). */
async function sseVersions(stream: SseStream, last: number): Promise<number[]> {
  const versions: number[] = [];
  for (;;) {
    const message = await stream.next(20_000);
    if (message.event !== 'change') continue;
    versions.push(Number(message.id));
    if (Number(message.id) >= last) return versions;
  }
}

async function openStreams(roomId: string, sseCount: number, watchCount: number) {
  const sse: SseStream[] = [];
  for (let i = 0; i < sseCount; i++) {
    const stream = await openSse(`${node.restUrl}/v1/rooms/${roomId}/events`);
    assert.ok(isSse(stream), 'the SSE stream opens');
    const reset = await stream.next();
    assert.equal(reset.event, 'reset');
    sse.push(stream);
  }
  const watchers: Watcher[] = [];
  for (let i = 0; i < watchCount; i++) watchers.push(watch(stubs, { roomId }));
  await until('every watcher to get its reset', () => watchers.every((w) => w.messages.length > 0), {
    timeoutMs: 20_000,
  });
  return { sse, watchers };
}

function closeStreams(streams: { sse: SseStream[]; watchers: Watcher[] }): void {
  for (const s of streams.sse) s.close();
  for (const w of streams.watchers) w.cancel();
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

void test('a change is serialised once per version, not once per subscriber', async (t) => {
  const roomId = 'fan-out';
  const token = await createRoom(roomId);
  const streams = await openStreams(roomId, 25, 25);
  t.after(() => closeStreams(streams));
  const start = streams.watchers[0]!.messages[0]!.version;
  const before = structuredClone(FEED_COUNTS);
  const changes = 20;
  for (let i = 0; i < changes; i++) await add(roomId, token, i);
  const last = start + changes;
  for (const s of streams.sse) assert.deepEqual(await sseVersions(s, last), range(start + 1, last));
  for (const w of streams.watchers) {
    await w.reach(last);
    assert.deepEqual(w.changeVersions(), range(start + 1, last));
  }
  const made = {
    sse: FEED_COUNTS.sse.encoded - before.sse.encoded,
    grpc: FEED_COUNTS.grpc.encoded - before.grpc.encoded,
    grpcFrames: FEED_COUNTS.grpc.framed - before.grpc.framed,
  };
  const sent = {
    sse: FEED_COUNTS.sse.sent - before.sse.sent,
    grpc: FEED_COUNTS.grpc.sent - before.grpc.sent,
  };
  console.log(
    `${changes} changes to 25 SSE + 25 gRPC streams: made ${JSON.stringify(made)}, sent ${JSON.stringify(sent)}`,
  );
  assert.deepEqual(sent, { sse: 25 * changes, grpc: 25 * changes }, 'every stream was sent every change');
  assert.deepEqual(
    made,
    { sse: changes, grpc: changes, grpcFrames: changes },
    'each change was serialised once per transport (and framed once for the HTTP/2 streams)',
  );
});

/** A raw SSE request whose socket is never read: the kernel's buffers fill, then the node's. */
function neverRead(roomId: string): Promise<Socket> {
  const { hostname, port } = new URL(node.restUrl);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) }, () => {
      socket.write(`GET /v1/rooms/${roomId}/events HTTP/1.1\r\nhost: x\r\n\r\n`);
      socket.pause();
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

void test('a subscriber that stops reading is cut off while the others get every version', async (t) => {
  const roomId = 'fan-out-slow';
  const token = await createRoom(roomId);
  const streams = await openStreams(roomId, 3, 3);
  t.after(() => closeStreams(streams));
  const start = streams.watchers[0]!.messages[0]!.version;
  const slow = await neverRead(roomId);
  t.after(() => slow.destroy());
  await until('the node to count the never-read stream', async () => (await sseOpen()) === 4, {
    timeoutMs: 10_000,
  });
  // Large changes until the never-read stream is cut; bounded: 6,000 adds of ~3 KB is ~18 MB.
  let adds = 0;
  while (adds < 6000) {
    // 20 at a time (each its own version; their order does not matter here).
    await Promise.all(range(adds, adds + 19).map((i) => add(roomId, token, i, true)));
    adds += 20;
    // The readers keep up (on an idle machine the writes can outrun this process's own watchers,
    // which would then be cut off as well): only the never-read stream falls behind.
    for (const w of streams.watchers) await w.reach(start + adds);
    if (adds % 100 === 0 && (await sseOpen()) === 3) break;
  }
  console.log(`never-read stream cut after ${adds} adds of ~3 KB`);
  assert.equal(await sseOpen(), 3, `the never-read stream is cut off (after ${adds} adds)`);
  const last = start + adds;
  for (const s of streams.sse) assert.deepEqual(await sseVersions(s, last), range(start + 1, last));
  for (const w of streams.watchers) {
    await w.reach(last);
    assert.deepEqual(w.changeVersions(), range(start + 1, last), 'a watcher got every version, in order');
  }
});

/** Open SSE streams, as the node's /metrics says. */
async function sseOpen(): Promise<number> {
  const text = await (await fetch(`${node.restUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('chorus_sse_connections '));
  assert.ok(line, 'chorus_sse_connections in /metrics');
  return Number(line.split(' ')[1]);
}

/**
 * A raw gRPC Watch whose HTTP/2 stream is never read: the flow-control window fills, then the node's
 * buffers. Resolves with the stream; `reset` settles when the node resets or ends it.
 */
function neverReadWatch(roomId: string): { stream: ClientHttp2Stream; session: ClientHttp2Session } {
  const session = http2Connect(`http://${node.node.grpcAddress}`);
  session.on('error', () => undefined);
  const watchMethod = (
    loadProtos()['chorus.v1.RoomService'] as Record<string, MethodDefinition<unknown, unknown>>
  )['Watch']!;
  const body = watchMethod.requestSerialize({ roomId });
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  const stream = session.request({
    ':method': 'POST',
    ':path': '/chorus.v1.RoomService/Watch',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => undefined);
  stream.end(frame);
  stream.pause();
  return { stream, session };
}

void test('a Watch that stops reading is cut off and its stream reset, its backlog dropped', async (t) => {
  const roomId = 'fan-out-slow-watch';
  const token = await createRoom(roomId);
  const streams = await openStreams(roomId, 0, 2);
  t.after(() => closeStreams(streams));
  const start = streams.watchers[0]!.messages[0]!.version;
  const slow = neverReadWatch(roomId);
  t.after(() => slow.session.destroy());
  let reset = false;
  slow.stream.on('close', () => (reset = true));
  await until('the node to count the never-read Watch', async () => (await watchesOpen()) === 3, {
    timeoutMs: 20_000,
  });
  // Large changes until the never-read stream is cut; bounded: 6,000 adds of ~3 KB is ~18 MB.
  let adds = 0;
  while (adds < 6000 && !reset) {
    await Promise.all(range(adds, adds + 19).map((i) => add(roomId, token, i, true)));
    adds += 20;
    for (const w of streams.watchers) await w.reach(start + adds); // only the never-read one lags
  }
  // Cut off, then reset once its grace passes without the client reading its status.
  await until('the never-read Watch to be reset', () => reset, { timeoutMs: 60_000 });
  console.log(`never-read Watch reset after ${adds} adds of ~3 KB, rstCode ${slow.stream.rstCode}`);
  assert.equal(slow.stream.rstCode, constants.NGHTTP2_CANCEL, 'the node reset the stream');
  await until('the node to count 2 Watch streams', async () => (await watchesOpen()) === 2, {
    timeoutMs: 20_000,
  });
  const last = start + adds;
  for (const w of streams.watchers) {
    await w.reach(last);
    assert.deepEqual(w.changeVersions(), range(start + 1, last), 'a watcher got every version, in order');
  }
});

/** Open Watch streams, as the node's /metrics says. */
async function watchesOpen(): Promise<number> {
  const text = await (await fetch(`${node.restUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('chorus_grpc_streams{') && l.includes('Watch'));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** A raw SSE request over `http` (1.0 or 1.1); collects what the socket receives. */
function rawSse(roomId: string, http: '1.0' | '1.1'): { socket: Socket; received: () => string } {
  const { hostname, port } = new URL(node.restUrl);
  let text = '';
  const socket = tcpConnect({ host: hostname, port: Number(port) }, () =>
    socket.write(`GET /v1/rooms/${roomId}/events HTTP/${http}\r\nhost: x\r\n\r\n`),
  );
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  return { socket, received: () => text };
}

/** An HTTP/1.1 chunked body decoded strictly (every chunk's length and CRLF checked), up to its last whole chunk. */
function dechunk(body: string): string {
  let out = '';
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = body.slice(at, eol);
    assert.match(size, /^[0-9a-f]+$/, `a chunk size at ${at}`);
    const length = parseInt(size, 16);
    if (eol + 2 + length + 2 > body.length) break;
    out += body.slice(eol + 2, eol + 2 + length);
    assert.equal(body.slice(eol + 2 + length, eol + 4 + length), '\r\n', `the CRLF after a chunk at ${at}`);
    at = eol + 4 + length;
  }
  return out;
}

void test('SSE messages written straight to the socket are framed as the response: chunks on HTTP/1.1, bare on 1.0', async (t) => {
  const roomId = 'fan-out-framing';
  const token = await createRoom(roomId);
  const v11 = rawSse(roomId, '1.1');
  const v10 = rawSse(roomId, '1.0');
  t.after(() => {
    v11.socket.destroy();
    v10.socket.destroy();
  });
  const bodyOf = (text: string) => text.slice(text.indexOf('\r\n\r\n') + 4);
  await until(
    'both streams to get their reset',
    () => [v11, v10].every((s) => bodyOf(s.received()).includes('event: reset')),
    { timeoutMs: 20_000 },
  );
  for (let i = 0; i < 3; i++) await add(roomId, token, i);
  const changes = (body: string) =>
    [...body.matchAll(/id: (\d+)\nevent: change\ndata: \{/g)].map((m) => m[1]);
  const decoded11 = await until(
    'the HTTP/1.1 stream to have 3 changes',
    () => {
      const body = dechunk(bodyOf(v11.received()));
      return changes(body).length === 3 ? body : undefined;
    },
    { timeoutMs: 20_000 },
  );
  const body10 = await until(
    'the HTTP/1.0 stream to have 3 changes',
    () => {
      const body = bodyOf(v10.received());
      return changes(body).length === 3 ? body : undefined;
    },
    { timeoutMs: 20_000 },
  );
  assert.match(v11.received(), /^HTTP\/1\.1 200 .*\r\n(.*\r\n)*transfer-encoding: chunked\r\n/i);
  assert.doesNotMatch(v10.received(), /transfer-encoding/i);
  for (const body of [decoded11, body10]) {
    assert.ok(
      body.startsWith('retry: 2000\n\nid: '),
      `starts with retry, then the reset: ${body.slice(0, 40)}`,
    );
    // Every message whole: each ends with a blank line, and the changes are consecutive versions.
    for (const message of body.split('\n\n').slice(0, -1)) assert.match(message, /^(retry|id): /);
    const ids = changes(body).map(Number);
    assert.deepEqual(ids, [ids[0]!, ids[0]! + 1, ids[0]! + 2]);
  }
  assert.equal(decoded11, body10, 'the same messages either way');
});
