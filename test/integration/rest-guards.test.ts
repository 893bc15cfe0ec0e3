// Input that must never get in, and output that must never get out: text that is not valid Unicode
// (a lone surrogate) is refused wherever it enters REST; a legacy write fired from another site's
// page is refused while scripts keep working; an embedded cover that is not a raster image is never
// served (an SVG could run script on the node's origin), and covers are served nosniff and sandboxed.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startInProcess, type InProcessNode } from '../helpers/in-process.ts';
import { mp3File, PNG_1X1 } from '../unit/catalog/audio-fixtures.ts';

// The node runs in this process: these are answers and headers, no process behaviour.
let node: InProcessNode;
let musicDir: string;

before(async () => {
  musicDir = await mkdtemp(path.join(tmpdir(), 'chorus-music-'));
  await writeFile(
    path.join(musicDir, 'png.mp3'),
    mp3File({ title: 'Cover Png', artist: 'Guard' }, 40, { mime: 'image/png', data: PNG_1X1 }),
  );
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  await writeFile(
    path.join(musicDir, 'svg.mp3'),
    mp3File({ title: 'Cover Svg', artist: 'Guard' }, 40, { mime: 'image/svg+xml', data: svg }),
  );
  node = await startInProcess({ musicDir });
});

after(async () => {
  await node.close();
  await rm(musicDir, { recursive: true, force: true });
});

/** A request with a raw body (so a lone surrogate escape reaches the server as JSON sent it). */
async function send(method: string, url: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${node.restUrl}${url}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  return { status: response.status, text, headers: response.headers };
}

void test('a lone surrogate is refused where it enters, naming the field; the room is not created', async () => {
  const created = await send(
    'POST',
    '/v1/rooms',
    '{"roomId":"surrogate","name":"Party \\ud800","hostName":"Ann"}',
  );
  assert.equal(created.status, 400, created.text);
  assert.match(created.text, /INVALID_ARGUMENT/);
  assert.match(created.text, /body\.name/);
  assert.equal((await send('GET', '/v1/rooms/surrogate')).status, 404, 'nothing was created');

  const search = await send('GET', '/v1/catalog/search?q=%ED%A0%80');
  assert.ok(search.status === 400 || search.status === 200, `a surrogate in a query: ${search.status}`);

  const legacy = await send(
    'POST',
    '/add_track',
    '{"id":7,"title":"Bad \\udfff","artist":"A","duration":100}',
  );
  assert.ok(
    legacy.status >= 400 && legacy.status < 500,
    `legacy add refused: ${legacy.status} ${legacy.text}`,
  );
  const queue = await send('GET', '/queue');
  assert.ok(!queue.text.includes('Bad'), 'the legacy queue holds no such track');
  // A well-formed pair (an emoji) is fine.
  const emoji = await send(
    'POST',
    '/v1/rooms',
    '{"roomId":"emoji","name":"Party \\ud83c\\udf89","hostName":"Ann"}',
  );
  assert.equal(emoji.status, 201, emoji.text);
});

void test('a legacy write from another site is refused; scripts and same-origin pages keep working', async () => {
  const add = await send('POST', '/add_track', '{"id":42,"title":"Keep","artist":"A","duration":100}');
  assert.equal(add.status, 200, add.text);

  const evil = await send('POST', '/clear', undefined, {
    origin: 'https://evil.example',
    'content-type': 'text/plain',
  });
  assert.equal(evil.status, 403, evil.text);
  assert.match(evil.text, /PERMISSION_DENIED/);
  const fetchSite = await send('POST', '/clear', undefined, { 'sec-fetch-site': 'cross-site' });
  assert.equal(fetchSite.status, 403, fetchSite.text);
  const nullOrigin = await send('POST', '/clear', undefined, { origin: 'null' });
  assert.equal(nullOrigin.status, 403, nullOrigin.text);
  assert.match((await send('GET', '/queue')).text, /Keep/, 'the queue survived the cross-site attempts');

  const own = new URL(node.restUrl);
  const sameOrigin = await send('POST', '/clear', undefined, { origin: own.origin });
  assert.equal(sameOrigin.status, 200, sameOrigin.text);
  const script = await send('POST', '/add_track', '{"id":43,"title":"Again","artist":"A","duration":100}');
  assert.equal(script.status, 200, 'a script (no Origin) writes as before');
  // Reads are not writes: a page elsewhere may read.
  assert.equal((await send('GET', '/queue', undefined, { origin: 'https://evil.example' })).status, 200);
});

void test('covers: a raster image is served nosniff and sandboxed; an SVG cover is never served', async () => {
  const found = JSON.parse((await send('GET', '/v1/catalog/search?q=Cover&limit=10')).text) as {
    tracks: { trackId: string; title: string }[];
  };
  const byTitle = (title: string): string => {
    const t = found.tracks.find((x) => x.title === title);
    assert.ok(t, `${title} is in the catalog: ${JSON.stringify(found)}`);
    return encodeURIComponent(t.trackId);
  };
  const png = await fetch(`${node.restUrl}/v1/catalog/tracks/${byTitle('Cover Png')}/artwork`);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  assert.equal(png.headers.get('x-content-type-options'), 'nosniff');
  assert.match(png.headers.get('content-security-policy') ?? '', /sandbox/);
  const svg = await send('GET', `/v1/catalog/tracks/${byTitle('Cover Svg')}/artwork`);
  assert.equal(svg.status, 404, `an SVG cover is not served: ${svg.headers.get('content-type')}`);
});
