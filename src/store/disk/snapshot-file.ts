// Snapshot files: every room's state plus the log position they reflect, in one framed record (the
// same length + CRC32 framing as the log) so a damaged file is recognised rather than half-loaded.
//
// A snapshot is written to a temp file, fsynced, renamed into place and the directory fsynced, so a
// crash leaves either the old snapshot or the new one, never a mix. The name carries the position,
// `snapshot-<20 digits>.snap`; the newest valid one wins at start. A store may keep its own part
// beside the rooms (`extra`, JSON): the 2PC store's protocol checkpoint.

import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
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
 * A snapshot larger than this is written again only once the log since it holds as many bytes:
 * rewriting every room costs in proportion to all the rooms, so with much state a fixed record
 * count would spend more on snapshots than on the log. A restart then replays at most a
 * snapshot's worth of log.
 */
const SNAPSHOT_AMORTISED_FROM_BYTES = 1 << 20;

/** Whether a new snapshot is worth writing, the last one being `snapshotBytes` and the log since `logBytes`. */
export function snapshotWorthWriting(snapshotBytes: number, logBytes: number): boolean {
  return snapshotBytes < SNAPSHOT_AMORTISED_FROM_BYTES || logBytes >= snapshotBytes;
}

/**
 * Each room's snapshot JSON (UTF-8), by the state it was made from. States are immutable, so a room
 * that has not changed since the last snapshot is not serialised again: a snapshot costs in
 * proportion to the rooms that changed, not to every room the store holds. (The Raft store's
 * snapshots are made of the same pieces.)
 */
const roomJson = new WeakMap<RoomState, Buffer>();

export function jsonOf(state: RoomState): Buffer {
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
 * A room not held in memory, written into a new snapshot by copying its JSON from where an older
 * snapshot has it (src/store/room-evictor.ts): an evicted room costs a read, never a reload.
 */
export interface RoomBytesAt {
  readonly id: string;
  readonly file: string;
  readonly offset: number;
  readonly length: number;
}

/** Where a room's JSON lies in a snapshot file: `length` bytes from byte `offset`. */
export interface RoomRange {
  readonly offset: number;
  readonly length: number;
}

export interface WrittenSnapshot {
  readonly file: string;
  readonly bytes: number;
  /** Each room's JSON in the file, in the order the rooms were given. */
  readonly ranges: readonly RoomRange[];
}

/**
 * Writes the snapshot of `rooms` at `position`, with `extra` (JSON text) when given. Meant to run
 * beside the log's writer: it yields to the event loop while serialising and checksumming, and
 * flushes the file in slices. The record is framed as in the log (length, CRC32 of length +
 * payload), written piece by piece so that the rooms' cached JSON is neither copied into one string
 * nor re-encoded, and rooms given as `RoomBytesAt` are streamed from their older file (never all
 * in memory at once); the header, whose CRC is known only at the end, is written last.
 */
export async function writeSnapshotFile(
  dir: string,
  position: number,
  rooms: readonly (RoomState | RoomBytesAt)[],
  sync: boolean,
  extra?: string,
): Promise<WrittenSnapshot> {
  const slice = new Slicer();
  // The SnapshotPayload, written out by hand around the rooms' JSON (and the store's, as given).
  let head = JSON.stringify({ format: STORE_SNAPSHOT_FORMAT, position }).slice(0, -1);
  if (extra !== undefined) head += `,"extra":${extra}`;
  const pieces: Array<Buffer | RoomBytesAt> = [Buffer.from(`${head},"rooms":[`, 'utf8')];
  const ranges: RoomRange[] = [];
  let length = pieces[0]!.length;
  for (const [i, room] of rooms.entries()) {
    if (i > 0) {
      pieces.push(COMMA);
      length += 1;
    }
    const piece = 'file' in room ? room : jsonOf(room);
    pieces.push(piece);
    ranges.push({ offset: RECORD_HEADER_BYTES + length, length: piece.length });
    length += piece.length;
    await slice.yieldIfLong();
  }
  pieces.push(CLOSE);
  length += CLOSE.length;
  if (length > 0xffff_ffff) throw new Error(`the snapshot is too large (${length} bytes)`);

  const final = snapshotPath(dir, position);
  const temp = `${final}.tmp`;
  try {
    await writeFramed(temp, length, pieces, sync, slice);
  } catch (err) {
    // A half-written temp file is of no use; do not leave a big one behind until the next start.
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await rename(temp, final);
  if (sync) await syncDir(dir);
  return { file: final, bytes: RECORD_HEADER_BYTES + length, ranges };
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

/**
 * Writes one framed record of `length` payload bytes made of `pieces` to a new file, in writev
 * groups, fdatasyncing every SYNC_EVERY_BYTES; pieces held elsewhere are read a group at a time.
 */
async function writeFramed(
  file: string,
  length: number,
  pieces: readonly (Buffer | RoomBytesAt)[],
  sync: boolean,
  slice: Slicer,
): Promise<void> {
  const handle = await open(file, 'w', FILE_MODE);
  const sources = new Map<string, FileHandle>();
  try {
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    header.writeUInt32LE(length, 0);
    let crc = crc32(header.subarray(0, 4));
    let at = RECORD_HEADER_BYTES;
    let group: Buffer[] = [];
    let groupBytes = 0;
    let unsynced = 0;
    const flush = async (): Promise<void> => {
      const { bytesWritten } = await handle.writev(group, at);
      if (bytesWritten !== groupBytes) throw new Error(`short write: ${bytesWritten} of ${groupBytes} bytes`);
      at += groupBytes;
      unsynced += groupBytes;
      group = [];
      groupBytes = 0;
      if (sync && unsynced >= SYNC_EVERY_BYTES) {
        await handle.datasync();
        unsynced = 0;
      }
    };
    for (const piece of pieces) {
      const buffer = Buffer.isBuffer(piece) ? piece : await readPiece(piece, sources);
      crc = crc32(buffer, crc);
      group.push(buffer);
      groupBytes += buffer.length;
      if (group.length >= WRITEV_BUFFERS || groupBytes >= SYNC_EVERY_BYTES) await flush();
      await slice.yieldIfLong();
    }
    if (group.length > 0) await flush();
    header.writeUInt32LE(crc, 4);
    await handle.write(header, 0, RECORD_HEADER_BYTES, 0);
    if (sync) await handle.sync();
  } finally {
    for (const source of sources.values()) await source.close().catch(() => undefined);
    await handle.close();
  }
}

async function readPiece(piece: RoomBytesAt, sources: Map<string, FileHandle>): Promise<Buffer> {
  let source = sources.get(piece.file);
  if (source === undefined) {
    source = await open(piece.file, 'r');
    sources.set(piece.file, source);
  }
  const buffer = Buffer.allocUnsafe(piece.length);
  const { bytesRead } = await source.read(buffer, 0, piece.length, piece.offset);
  if (bytesRead !== piece.length) throw new Error(`${piece.file} ends before room ${piece.id}`);
  return buffer;
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
