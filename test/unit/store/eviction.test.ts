// Idle rooms of the embedded store leave memory and come back from the snapshot (issue 21 item 3):
// a reloaded room is exactly the room that left, no write racing an eviction is lost, subscribers
// and commands in flight keep their room, evicted public rooms stay listed, a start from an indexed
// snapshot loads no room, an old snapshot (no index) still loads, and a SIGKILL after evictions
// loses nothing. The fast-check model runs random writes interleaved with evictions and snapshots
// against a store that never evicts; on failure fast-check prints the seed and path (FC_SEED=…).

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Envelope } from '../../../src/domain/index.ts';
import {
  openMemoryStore,
  type MemoryStore,
  type MemoryStoreOptions,
} from '../../../src/store/memory/index.ts';
import type { CommitOutcome, FeedItem } from '../../../src/store/types.ts';
import { accepted } from '../../store-contract.ts';
import { cmd, OPEN_SETTINGS } from '../../helpers/store-envelopes.ts';
import { until } from '../../helpers/until.ts';

const CHILD = fileURLToPath(new URL('../../helpers/store-child.ts', import.meta.url));
const quiet = { info: () => undefined, warn: () => undefined };
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-eviction-'));
  dirs.push(dir);
  return dir;
}

function open(dataDir: string, options: Partial<MemoryStoreOptions> = {}): Promise<MemoryStore> {
  // roomIdleMs 0: no timer evicts; the tests evict by hand with evictIdleRooms(0).
  return openMemoryStore({ dataDir, logger: quiet, fsync: false, roomIdleMs: 0, ...options });
}

/** Rooms `room-0 …`, public when even, each with a member and a track. */
async function makeRooms(store: MemoryStore, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `room-${i}`);
  for (const [i, id] of ids.entries()) {
    await accepted(store, cmd.createRoom(id, 'host', { ...OPEN_SETTINGS, public: i % 2 === 0 }));
    await accepted(store, cmd.join(id, 'm'));
    await accepted(store, cmd.addTrack(id, 'm', `${id}-e`));
  }
  return ids;
}

