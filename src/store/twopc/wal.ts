// The 2PC node's durable log on the shared disk layer: its LogRecords (PREPARED, COMMIT, ABORT,
// END, CAUGHT_UP) as CRC-framed JSON in numbered segment files of a data dir it locks, each segment
// beginning with its header, and snapshots beside them (the rooms' states plus the core's
// checkpoint, disk/snapshot-file.ts).
//
// Invariants: records are appended in lsn order; record number r of the disk layer (from 0) is
// lsn r + 1, so a snapshot at position S covers lsns 1..S and the records after it start at lsn
// S + 1. `durableLsn` only ever names records an fdatasync has covered. On open, the newest
// snapshot that reads back whole is loaded and the records after it read; a torn tail of the last
// segment is cut back to the last whole record (nothing after it was ever reported durable, so no
// vote, decision or apply depended on it); damage before intact records, a gap, or a segment that
// lost its header refuses the start (disk/recovery.ts). A new segment starts only at a moment when
// every record before it is durable (roll), so that a snapshot at that lsn covers whole segments.

import { mkdir } from 'node:fs/promises';
import type { RoomState } from '../../domain/index.ts';
import { frameRecord, listSegments, SegmentWriter } from '../disk/log.ts';
import { acquireDirLock, type DirLock } from '../disk/lock.ts';
import { compactBefore, loadNewestSnapshot, replayRecords } from '../disk/recovery.ts';
import { writeSnapshotFile } from '../disk/snapshot-file.ts';
import type { StoreLogger } from '../logger.ts';
import type { Checkpoint, LogRecord } from './types.ts';

/** JSON text of a record or checkpoint: byte arrays travel as {"b64": …} (Buffer's own toJSON would not read back). */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    return raw instanceof Uint8Array ? { b64: Buffer.from(raw).toString('base64') } : v;
  });
}

function decodeJson(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && 'b64' in value && typeof value.b64 === 'string') {
      return new Uint8Array(Buffer.from(value.b64, 'base64'));
    }
    return value;
  });
}

export function encodeRecord(record: LogRecord): Buffer {
  return Buffer.from(encodeJson(record), 'utf8');
}

export function decodeRecord(payload: Buffer): LogRecord {
  return decodeJson(payload.toString('utf8')) as LogRecord;
}

/** The checkpoint a snapshot carries (decoded back from the JSON value it was written as). */
function decodeCheckpoint(extra: unknown, file: string): Checkpoint {
  const value = decodeJson(JSON.stringify(extra ?? null)) as Partial<Checkpoint> | null;
  if (
    value === null ||
    !Number.isSafeInteger(value.lsn) ||
    !Array.isArray(value.rooms) ||
    !Array.isArray(value.prepared) ||
    !Array.isArray(value.committing) ||
    !Array.isArray(value.decisions)
  ) {
    throw new Error(`snapshot ${file} has no 2PC checkpoint: it was not written by the 2PC store`);
  }
  return value as Checkpoint;
}

export interface OpenedWal {
  readonly wal: TwoPcWal;
  /** The newest snapshot's checkpoint and rooms, or null (a log replayed from its start). */
  readonly snapshot: { readonly checkpoint: Checkpoint; readonly rooms: readonly RoomState[] } | null;
  /** Every durable record after the snapshot, in log order (lsn = snapshot lsn + index + 1). */
  readonly records: readonly LogRecord[];
}

export class TwoPcWal {
  private appended: number;
  private durable: number;
  private syncing: Promise<void> | null = null;
  private segment: SegmentWriter;
  private readonly lock: DirLock;
  readonly dir: string;

  private constructor(dir: string, segment: SegmentWriter, lock: DirLock, lastLsn: number) {
    this.dir = dir;
    this.segment = segment;
    this.lock = lock;
    this.appended = lastLsn;
    this.durable = lastLsn;
  }

