// The memory store: the Store contract, plus what only an embedded, file-backed store promises:
// restart and crash recovery, torn tails, snapshots and compaction, one process per data dir, and
// group commit.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, open as openFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { apply, compareEntries, type Envelope, type RoomState } from '../../../src/domain/index.ts';
import {
  DamagedLogError,
  frameRecord,
  listSegments,
  segmentHeader,
  segmentPath,
} from '../../../src/store/disk/log.ts';
import { LOG_FORMAT_FILE } from '../../../src/store/disk/recovery.ts';
import { repairLog } from '../../../src/store/disk/repair.ts';
import { snapshotPath } from '../../../src/store/disk/snapshot-file.ts';
import {
  openMemoryStore,
  type MemoryStore,
  type MemoryStoreOptions,
  type MemoryStoreStats,
} from '../../../src/store/memory/index.ts';
import { accepted, rejectsWith, runStoreContract } from '../../store-contract.ts';
import { cmd, envelope, OPEN_SETTINGS, roomId, track } from '../../helpers/store-envelopes.ts';
import { until } from '../../helpers/until.ts';

const CHILD = fileURLToPath(new URL('../../helpers/store-child.ts', import.meta.url));

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-memory-store-'));
  dirs.push(dir);
  return dir;
}

interface Captured {
  readonly warnings: { obj: object; msg: string }[];
  readonly logger: NonNullable<MemoryStoreOptions['logger']>;
}

function captureLogger(): Captured {
  const warnings: { obj: object; msg: string }[] = [];
  return {
    warnings,
    logger: { info: () => undefined, warn: (obj, msg) => warnings.push({ obj, msg: msg ?? '' }) },
  };
}

const quiet = { info: () => undefined, warn: () => undefined };

function open(dataDir: string, options: Partial<MemoryStoreOptions> = {}): Promise<MemoryStore> {
  return openMemoryStore({ dataDir, logger: quiet, ...options });
}

/** A store that fsyncs, with one room created: the group-commit tests count from `start`. */
async function fsyncingStoreWithRoom(): Promise<{
  store: MemoryStore;
  room: string;
  start: MemoryStoreStats;
}> {
  const store = await open(await tempDir(), { fsync: true });
  const room = roomId();
  try {
    await accepted(store, cmd.createRoom(room, 'host'));
  } catch (err) {
    await store.close();
    throw err;
  }
  return { store, room, start: store.stats() };
}

void test('a held room is read at once while open, and refused like any other once the store closes', async () => {
  const store = await open(await tempDir());
  const room = roomId();
  await accepted(store, cmd.createRoom(room, 'host'));
  const state = await store.read(room);
  assert.equal(state?.version, 1);
  assert.equal(await store.read(room, 1, 50), state, 'the same state object, at once');
  assert.deepEqual(store.loadedRooms(), [room]);
  await store.close();
  await rejectsWith(store.read(room), 'UNAVAILABLE');
  await rejectsWith(store.read(roomId('other')), 'UNAVAILABLE');
});

/** The rooms a fresh store on `dir` recovers (opened, read, closed). */
async function reopenedRooms(dir: string): Promise<Map<string, RoomState | null>> {
  const again = await open(dir);
  try {
    return await allRooms(again);
  } finally {
    await again.close();
  }
}

/** Every room of the store, by id. */
async function allRooms(store: MemoryStore): Promise<Map<string, RoomState | null>> {
  const rooms = new Map<string, RoomState | null>();
  // Evicted rooms too: a start from an indexed snapshot loads none of them until they are used.
  const ids = [...store.loadedRooms(), ...store.evictedRooms()];
  for (const id of ids.sort()) rooms.set(id, await store.read(id));
  return rooms;
}

/** Some rooms with members, tracks and votes, written concurrently. */
async function populate(store: MemoryStore, rooms = 3): Promise<string[]> {
  const ids = Array.from({ length: rooms }, () => roomId());
  await Promise.all(ids.map((id) => accepted(store, cmd.createRoom(id, 'host', OPEN_SETTINGS))));
  await Promise.all(ids.flatMap((id) => ['a', 'b', 'c', 'd'].map((m) => accepted(store, cmd.join(id, m)))));
  await Promise.all(
    ids.flatMap((id) => ['a', 'b', 'c'].map((m) => accepted(store, cmd.addTrack(id, m, `${m}-1`)))),
  );
  await Promise.all(
    ids.flatMap((id) =>
      ['a', 'b', 'c', 'd'].map((m) => store.submit(cmd.vote(id, m, 'b-1', m === 'd' ? -1 : 1))),
    ),
  );
  return ids;
}

