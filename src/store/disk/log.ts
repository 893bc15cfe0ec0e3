// The command log: framed records in numbered segment files.
//
// A record is one Envelope as UTF-8 JSON, framed as
//
//   [u32 LE payload length][u32 LE CRC32 of (length bytes + payload)][payload]
//
// The checksum covers the length too, so a torn or corrupted length is caught as surely as a torn
// payload. Records are numbered from 0 across the whole log (the log "position" is how many records
// precede a point); a segment file is named after the number of its first record,
// `log-<20 digits>.log`, so the segments of a data dir order by name and a snapshot's position says
// exactly which records it covers.
//
// A segment may begin with a header frame naming its start (`segmentHeader`), written with the file
// before the file gets its name (temp file, fsync, rename). Where a data dir says its segments have
// headers (recovery.ts's LOG-FORMAT marker), an empty segment, or one whose first frame is not its
// header, was emptied or cut from the front after it was written: damage, never a fresh segment.

import { writeSync } from 'node:fs';
import { link, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { FILE_MODE } from './private.ts';

export const RECORD_HEADER_BYTES = 8;
/** Larger than any valid command; a bigger length in a header is corruption, not a record. */
export const MAX_RECORD_BYTES = 1 << 20;

const SEGMENT_RE = /^log-(\d{20})\.log$/;

export function frameRecord(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload, crc32(out.subarray(0, 4))), 4);
  payload.copy(out, RECORD_HEADER_BYTES);
  return out;
}

export interface Frame {
  readonly payload: Buffer;
  /** Byte offset of the frame's header in the scanned buffer. */
  readonly offset: number;
}

export interface FrameScan {
  readonly frames: readonly Frame[];
  /** Bytes from the start up to the end of the last good frame. */
  readonly validBytes: number;
  /** Why scanning stopped before the end of the buffer; null when every byte was a good frame. */
  readonly problem: string | null;
}

/** Reads frames from the start of buf and stops at the first torn or corrupt one. */
export function scanFrames(buf: Buffer, maxRecordBytes = MAX_RECORD_BYTES): FrameScan {
  const frames: Frame[] = [];
  let offset = 0;
  let problem: string | null = null;
  while (offset < buf.length) {
    if (buf.length - offset < RECORD_HEADER_BYTES) {
      problem = `torn record header at byte ${offset}`;
      break;
    }
    const length = buf.readUInt32LE(offset);
    if (length > maxRecordBytes) {
      problem = `impossible record length ${length} at byte ${offset}`;
      break;
    }
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > buf.length) {
      problem = `torn record at byte ${offset} (${length} bytes announced, ${buf.length - offset - RECORD_HEADER_BYTES} present)`;
      break;
    }
    const payload = buf.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32(payload, crc32(buf.subarray(offset, offset + 4))) !== buf.readUInt32LE(offset + 4)) {
      problem = `checksum mismatch in record at byte ${offset}`;
      break;
    }
    frames.push({ payload, offset });
    offset = end;
  }
  return { frames, validBytes: offset, problem };
}

/**
 * The offset of the first intact frame after `from`, or null. A crash can only tear the end of the
 * log (the batch being written when it stopped), so damage with an intact record after it is not a
 * torn tail: it is corruption of records that were durable, and cutting there would lose them.
 * Only candidate offsets whose length fits are checksummed; the scan stops at the first intact
 * frame, which for real corruption is the next record, a few hundred bytes on.
 */
export function intactFrameAfter(
  buf: Buffer,
  from: number,
  maxRecordBytes = MAX_RECORD_BYTES,
): number | null {
  for (let offset = from + 1; offset + RECORD_HEADER_BYTES < buf.length; offset++) {
    const length = buf.readUInt32LE(offset);
    if (length === 0 || length > maxRecordBytes) continue;
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > buf.length) continue;
    const crc = crc32(
      buf.subarray(offset + RECORD_HEADER_BYTES, end),
      crc32(buf.subarray(offset, offset + 4)),
    );
    if (crc === buf.readUInt32LE(offset + 4)) return offset;
  }
  return null;
}

/** A log that is damaged where a crash cannot damage it: the store refuses to start on it. */
export class DamagedLogError extends Error {
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, problem: string, dataDir: string) {
    super(
      `the log ${file} is damaged at byte ${offset} (${problem}), and intact records follow: this is ` +
        'not a torn tail left by a crash, so cutting it would lose acknowledged commands. Nothing was ' +
        `changed. Keep a copy of ${dataDir}, then run \`chorus repair --data-dir ${dataDir}\` to keep ` +
        'the records before the damage and move the rest aside.',
    );
    this.name = 'DamagedLogError';
    this.file = file;
    this.offset = offset;
  }
}

export interface SegmentFile {
  /** Number of the segment's first record in the whole log. */
  readonly start: number;
  readonly path: string;
}

