// Recovering a data dir at start, and compacting it after a snapshot: load the newest snapshot
// that reads back whole, replay the log records after it, cut a torn tail, and reopen the last
// segment for appending; later, delete what a durable snapshot covers. Shared by every store that
// keeps a command log in a data dir (the memory store; a Raft log or a 2PC log later).

import { readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Envelope } from '../../domain/index.ts';
import { decodeCommand } from '../codec.ts';
import type { StoreLogger } from '../logger.ts';
import {
  DamagedLogError,
  beginsWithHeader,
  intactFrameAfter,
  listSegments,
  scanFrames,
  SegmentWriter,
  syncDir,
} from './log.ts';
import { isDiskFull } from './lock.ts';
import { FILE_MODE } from './private.ts';
import { listSnapshots, readSnapshotFile, type LoadedSnapshot } from './snapshot-file.ts';
import { listSnapshotIndexes, readSnapshotIndex, type IndexedRoom } from './snapshot-index.ts';

const SNAPSHOT_TEMP_RE = /^snapshot-\d{20}\.(snap|rooms)\.tmp$/;
const SEGMENT_TEMP_RE = /^log-\d{20}\.log\.tmp$/;

/**
 * The newest snapshot that reads back whole, and its size. Damaged ones are renamed aside as
 * `.corrupt`, not trusted; temp files of an interrupted snapshot are removed. With `indexed`, a
 * snapshot that has a valid room index (src/store/disk/snapshot-index.ts) is checked but not
 * parsed: its rooms come back as `indexed`, to be loaded one by one when used (`snapshot.rooms` is
 * then empty); without an index it is read whole as always.
 */
export async function loadNewestSnapshot(
  dir: string,
  logger: StoreLogger,
  options: { readonly indexed?: boolean } = {},
): Promise<{ snapshot: LoadedSnapshot; bytes: number; indexed: IndexedRoom[] | null } | null> {
  for (const name of await readdir(dir)) {
    if (SNAPSHOT_TEMP_RE.test(name)) await unlink(path.join(dir, name));
  }
  for (const file of (await listSnapshots(dir)).reverse()) {
    try {
      const bytes = (await stat(file.path)).size;
      const indexed = options.indexed ? await readSnapshotIndex(dir, file.path, file.position) : null;
      if (indexed !== null) {
        const snapshot = { position: file.position, rooms: [], extra: undefined, path: file.path };
        return { snapshot, bytes, indexed };
      }
      const snapshot = await readSnapshotFile(file.path);
      return { snapshot, bytes, indexed: null };
    } catch (err) {
      logger.warn(
        { snapshot: file.path, err: String(err) },
        `snapshot ${path.basename(file.path)} is unreadable; moved aside as .corrupt, trying an older one`,
      );
      await rename(file.path, `${file.path}.corrupt`);
    }
  }
  return null;
}

export interface ReplayedLog {
  /** Open for appending at `position`; null when the log may not or cannot be written (`noSpace`). */
  readonly segment: SegmentWriter | null;
  /** Why the log was not opened for appending: the disk is full or read-only (or `readOnly` asked). */
  readonly noSpace: Error | null;
  /** Records in the log, counting the snapshot's. */
  readonly position: number;
  /** Records applied by the replay. */
  readonly replayed: number;
}

/**
 * The marker of a data dir whose segments carry headers: segments from `headersFrom` on must begin
 * with theirs. Written once, when a store that writes headers first opens the dir (older segments,
 * written before, have none and are read as they are).
 */
export const LOG_FORMAT_FILE = 'LOG-FORMAT';

