// The room index beside a snapshot file (`snapshot-<position>.rooms`): where each room's JSON lies
// inside the snapshot, and the list entry of each public room. With it a store starts without
// parsing every room (src/store/room-evictor.ts reloads one room by one read of its range when it is
// used) and lists public rooms it has not loaded.
//
// The snapshot file itself is unchanged (`chorus.memory-snapshot/1`): the index is a separate file,
// written after the snapshot is durable, so a snapshot written before indexes existed, or one whose
// index was lost in a crash, still loads: whole, as before. An index is trusted only when it names
// its snapshot's position and size and the snapshot's checksum holds (checked by streaming the file,
// never holding it whole); anything else is ignored, never half-used.

import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { RoomListing } from '../types.ts';
import { listNumbered, numberedPath, RECORD_HEADER_BYTES, syncDir } from './log.ts';
import { FILE_MODE } from './private.ts';
import { STORE_SNAPSHOT_FORMAT } from './snapshot-file.ts';

export const SNAPSHOT_INDEX_FORMAT = 'chorus.snapshot-rooms/1';

const INDEX_RE = /^snapshot-(\d{20})\.rooms$/;

/** A room of a snapshot: its JSON is `length` bytes from `offset`; public rooms carry their listing. */
export interface IndexedRoom {
  readonly id: string;
  readonly offset: number;
  readonly length: number;
  readonly listing: RoomListing | null;
  /** A track is playing (a store loads such rooms at start: its playback clock must see them). */
  readonly playing: boolean;
}

interface IndexPayload {
  readonly format: typeof SNAPSHOT_INDEX_FORMAT;
  readonly position: number;
  /** Size of the snapshot file this index describes. */
  readonly bytes: number;
  /** [id, offset, length, listing or null, playing 1/0], compact for 100,000 rooms. */
  readonly rooms: ReadonlyArray<readonly [string, number, number, RoomListing | null, 0 | 1]>;
}

export function snapshotIndexPath(dir: string, position: number): string {
  return numberedPath(dir, 'snapshot-', position, '.rooms');
}

/** Index files in dir, oldest first. */
export async function listSnapshotIndexes(dir: string): Promise<Array<{ position: number; path: string }>> {
  return (await listNumbered(dir, INDEX_RE)).map((f) => ({ position: f.n, path: f.path }));
}

/** Writes the index of the snapshot at `position` (temp file, rename, directory fsync). */
export async function writeSnapshotIndex(
  dir: string,
  position: number,
  bytes: number,
  rooms: readonly IndexedRoom[],
  sync: boolean,
): Promise<void> {
  const payload: IndexPayload = {
    format: SNAPSHOT_INDEX_FORMAT,
    position,
    bytes,
    rooms: rooms.map((r) => [r.id, r.offset, r.length, r.listing, r.playing ? 1 : 0] as const),
  };
  const file = snapshotIndexPath(dir, position);
  try {
    await writeFile(`${file}.tmp`, JSON.stringify(payload), { mode: FILE_MODE, flush: sync });
    await rename(`${file}.tmp`, file);
  } catch (err) {
    await unlink(`${file}.tmp`).catch(() => undefined);
    throw err;
  }
  if (sync) await syncDir(dir);
}

/**
 * The rooms of the snapshot file at `position`, by its index; null when there is no index or it
 * does not describe this file. Throws when the snapshot itself is damaged (as reading it would).
 */
export async function readSnapshotIndex(
  dir: string,
  snapshotFile: string,
  position: number,
): Promise<IndexedRoom[] | null> {
  let payload: Partial<IndexPayload>;
  try {
    payload = JSON.parse(await readFile(snapshotIndexPath(dir, position), 'utf8')) as Partial<IndexPayload>;
  } catch {
    return null; // missing, or cut short by a crash: the snapshot is loaded whole instead
  }
  const size = (await stat(snapshotFile)).size;
  if (
    payload.format !== SNAPSHOT_INDEX_FORMAT ||
    payload.position !== position ||
    payload.bytes !== size ||
    !Array.isArray(payload.rooms)
  ) {
    return null;
  }
  await checkSnapshotFrame(snapshotFile, position, size);
  return payload.rooms.map((row) => {
    const [id, offset, length, listing, playing] = row as IndexPayload['rooms'][number];
    return { id, offset, length, listing, playing: playing === 1 };
  });
}

/** Bytes read at a time while checking a snapshot's checksum. */
const CHECK_CHUNK_BYTES = 1 << 20;

/** Checks the snapshot's one frame (length, CRC) and its head, streaming; throws when damaged. */
async function checkSnapshotFrame(file: string, position: number, size: number): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    await handle.read(header, 0, RECORD_HEADER_BYTES, 0);
    const length = header.readUInt32LE(0);
    if (length + RECORD_HEADER_BYTES !== size) throw new Error(`snapshot ${file} is damaged: wrong length`);
    const head = Buffer.from(JSON.stringify({ format: STORE_SNAPSHOT_FORMAT, position }).slice(0, -1));
    let crc = crc32(header.subarray(0, 4));
    const chunk = Buffer.allocUnsafe(CHECK_CHUNK_BYTES);
    let first = true;
    for (let at = RECORD_HEADER_BYTES; at < size;) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(CHECK_CHUNK_BYTES, size - at), at);
      if (bytesRead === 0) throw new Error(`snapshot ${file} is damaged: cut short`);
      const got = chunk.subarray(0, bytesRead);
      if (first && !got.subarray(0, head.length).equals(head)) {
        throw new Error(`snapshot ${file} is not a snapshot at position ${position}`);
      }
      first = false;
      crc = crc32(got, crc);
      at += bytesRead;
    }
    if (crc !== header.readUInt32LE(4)) throw new Error(`snapshot ${file} is damaged: checksum mismatch`);
  } finally {
    await handle.close();
  }
}
