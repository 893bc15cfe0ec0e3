// The 2PC log's compaction and segment headers (src/store/twopc/wal.ts on the shared disk layer):
// a roll starts a headed segment after the last durable record; a snapshot carries the rooms and
// the core's checkpoint and deletes the segments before it; reopening loads the snapshot and reads
// only the records after it. A segment emptied or cut from the front is damage (the start is
// refused), and a data dir written before headers opens and goes on in headed segments. Last, an
// in-process group over gRPC compacts under writes and a restarted node resumes from its snapshot.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { encodeCommand } from '../../../src/store/codec.ts';
import {
  DamagedLogError,
  frameRecord,
  listSegments,
  segmentHeader,
  segmentPath,
} from '../../../src/store/disk/log.ts';
import { LOG_FORMAT_FILE } from '../../../src/store/disk/recovery.ts';
import { listSnapshots } from '../../../src/store/disk/snapshot-file.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import type { Checkpoint, LogRecord } from '../../../src/store/twopc/types.ts';
import { encodeRecord, TwoPcWal } from '../../../src/store/twopc/wal.ts';
import { cmd, OPEN_SETTINGS, roomId } from '../../helpers/store-envelopes.ts';
import { startTwoPcGroup } from '../../helpers/twopc-group.ts';

import { until } from '../../helpers/until.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'chorus-2pc-compact-'));
}

const abort = (i: number): LogRecord => ({ kind: 'ABORT', txn: `t${i}#1` });

const command = new Uint8Array(encodeCommand(cmd.createRoom('cp-room', 'host', OPEN_SETTINGS)).bytes);

function checkpointAt(lsn: number): Checkpoint {
  return {
    lsn,
    rooms: [{ txn: 'c#1', room: 'cp-room', version: 1, command }],
    prepared: [
      { txn: 'p#1', coordinator: 'n2', participants: ['n1', 'n2'], room: 'other', version: 1, command },
    ],
    committing: [{ txn: 'c#1', participants: ['n1', 'n2'] }],
    decisions: [{ txn: 'a#1', outcome: 'abort' }],
  };
}

/** A dir holding `n` records, closed. */
async function written(n: number): Promise<string> {
  const dir = await tempDir();
  const { wal } = await TwoPcWal.open(dir, SILENT_LOGGER);
  for (let i = 1; i <= n; i++) wal.append(i, abort(i));
  await wal.close();
  return dir;
}

