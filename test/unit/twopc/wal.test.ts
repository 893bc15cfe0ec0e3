// The 2PC node's durable log (src/store/twopc/wal.ts) and recovery through the store: a PREPARED
// record fsynced survives SIGKILL; a torn tail is cut back to the last whole record; a node that
// restarts with PREPARED records learns or settles their decisions with its peers over gRPC.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeCommand } from '../../../src/store/codec.ts';
import { listSegments } from '../../../src/store/disk/log.ts';
import { SILENT_LOGGER } from '../../../src/store/logger.ts';
import type { LogRecord } from '../../../src/store/twopc/types.ts';
import { TwoPcWal } from '../../../src/store/twopc/wal.ts';
import { cmd, OPEN_SETTINGS, roomId } from '../../helpers/store-envelopes.ts';
import { startTwoPcGroup } from '../../helpers/twopc-group.ts';

import { until } from '../../helpers/until.ts';

const CHILD = fileURLToPath(new URL('../../helpers/twopc-wal-child.ts', import.meta.url));

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'chorus-2pc-wal-'));
}

function prepared(txn: string, room: string, coordinator = 'n1'): LogRecord {
  return {
    kind: 'PREPARED',
    txn,
    coordinator,
    participants: ['n1', 'n2', 'n3'],
    room,
    version: 1,
    command: new Uint8Array(encodeCommand(cmd.createRoom(room, 'host', OPEN_SETTINGS)).bytes),
  };
}

async function writeLog(dir: string, records: readonly LogRecord[]): Promise<void> {
  const { wal } = await TwoPcWal.open(dir, SILENT_LOGGER);
  records.forEach((r, i) => wal.append(i + 1, r));
  await wal.close();
}

async function readLog(dir: string): Promise<readonly LogRecord[]> {
  const { wal, records } = await TwoPcWal.open(dir, SILENT_LOGGER);
  await wal.close();
  return records;
}

void describe('2PC durable log', () => {
  void test('a PREPARED record fsynced survives SIGKILL', async () => {
    const dir = await tempDir();
    try {
      const record = prepared('n1.x.0#1', roomId());
      const { command, ...rest } = record as Extract<LogRecord, { kind: 'PREPARED' }>;
      const child = spawn(
        process.execPath,
        [CHILD, dir, JSON.stringify(rest), Buffer.from(command).toString('base64')],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await until('the child to fsync', () => out.includes('durable') || child.exitCode !== null, {
        timeoutMs: 30_000,
      });
      assert.ok(out.includes('durable'), 'the child fsynced its record');
      child.kill('SIGKILL');
      await exited;
      const records = await readLog(dir);
      assert.equal(records.length, 1);
      assert.deepEqual(records[0], record);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('a torn tail is cut back to the last whole record, and appends continue after it', async () => {
    const dir = await tempDir();
    try {
      const room = roomId();
      const records: LogRecord[] = [
        prepared('t#1', room),
        { kind: 'COMMIT', txn: 't#1', coordinator: 'n1', participants: ['n1', 'n2', 'n3'] },
        { kind: 'END', txn: 't#1' },
      ];
      await writeLog(dir, records);
      const [segment] = await listSegments(dir);
      const whole = (await stat(segment!.path)).size;
      // Half a frame: a header announcing 100 bytes, and only 10 of them.
      const torn = Buffer.alloc(18);
      torn.writeUInt32LE(100, 0);
      await appendFile(segment!.path, torn);
      const { wal, records: read } = await TwoPcWal.open(dir, SILENT_LOGGER);
      assert.deepEqual(read, records);
      assert.equal((await stat(segment!.path)).size, whole, 'the torn bytes are gone');
      wal.append(4, { kind: 'ABORT', txn: 'u#1' });
      await wal.close();
      assert.deepEqual(await readLog(dir), [...records, { kind: 'ABORT', txn: 'u#1' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('a corrupt record (checksum mismatch) ends the log there', async () => {
    const dir = await tempDir();
    try {
      await writeLog(dir, [{ kind: 'ABORT', txn: 'a#1' }]);
      const [segment] = await listSegments(dir);
      const bad = Buffer.alloc(8 + 4);
      bad.writeUInt32LE(4, 0);
      bad.writeUInt32LE(12345, 4);
      await appendFile(segment!.path, bad);
      assert.deepEqual(await readLog(dir), [{ kind: 'ABORT', txn: 'a#1' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

void describe('2PC recovery on start (3 nodes over gRPC)', () => {
  void test('a participant restarted with a PREPARED record learns the COMMIT and applies it', async () => {
    const room = roomId();
    const txn = 'n1.crashed.0#1';
    const commit: LogRecord = { kind: 'COMMIT', txn, coordinator: 'n1', participants: ['n1', 'n2', 'n3'] };
    const group = await startTwoPcGroup(3, {}, async (nodes) => {
      await writeLog(nodes[0]!.dataDir, [prepared(txn, room), commit]);
      await writeLog(nodes[1]!.dataDir, [prepared(txn, room)]);
      await writeLog(nodes[2]!.dataDir, [prepared(txn, room)]);
    });
    try {
      await group.ready(30_000);
      for (const node of group.nodes) {
        await until(`${node.id} to apply the commit`, () => node.store!.loadedRooms().includes(room), {
          timeoutMs: 30_000,
        });
        const state = await node.store!.read(room);
        assert.equal(state?.version, 1, `${node.id} holds the room`);
      }
      const after = await group.nodes[1]!.store!.submit(cmd.join(room, 'm1'));
      assert.ok(after.result.ok, 'the room is unlocked: a new write commits');
    } finally {
      await group.close();
    }
  });

  void test('a coordinator restarted without a decision aborts; its participants learn it', async () => {
    const room = roomId();
    const txn = 'n1.crashed.0#1';
    const group = await startTwoPcGroup(3, {}, async (nodes) => {
      await writeLog(nodes[0]!.dataDir, [prepared(txn, room)]);
      await writeLog(nodes[1]!.dataDir, [prepared(txn, room)]);
    });
    try {
      await group.ready(30_000);
      await until(
        'every node to settle the transaction',
        () => group.nodes.every((n) => n.store!.groupStatus().details.preparedCount === 0),
        { timeoutMs: 30_000 },
      );
      for (const node of group.nodes) assert.equal(await node.store!.read(room), null, `${node.id}: aborted`);
      const created = await group.nodes[2]!.store!.submit(cmd.createRoom(room, 'host', OPEN_SETTINGS));
      assert.ok(created.result.ok, 'the room is unlocked everywhere: its creation commits now');
    } finally {
      await group.close(false);
    }
    try {
      const settled = await readLog(group.nodes[1]!.dataDir);
      assert.ok(
        settled.some((r) => r.kind === 'ABORT' && r.txn === txn),
        'the participant logged the abort it learned',
      );
    } finally {
      await group.remove();
    }
  });
});
