// Durable Raft storage: what a restart reads back after a clean stop, a torn tail, a crash between
// entries and hard state, a crash around a snapshot's rename, and a truncated conflicting suffix.

import assert from 'node:assert/strict';
import {
  appendFile,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  beginsWithHeader,
  frameRecord,
  listSegments,
  scanFrames,
  SegmentWriter,
} from '../../../src/store/disk/log.ts';
import { readLogFormat } from '../../../src/store/disk/recovery.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import {
  dataText,
  RaftLogDamagedError,
  RaftStorage,
  snapshotFilePath,
} from '../../../src/store/raft/storage.ts';
import type { Entry, HardState, Snapshot } from '../../../src/store/raft/types.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'chorus-raft-storage-'));
  dirs.push(dir);
  return dir;
}

const open = (dir: string) => RaftStorage.open({ dir, logger: SILENT_LOGGER });

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ term, index: i, type: 'normal', data: `cmd-${term}-${i}` });
  return out;
}

/** A compaction as the store makes it: the snapshot file written, then the log moved past it. */
async function compact(
  storage: RaftStorage,
  snapshot: Snapshot,
  tail: readonly Entry[],
  hardState: HardState,
): Promise<void> {
  await storage.writeLocalSnapshot(snapshot);
  await storage.rebase(snapshot.meta, tail, hardState);
}

/** A snapshot read back (its data as bytes) with its data as text, to compare with what was written. */
const asText = (s: Snapshot | null): Snapshot | null =>
  s === null ? null : { ...s, data: dataText(s.data) };

const snap = (index: number, term: number, data: string): Snapshot => ({
  meta: { index, term, conf: { voters: ['a', 'b', 'c'], learners: [] } },
  data,
});

