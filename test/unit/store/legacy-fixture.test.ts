// A data dir written before issue 13 (test/fixtures/legacy-room-v1: a snapshot and a log tail whose
// legacy votes are anonymous voter keys) loads unchanged: the same queue, the same scores, the same
// version; and votes cast after loading add counts on top of the old keys.

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openMemoryStore } from '../../../src/store/memory/index.ts';

const FIXTURE = fileURLToPath(new URL('../../fixtures/legacy-room-v1/', import.meta.url));
const EXPECTED = new URL('../../fixtures/legacy-room-v1.expected.json', import.meta.url);

interface Expected {
  version: number;
  /** voterKeys: as the code before issue 13 kept them (one key per anonymous vote). */
  queue: { trackId: string; ups: number; downs: number; voterKeys: number }[];
  nowPlaying: { trackId: string; ups: number };
}

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

void test('a legacy room written with anonymous voter keys loads with the same queue and scores', async () => {
  const expected = JSON.parse(await readFile(EXPECTED, 'utf8')) as Expected;
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-legacy-fixture-'));
  dirs.push(dir);
  await cp(FIXTURE, dir, { recursive: true });
  const store = await openMemoryStore({
    dataDir: dir,
    fsync: false,
    logger: { info: () => undefined, warn: () => undefined },
  });
  try {
    const state = await store.read('legacy');
    assert.ok(state);
    assert.equal(state.version, expected.version);
    // Scores as before. The votes replayed from the log tail are counts now; the snapshot's keys stay.
    assert.deepEqual(
      state.queue.map((e) => ({ trackId: e.track.trackId, ups: e.ups, downs: e.downs })),
      expected.queue.map(({ trackId, ups, downs }) => ({ trackId, ups, downs })),
    );
    const playing = state.nowPlaying?.entry;
    assert.deepEqual({ trackId: playing?.track.trackId, ups: playing?.ups }, expected.nowPlaying);
    assert.equal(playing?.votes.size, 35, "the snapshot's 30 up and 5 down keys");
    assert.deepEqual([playing?.downs, playing?.anonymousUps], [5, 1], 'the log tail added one up as a count');
    // A vote now is a count beside the old keys; the old keys still count.
    const outcome = await store.submit({
      commandId: 'after-upgrade-1',
      roomId: 'legacy',
      actor: 'legacy-host',
      at: 1_800_000_000_000,
      command: { type: 'anonymousVote', entryId: playing.entryId, value: -1 },
    });
    assert.ok(outcome.result.ok);
    const now = (await store.read('legacy'))!.nowPlaying!.entry;
    assert.deepEqual([now.ups, now.downs, now.anonymousDowns, now.votes.size], [31, 6, 1, 35]);
  } finally {
    await store.close();
  }
});