  /** Locks the data dir, loads the newest snapshot, reads every whole record after it. */
  static async open(dir: string, logger: StoreLogger): Promise<OpenedWal> {
    await mkdir(dir, { recursive: true });
    const lock = await acquireDirLock(dir);
    try {
      const loaded = await loadNewestSnapshot(dir, logger);
      const snapshot =
        loaded === null
          ? null
          : {
              checkpoint: decodeCheckpoint(loaded.snapshot.extra, loaded.snapshot.path),
              rooms: loaded.snapshot.rooms,
            };
      const from = loaded?.snapshot.position ?? 0;
      if (snapshot !== null && snapshot.checkpoint.lsn !== from) {
        throw new Error(
          `snapshot ${loaded!.snapshot.path} says lsn ${snapshot.checkpoint.lsn} at position ${from}`,
        );
      }
      const records: LogRecord[] = [];
      const log = await replayRecords(dir, from, decodeRecord, (r) => records.push(r), {
        fsync: true,
        logger,
        headers: true,
      });
      if (log.segment === null) throw log.noSpace ?? new Error(`the 2PC log in ${dir} cannot be written`);
      return { wal: new TwoPcWal(dir, log.segment, lock, log.position), snapshot, records };
    } catch (err) {
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  /** Segment files of the log now (the oldest are deleted by compaction). */
  async segmentCount(): Promise<number> {
    return (await listSegments(this.dir)).length;
  }

  /**
   * Starts a new segment after the last record. Only when every record appended is durable and
   * none is appended until this resolves (the store holds its output meanwhile): then the segments
   * before it hold exactly lsns up to lastLsn, and a snapshot there may delete them all.
   */
  async roll(): Promise<void> {
    if (this.durable !== this.appended || this.syncing !== null) {
      throw new Error(`2pc log: roll at ${this.appended} with records not yet durable`);
    }
    if (this.segment.start === this.appended) return; // the current segment starts there already
    const next = await SegmentWriter.create(this.dir, this.appended, true, true);
    const old = this.segment;
    this.segment = next;
    await old.close();
  }

  /**
   * Writes a snapshot at the checkpoint's lsn (rooms beside it), then deletes the segments and
   * older snapshots it covers; returns its size and how many files went. Called after roll() at
   * that lsn, so no segment it deletes holds a later record.
   */
  async snapshot(
    checkpoint: Checkpoint,
    rooms: readonly RoomState[],
  ): Promise<{ readonly bytes: number; readonly removed: number }> {
    const { bytes } = await writeSnapshotFile(this.dir, checkpoint.lsn, rooms, true, encodeJson(checkpoint));
    const removed = await compactBefore(this.dir, checkpoint.lsn, true);
    return { bytes, removed };
  }

  /** Lsn of the last record appended (durable or not). */
  get lastLsn(): number {
    return this.appended;
  }

  /** Lsn of the last record an fsync covered. */
  get durableLsn(): number {
    return this.durable;
  }

  /** Appends the record at the next lsn (synchronously, to the page cache); returns its lsn. */
  append(lsn: number, record: LogRecord): void {
    if (lsn !== this.appended + 1) throw new Error(`2pc log: lsn ${lsn} appended after ${this.appended}`);
    this.segment.append(frameRecord(encodeRecord(record)));
    this.appended = lsn;
  }

  /**
   * Makes everything appended so far durable; resolves with the lsn covered. Calls made while an
   * fsync runs share the next one.
   */
  async sync(): Promise<number> {
    while (this.durable < this.appended) {
      if (this.syncing === null) {
        const target = this.appended;
        this.syncing = this.segment.sync().then(
          () => {
            this.durable = Math.max(this.durable, target);
            this.syncing = null;
          },
          (err: unknown) => {
            this.syncing = null;
            throw err;
          },
        );
      }
      await this.syncing;
    }
    return this.durable;
  }

  async close(): Promise<void> {
    await this.sync().catch(() => undefined);
    await this.segment.close();
    await this.lock.release();
  }
}