void describe('2PC log compaction and segment headers', () => {
  void test('a snapshot after a roll deletes the segments before it; reopening reads only what follows', async () => {
    const dir = await tempDir();
    try {
      const { wal } = await TwoPcWal.open(dir, SILENT_LOGGER);
      for (let i = 1; i <= 5; i++) wal.append(i, abort(i));
      await wal.sync();
      await wal.roll();
      for (let i = 6; i <= 7; i++) wal.append(i, abort(i));
      await wal.sync();
      assert.equal(await wal.segmentCount(), 2);
      const { removed } = await wal.snapshot(checkpointAt(5), []);
      assert.equal(removed, 1, 'the segment of records 1-5 is gone');
      wal.append(8, abort(8));
      await wal.close();
      assert.deepEqual(
        (await listSegments(dir)).map((s) => s.start),
        [5],
      );
      assert.deepEqual(
        (await listSnapshots(dir)).map((s) => s.position),
        [5],
      );
      const reopened = await TwoPcWal.open(dir, SILENT_LOGGER);
      await reopened.wal.close();
      assert.deepEqual(
        reopened.snapshot?.checkpoint,
        checkpointAt(5),
        'the checkpoint reads back, bytes included',
      );
      assert.deepEqual(reopened.records, [abort(6), abort(7), abort(8)]);
      assert.equal(reopened.wal.lastLsn, 8);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('a roll with records not yet durable is refused (a snapshot there could lose them)', async () => {
    const dir = await tempDir();
    try {
      const { wal } = await TwoPcWal.open(dir, SILENT_LOGGER);
      wal.append(1, abort(1));
      await assert.rejects(wal.roll(), /not yet durable/);
      await wal.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('every segment begins with its header, and the dir says so', async () => {
    const dir = await written(3);
    try {
      for (const s of await listSegments(dir)) {
        const head = (await readFile(s.path)).subarray(0, segmentHeader(s.start).length);
        assert.deepEqual(head, segmentHeader(s.start));
      }
      assert.deepEqual(JSON.parse(await readFile(path.join(dir, LOG_FORMAT_FILE), 'utf8')), {
        headersFrom: 0,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('an emptied log: the start is refused as damage, nothing changed', async () => {
    const dir = await written(3);
    try {
      const [segment] = await listSegments(dir);
      await writeFile(segment!.path, '');
      await assert.rejects(TwoPcWal.open(dir, SILENT_LOGGER), (err: unknown) => {
        assert.ok(err instanceof DamagedLogError, String(err));
        assert.match(err.message, /the segment is empty: it was emptied after it was written/);
        return true;
      });
      assert.equal((await readFile(segment!.path)).length, 0, 'nothing was changed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('a segment cut from the front, or every segment deleted: refused as damage', async () => {
    const cut = await written(3);
    const gone = await written(3);
    try {
      const [segment] = await listSegments(cut);
      const bytes = await readFile(segment!.path);
      await writeFile(segment!.path, bytes.subarray(segmentHeader(0).length));
      await assert.rejects(TwoPcWal.open(cut, SILENT_LOGGER), /does not begin with its header/);
      for (const s of await listSegments(gone)) await rm(s.path);
      await assert.rejects(
        TwoPcWal.open(gone, SILENT_LOGGER),
        /the log has no segment although it has been written/,
      );
    } finally {
      await rm(cut, { recursive: true, force: true });
      await rm(gone, { recursive: true, force: true });
    }
  });

  void test('a 2PC log written before headers opens as it is and goes on in a headed segment', async () => {
    const dir = await tempDir();
    try {
      await writeFile(
        segmentPath(dir, 0),
        Buffer.concat([abort(1), abort(2)].map((r) => frameRecord(encodeRecord(r)))),
      );
      const { wal, records } = await TwoPcWal.open(dir, SILENT_LOGGER);
      assert.deepEqual(records, [abort(1), abort(2)]);
      wal.append(3, abort(3));
      await wal.close();
      const segments = await listSegments(dir);
      assert.deepEqual(
        segments.map((s) => s.start),
        [0, 2],
      );
      assert.deepEqual(
        (await readFile(segments[1]!.path)).subarray(0, segmentHeader(2).length),
        segmentHeader(2),
      );
      const again = await TwoPcWal.open(dir, SILENT_LOGGER);
      await again.wal.close();
      assert.deepEqual(again.records, [abort(1), abort(2), abort(3)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

void describe('2PC store compaction (3 nodes over gRPC, in process)', () => {
  void test('the log is compacted under writes; a node restarted resumes from its snapshot', async () => {
    const group = await startTwoPcGroup(3, { compactEvery: 20 });
    try {
      await group.ready(30_000);
      const rooms = [roomId(), roomId()];
      const stores = () => group.nodes.map((n) => n.store!);
      for (const room of rooms) {
        assert.ok((await stores()[0]!.submit(cmd.createRoom(room, 'host', OPEN_SETTINGS))).result.ok);
      }
      for (let i = 0; i < 20; i++) {
        const room = rooms[i % 2]!;
        const outcome = await stores()[i % 3]!.submit(cmd.join(room, `m${i}`));
        assert.ok(outcome.result.ok, `write ${i} committed`);
      }
      const compaction = (i: number) =>
        group.nodes[i]!.store!.groupStatus().details['compaction'] as Record<string, number>;
      await until(
        'every node to have compacted its log',
        () => [0, 1, 2].every((i) => compaction(i)['snapshots']! >= 1 && compaction(i)['removedFiles']! >= 1),
        { timeoutMs: 30_000 },
      );
      const dir = group.nodes[1]!.dataDir;
      const snapshotLsn = compaction(1)['snapshotLsn']!;
      assert.ok(snapshotLsn > 0);
      await group.stop(1);
      const files = await readdir(dir);
      assert.ok(
        !files.includes(path.basename(segmentPath(dir, 0))),
        `the first segment was deleted: ${files.join(', ')}`,
      );
      await group.start(1);
      await group.ready(30_000);
      const restarted = compaction(1);
      assert.ok(restarted['snapshotLsn']! >= snapshotLsn, 'it started from its snapshot');
      assert.ok(
        restarted['replayedAtStart']! < 20 + 10,
        `it replayed only the records after the snapshot: ${JSON.stringify(restarted)}`,
      );
      for (const room of rooms) {
        const reference = await stores()[0]!.read(room);
        assert.deepEqual(await stores()[1]!.read(room), reference, `n2 holds ${room} as n1 does`);
      }
      const after = await stores()[1]!.submit(cmd.join(rooms[0]!, 'after-restart'));
      assert.ok(after.result.ok, 'the restarted node coordinates writes again');
    } finally {
      await group.close();
    }
  });
});
