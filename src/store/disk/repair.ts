// `chorus repair`: what an operator runs, with consent, on a log the store refused to start on
// (DamagedLogError). It never guesses and never deletes: the log is kept up to its first damaged
// record, and everything from there on (the rest of that segment and every later segment) is moved
// into a `damaged-<time>/` folder beside it, whole, with a note of what was moved and why. Records
// after the damage are intact but cannot be replayed without the ones the damage took (a command's
// effect depends on every command before it), so they are kept there for a person to look at.

import { copyFile, mkdir, readFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { acquireDirLock } from './lock.ts';
import {
  beginsWithHeader,
  intactFrameAfter,
  listSegments,
  scanFrames,
  SegmentWriter,
  syncDir,
  type Frame,
} from './log.ts';
import { readLogFormat } from './recovery.ts';
import { FILE_MODE } from './private.ts';

export interface RepairReport {
  /** Null when the log had no damage (nothing was changed). */
  readonly damagedFile: string | null;
  readonly offset: number;
  readonly problem: string | null;
  /** Intact records kept in the log. */
  readonly kept: number;
  /** Intact records found after the damage, moved aside with it. */
  readonly movedRecords: number;
  /** Where the moved files are. */
  readonly movedTo: string | null;
}

/** Counts the intact frames of buf from `from` on (resyncing past damaged ones). */
function intactFramesFrom(buf: Buffer, from: number): number {
  let count = 0;
  let at: number | null = intactFrameAfter(buf, from - 1);
  while (at !== null) {
    const scan = scanFrames(buf.subarray(at));
    count += scan.frames.length;
    at = scan.problem === null ? null : intactFrameAfter(buf, at + scan.validBytes);
  }
  return count;
}

/** Records in a scan: its frames, less the segment's header if it has one. */
function records(frames: readonly Frame[], start: number): number {
  return beginsWithHeader(frames, start) ? frames.length - 1 : frames.length;
}

export async function repairLog(dataDir: string, now: Date = new Date()): Promise<RepairReport> {
  const lock = await acquireDirLock(dataDir);
  try {
    const format = await readLogFormat(dataDir);
    const segments = await listSegments(dataDir);
    let kept = 0;
    for (const [i, segment] of segments.entries()) {
      const buf = await readFile(segment.path);
      const scan = scanFrames(buf);
      const headed = beginsWithHeader(scan.frames, segment.start);
      // A segment that lost its header (emptied, or cut from the front) is damaged from its start.
      const headerLost = format !== null && segment.start >= format.headersFrom && !headed;
      if (!headerLost && scan.problem === null) {
        kept += records(scan.frames, segment.start);
        continue;
      }
      const isLast = i === segments.length - 1;
      if (!headerLost && isLast && intactFrameAfter(buf, scan.validBytes) === null) {
        // A torn tail: the store cuts it by itself on start; nothing to repair.
        kept += records(scan.frames, segment.start);
        continue;
      }
      const offset = headerLost ? 0 : scan.validBytes;
      const problem = headerLost
        ? buf.length === 0
          ? 'the segment is empty'
          : 'the segment does not begin with its header'
        : scan.problem!;
      const keptHere = headerLost ? 0 : records(scan.frames, segment.start);
      const movedTo = path.join(dataDir, `damaged-${now.toISOString().replaceAll(':', '-')}`);
      await mkdir(movedTo, { recursive: true, mode: 0o700 });
      let movedRecords = intactFramesFrom(buf, offset);
      await copyFile(segment.path, path.join(movedTo, path.basename(segment.path)));
      for (const later of segments.slice(i + 1)) {
        movedRecords += records(scanFrames(await readFile(later.path)).frames, later.start);
        await rename(later.path, path.join(movedTo, path.basename(later.path)));
      }
      await writeFile(
        path.join(movedTo, 'README.txt'),
        `chorus repair, ${now.toISOString()}\n${segment.path} was damaged at byte ${offset}: ` +
          `${problem}.\nThe log keeps the ${kept + keptHere} records before the damage. ` +
          `This folder holds the damaged segment whole and every later one: ${movedRecords} intact ` +
          'records after the damage, not replayed.\n',
        { mode: FILE_MODE },
      );
      await syncDir(movedTo);
      if (headerLost) {
        // Its records are gone from the log: the log goes on from its start, in a new segment.
        await unlink(segment.path);
        await (await SegmentWriter.create(dataDir, segment.start, true, true)).close();
      } else {
        await truncate(segment.path, scan.validBytes);
      }
      await syncDir(dataDir);
      return { damagedFile: segment.path, offset, problem, kept: kept + keptHere, movedRecords, movedTo };
    }
    return { damagedFile: null, offset: 0, problem: null, kept, movedRecords: 0, movedTo: null };
  } finally {
    await lock.release();
  }
}