/** A file named `<prefix><20 digits><suffix>`: the number says where it stands in the log. */
export function numberedPath(dir: string, prefix: string, n: number, suffix: string): string {
  return path.join(dir, `${prefix}${String(n).padStart(20, '0')}${suffix}`);
}

/** The files of dir whose name `re` matches (group 1: their number), in the order of their numbers. */
export async function listNumbered(dir: string, re: RegExp): Promise<Array<{ n: number; path: string }>> {
  const files: Array<{ n: number; path: string }> = [];
  for (const name of await readdir(dir)) {
    const m = re.exec(name);
    if (m) files.push({ n: Number(m[1]), path: path.join(dir, name) });
  }
  return files.sort((a, b) => a.n - b.n);
}

export function segmentPath(dir: string, start: number): string {
  return numberedPath(dir, 'log-', start, '.log');
}

/** The log segments in dir, oldest first. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  return (await listNumbered(dir, SEGMENT_RE)).map((f) => ({ start: f.n, path: f.path }));
}

/** Makes a directory's entries (a created, renamed or removed file) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The first frame of a segment that carries a header: it names the segment's first record. */
export function segmentHeader(start: number): Buffer {
  return frameRecord(Buffer.from(JSON.stringify({ chorusLogSegment: 1, start })));
}

/** The start a header frame's payload names, or null when the payload is not a segment header. */
export function headerStart(payload: Buffer): number | null {
  // Commands are JSON objects too; a header is told apart by its one key, first.
  if (!payload.subarray(0, 20).toString('latin1').startsWith('{"chorusLogSegment":')) return null;
  try {
    const value = JSON.parse(payload.toString('utf8')) as { chorusLogSegment?: unknown; start?: unknown };
    return value.chorusLogSegment === 1 && Number.isSafeInteger(value.start) ? (value.start as number) : null;
  } catch {
    return null;
  }
}

/** Whether a segment's frames begin with its own header (a segment starting at `start`). */
export function beginsWithHeader(frames: readonly Frame[], start: number): boolean {
  return frames.length > 0 && headerStart(frames[0]!.payload) === start;
}

/** The segment being appended to. Only the store's writer loop calls it, one call at a time. */
export class SegmentWriter {
  readonly start: number;
  readonly path: string;
  private readonly handle: FileHandle;
  private bytes: number;

  private constructor(start: number, file: string, handle: FileHandle, bytes: number) {
    this.start = start;
    this.path = file;
    this.handle = handle;
    this.bytes = bytes;
  }

  /**
   * Creates a new segment and makes its name durable before anything is written to it. With
   * `header`, the file gets its header frame before it gets its name (written to a temp file,
   * fsynced, renamed), so a segment without its header is never a state a crash can leave.
   */
  static async create(dir: string, start: number, sync: boolean, header = false): Promise<SegmentWriter> {
    const file = segmentPath(dir, start);
    if (header) return SegmentWriter.createWithHeader(dir, file, start, sync);
    const handle = await open(file, 'wx', FILE_MODE);
    try {
      if (sync) {
        await handle.sync();
        await syncDir(dir);
      }
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new SegmentWriter(start, file, handle, 0);
  }

  private static async createWithHeader(
    dir: string,
    file: string,
    start: number,
    sync: boolean,
  ): Promise<SegmentWriter> {
    const temp = `${file}.tmp`;
    const first = segmentHeader(start);
    const handle = await open(temp, 'wx', FILE_MODE);
    try {
      await handle.write(first, 0, first.length, 0);
      if (sync) await handle.sync();
      await link(temp, file); // fails rather than replace a segment that exists
      await unlink(temp);
      if (sync) await syncDir(dir);
    } catch (err) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    return new SegmentWriter(start, file, handle, first.length);
  }

  /** Opens an existing segment to append after its first `validBytes` bytes (dropping the rest). */
  static async reopen(segment: SegmentFile, validBytes: number, sync: boolean): Promise<SegmentWriter> {
    const handle = await open(segment.path, 'r+');
    try {
      const { size } = await handle.stat();
      if (size !== validBytes) {
        await handle.truncate(validBytes);
        if (sync) await handle.sync();
      }
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new SegmentWriter(segment.start, segment.path, handle, validBytes);
  }

  get size(): number {
    return this.bytes;
  }

  /**
   * Writes data after the segment's end, synchronously: a batch goes into the page cache in
   * microseconds, and the caller can start the fsync at once. Through the thread pool, the write's
   * completion waited behind whatever the event loop was doing (answering the previous batch), and
   * the disk sat idle meanwhile.
   */
  append(data: Buffer): void {
    let done = 0;
    while (done < data.length) {
      done += writeSync(this.handle.fd, data, done, data.length - done, this.bytes + done);
    }
    this.bytes += data.length;
  }

  /** fdatasync: the appended bytes and the file size are on disk when this resolves. */
  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  /** Drops everything after `size` bytes (undoing a write whose durability is unknown). */
  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size);
    this.bytes = size;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
