// Snapshot files: every room's state plus the log position they reflect, in one framed record (the
// same length + CRC32 framing as the log) so a damaged file is recognised rather than half-loaded.
//
// A snapshot is written to a temp file, fsynced, renamed into place and the directory fsynced, so a
// crash leaves either the old snapshot or the new one, never a mix. The name carries the position,
// `snapshot-<20 digits>.snap`; the newest valid one wins at start.

import { open, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { restore, snapshot, type RoomSnapshot, type RoomState } from '../../domain/index.ts';
import { frameRecord, scanFrames, syncDir } from './log.ts';

export const STORE_SNAPSHOT_FORMAT = 'chorus.memory-snapshot/1';

const SNAPSHOT_RE = /^snapshot-(\d{20})\.snap$/;

interface SnapshotPayload {
  readonly format: typeof STORE_SNAPSHOT_FORMAT;
  /** Records 0 .. position-1 of the log are reflected in `rooms`. */
  readonly position: number;
  readonly rooms: readonly RoomSnapshot[];
}

export interface LoadedSnapshot {
  readonly position: number;
  readonly rooms: readonly RoomState[];
  readonly path: string;
}

export interface SnapshotFile {
  readonly position: number;
  readonly path: string;
}

export function snapshotPath(dir: string, position: number): string {
  return path.join(dir, `snapshot-${String(position).padStart(20, '0')}.snap`);
}

/** Snapshot files in dir, oldest first. */
export async function listSnapshots(dir: string): Promise<SnapshotFile[]> {
  const files: SnapshotFile[] = [];
  for (const name of await readdir(dir)) {
    const m = SNAPSHOT_RE.exec(name);
    if (m) files.push({ position: Number(m[1]), path: path.join(dir, name) });
  }
  return files.sort((a, b) => a.position - b.position);
}

/**
 * Each room's snapshot JSON, by the state it was made from. States are immutable, so a room that has
 * not changed since the last snapshot is not serialised again: a snapshot costs in proportion to
 * the rooms that changed, not to every room the store holds.
 */
const roomJson = new WeakMap<RoomState, string>();

function jsonOf(state: RoomState): string {
  let json = roomJson.get(state);
  if (json === undefined) {
    json = JSON.stringify(snapshot(state));
    roomJson.set(state, json);
  }
  return json;
}

export async function writeSnapshotFile(
  dir: string,
  position: number,
  rooms: readonly RoomState[],
  sync: boolean,
): Promise<{ readonly file: string; readonly bytes: number }> {
  // The SnapshotPayload, written out by hand so that the rooms' cached JSON is reused.
  const head = JSON.stringify({ format: STORE_SNAPSHOT_FORMAT, position }).slice(0, -1);
  const json = `${head},"rooms":[${rooms.map(jsonOf).join(',')}]}`;
  const data = frameRecord(Buffer.from(json, 'utf8'));
  const final = snapshotPath(dir, position);
  const temp = `${final}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, final);
  if (sync) await syncDir(dir);
  return { file: final, bytes: data.length };
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
  return { position: value.position!, rooms: value.rooms.map((r) => restore(r)), path: file };
}
