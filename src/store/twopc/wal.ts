// The 2PC node's durable log on the shared disk layer: its LogRecords (PREPARED, COMMIT, ABORT,
// END, CAUGHT_UP) as CRC-framed JSON in one segment file of a data dir it locks.
//
// Invariants: records are appended in lsn order (lsn = index + 1 over the whole log, as
// TwoPcNode.restart expects); `durableLsn` only ever names records an fdatasync has covered; on
// open, a torn or corrupt tail is cut back to the last whole record (nothing after it was ever
// reported durable, so no vote, decision or apply depended on it). The core replays the whole log
// (it is the rooms' data as well), so there is no compaction yet and one segment is enough.

import { mkdir, readFile } from 'node:fs/promises';
import { frameRecord, listSegments, scanFrames, SegmentWriter } from '../disk/log.ts';
import { acquireDirLock, type DirLock } from '../disk/lock.ts';
import type { StoreLogger } from '../logger.ts';
import type { LogRecord } from './types.ts';

/** A record as JSON: the command bytes travel as base64 (Buffer's own toJSON would not read back). */
export function encodeRecord(record: LogRecord): Buffer {
  const b64 = (bytes: Uint8Array): { b64: string } => ({ b64: Buffer.from(bytes).toString('base64') });
  const plain =
    record.kind === 'PREPARED'
      ? { ...record, command: b64(record.command) }
      : record.kind === 'CAUGHT_UP'
        ? { ...record, entry: { ...record.entry, command: b64(record.entry.command) } }
        : record;
  return Buffer.from(JSON.stringify(plain), 'utf8');
}

export function decodeRecord(payload: Buffer): LogRecord {
  return JSON.parse(payload.toString('utf8'), (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && 'b64' in value && typeof value.b64 === 'string') {
      return new Uint8Array(Buffer.from(value.b64, 'base64'));
    }
    return value;
  }) as LogRecord;
}

export interface OpenedWal {
  readonly wal: TwoPcWal;
  /** Every durable record, in log order. */
  readonly records: readonly LogRecord[];
}

export class TwoPcWal {
  private appended: number;
  private durable: number;
  private syncing: Promise<void> | null = null;
  private readonly segment: SegmentWriter;
  private readonly lock: DirLock;

  private constructor(segment: SegmentWriter, lock: DirLock, count: number) {
    this.segment = segment;
    this.lock = lock;
    this.appended = count;
    this.durable = count;
  }

  /** Locks the data dir, reads every whole record and cuts a torn tail off. */
  static async open(dir: string, logger: StoreLogger): Promise<OpenedWal> {
    await mkdir(dir, { recursive: true });
    const lock = await acquireDirLock(dir);
    try {
      const segments = await listSegments(dir);
      const first = segments[0];
      if (segments.length > 1 || (first !== undefined && first.start !== 0)) {
        throw new Error(`the 2PC log in ${dir} has segments this version does not write; refusing to start`);
      }
      if (first === undefined) {
        return { wal: new TwoPcWal(await SegmentWriter.create(dir, 0, true), lock, 0), records: [] };
      }
      const buf = await readFile(first.path);
      const scan = scanFrames(buf);
      const records: LogRecord[] = [];
      let validBytes = scan.validBytes;
      let problem = scan.problem;
      for (const frame of scan.frames) {
        try {
          records.push(decodeRecord(frame.payload));
        } catch {
          validBytes = frame.offset;
          problem = `record at byte ${frame.offset} is not JSON`;
          break;
        }
      }
      if (problem !== null) {
        logger.warn(
          { dataDir: dir, validBytes, droppedBytes: buf.length - validBytes, problem },
          `2pc log: dropped ${buf.length - validBytes} bytes from its end (${problem}); never reported durable`,
        );
      }
      const segment = await SegmentWriter.reopen(first, validBytes, true);
      return { wal: new TwoPcWal(segment, lock, records.length), records };
    } catch (err) {
      await lock.release().catch(() => undefined);
      throw err;
    }
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
