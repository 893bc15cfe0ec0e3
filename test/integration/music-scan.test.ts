// The music folder cannot hold a node hostage: the scan runs after the node listens, and a file
// reads at most a fixed budget (a sparse gigabyte of zeros named .mp3 once made a node read 6.5 GB
// and listen only after 301 s). Big real files still join the catalog: their head states or lets
// the scan estimate their length.

import assert from 'node:assert/strict';
import { copyFile, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { FILE_READ_BUDGET } from '../../src/catalog/scan.ts';
import { cleanupChorus, makeTempDir, startChorus } from '../helpers/chorus-process.ts';
import { Http, ok, type Json } from '../helpers/http.ts';

const FIXTURE = new URL('../fixtures/audio/real-lame.mp3', import.meta.url);
const GiB = 1024 * 1024 * 1024;

after(cleanupChorus);

/** Bytes the process has read through read(2)-like calls, page cache included (/proc/PID/io). */
async function bytesRead(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  return Number(/^rchar: (\d+)$/m.exec(io)![1]);
}

void test('a hostile music folder costs a bounded read, after the node listens', async () => {
  const music = await makeTempDir('chorus-music-');
  await copyFile(FIXTURE, path.join(music, 'small.mp3'));
  // A real MP3 head followed by 200 MiB of (sparse) nothing: over the budget, still a track.
  await copyFile(FIXTURE, path.join(music, 'long mix.mp3'));
  await truncate(path.join(music, 'long mix.mp3'), FILE_READ_BUDGET + 200 * 1024 * 1024);
  // Three gibibytes of zeros: no audio anywhere. The parser would hunt for a frame to its end.
  await writeFile(path.join(music, 'zeros.mp3'), '');
  await truncate(path.join(music, 'zeros.mp3'), 3 * GiB);

  const node = await startChorus({ args: ['--music-dir', music], logLevel: 'info', startTimeoutMs: 120_000 });
  const log = node.stderr();
  const listening = log.indexOf('Server listening');
  const scanning = log.indexOf('scanning music folder');
  assert.ok(listening >= 0 && scanning >= 0, log);
  assert.ok(listening < scanning, `the scan began before the node listened:\n${log}`);
  assert.match(
    log,
    /zeros\.mp3.*no audio found in its first 64 MiB|no audio found in its first 64 MiB.*zeros\.mp3/,
  );

  const read = await bytesRead(node.pid);
  // Two files over the budget read at most the budget each; the rest is start-up (code, catalog).
  assert.ok(read < 2 * FILE_READ_BUDGET + 256 * 1024 * 1024, `the node read ${read} bytes`);

  const api = new Http(node.restUrl);
  // Both files carry the same tags; each is a track, the zeros are not. Each one's Xing header
  // states its encoded frames (1.57 s), whatever follows them.
  const tracks = ok(await api.get('/v1/catalog/search?q=&limit=50'), 200).tracks as Json[];
  assert.equal(tracks.length, 2, JSON.stringify(tracks));
  for (const track of tracks) assert.equal(track.durationMs, 1567, JSON.stringify(track));
  assert.equal(await node.stop(), 0, node.stderr());
});
