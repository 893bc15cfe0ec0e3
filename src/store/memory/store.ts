// The embedded store: one process orders every command of every room by appending it to one log.
//
// submit() -> the command joins the current batch -> the writer loop appends the batch to the log
// segment and fsyncs once (group commit: everything submitted while the previous fsync ran shares
// the next one) -> only then are the batch's commands applied, in log order, through RoomReplica,
// and each submission is answered with the outcome its own command had. So nothing is visible to a
// reader, a subscriber or the submitter before it is durable, and the log alone decides the order.
// While one batch is applied and answered, the next one is already being written and fsynced.
//
// Every submitted command is logged, including ones the state machine will refuse: validity depends
// on the state at the command's place in the order, which is only known once it has one. Logging
// first and applying after the fsync keeps one rule for the live path and for recovery (replay the
// log through the same deterministic apply) at the cost of some disk for refused commands, which
// the next snapshot compacts away. For the same reason what is applied live is the envelope decoded
// back from the logged JSON, never the caller's object: replay can only ever see the JSON.
//
// Every `snapshotEvery` records (and on close) all rooms are written to a snapshot with the log
// position they reflect (once snapshots are large, only when the log since the last one has grown
// as large as it, so that snapshots never cost more than the log itself). The log moves on to a new
// segment at that position and the snapshot is written in the background, beside the writer; once
// it is durable, the segments and snapshots it covers are deleted. Start = load the newest valid
// snapshot + replay the records after it; a torn tail (a crash mid-write) is cut off, since none of
// it was acknowledged.

import { mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ChorusError, type Envelope, type RoomState } from '../../domain/index.ts';
import { decodeCommand, encodeCommand } from '../codec.ts';
import { Lifecycle } from '../lifecycle.ts';
import type { StoreLogger } from '../logger.ts';
import { invalidOption, resolveLogger, resolveNumbers, type OptionTable } from '../options.ts';
import { RoomReplica } from '../replica.ts';
import { RoomTable, type HeldRoom } from '../room-table.ts';
import type { CommitOutcome, FeedListener, RoomListing, Store, StoreHealth, Subscription } from '../types.ts';
import { frameRecord, listSegments, scanFrames, SegmentWriter, syncDir } from '../disk/log.ts';
import { acquireDirLock, type DirLock } from '../disk/lock.ts';
import {
  listSnapshots,
  readSnapshotFile,
  writeSnapshotFile,
  type LoadedSnapshot,
} from '../disk/snapshot-file.ts';

export interface MemoryStoreOptions {
  /** Directory for the log, snapshots and lock; created when missing. */
  readonly dataDir: string;
  /** Records between automatic snapshots (default 10 000). */
  readonly snapshotEvery?: number | undefined;
  /**
   * fsync the log before acknowledging (default true). false survives a process crash but not a
   * machine crash or power loss; for tests and throwaway data only.
   */
  readonly fsync?: boolean | undefined;
  readonly logger?: StoreLogger | undefined;
}

export const DEFAULT_SNAPSHOT_EVERY = 10_000;
/**
 * A snapshot larger than this is written again only once the log since it holds as many bytes:
 * rewriting every room costs in proportion to all the rooms, so with much state a fixed record
 * count would spend more on snapshots than on the log. A restart then replays at most a
 * snapshot's worth of log.
 */
const SNAPSHOT_AMORTISED_FROM_BYTES = 1 << 20;
const SNAPSHOT_TEMP_RE = /^snapshot-\d{20}\.snap\.tmp$/;
export const DEFAULT_READ_TIMEOUT_MS = 5_000;

/** Counters for tests, metrics and benchmarks. */
export interface MemoryStoreStats {
  /** Records in the log: the number of commands ever ordered by this data dir. */
  readonly position: number;
  /** Records appended to the log by this process. */
  readonly writes: number;
  /** Of those, records whose batch has been fsynced (with fsync: false, fully written). */
  readonly syncedWrites: number;
  /** Batches appended by this process (one write call each). */
  readonly batches: number;
  /** fsyncs of the log by this process (0 with fsync: false). */
  readonly fsyncs: number;
  /** Snapshots written and compacted (counted once the old files are gone). */
  readonly snapshots: number;
  /** Log position of the newest snapshot on disk (0 when none). */
  readonly snapshotPosition: number;
  /** Replicas held, including ones only kept for a waiting read or subscriber. */
  readonly replicas: number;
  readonly rooms: number;
  /** File name of the segment being appended to. */
  readonly segment: string;
  /** The writer loop is running: a batch or a snapshot is being written. */
  readonly busy: boolean;
}

