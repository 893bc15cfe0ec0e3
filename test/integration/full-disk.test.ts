// A full disk: writes stop with a clear UNAVAILABLE, and a node restarted while the disk is still
// full starts anyway, serving what it holds read-only (/readyz unready) instead of serving nothing.
// Once space is back, a restart takes writes again. The disk is a 4 MiB tmpfs this test mounts
// (as root, which CI is) and unmounts.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cleanupChorus, startChorus } from '../helpers/chorus-process.ts';
import { Http, ok, type HttpResponse } from '../helpers/http.ts';

let disk: string;

before(async () => {
  disk = await mkdtemp(path.join(tmpdir(), 'chorus-full-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', disk]);
});

after(async () => {
  try {
    await cleanupChorus();
  } finally {
    execFileSync('umount', ['-l', disk]);
    await rm(disk, { recursive: true });
  }
});

/** Writes zeros until the disk refuses more. */
async function fill(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) await handle.write(chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    await handle.close();
  }
}

function createRoom(api: Http): Promise<HttpResponse> {
  return api.post('/v1/rooms', { name: 'Full disk party', hostName: 'Ann' });
}

void test('a node on a full disk serves reads, refuses writes clearly, and recovers after a restart', async () => {
  const dataDir = path.join(disk, 'data');
  const filler = path.join(disk, 'filler');
  let node = await startChorus({ dataDir });
  let api = new Http(node.restUrl);
  const room = ok(await createRoom(api), 201);
  await fill(filler);

  // The log's last page may still take a few records; the first write it cannot take is refused.
  let refused = await createRoom(api);
  for (let i = 0; i < 500 && refused.status === 201; i++) refused = await createRoom(api);
  assert.equal(refused.status, 503, refused.text);
  assert.equal(refused.body.error.code, 'UNAVAILABLE');
  assert.match(String(refused.body.error.message), /no space left on device.*free space/);
  assert.equal(await node.stop(), 0, node.stderr());

  // Restarted with the disk still full (to the last page, so not even its lock file can be
  // written): it starts, serves what it holds, refuses writes, unready.
  await fill(`${filler}-2`);
  node = await startChorus({ dataDir });
  api = new Http(node.restUrl);
  const read = ok(await api.get(`/v1/rooms/${room.room.id}`), 200);
  assert.equal(read.name, 'Full disk party');
  const ready = await api.get('/readyz');
  assert.equal(ready.status, 503, ready.text);
  assert.match(ready.text, /no space left on device/);
  assert.equal((await createRoom(api)).status, 503);
  assert.match(node.stderr(), /the memory store serves reads only/);
  assert.equal(await node.stop(), 0, node.stderr());

  // Space back: a restart takes writes again, and nothing was lost.
  await rm(filler);
  await rm(`${filler}-2`);
  node = await startChorus({ dataDir });
  api = new Http(node.restUrl);
  ok(await createRoom(api), 201);
  assert.equal(ok(await api.get(`/v1/rooms/${room.room.id}`), 200).name, 'Full disk party');
  assert.equal((await api.get('/readyz')).status, 200);
  assert.equal(await node.stop(), 0, node.stderr());
});
