// Durable Raft storage: the write-ahead log of entries and hard states, and snapshot files, in one
// data dir, on the shared disk layer (segment files with length + CRC32 framing, src/store/disk).
//
// The WAL is a sequence of records, each one framed JSON:
//   {k:'e', term, index, type, data}   an entry; it replaces every earlier entry at index ≥ its own
//   {k:'h', term, vote, commit}         the hard state (a frame is atomic: whole or cut off)
//   {k:'b', index, term}                 a base: the log restarts after (index, term) (a snapshot)
// Replaying the records in order rebuilds exactly the log and hard state last made durable.
//
// `save()` writes a Ready's snapshot, entries, then hard state and fsyncs once (every proposal that
// arrived while the previous fsync ran is in the same Ready: they share this fsync). Entries come
// before the hard state in the file, so a crash in between leaves the old hard state and a torn or
// missing tail, never a commit index without its entries (the scan stops at the first bad frame).
//
// Snapshots are files `raft-snapshot-<index>.snap`: two frames, the meta (JSON) then the data as it
// is (the rooms' JSON, not escaped into a string again); files written before hold one frame
// {meta, data} and still load. Written to a temp file, fsynced in slices and renamed into place,
// the directory fsynced. Then a new segment begins with a base record, the hard state and the
// entries after the snapshot, is fsynced, and only then are older segments and snapshots deleted: a
// crash at any point leaves a loadable dir. If a crash left a snapshot newer than the log's base,
// start applies the Raft rule (thesis Figure 5.13 / §5): entries after the snapshot are kept only if
// the log holds the snapshot's own entry with its term. The store's compaction writes its snapshot
// file (`writeLocalSnapshot`) beside the Ready loop's saves, then moves the log past it (`rebase`).
//
// Segment headers (as the embedded store's, src/store/disk/log.ts): each segment begins with a
// header frame naming its number, written before the file gets its name, and the dir's LOG-FORMAT
// marker says from which segment on they exist. A segment from there on that is empty or does not
// begin with its header was emptied or cut from the front after it was written, as is a written
// dir with no segment at all: the start refuses (RaftLogDamagedError) and changes nothing, since
// replaying what is left would bring the node back with acknowledged entries missing. A dir written
// before headers (no marker) opens as it is, cuts its torn tail, and goes on in headed segments.
// A bad frame is a torn tail only at the end of the newest segment with nothing intact after it:
// damage in an older segment, or followed by an intact frame, refuses the start the same way,
// naming the file and the byte where the damage begins (as the embedded store's replay does).
//
// Invariants: only one call at a time (the store's Ready loop awaits each), except `writeSnapshot`,
// which touches only its own files and may run beside the others (one at a time); a failed write
// makes the storage refuse every later one (fail-stop: a file's content after a failed fsync is
// unknown).

import { readdir, readFile, rename, unlink, open } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import {
  beginsWithHeader,
  frameRecord,
  intactFrameAfter,
  listSegments,
  RECORD_HEADER_BYTES,
  scanFrames,
  SegmentWriter,
  syncDir,
} from '../disk/log.ts';
import { readLogFormat, writeLogFormat } from '../disk/recovery.ts';
import type { StoreLogger } from '../logger.ts';
import type { RaftPersisted } from './node.ts';
import type { Entry, EntryType, HardState, Snapshot, SnapshotMeta } from './types.ts';

/** A record carries one command (≤ 1 MiB) in JSON, escaped: room for the escaping. */
const MAX_WAL_RECORD_BYTES = 8 << 20;
/** A segment this large is closed and a new one started (old ones go at the next compaction). */
const SEGMENT_BYTES = 64 << 20;
const SNAP_RE = /^raft-snapshot-(\d{20})\.snap$/;
const SNAP_TEMP_RE = /^raft-snapshot-\d{20}\.snap(\.local)?\.tmp$/;
/** A snapshot file is fsynced every this many bytes: one flush of a big file would hold the log's. */
const SNAPSHOT_SYNC_BYTES = 8 << 20;
/** A headed segment not yet linked under its name (a crash while it was created). */
const SEGMENT_TEMP_RE = /^log-\d{20}\.log\.tmp$/;

