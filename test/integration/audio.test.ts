// GET /v1/tracks/:trackId/audio over a node with `--music-dir` in this process (in-process.ts): ranges, caching headers,
// content types, the 404s of a node that lacks a file, and that nothing outside the music folder is
// reachable (traversal in the URL, links out of the folder, a file swapped for such a link after the
// scan). Also: no answer carries a server path; tracks point at their audio URL instead.

/* eslint-disable @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trackAudioUrl } from '../../src/domain/index.ts';
import { fileTrackId } from '../../src/catalog/catalog.ts';
import { cleanupChorus, makeTempDir } from '../helpers/chorus-process.ts';
import { startInProcess, type InProcessNode } from '../helpers/in-process.ts';
import type { Http } from '../helpers/http.ts';
import { assertError, ok, type Json } from '../helpers/http.ts';
import { mp3File, wavFile } from '../unit/catalog/audio-fixtures.ts';
import { until } from '../helpers/until.ts';

let node: InProcessNode;
let api: Http;
let music: string;
let outside: string;
const SONG = 'Band/Album/01 song.wav';
const TUNE = 'Band/tune.mp3';
const LINK_OUT = 'escape.wav';
const WAV = Buffer.from(wavFile({ title: 'Served Song', artist: 'The Band', album: 'Album' }, 8000, 8000));
const MP3 = Buffer.from(mp3File({ title: 'Tune', artist: 'The Band' }, 40));
const SECRET = Buffer.from(wavFile({ title: 'Outside Song', artist: 'Nobody' }, 800, 8000));

before(async () => {
  music = await makeTempDir('chorus-music-');
  outside = await makeTempDir('chorus-outside-');
  await mkdir(path.join(music, 'Band/Album'), { recursive: true });
  await writeFile(path.join(music, SONG), WAV);
  await writeFile(path.join(music, TUNE), MP3);
  await writeFile(path.join(music, 'swapped.wav'), WAV);
  await writeFile(path.join(music, 'deleted.wav'), WAV);
  await writeFile(path.join(outside, 'secret.wav'), SECRET);
  await symlink(path.join(outside, 'secret.wav'), path.join(music, LINK_OUT));
  node = await startInProcess({ musicDir: music });
  api = node.api;
});

after(async () => {
  try {
    await node?.close();
  } finally {
    await cleanupChorus();
  }
});

async function raw(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  // fetch adds `cache-control: no-cache` to a request with validators unless told otherwise (which
  // makes any server answer in full); a browser revalidating its cache sends max-age=0.
  const res = await fetch(`${node.restUrl}${url}`, {
    headers: { 'cache-control': 'max-age=0', ...headers },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

function track(title: string): Json {
  return api.get(`/v1/catalog/search?q=${encodeURIComponent(title)}&limit=5`).then((res) => {
    const found = ok(res, 200).tracks.find((t: Json) => t.title === title);
    assert.ok(found, `no track "${title}" in ${res.text}`);
    return found;
  });
}

void describe('music-folder tracks point at their audio, never at a server path', () => {
  void test('search and track answers carry audioUrl and no sourceUri or folder path', async () => {
    const song = await track('Served Song');
    assert.equal(song.trackId, fileTrackId(SONG));
    assert.equal(song.audioUrl, trackAudioUrl(song.trackId));
    assert.equal(song.sourceUri, undefined);
    for (const res of [
      await api.get('/v1/catalog/search?q=&limit=100'),
      await api.get(`/v1/catalog/tracks/${encodeURIComponent(song.trackId)}`),
    ]) {
      ok(res, 200);
      assert.ok(!res.text.includes(music), `a server path in ${res.text}`);
      assert.ok(!res.text.includes('file://'), `a file URI in ${res.text}`);
    }
  });

  void test('a room holding the track shows the audio URL in its view and its events', async () => {
    const created = ok(
      await api.post('/v1/rooms', { roomId: 'audio-room', name: 'Audio', hostName: 'Ann' }),
      201,
    );
    const song = await track('Served Song');
    ok(
      await api.post('/v1/rooms/audio-room/queue', { trackId: song.trackId }, { token: created.token }),
      201,
    );
    const room = await api.get('/v1/rooms/audio-room');
    assert.equal(ok(room, 200).nowPlaying.track.audioUrl, song.audioUrl);
    assert.ok(!room.text.includes(music) && !room.text.includes('file://'), room.text);
    // The first SSE message is the whole room (a reset): read just that.
    const controller = new AbortController();
    const res = await fetch(`${node.restUrl}/v1/rooms/audio-room/events`, { signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    controller.abort();
    assert.match(text, /event: reset/);
    assert.ok(text.includes(song.audioUrl), text);
    assert.ok(!text.includes(music) && !text.includes('file://'), text);
  });
});

void describe('GET /v1/tracks/:trackId/audio', () => {
  void test('answers the whole file with its content type, length, validators and Accept-Ranges', async () => {
    const song = await track('Served Song');
    const res = await raw(song.audioUrl);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    assert.equal(res.headers.get('content-length'), String(WAV.length));
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.match(res.headers.get('etag') ?? '', /^W?\/?".+"$/);
    assert.ok(!Number.isNaN(Date.parse(res.headers.get('last-modified') ?? '')));
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.ok(res.body.equals(WAV));
    const mp3 = await raw((await track('Tune')).audioUrl);
    assert.equal(mp3.status, 200);
    assert.equal(mp3.headers.get('content-type'), 'audio/mpeg');
    assert.ok(mp3.body.equals(MP3));
  });

  void test('answers byte ranges with 206 and Content-Range, and 416 outside the file', async () => {
    const { audioUrl } = await track('Served Song');
    const middle = await raw(audioUrl, { range: 'bytes=100-199' });
    assert.equal(middle.status, 206);
    assert.equal(middle.headers.get('content-range'), `bytes 100-199/${WAV.length}`);
    assert.ok(middle.body.equals(WAV.subarray(100, 200)));
    const open = await raw(audioUrl, { range: `bytes=${WAV.length - 10}-` });
    assert.equal(open.status, 206);
    assert.ok(open.body.equals(WAV.subarray(WAV.length - 10)));
    const suffix = await raw(audioUrl, { range: 'bytes=-16' });
    assert.equal(suffix.status, 206);
    assert.ok(suffix.body.equals(WAV.subarray(WAV.length - 16)));
    const beyond = await raw(audioUrl, { range: `bytes=${WAV.length + 10}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${WAV.length}`);
    assert.equal(JSON.parse(beyond.body.toString('utf8')).error.code, 'INVALID_ARGUMENT');
  });

  void test('revalidates: 304 for a matching ETag or date, a whole answer for a stale If-Range', async () => {
    const { audioUrl } = await track('Served Song');
    const first = await raw(audioUrl);
    const etag = first.headers.get('etag')!;
    const modified = first.headers.get('last-modified')!;
    const byTag = await raw(audioUrl, { 'if-none-match': etag });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body.length, 0);
    assert.equal((await raw(audioUrl, { 'if-modified-since': modified })).status, 304);
    assert.equal((await raw(audioUrl, { 'if-none-match': '"another"' })).status, 200);
    const fresh = await raw(audioUrl, { range: 'bytes=0-9', 'if-range': etag });
    assert.equal(fresh.status, 206);
    const stale = await raw(audioUrl, { range: 'bytes=0-9', 'if-range': '"another"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, WAV.length);
  });

  void test('a track this node has no file for is a 404 that says so', async () => {
    const demo = await api.get('/v1/tracks/demo%3A0001/audio');
    assertError(demo, 404, 'NOT_FOUND', /this node has no audio for track demo:0001/);
    const unknown = await api.get(`/v1/tracks/${encodeURIComponent(fileTrackId('nope.wav'))}/audio`);
    assertError(unknown, 404, 'NOT_FOUND', /its music folder does not hold it/);
  });

  void test('paths in the URL reach nothing: traversal attempts are 404s without file contents', async () => {
    for (const attempt of [
      '/v1/tracks/..%2F..%2F..%2F..%2Fetc%2Fpasswd/audio',
      '/v1/tracks/%2e%2e/audio',
      `/v1/tracks/${encodeURIComponent(path.join(music, SONG))}/audio`,
      `/v1/tracks/${encodeURIComponent('file:' + path.join(outside, 'secret.wav'))}/audio`,
      `/v1/tracks/${encodeURIComponent(SONG)}/audio`,
      '/v1/tracks/../../etc/passwd/audio',
      '/v1/tracks/%00/audio',
    ]) {
      const res = await api.get(attempt);
      assert.ok(res.status === 404 || res.status === 400, `${attempt} -> ${res.status} ${res.text}`);
      assert.doesNotMatch(res.text, /root:|RIFF/, attempt);
      // The answer may quote the id it was given, and nothing more of the server's paths.
      const quoted = decodeURIComponent(attempt);
      if (!quoted.includes(music)) assert.ok(!res.text.includes(music), res.text);
      if (!quoted.includes(outside)) assert.ok(!res.text.includes(outside), res.text);
    }
  });

  void test('a link out of the music folder is listed without audio and never served', async () => {
    const linked = await track('Outside Song');
    assert.equal(linked.trackId, fileTrackId(LINK_OUT));
    assert.equal(linked.audioUrl, undefined);
    const res = await api.get(trackAudioUrl(linked.trackId));
    assertError(res, 404, 'NOT_FOUND', /this node has no audio/);
    assert.doesNotMatch(res.text, /RIFF/);
  });

  void test('a file swapped for a link out of the folder after the scan is refused, a deleted one is 404', async () => {
    const swapped = trackAudioUrl(fileTrackId('swapped.wav'));
    assert.equal((await raw(swapped)).status, 200);
    await rm(path.join(music, 'swapped.wav'));
    await symlink(path.join(outside, 'secret.wav'), path.join(music, 'swapped.wav'));
    const res = await api.get(swapped);
    // Refused at once by the check of every request (or, once the watched folder was rescanned, by
    // the catalog, which lists the link without audio).
    assertError(res, 404, 'NOT_FOUND', /leads out of the music folder|does not hold it/);
    assert.doesNotMatch(res.text, /RIFF/);

    const deleted = trackAudioUrl(fileTrackId('deleted.wav'));
    assert.equal((await raw(deleted)).status, 200);
    await rm(path.join(music, 'deleted.wav'));
    assertError(await api.get(deleted), 404, 'NOT_FOUND', /gone from the music folder|does not hold it/);
  });
});

void describe('the music folder is watched', () => {
  void test('files added, changed and removed appear without a restart', async () => {
    const file = path.join(music, 'Band', 'late.wav');
    const found = async (title: string): Promise<Json> =>
      ok(await api.get(`/v1/catalog/search?q=${encodeURIComponent(title)}&limit=5`), 200).tracks.find(
        (t: Json) => t.title === title,
      );
    await writeFile(file, Buffer.from(wavFile({ title: 'Late Arrival', artist: 'The Band' }, 800, 8000)));
    const added = await until('the new file in the catalog', () => found('Late Arrival'));
    assert.equal(added.trackId, fileTrackId('Band/late.wav'));
    assert.equal((await raw(added.audioUrl)).status, 200);

    await writeFile(file, Buffer.from(wavFile({ title: 'Late Remix', artist: 'The Band' }, 1600, 8000)));
    const changed = await until('the new tags in the catalog', () => found('Late Remix'));
    assert.equal(changed.trackId, added.trackId);
    assert.equal(changed.durationMs, 200);
    assert.equal(await found('Late Arrival'), undefined);

    await rm(file);
    await until('the file gone from the catalog', async () => (await found('Late Remix')) === undefined);
    assertError(await api.get(added.audioUrl), 404, 'NOT_FOUND', /does not hold it/);
  });
});