export async function readLogFormat(dir: string): Promise<{ headersFrom: number } | null> {
  let text: string;
  try {
    text = await readFile(path.join(dir, LOG_FORMAT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const value = JSON.parse(text) as { headersFrom?: unknown };
  if (!Number.isSafeInteger(value.headersFrom))
    throw new Error(`${path.join(dir, LOG_FORMAT_FILE)} is damaged`);
  return { headersFrom: value.headersFrom as number };
}

export async function writeLogFormat(dir: string, headersFrom: number, fsync: boolean): Promise<void> {
  const file = path.join(dir, LOG_FORMAT_FILE);
  await writeFile(`${file}.tmp`, `${JSON.stringify({ headersFrom })}\n`, { mode: FILE_MODE, flush: fsync });
  await rename(`${file}.tmp`, file);
  if (fsync) await syncDir(dir);
}

export interface ReplayOptions {
  readonly fsync: boolean;
  readonly logger: StoreLogger;
  /** Replay only: open nothing for appending, cut no torn tail (this opener must not write). */
  readonly readOnly?: Error | null;
  /**
   * Segments carry headers: new ones are written with theirs, and where the dir's marker says so, a
   * segment without its header (emptied, or cut from the front) refuses the start as damage. A dir
   * without the marker gets it, and a fresh segment, the first time it is opened for writing.
   */
  readonly headers?: boolean;
}

/**
 * Replays every record at or after `from` through `apply`, in log order, and opens the log for
 * appending after the last whole record. A torn or damaged tail is cut off (none of it was
 * acknowledged); a gap before a segment (records lost), damage with intact records after it, or a
 * segment that lost its header refuses to start.
 */
export async function replayLog(
  dir: string,
  from: number,
  apply: (env: Envelope) => void,
  options: ReplayOptions,
): Promise<ReplayedLog> {
  return replayRecords(dir, from, (payload) => decodeCommand(payload.toString('utf8')), apply, options);
}

/**
 * replayLog for records of any kind: `decode` turns a frame's payload into a record (and throws on
 * one that is not, which ends the log there like a checksum mismatch). The 2PC log uses it.
 */
export async function replayRecords<T>(
  dir: string,
  from: number,
  decode: (payload: Buffer) => T,
  apply: (record: T) => void,
  options: ReplayOptions,
): Promise<ReplayedLog> {
  const { fsync, logger } = options;
  const readOnly = options.readOnly ?? null;
  // A segment being created when the process stopped never got its name: it held nothing.
  for (const name of await readdir(dir)) {
    if (SEGMENT_TEMP_RE.test(name) && readOnly === null) await unlink(path.join(dir, name));
  }
  const format = options.headers ? await readLogFormat(dir) : null;
  let position = from;
  const segments = await listSegments(dir);
  if (format !== null && segments.length === 0) {
    // A store that writes headers always keeps a segment open: none at all means they were removed.
    throw new DamagedLogError(dir, 0, 'the log has no segment although it has been written', dir);
  }
  let tail: { index: number; end: number; validBytes: number; headed: boolean } | null = null;
  let replayed = 0;
  for (const [i, segment] of segments.entries()) {
    const isLast = i === segments.length - 1;
    if (segment.start > position) {
      throw new Error(
        `the log in ${dir} has a gap: records ${position} to ${segment.start - 1} are missing before ` +
          `${path.basename(segment.path)}; refusing to start with acknowledged commands lost`,
      );
    }
    const buf = await readFile(segment.path);
    const scan = scanFrames(buf);
    let frames = scan.frames;
    const headed = beginsWithHeader(frames, segment.start);
    if (format !== null && segment.start >= format.headersFrom && !headed) {
      throw new DamagedLogError(
        segment.path,
        0,
        buf.length === 0
          ? 'the segment is empty: it was emptied after it was written'
          : 'the segment does not begin with its header: it was cut from the front or overwritten',
        dir,
      );
    }
    if (headed) frames = frames.slice(1);
    let record = segment.start;
    let validBytes = scan.validBytes;
    let problem = scan.problem;
    for (const frame of frames) {
      let env: T;
      try {
        env = decode(frame.payload);
      } catch {
        // The checksum matched, so this was written this way: treat it like any corrupt record.
        validBytes = frame.offset;
        problem = `record at byte ${frame.offset} is not JSON`;
        break;
      }
      if (record >= position) {
        apply(env);
        position++;
        replayed++;
      }
      record++;
    }
    if (problem !== null && (!isLast || intactFrameAfter(buf, validBytes) !== null)) {
      // Damage before records that were written after it: never cut, never guess.
      throw new DamagedLogError(segment.path, validBytes, problem, dir);
    }
    if (problem !== null) {
      const dropped = buf.length - validBytes;
      // Only the end of the last segment can be torn (a segment is fsynced before the next one is
      // started): what follows the last intact record there was never acknowledged.
      logger.warn(
        { segment: segment.path, validBytes, droppedBytes: dropped, problem },
        `dropped ${dropped} bytes from the end of the log (${problem}); they were never acknowledged`,
      );
    }
    if (isLast) tail = { index: i, end: record, validBytes, headed };
  }

  if (readOnly !== null) return { segment: null, noSpace: readOnly, position, replayed };
  const last = tail === null ? undefined : segments[tail.index];
  try {
    const ending = tail !== null && last !== undefined && tail.end === position ? { ...tail, last } : null;
    // Without headers (or in a dir that has them), the last segment is reopened where it ends.
    if (ending !== null && (!options.headers || ending.headed)) {
      return {
        segment: await SegmentWriter.reopen(ending.last, ending.validBytes, fsync),
        noSpace: null,
        position,
        replayed,
      };
    }
    if (ending !== null) {
      // A dir written before headers: cut its torn tail, then go on in a segment of the new kind.
      await (await SegmentWriter.reopen(ending.last, ending.validBytes, fsync)).close();
      // An empty old segment at `position` holds nothing; its name is the new segment's.
      if (ending.last.start === position) await unlink(ending.last.path);
    }
    // No log yet, a dir written before headers, or the snapshot is ahead of the log (only possible
    // without fsync): start a segment afresh.
    const segment = await SegmentWriter.create(dir, position, fsync, options.headers);
    if (options.headers && format === null) await writeLogFormat(dir, position, fsync);
    return { segment, noSpace: null, position, replayed };
  } catch (err) {
    // A full (or read-only) disk: what is logged can still be served, read-only.
    if (!isDiskFull(err)) throw err;
    return { segment: null, noSpace: err as Error, position, replayed };
  }
}

/** Deletes the segments and snapshots a durable snapshot at `position` covers; how many. */
export async function compactBefore(dir: string, position: number, fsync: boolean): Promise<number> {
  let removed = 0;
  for (const segment of await listSegments(dir)) {
    if (segment.start < position) {
      await unlink(segment.path);
      removed++;
    }
  }
  for (const snap of [...(await listSnapshots(dir)), ...(await listSnapshotIndexes(dir))]) {
    if (snap.position < position) {
      await unlink(snap.path);
      removed++;
    }
  }
  if (fsync && removed > 0) await syncDir(dir);
  return removed;
}