type WalRecord =
  | { k: 'e'; term: number; index: number; type: EntryType; data: string }
  | { k: 'h'; term: number; vote: string; commit: number }
  | { k: 'b'; index: number; term: number };

/** Entry data as the WAL and the wire carry it: text (Chorus's commands and conf changes are JSON). */
export function dataText(data: Entry['data']): string {
  return typeof data === 'string' ? data : dataBuffer(data).toString('utf8');
}

/** Entry or snapshot data as bytes: a view of it when it is bytes already (a snapshot's tens of MB are not copied). */
export function dataBuffer(data: Entry['data']): Buffer {
  return typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function entryRecord(e: Entry): Buffer {
  return frameRecord(
    Buffer.from(
      JSON.stringify({ k: 'e', term: e.term, index: e.index, type: e.type, data: dataText(e.data) }),
      'utf8',
    ),
  );
}

function hardRecord(hs: HardState): Buffer {
  return frameRecord(Buffer.from(JSON.stringify({ k: 'h', ...hs }), 'utf8'));
}

function baseRecord(index: number, term: number): Buffer {
  return frameRecord(Buffer.from(JSON.stringify({ k: 'b', index, term }), 'utf8'));
}

export function snapshotFilePath(dir: string, index: number): string {
  return path.join(dir, `raft-snapshot-${String(index).padStart(20, '0')}.snap`);
}

/** A Raft log damaged where a crash cannot damage it: the node refuses to start on it. */
export class RaftLogDamagedError extends Error {
  readonly file: string;
  /** Where the damage begins in `file` (0 for a whole file or dir). */
  readonly offset: number;

  constructor(file: string, problem: string, dataDir: string, offset = 0) {
    super(
      `the raft log ${file} is damaged${offset > 0 ? ` at byte ${offset}` : ''} (${problem}): this is not a torn tail left by a crash, and ` +
        'starting on what is left could lose acknowledged entries. Nothing was changed. Keep a copy ' +
        `of ${dataDir}; to bring the node back, remove it from the group (\`chorus raft remove-member\`), ` +
        'empty its data dir and add it again: it catches up from the others.',
    );
    this.name = 'RaftLogDamagedError';
    this.file = file;
    this.offset = offset;
  }
}

export interface RaftStorageOptions {
  readonly dir: string;
  /** fsync before a save resolves (default true); false only for tests and throwaway data. */
  readonly fsync?: boolean;
  readonly logger: StoreLogger;
}

export class RaftStorage {
  readonly dir: string;
  private readonly fsync: boolean;
  private readonly logger: StoreLogger;
  private segment: SegmentWriter;
  private failure: Error | null = null;
  /** fsyncs done, for tests and metrics (group commit shows as fewer fsyncs than entries). */
  fsyncs = 0;
  /** The hard state last written: a restarted log (restartLog) begins with it when given none. */
  private hard: HardState = { term: 0, vote: '', commit: 0 };

  private constructor(options: RaftStorageOptions, segment: SegmentWriter) {
    this.dir = options.dir;
    this.fsync = options.fsync ?? true;
    this.logger = options.logger;
    this.segment = segment;
  }

  /** Opens the dir (which must exist and be locked by the caller) and loads what it holds. */
  static async open(
    options: RaftStorageOptions,
  ): Promise<{ storage: RaftStorage; persisted: RaftPersisted }> {
    const { dir, logger } = options;
    const sync = options.fsync ?? true;
    for (const name of await readdir(dir)) {
      // An interrupted snapshot or segment creation: never part of the log.
      if (SNAP_TEMP_RE.test(name) || SEGMENT_TEMP_RE.test(name)) await unlink(path.join(dir, name));
    }
    const snapshot = await loadNewestSnapshot(dir, logger);
    const segments = await listSegments(dir);
    const format = await readLogFormat(dir);
    if (format !== null && segments.length === 0)
      throw new RaftLogDamagedError(dir, 'the log has no segment although it has been written', dir);
    let entries: Entry[] = [];
    let hardState: HardState = { term: 0, vote: '', commit: 0 };
    let base = { index: 0, term: 0 };
    let tail: { validBytes: number; headed: boolean } | null = null;
    for (const [i, segment] of segments.entries()) {
      const buf = await readFile(segment.path);
      const scan = scanFrames(buf, MAX_WAL_RECORD_BYTES);
      const headed = beginsWithHeader(scan.frames, segment.start);
      if (format !== null && segment.start >= format.headersFrom && !headed) {
        const problem =
          buf.length === 0
            ? 'the segment is empty: it was emptied after it was written'
            : 'the segment does not begin with its header: it was cut from the front or overwritten';
        throw new RaftLogDamagedError(segment.path, problem, dir);
      }
      for (const frame of headed ? scan.frames.slice(1) : scan.frames) {
        const r = JSON.parse(frame.payload.toString('utf8')) as WalRecord;
        if (r.k === 'b') {
          base = { index: r.index, term: r.term };
          entries = [];
        } else if (r.k === 'h') {
          hardState = { term: r.term, vote: r.vote, commit: r.commit };
        } else {
          const first = entries[0]?.index ?? base.index + 1;
          if (r.index > first + entries.length) {
            throw new Error(
              `raft WAL in ${dir}: entry ${r.index} after a gap (log ends at ${first + entries.length - 1})`,
            );
          }
          if (r.index < first) entries = [];
          else entries.length = r.index - first;
          entries.push({ term: r.term, index: r.index, type: r.type, data: r.data });
        }
      }
      const isLast = i === segments.length - 1;
      if (
        scan.problem !== null &&
        (!isLast || intactFrameAfter(buf, scan.validBytes, MAX_WAL_RECORD_BYTES) !== null)
      ) {
        // Damage with records written after it (later in this segment, or a later segment): a crash
        // tears only the end of the newest segment, so this is not one. Never cut, never guess.
        throw new RaftLogDamagedError(
          segment.path,
          `${scan.problem}, and records written after it follow`,
          dir,
          scan.validBytes,
        );
      }
      if (scan.problem !== null) {
        const dropped = buf.length - scan.validBytes;
        logger.warn(
          {
            segment: segment.path,
            validBytes: scan.validBytes,
            droppedBytes: dropped,
            problem: scan.problem,
          },
          `dropped ${dropped} bytes from the end of the raft log (${scan.problem}); they were never acknowledged`,
        );
      }
      if (i === segments.length - 1) tail = { validBytes: scan.validBytes, headed };
    }
    if (snapshot === null && base.index > 0) {
      throw new Error(`raft WAL in ${dir} starts after index ${base.index} but no snapshot is readable`);
    }
    if (snapshot !== null && snapshot.meta.index < base.index) {
      throw new Error(
        `raft WAL in ${dir} starts after index ${base.index} but the newest readable snapshot is older`,
      );
    }
    if (snapshot !== null && snapshot.meta.index > base.index) {
      // Crash after a snapshot was written but before the log moved past it (Raft's rule).
      const at = entries.find((e) => e.index === snapshot.meta.index);
      entries =
        at !== undefined && at.term === snapshot.meta.term ? entries.filter((e) => e.index > at.index) : [];
    }
    const last = segments[segments.length - 1];
    if (format !== null && last !== undefined && last.start < format.headersFrom) {
      throw new RaftLogDamagedError(
        dir,
        `the segments from ${format.headersFrom} on are missing although they were written`,
        dir,
      );
    }
    let segment: SegmentWriter;
    if (last !== undefined && tail !== null && tail.headed) {
      segment = await SegmentWriter.reopen(last, tail.validBytes, sync);
    } else {
      // A new dir, or one written before headers: its torn tail is cut, and it goes on in a headed
      // segment, durable before the marker says headers exist from it on.
      if (last !== undefined && tail !== null)
        await (await SegmentWriter.reopen(last, tail.validBytes, sync)).close();
      const start = (last?.start ?? 0) + 1;
      segment = await SegmentWriter.create(dir, start, sync, true);
      if (format === null) await writeLogFormat(dir, start, sync);
    }
    const storage = new RaftStorage(options, segment);
    storage.hard = hardState;
    const applied = snapshot?.meta.index ?? 0;
    logger.info(
      { dir, snapshot: applied, entries: entries.length, term: hardState.term, commit: hardState.commit },
      'raft storage loaded',
    );
    return { storage, persisted: { hardState, snapshot, entries, applied } };
  }

  /**
   * Makes a Ready's durable part durable: its snapshot (replacing the whole log), its entries, then
   * its hard state, with one fsync for all of them. Resolves once they are on disk; with `sync`
   * false (a hard state whose commit index alone moved: Ready.mustSync), once they are written,
   * and the next synced save makes them durable with its own.
   */
  async save(
    snapshot: Snapshot | null,
    entries: readonly Entry[],
    hardState: HardState | null,
    sync = true,
  ): Promise<void> {
    this.assertUsable();
    try {
      if (snapshot !== null) {
        await this.writeSnapshot(snapshot);
        await this.restartLog(snapshot.meta, [], hardState);
      }
      if (entries.length === 0 && hardState === null) return;
      const frames = entries.map(entryRecord);
      if (hardState !== null) frames.push(hardRecord(hardState));
      this.segment.append(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
      if (this.fsync && sync) {
        await this.segment.sync();
        this.fsyncs++;
      }
      if (hardState !== null) this.wrote(hardState);
      if (this.segment.size >= SEGMENT_BYTES) await this.rollSegment();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * Writes a snapshot the node took itself, durably, without touching the log: it may run while
   * the Ready loop saves (a temp name of its own, so a snapshot received at the same index meanwhile
   * is never written to the same file). Until `rebase`, a crash leaves it beside the whole log,
   * which start reads by the Raft rule above.
   */
  async writeLocalSnapshot(snapshot: Snapshot): Promise<void> {
    this.assertUsable();
    try {
      await this.writeSnapshot(snapshot, '.local');
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * The log restarts after `meta` (a snapshot already durable) with the entries after it that it
   * holds (`tail`: every entry saved so far past `meta.index`), then older files are deleted.
   * `hardState`: the one to begin with, if not the last one written.
   */
  async rebase(meta: SnapshotMeta, tail: readonly Entry[], hardState: HardState | null): Promise<void> {
    this.assertUsable();
    try {
      await this.restartLog(
        meta,
        tail.filter((e) => e.index > meta.index),
        hardState,
      );
    } catch (err) {
      throw this.fail(err);
    }
  }

  async close(): Promise<void> {
    await this.segment.close().catch(() => undefined);
  }

  private async writeSnapshot(snapshot: Snapshot, tempSuffix = ''): Promise<void> {
    const final = snapshotFilePath(this.dir, snapshot.meta.index);
    const temp = `${final}${tempSuffix}.tmp`;
    const payload = dataBuffer(snapshot.data);
    // The meta's frame, then the data's frame: its header (length, CRC) at `headerAt`, written last
    // since the CRC is known only once the data's slices are written (each checksummed between two
    // writes, each fdatasynced: tens of MB are never checksummed or flushed in one go).
    const meta = frameRecord(Buffer.from(JSON.stringify(snapshot.meta), 'utf8'));
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    header.writeUInt32LE(payload.length, 0);
    let crc = crc32(header.subarray(0, 4));
    const handle = await open(temp, 'w');
    try {
      const write = async (part: Buffer, at: number): Promise<void> => {
        const { bytesWritten } = await handle.write(part, 0, part.length, at);
        if (bytesWritten !== part.length)
          throw new Error(`short write: ${bytesWritten} of ${part.length} bytes`);
      };
      await write(meta, 0);
      const headerAt = meta.length;
      for (let at = 0; at < payload.length; at += SNAPSHOT_SYNC_BYTES) {
        const part = payload.subarray(at, at + SNAPSHOT_SYNC_BYTES);
        crc = crc32(part, crc);
        await write(part, headerAt + RECORD_HEADER_BYTES + at);
        if (this.fsync && part.length === SNAPSHOT_SYNC_BYTES) await handle.datasync();
      }
      header.writeUInt32LE(crc, 4);
      await write(header, headerAt);
      if (this.fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, final);
    if (this.fsync) await syncDir(this.dir);
  }

  /** A new segment: base (meta), hard state, entries; durable before older files are deleted. */
  private async restartLog(
    meta: SnapshotMeta,
    entries: readonly Entry[],
    hs: HardState | null,
  ): Promise<void> {
    const old = await listSegments(this.dir);
    const next = await SegmentWriter.create(this.dir, this.segment.start + 1, this.fsync, true);
    // The older segments (and the hard state records in them) go below: the new one must hold it.
    const hard = hs ?? this.hard;
    const frames = [baseRecord(meta.index, meta.term), ...entries.map(entryRecord), hardRecord(hard)];
    next.append(Buffer.concat(frames));
    if (this.fsync) {
      await next.sync();
      this.fsyncs++;
    }
    this.wrote(hard);
    const prev = this.segment;
    this.segment = next;
    await prev.close();
    for (const s of old) await unlink(s.path);
    for (const name of await readdir(this.dir)) {
      const m = SNAP_RE.exec(name);
      if (m && Number(m[1]) < meta.index) await unlink(path.join(this.dir, name));
    }
    if (this.fsync) await syncDir(this.dir);
  }

  private wrote(hs: HardState): void {
    this.hard = hs;
  }

  /** Continues the log in a new file (old files stay until the next compaction). */
  private async rollSegment(): Promise<void> {
    const next = await SegmentWriter.create(this.dir, this.segment.start + 1, this.fsync, true);
    const prev = this.segment;
    this.segment = next;
    await prev.close();
  }

  private assertUsable(): void {
    if (this.failure !== null)
      throw new Error(`raft storage in ${this.dir} failed earlier: ${this.failure.message}`);
  }

  private fail(err: unknown): Error {
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.logger.warn({ dir: this.dir, err: String(err) }, 'could not write the raft log; this node stops');
    return this.failure;
  }
}

/** The newest snapshot file that reads back whole; damaged ones are renamed aside. */
async function loadNewestSnapshot(dir: string, logger: StoreLogger): Promise<Snapshot | null> {
  const names = (await readdir(dir))
    .filter((n) => SNAP_RE.test(n))
    .sort()
    .reverse();
  for (const name of names) {
    const file = path.join(dir, name);
    const scan = scanFrames(await readFile(file), Number.MAX_SAFE_INTEGER);
    const [first, second] = scan.frames;
    if (scan.problem === null && scan.frames.length === 2 && first !== undefined && second !== undefined) {
      const meta = JSON.parse(first.payload.toString('utf8')) as SnapshotMeta;
      return { meta, data: second.payload };
    }
    if (scan.problem === null && scan.frames.length === 1 && first !== undefined) {
      // Written before the data had a frame of its own.
      const v = JSON.parse(first.payload.toString('utf8')) as { meta: SnapshotMeta; data: string };
      return { meta: v.meta, data: v.data };
    }
    logger.warn({ snapshot: file, problem: scan.problem }, `raft snapshot ${name} is damaged; moved aside`);
    await rename(file, `${file}.corrupt`);
  }
  return null;
}