void describe('raft storage', () => {
  void test('a new dir is empty; entries and hard state come back after a restart', async () => {
    const dir = await freshDir();
    const first = await open(dir);
    assert.deepEqual(first.persisted.entries, []);
    assert.deepEqual(first.persisted.hardState, { term: 0, vote: '', commit: 0 });
    await first.storage.save(null, entries(1, 3, 1), { term: 1, vote: 'a', commit: 2 });
    await first.storage.save(null, entries(4, 5, 1), null);
    await first.storage.close();
    const again = await open(dir);
    assert.deepEqual(again.persisted.entries, entries(1, 5, 1));
    assert.deepEqual(again.persisted.hardState, { term: 1, vote: 'a', commit: 2 });
    assert.equal(again.persisted.snapshot, null);
    await again.storage.close();
  });

  void test('a torn tail is cut back, and appends go on after the last whole record', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 4, 2), { term: 2, vote: '', commit: 4 });
    await storage.close();
    const [segment] = await listSegments(dir);
    const { size } = await stat(segment!.path);
    await truncate(segment!.path, size - 5); // the hard state record is torn
    const torn = await open(dir);
    assert.deepEqual(torn.persisted.entries, entries(1, 4, 2));
    assert.deepEqual(torn.persisted.hardState, { term: 0, vote: '', commit: 0 });
    await torn.storage.save(null, entries(5, 5, 2), { term: 2, vote: 'b', commit: 5 });
    await torn.storage.close();
    const again = await open(dir);
    assert.deepEqual(again.persisted.entries, entries(1, 5, 2));
    assert.deepEqual(again.persisted.hardState, { term: 2, vote: 'b', commit: 5 });
    await again.storage.close();
  });

  void test('garbage after the last record (a crash mid-write) is dropped', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 2, 1), { term: 1, vote: '', commit: 2 });
    await storage.close();
    const [segment] = await listSegments(dir);
    await appendFile(segment!.path, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5]));
    const again = await open(dir);
    assert.deepEqual(again.persisted.entries, entries(1, 2, 1));
    assert.deepEqual(again.persisted.hardState, { term: 1, vote: '', commit: 2 });
    await again.storage.close();
  });

  void test('a crash between entries and hard state keeps the old hard state, never a commit without entries', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 2, 1), { term: 1, vote: 'a', commit: 2 });
    await storage.close();
    const [segment] = await listSegments(dir);
    const before = (await stat(segment!.path)).size;
    const reopened = await open(dir);
    await reopened.storage.save(null, entries(3, 6, 1), { term: 1, vote: 'a', commit: 6 });
    await reopened.storage.close();
    // Cut inside the new entries: the later hard state (commit 6) must not survive without them.
    await truncate(segment!.path, before + 30);
    const again = await open(dir);
    assert.deepEqual(again.persisted.hardState, { term: 1, vote: 'a', commit: 2 });
    assert.ok(again.persisted.entries.length >= 2 && again.persisted.entries.length < 6);
    await again.storage.close();
  });

  void test('a conflicting suffix replaced by a new leader stays replaced after a restart', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 5, 1), { term: 1, vote: '', commit: 2 });
    await storage.save(null, entries(3, 4, 2), { term: 2, vote: 'b', commit: 2 });
    await storage.close();
    const again = await open(dir);
    assert.deepEqual(again.persisted.entries, [...entries(1, 2, 1), ...entries(3, 4, 2)]);
    await again.storage.close();
  });

  void test('compaction writes the snapshot, keeps the tail and deletes older files', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 10, 1), { term: 1, vote: '', commit: 10 });
    await compact(storage, snap(8, 1, 'rooms@8'), entries(7, 10, 1), { term: 1, vote: '', commit: 10 });
    await storage.save(null, entries(11, 11, 1), { term: 1, vote: '', commit: 11 });
    await storage.close();
    assert.equal((await listSegments(dir)).length, 1);
    const again = await open(dir);
    assert.deepEqual(asText(again.persisted.snapshot), snap(8, 1, 'rooms@8'));
    assert.deepEqual(again.persisted.entries, entries(9, 11, 1));
    assert.equal(again.persisted.applied, 8);
    assert.deepEqual(again.persisted.hardState, { term: 1, vote: '', commit: 11 });
    await again.storage.close();
  });

  void test('a snapshot from the leader replaces the whole log', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 4, 1), { term: 1, vote: '', commit: 1 });
    await storage.save(snap(20, 3, 'rooms@20'), entries(21, 22, 3), { term: 3, vote: '', commit: 20 });
    await storage.close();
    const again = await open(dir);
    assert.deepEqual(asText(again.persisted.snapshot), snap(20, 3, 'rooms@20'));
    assert.deepEqual(again.persisted.entries, entries(21, 22, 3));
    await again.storage.close();
  });

  void test('a crash right after a snapshot rename: entries after it are kept only if the log matches it', async () => {
    for (const [term, kept] of [
      [1, true],
      [9, false],
    ] as const) {
      const dir = await freshDir();
      const { storage } = await open(dir);
      await storage.save(null, entries(1, 6, 1), { term: 1, vote: '', commit: 6 });
      await storage.close();
      // What writeSnapshot leaves when the process dies before the log moves past it.
      const other = await freshDir();
      const tmp = await open(other);
      await compact(tmp.storage, snap(4, term, 'rooms@4'), [], { term: 1, vote: '', commit: 4 });
      await tmp.storage.close();
      await writeFile(snapshotFilePath(dir, 4), await readFile(snapshotFilePath(other, 4)));
      // An interrupted temp file from the same crash is removed.
      await writeFile(`${snapshotFilePath(dir, 5)}.tmp`, 'half');
      const again = await open(dir);
      assert.equal(again.persisted.snapshot?.meta.index, 4);
      assert.deepEqual(again.persisted.entries, kept ? entries(5, 6, 1) : []);
      assert.ok(!(await readdir(dir)).some((n) => n.endsWith('.tmp')));
      await again.storage.close();
    }
  });

  void test('a snapshot written beside saves, then made the base: nothing saved meanwhile is lost', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 10, 1), { term: 1, vote: '', commit: 10 });
    // The store's compaction: the file is written while the Ready loop goes on saving.
    const writing = storage.writeLocalSnapshot(snap(8, 1, 'rooms@8'));
    await storage.save(null, entries(11, 12, 1), { term: 1, vote: '', commit: 12 });
    await writing;
    await storage.save(null, entries(13, 13, 1), { term: 1, vote: '', commit: 13 });
    // A crash before the rebase: the snapshot lies beside the whole log.
    const early = await open(dir);
    assert.deepEqual(asText(early.persisted.snapshot), snap(8, 1, 'rooms@8'));
    assert.deepEqual(early.persisted.entries, entries(9, 13, 1));
    await early.storage.close();
    const again = await open(dir);
    await again.storage.rebase(snap(8, 1, '').meta, entries(5, 13, 1), null);
    await again.storage.save(null, entries(14, 14, 1), { term: 1, vote: '', commit: 14 });
    await again.storage.close();
    assert.equal((await listSegments(dir)).length, 1);
    const last = await open(dir);
    assert.deepEqual(asText(last.persisted.snapshot), snap(8, 1, 'rooms@8'));
    assert.deepEqual(last.persisted.entries, entries(9, 14, 1));
    assert.deepEqual(last.persisted.hardState, { term: 1, vote: '', commit: 14 });
    await last.storage.close();
  });

  void test('a snapshot file of the earlier format (one frame {meta, data}) still loads', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 6, 1), { term: 1, vote: '', commit: 6 });
    await storage.close();
    const old = snap(4, 1, '{"format":"chorus.raft-rooms/1","rooms":[],"peers":[]}');
    await writeFile(
      snapshotFilePath(dir, 4),
      frameRecord(Buffer.from(JSON.stringify({ meta: old.meta, data: old.data }), 'utf8')),
    );
    const again = await open(dir);
    assert.deepEqual(again.persisted.snapshot, old);
    assert.deepEqual(again.persisted.entries, entries(5, 6, 1));
    await again.storage.close();
  });

  void test('a damaged snapshot is moved aside and the start refuses a log it cannot back', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 4, 1), { term: 1, vote: '', commit: 4 });
    await compact(storage, snap(3, 1, 'rooms@3'), entries(4, 4, 1), { term: 1, vote: '', commit: 4 });
    await storage.close();
    await truncate(snapshotFilePath(dir, 3), 10);
    await assert.rejects(open(dir), /no snapshot is readable/);
    assert.ok((await readdir(dir)).some((n) => n.endsWith('.corrupt')));
  });

  void test('many entries in one save share one fsync', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 100, 1), { term: 1, vote: '', commit: 0 });
    assert.equal(storage.fsyncs, 1);
    await storage.close();
  });

  void test('a hard state saved without a sync (its commit alone moved) is written, and made durable by the next sync', async () => {
    const dir = await freshDir();
    const first = await open(dir);
    await first.storage.save(null, entries(1, 3, 1), { term: 1, vote: 'a', commit: 1 });
    await first.storage.save(null, [], { term: 1, vote: 'a', commit: 3 }, false);
    assert.equal(first.storage.fsyncs, 1, 'a commit index alone is not synced');
    await first.storage.close();
    // A process that dies keeps what it wrote (the page cache outlives it): the commit comes back.
    const again = await open(dir);
    assert.deepEqual(again.persisted.hardState, { term: 1, vote: 'a', commit: 3 });
    await again.storage.save(null, entries(4, 4, 1), null);
    assert.equal(again.storage.fsyncs, 1);
    await again.storage.close();
    const third = await open(dir);
    assert.deepEqual(third.persisted.entries, entries(1, 4, 1));
    assert.deepEqual(third.persisted.hardState, { term: 1, vote: 'a', commit: 3 });
    await third.storage.close();
  });

  void test('a snapshot saved with no hard state keeps the term and vote in the new log', async () => {
    const dir = await freshDir();
    const { storage } = await open(dir);
    await storage.save(null, entries(1, 3, 4), { term: 4, vote: 'b', commit: 3 });
    await storage.save(snap(9, 4, 'rooms@9'), [], null);
    await storage.close();
    const again = await open(dir);
    assert.deepEqual(again.persisted.hardState, { term: 4, vote: 'b', commit: 3 });
    assert.equal(again.persisted.snapshot?.meta.index, 9);
    await again.storage.close();
  });

  void describe('segment headers', () => {
    const record = (r: object): Buffer => frameRecord(Buffer.from(JSON.stringify(r), 'utf8'));

    async function written(): Promise<string> {
      const dir = await freshDir();
      const { storage } = await open(dir);
      await storage.save(null, entries(1, 3, 1), { term: 1, vote: 'a', commit: 3 });
      await storage.close();
      return dir;
    }

    void test('every segment begins with its header, and the dir says from which segment on', async () => {
      const dir = await written();
      const [segment] = await listSegments(dir);
      assert.ok(beginsWithHeader(scanFrames(await readFile(segment!.path)).frames, segment!.start));
      assert.deepEqual(await readLogFormat(dir), { headersFrom: segment!.start });
      const again = await open(dir);
      assert.deepEqual(again.persisted.entries, entries(1, 3, 1));
      // Compaction's new segment carries its header too.
      await compact(again.storage, snap(2, 1, 'rooms@2'), entries(3, 3, 1), {
        term: 1,
        vote: 'a',
        commit: 3,
      });
      await again.storage.close();
      const [next] = await listSegments(dir);
      assert.ok(next!.start > segment!.start);
      assert.ok(beginsWithHeader(scanFrames(await readFile(next!.path)).frames, next!.start));
      const third = await open(dir);
      assert.deepEqual(third.persisted.entries, entries(3, 3, 1));
      await third.storage.close();
    });

    void test('an emptied segment, one cut from the front, or no segment at all: the start refuses and changes nothing', async () => {
      const emptied = await written();
      const [a] = await listSegments(emptied);
      await truncate(a!.path, 0);
      await assert.rejects(
        open(emptied),
        (err: Error) => err instanceof RaftLogDamagedError && /empty/.test(err.message),
      );
      assert.equal((await stat(a!.path)).size, 0, 'nothing changed');

      const cut = await written();
      const [b] = await listSegments(cut);
      const buf = await readFile(b!.path);
      const header = scanFrames(buf).frames[1]!.offset; // the first frame after the header
      await writeFile(b!.path, buf.subarray(header));
      await assert.rejects(
        open(cut),
        (err: Error) => err instanceof RaftLogDamagedError && /header/.test(err.message),
      );
      assert.equal((await stat(b!.path)).size, buf.length - header, 'nothing changed');

      const gone = await written();
      for (const s of await listSegments(gone)) await unlink(s.path);
      await assert.rejects(
        open(gone),
        (err: Error) => err instanceof RaftLogDamagedError && /no segment/.test(err.message),
      );
      assert.deepEqual(await listSegments(gone), [], 'no fresh log was started');
    });

    void test('damage followed by intact records, in an older segment or the newest: the start refuses, naming file and byte', async () => {
      /** A dir of two headed segments; returns it and the first segment's entry frames' offsets. */
      async function twoSegments(): Promise<{ dir: string; first: string; last: string }> {
        const dir = await freshDir();
        const a = await SegmentWriter.create(dir, 1, false, true);
        a.append(Buffer.concat(entries(1, 3, 1).map((e) => record({ k: 'e', ...e }))));
        await a.close();
        const b = await SegmentWriter.create(dir, 2, false, true);
        b.append(
          Buffer.concat([
            ...entries(4, 6, 1).map((e) => record({ k: 'e', ...e })),
            record({ k: 'h', term: 1, vote: 'a', commit: 6 }),
          ]),
        );
        await b.close();
        const [first, last] = await listSegments(dir);
        return { dir, first: first!.path, last: last!.path };
      }
      /** Flips a byte inside the payload of the `n`th frame of `file`; returns where that frame begins. */
      async function damage(file: string, n: number): Promise<{ offset: number; bytes: Buffer }> {
        const buf = await readFile(file);
        const frame = scanFrames(buf).frames[n]!;
        buf[frame.offset + 12] = buf[frame.offset + 12]! ^ 0xff;
        await writeFile(file, buf);
        return { offset: frame.offset, bytes: buf };
      }
      const refused = (file: string, offset: number) => (err: Error) =>
        err instanceof RaftLogDamagedError &&
        err.file === file &&
        err.offset === offset &&
        err.message.includes(`${file} is damaged at byte ${offset}`);

      const older = await twoSegments();
      const inOlder = await damage(older.first, 2); // entry 2 of 1-3: entry 3 and segment 2 follow
      await assert.rejects(open(older.dir), refused(older.first, inOlder.offset));
      assert.deepEqual(await readFile(older.first), inOlder.bytes, 'nothing changed');

      const olderTail = await twoSegments();
      const atEnd = await damage(olderTail.first, 3); // the older segment's last entry: still not a tail
      await assert.rejects(open(olderTail.dir), refused(olderTail.first, atEnd.offset));

      const newest = await twoSegments();
      const inNewest = await damage(newest.last, 1); // entry 4 of 4-6 and the hard state follow
      await assert.rejects(open(newest.dir), refused(newest.last, inNewest.offset));
      assert.deepEqual(await readFile(newest.last), inNewest.bytes, 'nothing changed');

      // The newest segment's last record damaged, nothing after it: a torn tail, cut as before.
      const torn = await twoSegments();
      await damage(torn.last, 4);
      const opened = await open(torn.dir);
      assert.deepEqual(opened.persisted.entries, entries(1, 6, 1));
      assert.deepEqual(opened.persisted.hardState, { term: 0, vote: '', commit: 0 });
      await opened.storage.close();
    });

    void test('a dir written before headers opens as it was, cuts its torn tail and goes on in headed segments', async () => {
      const dir = await freshDir();
      const old = await SegmentWriter.create(dir, 1, false); // no header, no marker: the old format
      const es = entries(1, 2, 1);
      old.append(
        Buffer.concat([
          ...es.map((e) => record({ k: 'e', ...e })),
          record({ k: 'h', term: 1, vote: 'b', commit: 2 }),
          Buffer.from([0, 0, 0, 9, 1]), // a torn frame
        ]),
      );
      await old.close();
      await writeFile(path.join(dir, 'log-00000000000000000007.log.tmp'), 'a headed segment never linked');
      const first = await open(dir);
      assert.deepEqual(first.persisted.entries, es);
      assert.deepEqual(first.persisted.hardState, { term: 1, vote: 'b', commit: 2 });
      await first.storage.save(null, entries(3, 3, 1), { term: 1, vote: 'b', commit: 3 });
      await first.storage.close();
      const segments = await listSegments(dir);
      assert.equal(segments.length, 2);
      assert.deepEqual(await readLogFormat(dir), { headersFrom: 2 });
      assert.ok(
        !(await readdir(dir)).some((n) => n.endsWith('.log.tmp')),
        'the leftover temp segment is gone',
      );
      const again = await open(dir);
      assert.deepEqual(again.persisted.entries, entries(1, 3, 1));
      assert.deepEqual(again.persisted.hardState, { term: 1, vote: 'b', commit: 3 });
      await again.storage.close();
    });
  });
});
