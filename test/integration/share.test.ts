// Guests can reach the room: `chorus serve` on a wildcard address prints the machine's LAN URLs
// after its usual lines, `--public-url` is printed and answered by GET /v1/share, and a loopback
// bind offers no LAN URL. With a music folder the demo catalog is off unless asked for.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { cleanupChorus, makeTempDir, startChorus } from '../helpers/chorus-process.ts';
import { Http, ok } from '../helpers/http.ts';
import { wavFile } from '../unit/catalog/audio-fixtures.ts';

after(() => cleanupChorus());

void test('a 0.0.0.0 bind prints LAN URLs and a public URL; GET /v1/share answers them', async () => {
  const node = await startChorus({
    args: ['--host', '0.0.0.0', '--public-url', 'https://party.example.org/'],
    ready: (lines) => lines.some((l) => l.startsWith('lan ')),
  });
  try {
    const lan = node.lines.filter((l) => l.startsWith('lan ')).map((l) => l.slice(4));
    assert.ok(lan.length > 0, node.stdout());
    for (const url of lan) assert.doesNotMatch(new URL(url).hostname, /^(127\.|localhost$|\[::1\]$)/);
    assert.ok(node.lines.includes('public https://party.example.org'), node.stdout());
    assert.match(node.lines[0]!, /^rest http:\/\//, 'the first line is still the rest endpoint');
    const port = new URL(node.restUrl).port;
    const api = new Http(`http://127.0.0.1:${port}`);
    const share = ok(await api.get('/v1/share'), 200);
    assert.deepEqual(share, { publicUrl: 'https://party.example.org', lanUrls: lan });
    // The LAN address answers.
    ok(await new Http(lan[0]!).get('/healthz'), 200);
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

void test('a loopback bind offers no LAN URL; a music folder leaves the demo tracks out unless asked', async () => {
  const music = await makeTempDir('chorus-music-');
  await writeFile(path.join(music, 'mine.wav'), wavFile({ title: 'Mine', artist: 'Me' }, 800, 8000));
  const mine = await startChorus({ args: ['--music-dir', music] });
  const both = await startChorus({ args: ['--music-dir', music, '--demo-catalog'] });
  try {
    assert.equal(mine.lines.filter((l) => l.startsWith('lan ')).length, 0, mine.stdout());
    assert.deepEqual(ok(await new Http(mine.restUrl).get('/v1/share'), 200), {
      publicUrl: null,
      lanUrls: [],
    });
    const titles = async (url: string): Promise<string[]> =>
      (
        ok(await new Http(url).get('/v1/catalog/search?q=&limit=5'), 200) as { tracks: { title: string }[] }
      ).tracks.map((t) => t.title);
    assert.deepEqual(await titles(mine.restUrl), ['Mine']);
    assert.ok((await titles(both.restUrl)).length > 1);
    assert.equal((await new Http(mine.restUrl).get('/v1/catalog/tracks/demo%3A0001')).status, 404);
  } finally {
    assert.equal(await mine.stop(), 0);
    assert.equal(await both.stop(), 0);
  }
});
