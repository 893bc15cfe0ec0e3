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
// Snapshots are files `raft-snapshot-<index>.snap` (one frame {meta, data}), written to a temp file,
// fsynced and renamed into place, the directory fsynced. Then a new segment begins with a base
// record, the hard state and the entries after the snapshot, is fsynced, and only then are older
// segments and snapshots deleted: a crash at any point leaves a loadable dir. If a crash left a
// snapshot newer than the log's base, start applies the Raft rule (thesis Figure 5.13 / §5):
// entries after the snapshot are kept only if the log holds the snapshot's own entry with its term.
//
// Invariants: only one call at a time (the store's Ready loop awaits each); a failed write makes
// the storage refuse every later one (fail-stop: the file's content after a failed fsync is unknown).

import { readdir, readFile, rename, unlink, open } from 'node:fs/promises';
import path from 'node:path';
import { frameRecord, listSegments, scanFrames, SegmentWriter, syncDir } from '../disk/log.ts';
import type { StoreLogger } from '../logger.ts';
import type { RaftPersisted } from './node.ts';
import type { Entry, EntryType, HardState, Snapshot, SnapshotMeta } from './types.ts';

/** A record carries one command (≤ 1 MiB) in JSON, escaped: room for the escaping. */
const MAX_WAL_RECORD_BYTES = 8 << 20;
/** A segment this large is closed and a new one started (old ones go at the next compaction). */
const SEGMENT_BYTES = 64 << 20;
const SNAP_RE = /^raft-snapshot-(\d{20})\.snap$/;
const SNAP_TEMP_RE = /^raft-snapshot-\d{20}\.snap\.tmp$/;

type WalRecord =
  | { k: 'e'; term: number; index: number; type: EntryType; data: string }
  | { k: 'h'; term: number; vote: string; commit: number }
  | { k: 'b'; index: number; term: number };

/** Entry data as the WAL and the wire carry it: text (Chorus's commands and conf changes are JSON). */
export function dataText(data: Entry['data']): string {
  return typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
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
      if (SNAP_TEMP_RE.test(name)) await unlink(path.join(dir, name)); // an interrupted snapshot
    }
    const snapshot = await loadNewestSnapshot(dir, logger);
    const segments = await listSegments(dir);
    let entries: Entry[] = [];
    let hardState: HardState = { term: 0, vote: '', commit: 0 };
    let base = { index: 0, term: 0 };
    let tail: { validBytes: number } | null = null;
    for (const [i, segment] of segments.entries()) {
      const buf = await readFile(segment.path);
      const scan = scanFrames(buf, MAX_WAL_RECORD_BYTES);
      for (const frame of scan.frames) {
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
      if (scan.problem !== null) {
        const dropped = buf.length - scan.validBytes;
        logger.warn(
          {
            segment: segment.path,
            validBytes: scan.validBytes,
            droppedBytes: dropped,
            problem: scan.problem,
          },
          i === segments.length - 1
            ? `dropped ${dropped} bytes from the end of the raft log (${scan.problem}); they were never acknowledged`
            : `ignoring ${dropped} damaged bytes at the end of ${path.basename(segment.path)} (${scan.problem})`,
        );
      }
      if (i === segments.length - 1) tail = { validBytes: scan.validBytes };
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
    const segment =
      last !== undefined && tail !== null
        ? await SegmentWriter.reopen(last, tail.validBytes, sync)
        : await SegmentWriter.create(dir, 1, sync);
    const storage = new RaftStorage(options, segment);
    const applied = snapshot?.meta.index ?? 0;
    logger.info(
      { dir, snapshot: applied, entries: entries.length, term: hardState.term, commit: hardState.commit },
      'raft storage loaded',
    );
    return { storage, persisted: { hardState, snapshot, entries, applied } };
  }

  /**
   * Makes a Ready's durable part durable: its snapshot (replacing the whole log), its entries, then
   * its hard state, with one fsync for all of them. Resolves once they are on disk.
   */
  async save(
    snapshot: Snapshot | null,
    entries: readonly Entry[],
    hardState: HardState | null,
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
      if (this.fsync) {
        await this.segment.sync();
        this.fsyncs++;
      }
      if (this.segment.size >= SEGMENT_BYTES) await this.rollSegment();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * Local compaction: `snapshot` (taken at the applied index) is written, the log restarts after it
   * with `hardState` and the entries after it (`tail`), and everything older is deleted.
   */
  async compact(snapshot: Snapshot, tail: readonly Entry[], hardState: HardState): Promise<void> {
    this.assertUsable();
    try {
      await this.writeSnapshot(snapshot);
      await this.restartLog(
        snapshot.meta,
        tail.filter((e) => e.index > snapshot.meta.index),
        hardState,
      );
    } catch (err) {
      throw this.fail(err);
    }
  }

  async close(): Promise<void> {
    await this.segment.close().catch(() => undefined);
  }

  private async writeSnapshot(snapshot: Snapshot): Promise<void> {
    const final = snapshotFilePath(this.dir, snapshot.meta.index);
    const temp = `${final}.tmp`;
    const frame = frameRecord(
      Buffer.from(JSON.stringify({ meta: snapshot.meta, data: dataText(snapshot.data) }), 'utf8'),
    );
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(frame);
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
    const next = await SegmentWriter.create(this.dir, this.segment.start + 1, this.fsync);
    const frames = [baseRecord(meta.index, meta.term), ...entries.map(entryRecord)];
    if (hs !== null) frames.push(hardRecord(hs));
    next.append(Buffer.concat(frames));
    if (this.fsync) {
      await next.sync();
      this.fsyncs++;
    }
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

  /** Continues the log in a new file (old files stay until the next compaction). */
  private async rollSegment(): Promise<void> {
    const next = await SegmentWriter.create(this.dir, this.segment.start + 1, this.fsync);
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
    const frame = scan.frames[0];
    if (scan.problem === null && scan.frames.length === 1 && frame !== undefined) {
      const v = JSON.parse(frame.payload.toString('utf8')) as { meta: SnapshotMeta; data: string };
      return { meta: v.meta, data: v.data };
    }
    logger.warn({ snapshot: file, problem: scan.problem }, `raft snapshot ${name} is damaged; moved aside`);
    await rename(file, `${file}.corrupt`);
  }
  return null;
}