/**
 * A write waiting for its batch. It carries its own resolver, so each submission is answered with
 * the outcome of its own log record. (PendingCommands, keyed by commandId, is for stores whose
 * order comes back from elsewhere; here the writer holds the batch, and two submissions with the
 * same commandId can rightly get different answers, e.g. a refusal and then a later success.)
 */
interface Submission {
  /** The envelope as it reads back from the log. */
  readonly env: Envelope;
  readonly frame: Buffer;
  readonly resolve: (outcome: CommitOutcome) => void;
  readonly reject: (err: Error) => void;
}

const OPTIONS: OptionTable<'snapshotEvery'> = {
  snapshotEvery: [DEFAULT_SNAPSHOT_EVERY, 1, Number.MAX_SAFE_INTEGER],
};

const defaultLogger: StoreLogger = {
  info: () => undefined,
  warn: (obj, msg) => console.warn(`chorus memory store: ${msg ?? ''}`, obj),
};

export async function openMemoryStore(options: MemoryStoreOptions): Promise<MemoryStore> {
  const store = new MemoryStore(options);
  await store.start();
  return store;
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly dataDir: string;
  private readonly snapshotEvery: number;
  private readonly fsync: boolean;
  private readonly logger: StoreLogger;

  private readonly life: Lifecycle;
  private lock: DirLock | null = null;
  private segment: SegmentWriter | null = null;
  /** Every room: this store applies every command, so an empty replica is dropped once unused. */
  private readonly rooms: RoomTable<HeldRoom>;

  private queue: Submission[] = [];
  private writer: Promise<void> | null = null;
  /** The snapshot being written in the background, if any (at most one at a time). */
  private snapshotting: Promise<void> | null = null;
  /** Set when the log could not be written: the store stops taking writes (fail-stop). */
  private failure: Error | null = null;

  /** Records in the log, counting only batches that are written (and fsynced) in full. */
  private position = 0;
  private snapshotPosition = 0;
  /** Position at which the writer takes the next automatic snapshot. */
  private nextSnapshotAt = 0;
  /** Size of the newest snapshot file (0 when none). */
  private snapshotBytes = 0;
  private writes = 0;
  private syncedWrites = 0;
  private batches = 0;
  private fsyncs = 0;
  private snapshots = 0;

  constructor(options: MemoryStoreOptions) {
    if (typeof options.dataDir !== 'string' || options.dataDir === '') {
      throw invalidOption('memory store', 'a data dir is needed', 'dataDir');
    }
    this.dataDir = path.resolve(options.dataDir);
    this.snapshotEvery = resolveNumbers('memory store', OPTIONS, options).snapshotEvery;
    this.fsync = options.fsync ?? true;
    this.logger = resolveLogger('memory store', options.logger, defaultLogger);
    this.life = new Lifecycle(`memory store at ${this.dataDir}`, { dataDir: this.dataDir });
    this.rooms = new RoomTable<HeldRoom>({
      life: this.life,
      readTimeoutMs: DEFAULT_READ_TIMEOUT_MS,
      load: (roomId) => Promise.resolve(this.hold(roomId)),
      dropEmpty: true,
    });
  }

  // ---- Start and recovery -----------------------------------------------------------------------

  start(): Promise<void> {
    return this.life.start(() => this.startUp());
  }

  private async startUp(): Promise<void> {
    try {
      await mkdir(this.dataDir, { recursive: true });
      this.lock = await acquireDirLock(this.dataDir);
      await this.recover();
      if (this.life.closeRequested) throw this.unavailable(); // close() was called while starting
    } catch (err) {
      await this.segment?.close().catch(() => undefined);
      await this.lock?.release().catch(() => undefined);
      this.segment = null;
      this.lock = null;
      this.rooms.closeAll(this.unavailable());
      throw err;
    }
  }

  private async recover(): Promise<void> {
    const dir = this.dataDir;
    for (const name of await readdir(dir)) {
      if (SNAPSHOT_TEMP_RE.test(name)) await unlink(path.join(dir, name)); // an interrupted snapshot
    }

    const snap = await this.loadSnapshot();
    let position = snap?.position ?? 0;
    this.snapshotPosition = position;
    this.snapshotBytes = snap ? (await stat(snap.path)).size : 0;
    for (const state of snap?.rooms ?? []) {
      this.rooms.add({ id: state.id, replica: new RoomReplica(state.id, state, this.logger), busy: 0 });
    }

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
          this.applyRecord(env);
          position++;
          replayed++;
        }
        record++;
      }
      if (problem !== null) {
        const dropped = buf.length - validBytes;
        // Only the last segment can have a torn tail (a segment is fsynced before the next one is
        // started); damage elsewhere is caught by the gap check above if it loses anything.
        this.logger.warn(
          { segment: segment.path, validBytes, droppedBytes: dropped, problem },
          isLast
            ? `dropped ${dropped} bytes from the end of the log (${problem}); they were never acknowledged`
            : `ignoring ${dropped} damaged bytes at the end of ${path.basename(segment.path)} (${problem})`,
        );
      }
      if (isLast) tail = { index: i, end: record, validBytes };
    }

    const last = tail === null ? undefined : segments[tail.index];
    if (tail !== null && last !== undefined && tail.end === position) {
      this.segment = await SegmentWriter.reopen(last, tail.validBytes, this.fsync);
    } else {
      // No log yet, or the snapshot is ahead of it (only possible without fsync): start afresh.
      this.segment = await SegmentWriter.create(dir, position, this.fsync);
    }
    this.position = position;
    this.nextSnapshotAt = this.snapshotPosition + this.snapshotEvery;
    this.logger.info(
      {
        dataDir: dir,
        snapshotPosition: this.snapshotPosition,
        replayed,
        position,
        rooms: this.rooms.roomCount,
      },
      'memory store recovered',
    );
  }

  /** The newest snapshot that reads back whole; damaged ones are renamed aside, not trusted. */
  private async loadSnapshot(): Promise<LoadedSnapshot | null> {
    const files = await listSnapshots(this.dataDir);
    for (const file of files.reverse()) {
      try {
        return await readSnapshotFile(file.path);
      } catch (err) {
        this.logger.warn(
          { snapshot: file.path, err: String(err) },
          `snapshot ${path.basename(file.path)} is unreadable; moved aside as .corrupt, trying an older one`,
        );
        await rename(file.path, `${file.path}.corrupt`);
      }
    }
    return null;
  }

  // ---- Writes -----------------------------------------------------------------------------------

  // async, so that a refusal is a rejection; everything up to the queue push still runs at once.
  async submit(env: Envelope): Promise<CommitOutcome> {
    if (!this.life.isOpen || this.failure !== null) throw this.unavailable();
    const encoded = encodeCommand(env);
    return new Promise((resolve, reject) => {
      this.queue.push({ env: encoded.env, frame: frameRecord(encoded.bytes), resolve, reject });
      this.startWriter();
    });
  }

  private startWriter(): void {
    if (this.writer !== null) return;
    this.writer = this.runWriter();
  }

  /**
   * The single writer: batches until the queue is empty, then exits (and is restarted by submit).
   * It is a two-stage pipeline: as soon as a batch is durable, the next batch's write and fsync are
   * started, and only then is the durable batch applied and answered. Applying and answering cost
   * about as much CPU as the fsync takes on the disk, so the two overlap instead of alternating.
   */
  private async runWriter(): Promise<void> {
    // Let everything submitted in this turn of the event loop join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let durable: Submission[] | null = null;
    try {
      while (this.queue.length > 0 && this.failure === null) {
        const batch = this.queue;
        this.queue = [];
        const written = this.persist(batch);
        // The previous batch is applied before anything of this one can be, so log order holds.
        if (durable !== null) this.publish(durable);
        durable = (await written) ? batch : null;
        if (durable !== null && this.snapshotDue()) {
          this.publish(durable);
          durable = null;
          await this.beginSnapshot();
        }
      }
      if (durable !== null) this.publish(durable);
    } catch (err) {
      // persist and beginSnapshot handle their own I/O errors; this is a bug, so stop writing.
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.logger.warn({ err: String(err) }, 'the memory store writer failed; it stops taking writes');
      // A durable batch not yet answered is refused too (rejecting one already answered does nothing).
      for (const s of [...(durable ?? []), ...this.queue.splice(0)]) s.reject(this.unavailable());
    } finally {
      // No await between the loop's last check and this line, so no submission can slip in unseen.
      this.writer = null;
    }
  }

  /** Appends and fsyncs a batch; false when that failed (the store has then stopped taking writes). */
  private async persist(batch: Submission[]): Promise<boolean> {
    const segment = this.segment!;
    const before = segment.size;
    try {
      // No await before the fsync starts: it then runs while the previous batch is answered.
      segment.append(batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((s) => s.frame)));
      this.batches++;
      this.writes += batch.length;
      if (this.fsync) {
        await segment.sync();
        this.fsyncs++;
      }
    } catch (err) {
      await this.failStop(err, batch, segment, before);
      return false;
    }
    this.syncedWrites += batch.length;
    this.position += batch.length;
    return true;
  }

  /** Applies a durable batch in log order and answers each submission with its own outcome. */
  private publish(batch: Submission[]): void {
    for (const submission of batch) submission.resolve(this.applyRecord(submission.env));
  }

  /**
   * The log could not be written. After a failed write or fsync the file's content is unknown, so
   * rather than guess, the store stops taking writes: it tries to cut the file back to the last
   * acknowledged record (so none of the failed batch comes back at restart) and refuses everything
   * from now on. Nothing of the batch was applied or acknowledged.
   */
  private async failStop(
    err: unknown,
    batch: Submission[],
    segment: SegmentWriter,
    before: number,
  ): Promise<void> {
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.logger.warn(
      { dataDir: this.dataDir, segment: segment.path, err: String(err) },
      'could not write the command log; the memory store stops taking writes until restarted',
    );
    try {
      await segment.truncate(before);
      if (this.fsync) await segment.sync();
    } catch {
      // Nothing more to do: at restart the scan keeps only whole, checksummed records.
    }
    const error = this.unavailable();
    for (const s of [...batch, ...this.queue]) s.reject(error);
    this.queue = [];
  }

  /**
   * Applies one logged command, live or during replay (RoomReplica turns a throwing apply into a
   * command without effect, identically in both paths). A replica left without a room (a refused command for a room that does not exist) is dropped
   * unless someone waits on it.
   */
  private applyRecord(env: Envelope): CommitOutcome {
    const roomId = typeof env?.roomId === 'string' ? env.roomId : String(env?.roomId);
    const room = this.hold(roomId);
    const outcome = room.replica.applyCommitted(env);
    this.rooms.release(room);
    return outcome;
  }

  /** The room's entry, made empty when there is none (a command or a read for a new room). */
  private hold(roomId: string): HeldRoom {
    return (
      this.rooms.get(roomId) ??
      this.rooms.add({ id: roomId, replica: new RoomReplica(roomId, null, this.logger), busy: 0 })
    );
  }

  // ---- Snapshots --------------------------------------------------------------------------------

  private snapshotDue(): boolean {
    if (this.snapshotting !== null || this.position < this.nextSnapshotAt) return false;
    // The current segment starts where the last snapshot was taken: its size is the log written since.
    return this.snapshotBytes < SNAPSHOT_AMORTISED_FROM_BYTES || this.segment!.size >= this.snapshotBytes;
  }

  /**
   * Starts a snapshot of every room at the current position. The states are taken now (they are
   * immutable, and exactly reflect `position`) and the log moves on to a new segment starting at
   * `position`; the file is then written in the background while the writer goes on committing.
   * Only once the snapshot is durable are the segments and snapshots it covers deleted, so a crash
   * meanwhile (or a failed snapshot) loses nothing: the previous snapshot and every segment after
   * it are still there. Called by the writer loop between batches, so no append is in flight.
   */
  private async beginSnapshot(): Promise<void> {
    const position = this.position;
    const states: RoomState[] = [];
    for (const { replica } of this.rooms.values()) if (replica.state) states.push(replica.state);
    // Whatever happens, the next attempt comes after another snapshotEvery records, not every batch.
    this.nextSnapshotAt = position + this.snapshotEvery;
    try {
      if (this.segment!.start < position) {
        const next = await SegmentWriter.create(this.dataDir, position, this.fsync);
        const old = this.segment!;
        this.segment = next;
        await old.close();
      }
    } catch (err) {
      // Without a segment starting at `position`, compaction would delete records after it.
      this.logger.warn(
        { dataDir: this.dataDir, position, err: String(err) },
        'could not start a new log segment; no snapshot this time',
      );
      return;
    }
    this.snapshotting = this.writeSnapshot(position, states).finally(() => {
      this.snapshotting = null;
    });
  }

  private async writeSnapshot(position: number, states: readonly RoomState[]): Promise<void> {
    const dir = this.dataDir;
    try {
      const { file, bytes } = await writeSnapshotFile(dir, position, states, this.fsync);
      this.snapshotPosition = position;
      this.snapshotBytes = bytes;
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
      if (this.fsync && removed > 0) await syncDir(dir);
      this.snapshots++;
      this.logger.info(
        { snapshot: file, position, rooms: states.length, removedFiles: removed },
        'snapshot written',
      );
    } catch (err) {
      this.logger.warn(
        { dataDir: dir, position, err: String(err) },
        'could not write a snapshot; will retry later',
      );
    }
  }

  // ---- Reads ------------------------------------------------------------------------------------

  read(roomId: string, minVersion?: number, timeoutMs?: number): Promise<RoomState | null> {
    return this.rooms.read(roomId, minVersion, timeoutMs);
  }

  subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription> {
    return this.rooms.subscribe(roomId, afterVersion, listener);
  }

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    return this.rooms.listings(limit);
  }

  loadedRooms(): readonly string[] {
    return this.rooms.loadedRooms();
  }

  health(): StoreHealth {
    if (this.failure !== null) {
      return { ready: false, detail: `memory store at ${this.dataDir} failed: ${this.failure.message}` };
    }
    const notOpen = this.life.notOpenDetail();
    if (notOpen !== null) return { ready: false, detail: notOpen };
    return {
      ready: true,
      detail: `memory store at ${this.dataDir}: ${this.rooms.roomCount} rooms, ${this.position} commands logged`,
    };
  }

  stats(): MemoryStoreStats {
    return {
      position: this.position,
      writes: this.writes,
      syncedWrites: this.syncedWrites,
      batches: this.batches,
      fsyncs: this.fsyncs,
      snapshots: this.snapshots,
      snapshotPosition: this.snapshotPosition,
      replicas: this.rooms.size,
      rooms: this.rooms.roomCount,
      segment: this.segment ? path.basename(this.segment.path) : '',
      busy: this.writer !== null || this.snapshotting !== null,
    };
  }

  // ---- Close ------------------------------------------------------------------------------------

  close(): Promise<void> {
    return this.life.close((wasOpen) => this.shutdown(wasOpen));
  }

  private async shutdown(wasOpen: boolean): Promise<void> {
    try {
      // Submissions already taken are written and acknowledged; new ones are refused (phase).
      while (this.writer !== null) await this.writer;
      await this.snapshotting;
      if (wasOpen && this.failure === null && this.position > this.snapshotPosition) {
        await this.beginSnapshot();
        await this.snapshotting;
      }
    } finally {
      const reason = this.unavailable();
      // The rooms stay readable for stats(); only their waiters are failed.
      for (const { replica } of this.rooms.values()) replica.close(reason);
      await this.segment?.close().catch(() => undefined);
      this.segment = null;
      await this.lock?.release();
      this.lock = null;
    }
  }

  // ---- Helpers ----------------------------------------------------------------------------------

  private unavailable(): ChorusError {
    if (this.failure !== null) {
      return new ChorusError(
        'UNAVAILABLE',
        `the memory store at ${this.dataDir} cannot write its log (${this.failure.message}); restart the node`,
        { dataDir: this.dataDir },
      );
    }
    return this.life.unavailable();
  }
}
