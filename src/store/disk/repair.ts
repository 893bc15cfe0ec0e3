// `chorus repair`: what an operator runs, with consent, on a log the store refused to start on
// (DamagedLogError). It never guesses and never deletes: the log is kept up to its first damaged
// record, and everything from there on (the rest of that segment and every later segment) is moved
// into a `damaged-<time>/` folder beside it, whole, with a note of what was moved and why. Records
// after the damage are intact but cannot be replayed without the ones the damage took (a command's
// effect depends on every command before it), so they are kept there for a person to look at.

import { copyFile, mkdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { acquireDirLock } from './lock.ts';
import { intactFrameAfter, listSegments, scanFrames, syncDir } from './log.ts';
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

export async function repairLog(dataDir: string, now: Date = new Date()): Promise<RepairReport> {
  const lock = await acquireDirLock(dataDir);
  try {
    const segments = await listSegments(dataDir);
    let kept = 0;
    for (const [i, segment] of segments.entries()) {
      const buf = await readFile(segment.path);
      const scan = scanFrames(buf);
      if (scan.problem === null) {
        kept += scan.frames.length;
        continue;
      }
      const isLast = i === segments.length - 1;
      if (isLast && intactFrameAfter(buf, scan.validBytes) === null) {
        // A torn tail: the store cuts it by itself on start; nothing to repair.
        kept += scan.frames.length;
        continue;
      }
      const movedTo = path.join(dataDir, `damaged-${now.toISOString().replaceAll(':', '-')}`);
      await mkdir(movedTo, { recursive: true, mode: 0o700 });
      let movedRecords = intactFramesFrom(buf, scan.validBytes);
      await copyFile(segment.path, path.join(movedTo, path.basename(segment.path)));
      for (const later of segments.slice(i + 1)) {
        movedRecords += scanFrames(await readFile(later.path)).frames.length;
        await rename(later.path, path.join(movedTo, path.basename(later.path)));
      }
      await writeFile(
        path.join(movedTo, 'README.txt'),
        `chorus repair, ${now.toISOString()}\n${segment.path} was damaged at byte ${scan.validBytes}: ` +
          `${scan.problem}.\nThe log keeps the ${kept + scan.frames.length} records before the damage. ` +
          `This folder holds the damaged segment whole and every later one: ${movedRecords} intact ` +
          'records after the damage, not replayed.\n',
        { mode: FILE_MODE },
      );
      await syncDir(movedTo);
      await truncate(segment.path, scan.validBytes);
      await syncDir(dataDir);
      return {
        damagedFile: segment.path,
        offset: scan.validBytes,
        problem: scan.problem,
        kept: kept + scan.frames.length,
        movedRecords,
        movedTo,
      };
    }
    return { damagedFile: null, offset: 0, problem: null, kept, movedRecords: 0, movedTo: null };
  } finally {
    await lock.release();
  }
}