function replayRooms(envs: readonly Envelope[]): Map<string, RoomState | null> {
  const rooms = new Map<string, RoomState | null>();
  for (const env of envs) rooms.set(env.roomId, apply(rooms.get(env.roomId) ?? null, env).state);
  for (const [id, state] of rooms) if (state === null) rooms.delete(id);
  return new Map([...rooms].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function framed(env: unknown): Buffer {
  return frameRecord(Buffer.from(JSON.stringify(env), 'utf8'));
}

/** Reads lines from a child's stdout as they come. */
function lines(child: ChildProcess): string[] {
  const out: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    out.push(...parts);
  });
  return out;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

function spawnChild(args: string[]): { child: ChildProcess; out: string[]; err: () => string } {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return { child, out: lines(child), err: () => stderr };
}

runStoreContract('memory', async () => {
  const dir = await tempDir();
  const store = await open(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

void describe('memory store', () => {
  void test("the data folder is its owner's alone: 0700, every file in it 0600, whatever the umask", async () => {
    const dir = await tempDir();
    const before = process.umask(0o022);
    try {
      const store = await open(dir, { snapshotEvery: 5 });
      await populate(store, 2);
      await store.close();
    } finally {
      process.umask(before);
    }
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const files = await readdir(dir, { recursive: true });
    assert.ok(files.length >= 2, `segments and snapshots were written: ${files.join(', ')}`);
    for (const f of files) {
      const info = await stat(path.join(dir, f));
      if (info.isFile()) assert.equal(info.mode & 0o777, 0o600, `${f} is 0600`);
    }
  });

  void test('close and reopen: identical rooms, versions and idempotent answers', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    const ids = await populate(store, 4);
    const retried = cmd.join(ids[0]!, 'retry-me');
    const first = await accepted(store, retried);
    const before = await allRooms(store);
    const listed = await store.listRooms(100);
    await store.close();

    const files = (await readdir(dir)).sort();
    assert.equal(files.filter((f) => f.endsWith('.snap')).length, 1, `files: ${files.join(' ')}`);
    assert.equal(files.filter((f) => f.startsWith('log-')).length, 1, `files: ${files.join(' ')}`);
    assert.ok(!files.includes('LOCK'), 'the lock is released on close');

    const again = await open(dir);
    try {
      assert.deepEqual(await allRooms(again), before);
      assert.deepEqual(await again.listRooms(100), listed);
      const retry = await again.submit(retried);
      assert.deepEqual(retry.result, first.result, 'a retry after restart gets the original answer');
      assert.equal(retry.state?.version, before.get(ids[0]!)?.version);
    } finally {
      await again.close();
    }
  });

  void test('a command that would change nothing is answered without a log record; one behind a command in flight is logged', async () => {
    const { store, room, start } = await fsyncingStoreWithRoom();
    const dir = store.dataDir;
    try {
      // Refusals with nothing of the room in flight: decided at once, never written or fsynced.
      const refused = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.submit(cmd.vote(room, 'host', `missing-${i}`, 1))),
      );
      for (const r of refused) assert.equal(r.result.ok, false, JSON.stringify(r.result));
      const elsewhere = await store.submit(cmd.join(roomId(), 'nobody')); // a room that does not exist
      assert.equal(elsewhere.result.ok, false);
      const lock = cmd.setLocked(room, 'host', true);
      const first = await accepted(store, lock);
      const retry = await store.submit(lock); // a retry: answered from the room's memory
      assert.deepEqual(retry.result, first.result);
      let stats = store.stats();
      assert.equal(stats.writes - start.writes, 1, 'only the lock was logged');
      assert.equal(stats.fsyncs - start.fsyncs, 1);
      assert.equal(stats.unlogged - start.unlogged, 42);

      // Behind a command in flight, a command is judged where the log puts it: after the unlock,
      // these adds are accepted (decided early, against the locked room, they would be refused).
      await accepted(store, cmd.join(room, 'm'));
      const unlock = store.submit(cmd.setLocked(room, 'host', false));
      const adds = Array.from({ length: 5 }, (_, i) => store.submit(cmd.addTrack(room, 'm', `t-${i}`)));
      assert.ok((await unlock).result.ok);
      for (const a of await Promise.all(adds)) assert.ok(a.result.ok, JSON.stringify(a.result));
      stats = store.stats();
      assert.equal(stats.writes - start.writes, 8, 'lock, join, unlock and five adds were logged');
      const before = await allRooms(store);
      await store.close();
      assert.deepEqual(await reopenedRooms(dir), before, 'the log alone gives the same rooms');
    } finally {
      await store.close();
    }
  });

  void test('a copy of the data dir taken while running (a crash image) recovers from snapshot + log', async () => {
    const dir = await tempDir();
    const store = await open(dir, { snapshotEvery: 50 });
    try {
      await populate(store, 5); // 60 records: one snapshot
      await until('the writer to finish', () => !store.stats().busy, { timeoutMs: 5_000 });
      assert.equal(store.stats().snapshots, 1);
      const ids = await populate(store, 2); // 24 more: a log tail, not enough for another snapshot
      await until('the writer to finish', () => !store.stats().busy, { timeoutMs: 5_000 });
      assert.equal(store.stats().snapshots, 1);
      assert.ok(store.stats().position > store.stats().snapshotPosition, 'records after the snapshot');
      const image = await tempDir();
      await cp(dir, image, { recursive: true });
      const before = await allRooms(store);

      // The image holds this process's own pid in LOCK: a lock left by a previous incarnation.
      const recovered = await open(image);
      try {
        assert.deepEqual(await allRooms(recovered), before);
        await accepted(recovered, cmd.join(ids[0]!, 'after-recovery'));
      } finally {
        await recovered.close();
      }
    } finally {
      await store.close();
    }
  });

  void test('crash: SIGKILL mid-load loses no acknowledged command and keeps their order', async (t) => {
    const dir = await tempDir();
    const rooms = 6;
    const { child, out, err } = spawnChild(['load', dir, String(rooms), '24', '150']);
    const acks = (): string[] => out.filter((l) => l.startsWith('ack '));
    try {
      await until(
        'the child to acknowledge 700 commands',
        () => acks().length >= 700 || child.exitCode !== null,
        { timeoutMs: 30_000 },
      );
      assert.equal(child.exitCode, null, `child exited early: ${err()}`);
      child.kill('SIGKILL');
      const { signal } = await exited(child); // reaped, so its pid is really dead for the lock check
      assert.equal(signal, 'SIGKILL');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }

    const received = acks().map((l) => {
      const [, room, commandId, ok, version] = l.split(' ');
      return { room: room!, commandId: commandId!, ok: ok === '1', version: Number(version) };
    });
    t.diagnostic(`child acknowledged ${received.length} commands before SIGKILL`);
    const captured = captureLogger();
    const store = await open(dir, { logger: captured.logger, snapshotEvery: 150 });
    try {
      const states = await allRooms(store);
      assert.equal(states.size, rooms);
      for (const [id, state] of states) {
        assert.ok(state);
        const mine = received.filter((a) => a.room === id);
        // Every acknowledged change is in the room at exactly the version it was acknowledged with,
        // which also means in the acknowledged order. `recent` lists the last changes by version.
        const oldest = state.version - state.recent.length + 1;
        let lastVersion = 0;
        for (const ack of mine) {
          assert.ok(ack.ok, `the child's commands are all valid (${ack.commandId})`);
          assert.ok(ack.version > lastVersion, 'acknowledged in version order');
          lastVersion = ack.version;
          assert.ok(state.version >= ack.version, `room ${id} lost version ${ack.version}`);
          if (ack.version >= oldest) {
            assert.equal(
              state.recent.at(ack.version - oldest)?.commandId,
              ack.commandId,
              `version ${ack.version}`,
            );
          }
        }
        // Nothing half-applied: every entry's counts match its votes and the queue is in order.
        for (const entry of state.queue) {
          const votes = entry.votes.entries().map(([, v]) => v);
          assert.equal(entry.ups, votes.filter((v) => v === 1).length);
          assert.equal(entry.downs, votes.filter((v) => v === -1).length);
        }
        for (let i = 1; i < state.queue.length; i++)
          assert.ok(compareEntries(state.queue.at(i - 1)!, state.queue.at(i)!) < 0);
        // The child always joins, then adds: an entry implies its member joined.
        for (const entry of state.queue)
          assert.ok(state.members.get(entry.addedBy), `entry ${entry.entryId} by a member`);
      }
      // The recovered store takes writes, and the next restart gives the same rooms again.
      const first = [...states.keys()][0]!;
      await accepted(store, cmd.join(first, 'after-crash'));
      const now = await allRooms(store);
      await store.close();
      assert.deepEqual(await reopenedRooms(dir), now);
    } finally {
      await store.close();
    }
  });

  void describe('a torn or corrupt log tail is cut off, keeping every complete record', () => {
    const room = 'torn-room';
    const other = 'torn-other';
    const envs: Envelope[] = [
      cmd.createRoom(room, 'host', OPEN_SETTINGS),
      cmd.createRoom(other, 'host'),
      cmd.join(room, 'a'),
      cmd.join(other, 'b'),
      cmd.addTrack(room, 'a', 'e1'),
      cmd.vote(room, 'host', 'e1', 1),
      cmd.join(room, 'a'), // refused (already joined): refused commands are in the log too
      cmd.addTrack(room, 'host', 'e2'),
    ];
    const whole = Buffer.concat(envs.map(framed));
    const lastFrame = framed(envs.at(-1));
    const withoutLast = whole.subarray(0, whole.length - lastFrame.length);
    const flipped = Buffer.from(whole);
    flipped[flipped.length - 3]! ^= 0x40;

    // keeps: how many records survive; validBytes: where the file is cut.
    const cases: { name: string; bytes: Buffer; keeps: number; validBytes: number }[] = [
      {
        name: 'garbage appended',
        bytes: Buffer.concat([whole, Buffer.from('\x07garbage!')]),
        keeps: 8,
        validBytes: whole.length,
      },
      {
        name: 'zeros appended',
        bytes: Buffer.concat([whole, Buffer.alloc(4096)]),
        keeps: 8,
        validBytes: whole.length,
      },
      {
        name: 'last record cut mid-payload',
        bytes: whole.subarray(0, whole.length - 5),
        keeps: 7,
        validBytes: withoutLast.length,
      },
      {
        name: 'last record cut mid-header',
        bytes: Buffer.concat([withoutLast, lastFrame.subarray(0, 3)]),
        keeps: 7,
        validBytes: withoutLast.length,
      },
      { name: 'last record with a flipped bit', bytes: flipped, keeps: 7, validBytes: withoutLast.length },
    ];
    for (const c of cases) {
      void test(c.name, async () => {
        const dir = await tempDir();
        const file = segmentPath(dir, 0);
        await writeFile(file, c.bytes);
        const captured = captureLogger();
        const store = await open(dir, { logger: captured.logger });
        try {
          const expected = replayRooms(envs.slice(0, c.keeps));
          assert.deepEqual(await allRooms(store), expected);
          const dropped = c.bytes.length - c.validBytes;
          assert.ok(dropped > 0);
          const warning = captured.warnings.find((w) => w.msg.includes('dropped'));
          assert.ok(warning, 'a warning says bytes were dropped');
          assert.ok(warning.msg.includes(`${dropped} bytes`), warning.msg);
          assert.equal((await stat(file)).size, c.validBytes, 'the file is cut back');

          // The log stays appendable after the cut: a new command survives the next restart.
          const next = await accepted(store, cmd.join(room, 'after'));
          await store.close();
          const again = await open(dir);
          try {
            assert.deepEqual(await again.read(room), next.state);
          } finally {
            await again.close();
          }
        } finally {
          await store.close();
        }
      });
    }
  });

  void describe('damage that is not a torn tail: the store refuses to start, changes nothing; repair keeps what precedes it', () => {
    const room = 'damaged-room';
    const envs: Envelope[] = [
      cmd.createRoom(room, 'host', OPEN_SETTINGS),
      ...Array.from({ length: 9 }, (_, i) => cmd.addTrack(room, 'host', `t${i}`)),
    ];
    const frames = envs.map(framed);
    const whole = Buffer.concat(frames);
    const offsetOf = (i: number): number => frames.slice(0, i).reduce((n, f) => n + f.length, 0);
    const middle = Buffer.from(whole);
    middle[offsetOf(4) + 20]! ^= 0x01; // a flipped bit in the 5th record's payload
    const firstLength = Buffer.from(whole);
    firstLength.writeUInt32LE(0xfffffff0, 0); // the first record's length field
    const cases: { name: string; bytes: Buffer; damagedAt: number; kept: number }[] = [
      { name: 'a flipped bit in a middle record', bytes: middle, damagedAt: offsetOf(4), kept: 4 },
      { name: 'a damaged first length field', bytes: firstLength, damagedAt: 0, kept: 0 },
    ];
    for (const c of cases) {
      void test(c.name, async () => {
        const dir = await tempDir();
        const file = segmentPath(dir, 0);
        await writeFile(file, c.bytes);
        await assert.rejects(open(dir), (err: unknown) => {
          assert.ok(err instanceof DamagedLogError, String(err));
          assert.match(err.message, new RegExp(`${path.basename(file)} is damaged at byte ${c.damagedAt}`));
          assert.match(err.message, /chorus repair --data-dir/);
          return true;
        });
        assert.deepEqual(await readFile(file), c.bytes, 'nothing was cut');

        const report = await repairLog(dir);
        assert.equal(report.kept, c.kept);
        assert.equal(
          report.movedRecords,
          envs.length - c.kept - 1,
          'every intact record after the damage is kept aside',
        );
        assert.deepEqual(await readFile(path.join(report.movedTo!, path.basename(file))), c.bytes);
        const store = await open(dir);
        try {
          assert.deepEqual(await allRooms(store), replayRooms(envs.slice(0, c.kept)));
        } finally {
          await store.close();
        }
      });
    }

    void test('damage in a segment that is not the last', async () => {
      const dir = await tempDir();
      const first = Buffer.from(Buffer.concat(frames.slice(0, 5)));
      first[first.length - 3]! ^= 0x40; // the end of the first segment: not a tail, the log goes on
      await writeFile(segmentPath(dir, 0), first);
      await writeFile(segmentPath(dir, 5), Buffer.concat(frames.slice(5)));
      await assert.rejects(open(dir), DamagedLogError);
      const report = await repairLog(dir);
      assert.equal(report.kept, 4);
      assert.equal(report.movedRecords, 5, 'the later segment is moved aside whole');
      const store = await open(dir);
      try {
        assert.deepEqual(await allRooms(store), replayRooms(envs.slice(0, 4)));
      } finally {
        await store.close();
      }
    });
  });

  void describe('segments carry headers, so a log emptied or cut from the front is damage, not a fresh start', () => {
    const room = 'headed-room';
    /** A store's data dir holding a room with `tracks` tracks, closed. */
    async function written(tracks: number): Promise<string> {
      const dir = await tempDir();
      const store = await open(dir);
      try {
        await accepted(store, cmd.createRoom(room, 'host', OPEN_SETTINGS));
        for (let i = 0; i < tracks; i++) await accepted(store, cmd.addTrack(room, 'host', `t${i}`));
      } finally {
        await store.close();
      }
      return dir;
    }
    /** A data dir as a crash would leave it: the records only in the log (no snapshot at close). */
    async function crashed(tracks: number): Promise<{ dir: string; segment: string }> {
      const dir = await tempDir();
      const store = await open(dir);
      let log: Buffer;
      let file: string;
      try {
        await accepted(store, cmd.createRoom(room, 'host', OPEN_SETTINGS));
        for (let i = 0; i < tracks; i++) await accepted(store, cmd.addTrack(room, 'host', `t${i}`));
        file = (await listSegments(dir))[0]!.path;
        log = await readFile(file);
      } finally {
        await store.close();
      }
      for (const f of await readdir(dir)) if (f !== LOG_FORMAT_FILE) await rm(path.join(dir, f));
      await writeFile(file, log);
      return { dir, segment: file };
    }

    void test('every segment the store writes begins with its header; the dir says so', async () => {
      const dir = await tempDir();
      const store = await open(dir, { snapshotEvery: 5 });
      try {
        await populate(store, 3);
      } finally {
        await store.close();
      }
      for (const s of await listSegments(dir)) {
        const head = (await readFile(s.path)).subarray(0, segmentHeader(s.start).length);
        assert.deepEqual(head, segmentHeader(s.start), `${path.basename(s.path)} begins with its header`);
      }
      assert.deepEqual(JSON.parse(await readFile(path.join(dir, LOG_FORMAT_FILE), 'utf8')), {
        headersFrom: 0,
      });
    });

    void test('an emptied segment: the store refuses to start; repair moves it aside and the log goes on', async () => {
      const dir = await written(4);
      const before = await reopenedRooms(dir);
      const segments = await listSegments(dir);
      const last = segments.at(-1)!;
      await writeFile(last.path, '');
      await assert.rejects(open(dir), (err: unknown) => {
        assert.ok(err instanceof DamagedLogError, String(err));
        assert.match(err.message, /the segment is empty: it was emptied after it was written/);
        return true;
      });
      assert.equal((await stat(last.path)).size, 0, 'nothing was changed');
      const report = await repairLog(dir);
      assert.equal(report.offset, 0);
      assert.ok(
        report.movedTo !== null && (await readdir(report.movedTo)).includes(path.basename(last.path)),
      );
      // What the snapshot holds is kept; the store starts and takes writes again.
      assert.deepEqual(await reopenedRooms(dir), before);
      const again = await open(dir);
      try {
        await accepted(again, cmd.addTrack(room, 'host', 'after-repair'));
      } finally {
        await again.close();
      }
    });

    void test('a segment cut from the front: refused as damage', async () => {
      const whole = await crashed(6);
      assert.equal((await reopenedRooms(whole.dir)).get(room)?.queue.length, 6, 'a crash state opens whole');
      const cut = await crashed(6);
      const bytes = await readFile(cut.segment);
      await writeFile(cut.segment, bytes.subarray(segmentHeader(0).length + 10));
      await assert.rejects(open(cut.dir), /does not begin with its header/);
    });

    void test('every segment deleted: refused as damage', async () => {
      const dir = await written(3);
      for (const s of await listSegments(dir)) await rm(s.path);
      await assert.rejects(open(dir), /the log has no segment although it has been written/);
    });

    void test('a data dir written before headers opens as it is, and goes on in headed segments', async () => {
      const dir = await tempDir();
      const envs = [cmd.createRoom(room, 'host', OPEN_SETTINGS), cmd.addTrack(room, 'host', 'old')];
      await writeFile(segmentPath(dir, 0), Buffer.concat(envs.map(framed)));
      await writeFile(`${segmentPath(dir, 7)}.tmp`, 'a segment that never got its name');
      const store = await open(dir);
      let state: RoomState | null;
      try {
        assert.deepEqual(await allRooms(store), replayRooms(envs));
        state = (await accepted(store, cmd.addTrack(room, 'host', 'new'))).state;
      } finally {
        await store.close();
      }
      assert.deepEqual(JSON.parse(await readFile(path.join(dir, LOG_FORMAT_FILE), 'utf8')), {
        headersFrom: 2,
      });
      assert.ok(!(await readdir(dir)).some((f) => f.endsWith('.tmp')), 'the unnamed segment is gone');
      const again = await open(dir);
      try {
        assert.deepEqual(await again.read(room), state);
      } finally {
        await again.close();
      }
    });
  });

  void test('snapshots compact the log: old segments and snapshots are removed, state survives', async () => {
    const dir = await tempDir();
    const store = await open(dir, { snapshotEvery: 25 });
    let before: Map<string, RoomState | null>;
    try {
      for (let i = 0; i < 10 && store.stats().snapshots < 3; i++) await populate(store, 3);
      // The writer snapshots after the batch that crosses the threshold; wait until it is done.
      await until('the writer to finish', () => !store.stats().busy, { timeoutMs: 5_000 });
      assert.ok(store.stats().snapshots >= 3);
      const stats = store.stats();
      const files = await readdir(dir);
      const snaps = files.filter((f) => f.endsWith('.snap'));
      assert.deepEqual(snaps, [`snapshot-${String(stats.snapshotPosition).padStart(20, '0')}.snap`]);
      const segments = await listSegments(dir);
      assert.deepEqual(
        segments.map((s) => s.start),
        [stats.snapshotPosition],
        'only the segment after the newest snapshot is left',
      );
      assert.ok(!files.some((f) => f.endsWith('.tmp')));
      before = await allRooms(store);
    } finally {
      await store.close();
    }
    const again = await open(dir, { snapshotEvery: 25 });
    try {
      assert.deepEqual(await allRooms(again), before);
      assert.equal(again.stats().snapshotPosition, again.stats().position, 'close snapshotted everything');
    } finally {
      await again.close();
    }
  });

  void test('once snapshots pass 1 MiB, the next waits until the log since holds as many bytes', async () => {
    const dir = await tempDir();
    const store = await open(dir, { snapshotEvery: 100, fsync: false });
    const room = roomId();
    let n = 0;
    const addMany = async (count: number): Promise<void> => {
      const envs = Array.from({ length: count }, () => {
        const id = `e${n++}`;
        return envelope(room, 'host', {
          type: 'addTrack',
          entryId: id,
          track: { ...track(id), title: `${id} ${'x'.repeat(150)}` },
        });
      });
      for (const out of await Promise.all(envs.map((e) => store.submit(e)))) assert.ok(out.result.ok);
    };
    const snapshotBytes = async (): Promise<number> => {
      const snaps = (await readdir(dir)).filter((f) => f.endsWith('.snap'));
      assert.equal(snaps.length, 1);
      return (await stat(path.join(dir, snaps[0]!))).size;
    };
    try {
      await accepted(store, cmd.createRoom(room, 'host', OPEN_SETTINGS));
      // Snapshots every 100 records while they are small, until one passes 1 MiB.
      while ((await snapshotBytes().catch(() => 0)) <= 1 << 20) {
        await addMany(250);
        await until('the writer to finish', () => !store.stats().busy, { timeoutMs: 5_000 });
        assert.ok(n < 20_000, 'the snapshots never grew past 1 MiB');
      }
      const big = await snapshotBytes();
      const { snapshots, snapshotPosition } = store.stats();
      assert.ok(snapshots >= 3, `small snapshots came often (${snapshots})`);
      // Far more than snapshotEvery records, far fewer bytes than the snapshot: no new one.
      await addMany(500);
      await until('the writer to finish', () => !store.stats().busy, { timeoutMs: 5_000 });
      assert.equal(store.stats().snapshots, snapshots);
      // Records of about 450 bytes: some 2,000 of them make a snapshot's worth of log.
      while (store.stats().snapshots === snapshots) {
        await addMany(250);
        await until('the writer to finish', () => !store.stats().busy, { timeoutMs: 5_000 });
        assert.ok(store.stats().position - snapshotPosition < 10_000, 'the next snapshot never came');
      }
      const since = store.stats().snapshotPosition - snapshotPosition;
      assert.ok(since >= 1000, `${since} records between a ${big}-byte snapshot and the next`);
      const before = await allRooms(store);
      await store.close();
      assert.deepEqual(await reopenedRooms(dir), before);
    } finally {
      await store.close();
    }
  });

  // With a timeout: a writer that waits for the stuck snapshot would otherwise hang the suite.
  void test(
    'writes go on while a snapshot is being written, and a snapshot that fails loses nothing',
    { timeout: 30_000 },
    async () => {
      const dir = await tempDir();
      // A named pipe where the first snapshot's temp file goes: opening it for writing blocks until
      // this test opens it for reading, so that snapshot stays in flight for as long as the test likes.
      // (Made after opening, which clears temp files left by a crash.)
      const captured = captureLogger();
      const store = await open(dir, { snapshotEvery: 5, fsync: true, logger: captured.logger });
      const fifo = `${snapshotPath(dir, 5)}.tmp`;
      execFileSync('mkfifo', [fifo]);
      const room = roomId();
      let before: Map<string, RoomState | null>;
      try {
        await accepted(store, cmd.createRoom(room, 'host', OPEN_SETTINGS));
        for (const m of ['a', 'b', 'c', 'd']) await accepted(store, cmd.join(room, m));
        // Position 5: the snapshot has started and is stuck opening the pipe.
        for (let i = 0; i < 20; i++) await accepted(store, cmd.join(room, `late-${i}`));
        assert.equal(store.stats().position, 25);
        assert.equal(store.stats().snapshots, 0, 'the snapshot is still in flight');
        assert.equal(store.stats().busy, true);
        assert.deepEqual(
          (await listSegments(dir)).map((s) => s.start),
          [0, 5],
          'the log moved on to a new segment at the snapshot position',
        );
        // Let the snapshot go on: fdatasync on a pipe fails, so the snapshot fails.
        const reader = await openFile(fifo, 'r');
        await reader.readFile();
        await reader.close();
        await until('the failed snapshot to end', () => !store.stats().busy, { timeoutMs: 5_000 });
        assert.equal(store.stats().snapshots, 0);
        assert.ok(captured.warnings.some((w) => w.msg.includes('could not write a snapshot')));
        assert.deepEqual(
          (await listSegments(dir)).map((s) => s.start),
          [0, 5],
          'no segment was deleted',
        );
        await accepted(store, cmd.join(room, 'after'));
        before = await allRooms(store);
        assert.equal(before.get(room)?.version, 26);
      } finally {
        await store.close();
      }
      assert.ok(!(await readdir(dir)).some((f) => f.endsWith('.tmp')), 'the failed temp file was removed');
      assert.deepEqual(await reopenedRooms(dir), before);
    },
  );

  void test('a damaged snapshot whose log was compacted away stops the start with a clear error', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    await populate(store, 1);
    await store.close();
    const snap = (await readdir(dir)).find((f) => f.endsWith('.snap'))!;
    const bytes = await readFile(path.join(dir, snap));
    bytes[bytes.length - 10]! ^= 0xff;
    await writeFile(path.join(dir, snap), bytes);

    const captured = captureLogger();
    await assert.rejects(open(dir, { logger: captured.logger }), /gap: records 0 to \d+ are missing/);
    assert.ok(captured.warnings.some((w) => w.msg.includes('unreadable')));
    assert.ok(!(await readdir(dir)).includes('LOCK'), 'a failed start releases the lock');
  });

  void test('a second opener of the same data dir is refused, naming the dir and the pid', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    try {
      const err = await rejectsWith(open(dir), 'FAILED_PRECONDITION');
      assert.match(err.message, new RegExp(`${dir}.* process ${process.pid}\\b`));
    } finally {
      await store.close();
    }

    // Another live process holds it.
    const { child, out, err } = spawnChild(['hold', dir]);
    try {
      await until(
        'the child to open',
        () => out.some((l) => l.startsWith('ready')) || child.exitCode !== null,
        { timeoutMs: 15_000 },
      );
      assert.equal(child.exitCode, null, err());
      const refused = await rejectsWith(open(dir), 'FAILED_PRECONDITION');
      assert.ok(refused.message.includes(dir), refused.message);
      assert.ok(refused.message.includes(`process ${child.pid}`), refused.message);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
    // Its lock is stale once it is dead.
    const after = await open(dir);
    await after.close();

    // An unreadable lock protects nothing.
    await writeFile(path.join(dir, 'LOCK'), 'not json');
    const last = await open(dir);
    await last.close();
  });

  void test('group commit: 200 concurrent writes share few fsyncs, each acknowledged after its fsync', async (t) => {
    const { store, room, start } = await fsyncingStoreWithRoom();
    try {
      let acknowledged = 0;
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const out = await store.submit(cmd.join(room, `m${i}`));
          acknowledged++;
          assert.ok(out.result.ok);
          assert.ok(
            store.stats().syncedWrites - start.syncedWrites >= acknowledged,
            'never acknowledged before its fsync',
          );
        }),
      );
      const end = store.stats();
      const writes = end.writes - start.writes;
      const fsyncs = end.fsyncs - start.fsyncs;
      t.diagnostic(`${writes} writes, ${fsyncs} fsyncs, ${(fsyncs / writes).toFixed(3)} fsyncs per write`);
      assert.equal(writes, 200);
      assert.ok(fsyncs >= 1);
      assert.ok(fsyncs <= writes / 10, `${fsyncs} fsyncs for ${writes} writes`);
      assert.equal((await store.read(room))?.version, 201);
    } finally {
      await store.close();
    }
  });

  void test('the next batch is written, its fsync under way, before the previous batch is answered', async () => {
    const { store, room, start } = await fsyncingStoreWithRoom();
    try {
      const first = Array.from({ length: 10 }, (_, i) => store.submit(cmd.join(room, `a${i}`)));
      // The writer takes the first batch in a setImmediate queued before this one, so these ten
      // arrive while the first batch's fsync runs and form the next batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.equal(store.stats().writes - start.writes, 10, 'the first batch is written alone');
      const second = Array.from({ length: 10 }, (_, i) => store.submit(cmd.join(room, `b${i}`)));
      const answered = await first[0]!;
      assert.ok(answered.result.ok);
      const now = store.stats();
      assert.equal(now.syncedWrites - start.syncedWrites, 10, 'only the first batch is durable yet');
      assert.equal(
        now.writes - start.writes,
        20,
        'the second batch was written before the first was answered',
      );
      for (const out of await Promise.all([...first, ...second])) assert.ok(out.result.ok);
      assert.equal((await store.read(room))?.version, 21);
    } finally {
      await store.close();
    }
  });

  void test('group commit under a stream of arrivals (not one burst) still batches', async (t) => {
    const { store, room, start } = await fsyncingStoreWithRoom();
    try {
      // 20 clients, each sending its next write as soon as the previous one is answered.
      await Promise.all(
        Array.from({ length: 20 }, async (_, c) => {
          for (let i = 0; i < 10; i++) await accepted(store, cmd.join(room, `c${c}-${i}`));
        }),
      );
      const end = store.stats();
      const writes = end.writes - start.writes;
      const fsyncs = end.fsyncs - start.fsyncs;
      t.diagnostic(`${writes} writes, ${fsyncs} fsyncs, ${(fsyncs / writes).toFixed(3)} fsyncs per write`);
      assert.ok(fsyncs <= writes / 5, `${fsyncs} fsyncs for ${writes} writes`);
    } finally {
      await store.close();
    }
  });

  void test('commands and reads for rooms that do not exist leave no replicas behind', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    try {
      await populate(store, 1);
      const replicas = store.stats().replicas;
      await Promise.all(Array.from({ length: 100 }, () => store.submit(cmd.join(roomId('ghost'), 'a'))));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          rejectsWith(store.read(roomId('ghost'), 1, 20), 'DEADLINE_EXCEEDED'),
        ),
      );
      // Malformed envelopes are logged and refused like any other command.
      const junk = await store.submit(null as unknown as Envelope);
      assert.equal(!junk.result.ok && junk.result.error.code, 'INVALID_ARGUMENT');
      assert.equal(store.stats().replicas, replicas);
      assert.equal(store.stats().rooms, 1);
    } finally {
      await store.close();
    }
  });

  void test('a command that cannot be logged is refused before it is ordered', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    try {
      const room = roomId();
      const bad = { ...cmd.createRoom(room, 'host'), at: 1n } as unknown as Envelope;
      await rejectsWith(store.submit(bad), 'INVALID_ARGUMENT');
      const huge = cmd.join(room, 'x');
      await rejectsWith(
        store.submit({ ...huge, command: { ...huge.command, name: 'x'.repeat(2 << 20) } } as Envelope),
        'INVALID_ARGUMENT',
      );
      await accepted(store, cmd.createRoom(room, 'host'));
    } finally {
      await store.close();
    }
  });

  void test('close acknowledges every write submitted before it, durably', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    const room = roomId();
    await accepted(store, cmd.createRoom(room, 'host'));
    const pending = Array.from({ length: 50 }, (_, i) => store.submit(cmd.join(room, `m${i}`)));
    await store.close();
    for (const out of await Promise.all(pending)) assert.ok(out.result.ok);
    await rejectsWith(store.read(room), 'UNAVAILABLE');

    const again = await open(dir);
    try {
      assert.equal((await again.read(room))?.version, 51);
    } finally {
      await again.close();
    }
  });

  void test('subscribing from a version older than the kept events gives a reset (and after restart)', async () => {
    const dir = await tempDir();
    const store = await open(dir);
    const room = roomId();
    await accepted(store, cmd.createRoom(room, 'host'));
    await accepted(store, cmd.join(room, 'a'));
    await store.close();
    // Events do not survive a restart; a subscriber that resumes gets the state instead.
    const again = await open(dir);
    try {
      const items: { kind: string }[] = [];
      const sub = await again.subscribe(room, 1, (item) => items.push(item));
      assert.deepEqual(
        items.map((i) => i.kind),
        ['reset'],
      );
      sub.close();
    } finally {
      await again.close();
    }
  });

  void test('appending to a log written by another run continues its numbering', async () => {
    const dir = await tempDir();
    const envs = [cmd.createRoom('numbered', 'host'), cmd.join('numbered', 'a')];
    await writeFile(segmentPath(dir, 0), Buffer.concat(envs.map(framed)));
    const store = await open(dir, { snapshotEvery: 3 });
    try {
      assert.equal(store.stats().position, 2);
      await accepted(store, cmd.join('numbered', 'b'));
      await until('the snapshot at position 3', () => !store.stats().busy, { timeoutMs: 5_000 });
      assert.equal(store.stats().snapshots, 1);
      assert.equal(store.stats().snapshotPosition, 3);
      assert.deepEqual(
        (await listSegments(dir)).map((s) => s.start),
        [3],
      );
    } finally {
      await store.close();
    }
  });
});