void describe('idle rooms leave memory and come back from the snapshot', () => {
  void test('a room is evicted only once a snapshot holds it as it is; it reloads exactly', async () => {
    const dir = await tempDir();
    const store = await open(dir, { snapshotEvery: 1_000_000 });
    try {
      await makeRooms(store, 6);
      assert.equal(store.evictIdleRooms(0), 0, 'nothing is in a snapshot yet');
      await store.close();
    } catch (err) {
      await store.close();
      throw err;
    }
    // Closing wrote a snapshot with its index: the next start loads no room.
    const again = await open(dir, { snapshotEvery: 1_000_000 });
    try {
      assert.equal(again.stats().rooms, 0);
      assert.equal(again.evictedRooms().length, 6);
      const listed = (await again.listRooms(100)).map((l) => l.id);
      assert.deepEqual(listed.sort(), ['room-0', 'room-2', 'room-4'], 'evicted public rooms stay listed');
      const before = await again.read('room-1');
      assert.equal(before?.version, 3);
      assert.equal(again.stats().reloads, 1);
      // Unchanged since it was read back: it may go again at once, and comes back the same.
      assert.equal(again.evictIdleRooms(0), 1);
      assert.deepEqual(await again.read('room-1'), before);
      // A write makes it differ from the snapshot: it stays until a snapshot holds it.
      await accepted(again, cmd.join('room-1', 'late'));
      assert.equal(again.evictIdleRooms(0), 0);
      assert.equal((await again.read('room-1'))?.version, 4);
      // A write to an evicted room reloads it first and lands on top of it.
      assert.ok(again.evictedRooms().includes('room-3'));
      const out = await accepted(again, cmd.vote('room-3', 'm', 'room-3-e', 1));
      assert.equal(out.state?.version, 4);
    } finally {
      await again.close();
    }
    const third = await open(dir);
    try {
      assert.equal((await third.read('room-1'))?.version, 4);
      assert.equal((await third.read('room-3'))?.version, 4);
      assert.equal((await third.read('room-5'))?.version, 3);
    } finally {
      await third.close();
    }
  });

  void test('a subscriber and a command in flight keep their room; a resumed stream gets the state', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    await makeRooms(store, 2);
    await store.close();
    const again = await open(dir);
    try {
      const items: FeedItem[] = [];
      const sub = await again.subscribe('room-0', 1, (item) => items.push(item));
      // Reloaded to subscribe; a resume from version 1 gets the whole state (no events were kept).
      assert.deepEqual(
        items.map((i) => i.kind),
        ['reset'],
      );
      await again.read('room-1');
      assert.equal(again.evictIdleRooms(0), 1, 'only the unwatched room goes');
      assert.deepEqual(again.evictedRooms(), ['room-1']);
      // A command submitted (not yet answered) pins its room.
      const pending = again.submit(cmd.join('room-0', 'x'));
      sub.close();
      assert.equal(again.evictIdleRooms(0), 0, 'the command in flight keeps room-0');
      assert.equal((await pending).result.ok, true);
      assert.equal(again.evictIdleRooms(0), 0, 'changed since the snapshot');
    } finally {
      await again.close();
    }
  });

  void test('no room is evicted while a snapshot is being taken (its place would be compacted away)', async () => {
    const dir = await tempDir();
    const first = await open(dir, { snapshotEvery: 1_000_000 });
    await makeRooms(first, 2);
    await first.close(); // a snapshot with its index: both rooms start evicted
    const store = await open(dir, { snapshotEvery: 3 });
    try {
      const before = await store.read('room-0'); // reloaded, unchanged since the snapshot: evictable
      // The sweep may fire at any moment; here it fires while the log moves to a new segment, after
      // the rooms were taken for the next snapshot and before that snapshot is written.
      const schedule = (store as unknown as { snapshots: { write(contents: unknown): void } }).snapshots;
      const write = schedule.write.bind(schedule);
      let evictedInWindow = -1;
      schedule.write = (contents) => {
        evictedInWindow = store.evictIdleRooms(0);
        write(contents);
      };
      for (let i = 0; i < 4; i++) await accepted(store, cmd.addTrack('room-1', 'm', `more-${i}`));
      await until('the snapshot after room-1 writes', () => store.stats().snapshots >= 1, {
        timeoutMs: 5_000,
      });
      assert.equal(evictedInWindow, 0, 'nothing is evicted between taking the rooms and writing them');
      assert.deepEqual(await store.read('room-0'), before, 'the room reads back after the compaction');
      assert.equal(store.evictIdleRooms(0) > 0, true, 'and may leave once the snapshot is written');
      assert.deepEqual(await store.read('room-0'), before);
      await store.close();
    } catch (err) {
      await store.close();
      throw err;
    }
  });

  void test('an old snapshot without a room index loads whole; the next snapshot adds the index', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    await makeRooms(store, 3);
    await store.close();
    for (const name of await readdir(dir)) if (name.endsWith('.rooms')) await unlink(path.join(dir, name));
    const again = await open(dir);
    try {
      assert.equal(again.stats().rooms, 3, 'every room loaded from the snapshot itself');
      assert.equal(again.evictIdleRooms(0), 0, 'their places are unknown until a snapshot');
      // The first write after such a start takes a snapshot (with its index).
      await accepted(again, cmd.join('room-0', 'y'));
      await until('the snapshot', () => again.stats().snapshots === 1 && !again.stats().busy, {
        timeoutMs: 30_000,
      });
      assert.ok((await readdir(dir)).some((f) => f.endsWith('.rooms')));
      assert.equal(again.evictIdleRooms(0), 3);
    } finally {
      await again.close();
    }
  });

  void test('random writes interleaved with evictions and snapshots match a store that never evicts', async () => {
    type Step =
      | { kind: 'write'; room: number; what: number; member: number }
      | { kind: 'evict'; afterSnapshot: boolean }
      | { kind: 'settle' }
      | { kind: 'restart' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant('write' as const),
          room: fc.nat(4),
          what: fc.nat(3),
          member: fc.nat(3),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('evict' as const), afterSnapshot: fc.boolean() }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('settle' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
    );
    // Every room exists with four members (set up in both stores), so most writes are accepted.
    const setup = (): Envelope[] =>
      Array.from({ length: 5 }, (_, r) => [
        cmd.createRoom(`model-${r}`, 'host', { ...OPEN_SETTINGS, public: r % 2 === 0 }),
        ...[0, 1, 2, 3].map((m) => cmd.join(`model-${r}`, `m${m}`)),
      ]).flat();
    const envOf = (s: Extract<Step, { kind: 'write' }>, n: number): Envelope => {
      const room = `model-${s.room}`;
      const member = `m${s.member}`;
      if (s.what === 0) return cmd.join(room, `late-${n}`);
      if (s.what === 1) return cmd.setLocked(room, 'host', n % 2 === 0);
      if (s.what === 2) return cmd.addTrack(room, member, `e${n}`);
      return cmd.vote(room, member, `e${n - 1 - ((s.member * 3) % 5)}`, n % 3 === 0 ? -1 : 1);
    };
    const answer = (o: CommitOutcome) => ({ result: o.result, version: o.state?.version ?? 0 });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 80 }), async (steps) => {
        const subjectDir = await tempDir();
        const oracle = await open(await tempDir(), { snapshotEvery: 1_000_000 });
        let subject = await open(subjectDir, { snapshotEvery: 3 });
        try {
          let pending: Array<Promise<[unknown, unknown]>> = [];
          const settle = async (): Promise<void> => {
            for (const [a, b] of await Promise.all(pending)) assert.deepEqual(a, b);
            pending = [];
          };
          for (const env of setup()) {
            assert.deepEqual(answer(await subject.submit(env)), answer(await oracle.submit(env)));
          }
          for (const [n, s] of steps.entries()) {
            if (s.kind === 'write') {
              const env = envOf(s, n);
              // Same envelope, same order of submission: both stores must answer alike.
              pending.push(Promise.all([subject.submit(env).then(answer), oracle.submit(env).then(answer)]));
            } else if (s.kind === 'evict') {
              // Writes may still be in flight (they pin their rooms); a snapshot being written
              // holds evictions back, so most evict steps first let it land.
              if (s.afterSnapshot)
                await until('the snapshot to land', () => !subject.stats().busy, { timeoutMs: 30_000 });
              subject.evictIdleRooms(0);
            } else if (s.kind === 'settle') {
              await settle();
              await until('the snapshot to land', () => !subject.stats().busy, { timeoutMs: 30_000 });
            } else {
              await settle();
              await subject.close();
              subject = await open(subjectDir, { snapshotEvery: 3 });
            }
          }
          await settle();
          for (let r = 0; r < 5; r++) {
            assert.deepEqual(await subject.read(`model-${r}`), await oracle.read(`model-${r}`));
          }
          assert.deepEqual(await subject.listRooms(10), await oracle.listRooms(10));
        } finally {
          await subject.close();
          await oracle.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  void test('SIGKILL after evictions loses no acknowledged command', async () => {
    const dir = await tempDir();
    // 30 rooms, 6 workers: rooms 6..29 go idle after their creation and are evicted (idle 1 ms).
    const child = spawn(process.execPath, [CHILD, 'load', dir, '30', '6', '100', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: string[] = [];
    let rest = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      out.push(...parts);
    });
    const acks = (): string[] => out.filter((l) => l.startsWith('ack '));
    try {
      await until(
        'the child to evict rooms and acknowledge 400 commands',
        () => (out.some((l) => l.startsWith('evicted ')) && acks().length >= 400) || child.exitCode !== null,
        { timeoutMs: 60_000 },
      );
      assert.equal(child.exitCode, null, 'the child is still running');
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
    const store = await open(dir);
    try {
      const latest = new Map<string, { version: number; commandId: string }>();
      for (const line of acks()) {
        const [, room, commandId, ok, version] = line.split(' ');
        assert.equal(ok, '1');
        latest.set(room!, { version: Number(version), commandId: commandId! });
      }
      assert.equal(latest.size, 30);
      for (const [room, ack] of latest) {
        const state = await store.read(room);
        assert.ok(state && state.version >= ack.version, `room ${room} lost version ${ack.version}`);
        const oldest = state.version - state.recent.length + 1;
        if (ack.version >= oldest) {
          assert.equal(state.recent.at(ack.version - oldest)?.commandId, ack.commandId);
        }
      }
    } finally {
      await store.close();
    }
  });
});

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
