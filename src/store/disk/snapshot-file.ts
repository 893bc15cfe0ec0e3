// Snapshot files: every room's state plus the log position they reflect, in one framed record (the
// same length + CRC32 framing as the log) so a damaged file is recognised rather than half-loaded.
//
// A snapshot is written to a temp file, fsynced, renamed into place and the directory fsynced, so a
// crash leaves either the old snapshot or the new one, never a mix. The name carries the position,
// `snapshot-<20 digits>.snap`; the newest valid one wins at start. A store may keep its own part
// beside the rooms (`extra`, JSON): the 2PC store's protocol checkpoint.

import { open, readFile, rename, unlink } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { restore, snapshot, type RoomSnapshot, type RoomState } from '../../domain/index.ts';
import { Slicer } from '../slicer.ts';
import { listNumbered, numberedPath, RECORD_HEADER_BYTES, scanFrames, syncDir } from './log.ts';
import { FILE_MODE } from './private.ts';

// The format name predates the move to disk/: files written by earlier versions keep reading back.
export const STORE_SNAPSHOT_FORMAT = 'chorus.memory-snapshot/1';

const SNAPSHOT_RE = /^snapshot-(\d{20})\.snap$/;

interface SnapshotPayload {
  readonly format: typeof STORE_SNAPSHOT_FORMAT;
  /** Records 0 .. position-1 of the log are reflected in `rooms`. */
  readonly position: number;
  /** What the store keeps beside the rooms (the 2PC store: its protocol checkpoint); JSON. */
  readonly extra?: unknown;
  readonly rooms: readonly RoomSnapshot[];
}

export interface LoadedSnapshot {
  readonly position: number;
  readonly rooms: readonly RoomState[];
  /** The store's own part, as written (undefined when none). */
  readonly extra: unknown;
  readonly path: string;
}

export interface SnapshotFile {
  readonly position: number;
  readonly path: string;
}

export function snapshotPath(dir: string, position: number): string {
  return numberedPath(dir, 'snapshot-', position, '.snap');
}

/** Snapshot files in dir, oldest first. */
export async function listSnapshots(dir: string): Promise<SnapshotFile[]> {
  return (await listNumbered(dir, SNAPSHOT_RE)).map((f) => ({ position: f.n, path: f.path }));
}

/**
 * Each room's snapshot JSON (UTF-8), by the state it was made from. States are immutable, so a room
 * that has not changed since the last snapshot is not serialised again: a snapshot costs in
 * proportion to the rooms that changed, not to every room the store holds.
 */
const roomJson = new WeakMap<RoomState, Buffer>();

function jsonOf(state: RoomState): Buffer {
  let json = roomJson.get(state);
  if (json === undefined) {
    json = Buffer.from(JSON.stringify(snapshot(state)), 'utf8');
    roomJson.set(state, json);
  }
  return json;
}

/** Buffers handed to one writev (well under any system's IOV_MAX). */
const WRITEV_BUFFERS = 256;
/**
 * Bytes of a snapshot written between fdatasyncs. The log's fsyncs share the disk (and on ext4 the
 * journal) with the snapshot's; flushing a big snapshot in one go would hold every write behind it.
 */
const SYNC_EVERY_BYTES = 8 << 20;

/**
 * Writes the snapshot of `rooms` at `position`, with `extra` (JSON text) when given. Meant to run beside the log's writer: it yields to
 * the event loop while serialising and checksumming, and flushes the file in slices. The record is
 * framed as in the log (length, CRC32 of length + payload), built piece by piece so that the rooms'
 * cached JSON is neither copied into one string nor re-encoded.
 */
export async function writeSnapshotFile(
  dir: string,
  position: number,
  rooms: readonly RoomState[],
  sync: boolean,
  extra?: string,
): Promise<{ readonly file: string; readonly bytes: number }> {
  const slice = new Slicer();
  // The SnapshotPayload, written out by hand around the rooms' JSON (and the store's, as given).
  let head = JSON.stringify({ format: STORE_SNAPSHOT_FORMAT, position }).slice(0, -1);
  if (extra !== undefined) head += `,"extra":${extra}`;
  const pieces: Buffer[] = [Buffer.from(`${head},"rooms":[`, 'utf8')];
  for (const [i, room] of rooms.entries()) {
    if (i > 0) pieces.push(COMMA);
    pieces.push(jsonOf(room));
    await slice.yieldIfLong();
  }
  pieces.push(CLOSE);
  let length = 0;
  for (const piece of pieces) length += piece.length;
  if (length > 0xffff_ffff) throw new Error(`the snapshot is too large (${length} bytes)`);
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  let crc = crc32(header.subarray(0, 4));
  for (const piece of pieces) {
    crc = crc32(piece, crc);
    await slice.yieldIfLong();
  }
  header.writeUInt32LE(crc, 4);

  const final = snapshotPath(dir, position);
  const temp = `${final}.tmp`;
  try {
    await writeFramed(temp, [header, ...pieces], sync);
  } catch (err) {
    // A half-written temp file is of no use; do not leave a big one behind until the next start.
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await rename(temp, final);
  if (sync) await syncDir(dir);
  return { file: final, bytes: RECORD_HEADER_BYTES + length };
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

/** Writes the buffers to a new file in writev groups, fdatasyncing every SYNC_EVERY_BYTES. */
async function writeFramed(file: string, buffers: readonly Buffer[], sync: boolean): Promise<void> {
  const handle = await open(file, 'w', FILE_MODE);
  try {
    let group: Buffer[] = [];
    let groupBytes = 0;
    let unsynced = 0;
    const flush = async (): Promise<void> => {
      const { bytesWritten } = await handle.writev(group);
      if (bytesWritten !== groupBytes) throw new Error(`short write: ${bytesWritten} of ${groupBytes} bytes`);
      unsynced += groupBytes;
      group = [];
      groupBytes = 0;
      if (sync && unsynced >= SYNC_EVERY_BYTES) {
        await handle.datasync();
        unsynced = 0;
      }
    };
    for (const buffer of buffers) {
      group.push(buffer);
      groupBytes += buffer.length;
      if (group.length >= WRITEV_BUFFERS || groupBytes >= SYNC_EVERY_BYTES) await flush();
    }
    if (group.length > 0) await flush();
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads and checks one snapshot file; throws an Error saying what is wrong with it. */
export async function readSnapshotFile(file: string): Promise<LoadedSnapshot> {
  const buf = await readFile(file);
  const scan = scanFrames(buf, Number.MAX_SAFE_INTEGER);
  const frame = scan.frames[0];
  if (scan.problem !== null || scan.frames.length !== 1 || frame === undefined) {
    throw new Error(`snapshot ${file} is damaged: ${scan.problem ?? 'expected exactly one record'}`);
  }
  const value = JSON.parse(frame.payload.toString('utf8')) as Partial<SnapshotPayload>;
  if (value.format !== STORE_SNAPSHOT_FORMAT) {
    throw new Error(`snapshot ${file} has unknown format ${String(value.format)}`);
  }
  if (!Number.isSafeInteger(value.position) || value.position! < 0 || !Array.isArray(value.rooms)) {
    throw new Error(`snapshot ${file} has no valid position or rooms`);
  }
  return {
    position: value.position!,
    rooms: value.rooms.map((r) => restore(r)),
    extra: value.extra,
    path: file,
  };
}
