// Recovering a data dir at start, and compacting it after a snapshot: load the newest snapshot
// that reads back whole, replay the log records after it, cut a torn tail, and reopen the last
// segment for appending; later, delete what a durable snapshot covers. Shared by every store that
// keeps a command log in a data dir (the memory store; a Raft log or a 2PC log later).

import { readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Envelope } from '../../domain/index.ts';
import { decodeCommand } from '../codec.ts';
import type { StoreLogger } from '../logger.ts';
import {
  DamagedLogError,
  intactFrameAfter,
  listSegments,
  scanFrames,
  SegmentWriter,
  syncDir,
} from './log.ts';
import { isDiskFull } from './lock.ts';
import { listSnapshots, readSnapshotFile, type LoadedSnapshot } from './snapshot-file.ts';

const SNAPSHOT_TEMP_RE = /^snapshot-\d{20}\.snap\.tmp$/;

/**
 * The newest snapshot that reads back whole, and its size. Damaged ones are renamed aside as
 * `.corrupt`, not trusted; temp files of an interrupted snapshot are removed.
 */
export async function loadNewestSnapshot(
  dir: string,
  logger: StoreLogger,
): Promise<{ snapshot: LoadedSnapshot; bytes: number } | null> {
  for (const name of await readdir(dir)) {
    if (SNAPSHOT_TEMP_RE.test(name)) await unlink(path.join(dir, name));
  }
  for (const file of (await listSnapshots(dir)).reverse()) {
    try {
      const snapshot = await readSnapshotFile(file.path);
      return { snapshot, bytes: (await stat(file.path)).size };
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
 * Replays every record at or after `from` through `apply`, in log order, and opens the log for
 * appending after the last whole record. A torn or damaged tail is cut off (none of it was
 * acknowledged); a gap before a segment (records lost) refuses to start.
 */
export async function replayLog(
  dir: string,
  from: number,
  apply: (env: Envelope) => void,
  fsync: boolean,
  logger: StoreLogger,
  /** Replay only: open nothing for appending, cut no torn tail (this opener must not write). */
  readOnly: Error | null = null,
): Promise<ReplayedLog> {
  let position = from;
  const segments = await listSegments(dir);
  let tail: { index: number; end: number; validBytes: number } | null = null;
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
    let record = segment.start;
    let validBytes = scan.validBytes;
    let problem = scan.problem;
    for (const frame of scan.frames) {
      let env: Envelope;
      try {
        env = decodeCommand(frame.payload.toString('utf8'));
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
    if (isLast) tail = { index: i, end: record, validBytes };
  }

  if (readOnly !== null) return { segment: null, noSpace: readOnly, position, replayed };
  const last = tail === null ? undefined : segments[tail.index];
  try {
    const segment =
      tail !== null && last !== undefined && tail.end === position
        ? await SegmentWriter.reopen(last, tail.validBytes, fsync)
        : // No log yet, or the snapshot is ahead of it (only possible without fsync): start afresh.
          await SegmentWriter.create(dir, position, fsync);
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
  for (const snap of await listSnapshots(dir)) {
    if (snap.position < position) {
      await unlink(snap.path);
      removed++;
    }
  }
  if (fsync && removed > 0) await syncDir(dir);
  return removed;
}
