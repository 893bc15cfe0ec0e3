// The embedded store: one process orders every command of every room by appending it to one log.
//
// submit() -> the command joins the current batch -> the writer loop appends the batch to the log
// segment and fsyncs once (group commit: everything submitted while the previous fsync ran shares
// the next one) -> only then are the batch's commands applied, in log order, through RoomReplica,
// and each submission is answered with the outcome its own command had. So nothing is visible to a
// reader, a subscriber or the submitter before it is durable, and the log alone decides the order.
// While one batch is applied and answered, the next one is already being written and fsynced.
//
// A command's validity depends on the state at its place in the order. When nothing else of its room
// is in flight (submitted and not yet applied), that place is right after the room as applied now,
// which is durable: so the command is decided at once, and one that would change nothing (a
// refusal, a retry answered from memory) is answered without a log record: refused floods do not
// grow the log or cost an fsync. Anything else is logged, and applied after the fsync (installing
// the decision made at submit when nothing came between, so no command is applied twice). Replay runs
// the same deterministic apply over the log. What is applied live is always the envelope decoded
// back from the logged JSON, never the caller's object: replay can only ever see the JSON.
//
// Every `snapshotEvery` records (and on close) all rooms are written to a snapshot with the log
// position they reflect (once snapshots are large, only when the log since the last one has grown
// as large as it, so that snapshots never cost more than the log itself). The log moves on to a new
// segment at that position and the snapshot is written in the background, beside the writer; once
// it is durable, the segments and snapshots it covers are deleted. Start = load the newest valid
// snapshot + replay the records after it; a torn tail (a crash mid-write) is cut off, since none of
// it was acknowledged. Idle rooms that the newest snapshot holds as they are leave memory and come
// back from it when used (./eviction.ts, ./snapshots.ts, ../room-evictor.ts): a snapshot's room
// index lets a start load none of them.

import path from 'node:path';
import type { ChorusError } from '../../domain/index.ts';
import { type Envelope, chorusError } from '../../domain/index.ts';
import { encodeCommand } from '../codec.ts';
import { frameRecord, SegmentWriter } from '../disk/log.ts';
import { acquireDirLock, type DirLock } from '../disk/lock.ts';
import { privateDir } from '../disk/private.ts';
import { Lifecycle } from '../lifecycle.ts';
import type { StoreLogger } from '../logger.ts';
import { changesNothing, type Decided } from '../replica.ts';
import { LocalRooms, roomKey, type HeldRoom } from '../room-table.ts';
import { StoreBase } from '../store-base.ts';
import { NO_TELEMETRY } from '../telemetry.ts';
import type { CommitOutcome, RoomListing, StoreHealth } from '../types.ts';
import {
  DEFAULT_READ_TIMEOUT_MS,
  resolveMemoryOptions,
  type MemoryStoreOptions,
  type MemoryStoreStats,
} from './options.ts';
import { IdleEviction } from './eviction.ts';
import { recoverRooms, SnapshotSchedule } from './snapshots.ts';

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
  /** What it does, worked out at submit when nothing of its room was in flight. */
  readonly decided: Decided | null;
  readonly resolve: (outcome: CommitOutcome) => void;
  readonly reject: (err: Error) => void;
}

export async function openMemoryStore(options: MemoryStoreOptions): Promise<MemoryStore> {
  const store = new MemoryStore(options);
  await store.start();
  return store;
}

export class MemoryStore extends StoreBase<HeldRoom> {
  readonly kind = 'memory' as const;
  readonly dataDir: string;
  private readonly fsync: boolean;
  private readonly logger: StoreLogger;

  protected readonly life: Lifecycle;
  private lock: DirLock | null = null;
  private segment: SegmentWriter | null = null;
  /** Every room: this store applies every command, so an empty replica is dropped once unused. */
  protected readonly rooms: LocalRooms;

  private queue: Submission[] = [];
  private writer: Promise<void> | null = null;
  /** Set when the log could not be written: the store stops taking writes (fail-stop). */
  private failure: Error | null = null;

  /** Records in the log, counting only batches that are written (and fsynced) in full. */
  private position = 0;
  private readonly snapshots: SnapshotSchedule;
  private readonly eviction: IdleEviction;
  /** Submitted, not yet applied or refused, per room: while any, a command cannot be decided early. */
  private readonly inFlight = new Map<string, number>();
  private readonly counts = { writes: 0, syncedWrites: 0, batches: 0, fsyncs: 0, unlogged: 0 };

  constructor(options: MemoryStoreOptions) {
    super();
    const resolved = resolveMemoryOptions(options);
    ({ dataDir: this.dataDir, fsync: this.fsync, logger: this.logger } = resolved);
    this.life = new Lifecycle(`memory store at ${this.dataDir}`, { dataDir: this.dataDir });
    this.rooms = new LocalRooms({
      life: this.life,
      readTimeoutMs: DEFAULT_READ_TIMEOUT_MS,
      logger: this.logger,
    });
    const { dataDir: dir, snapshotEvery: every, fsync, logger } = resolved;
    this.snapshots = new SnapshotSchedule({ dir, every, rooms: this.rooms, fsync, logger });
    this.eviction = new IdleEviction({
      rooms: this.rooms,
      idleMs: resolved.roomIdleMs,
      telemetry: options.telemetry ?? NO_TELEMETRY,
      snapshotting: () => this.snapshots.busy,
      inFlight: (roomId) => this.inFlight.has(roomId),
    });
  }

  // ---- Start and recovery -----------------------------------------------------------------------

  protected async startUp(): Promise<void> {
    try {
      await privateDir(this.dataDir);
      this.lock = await acquireDirLock(this.dataDir, { allowReadOnly: true });
      await this.recover();
      if (this.life.closeRequested) throw this.unavailable(); // close() was called while starting
      this.eviction.start();
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
    const readOnly = this.lock?.readOnly ?? null;
    const start = await recoverRooms(this.dataDir, this.rooms, {
      fsync: this.fsync,
      logger: this.logger,
      readOnly,
    });
    this.snapshots.started(start);
    this.segment = start.log.segment;
    this.position = start.log.position;
    this.failure = start.log.noSpace; // a full (or read-only) disk: serve what is logged, refuse writes
  }

  // ---- Writes -----------------------------------------------------------------------------------

  // async, so that a refusal is a rejection; everything up to the queue push still runs at once.
  async submit(env: Envelope): Promise<CommitOutcome> {
    if (!this.life.isOpen || this.failure !== null) throw this.unavailable();
    const encoded = encodeCommand(env);
    const room = roomKey(encoded.env);
    const decided = this.inFlight.has(room) ? null : this.rooms.decide(encoded.env);
    if (decided !== null && changesNothing(decided)) {
      this.counts.unlogged++;
      return { result: decided.out.result, state: decided.base };
    }
    this.inFlight.set(room, (this.inFlight.get(room) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        const left = this.inFlight.get(room)! - 1;
        if (left === 0) this.inFlight.delete(room);
        else this.inFlight.set(room, left);
      };
      this.queue.push({
        env: encoded.env,
        frame: frameRecord(encoded.bytes),
        decided,
        resolve: (outcome) => {
          settle();
          resolve(outcome);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
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
      this.counts.batches++;
      this.counts.writes += batch.length;
      if (this.fsync) {
        await segment.sync();
        this.counts.fsyncs++;
      }
    } catch (err) {
      await this.failStop(err, batch, segment, before);
      return false;
    }
    this.counts.syncedWrites += batch.length;
    this.position += batch.length;
    return true;
  }

  /** Applies a durable batch in log order and answers each submission with its own outcome. */
  private publish(batch: Submission[]): void {
    for (const s of batch) s.resolve(this.rooms.apply(s.env, s.decided));
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

  // ---- Snapshots --------------------------------------------------------------------------------

  private snapshotDue(): boolean {
    // The current segment starts where the last snapshot was taken: its size is the log written since.
    return this.snapshots.due(this.position, this.segment!.size);
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
    const contents = this.snapshots.take(position);
    try {
      if (this.segment!.start < position) {
        const next = await SegmentWriter.create(this.dataDir, position, this.fsync, true);
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
      this.snapshots.abandon();
      return;
    }
    this.snapshots.write(contents);
  }

  /** Evicts the rooms that may leave memory now (a timer does it too); how many went. For tests. */
  evictIdleRooms(idleMs?: number): number {
    return this.eviction.sweep(idleMs);
  }

  /** Ids of the rooms evicted from memory (they live in the snapshot until used). */
  evictedRooms(): string[] {
    return [...this.rooms.evictor.ids()];
  }

  // ---- Reads ------------------------------------------------------------------------------------

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    return this.rooms.listings(limit);
  }

  health(): StoreHealth {
    if (this.failure !== null) {
      return { ready: false, detail: `memory store at ${this.dataDir} failed: ${this.failure.message}` };
    }
    const notOpen = this.life.notOpenDetail();
    if (notOpen !== null) return { ready: false, detail: notOpen };
    return {
      ready: true,
      detail: `memory store at ${this.dataDir}: ${this.rooms.existing} rooms (${this.rooms.evictor.size} evicted), ${this.position} commands logged`,
    };
  }

  stats(): MemoryStoreStats {
    return {
      position: this.position,
      ...this.counts,
      snapshots: this.snapshots.written,
      snapshotPosition: this.snapshots.position,
      replicas: this.rooms.size,
      rooms: this.rooms.roomCount,
      ...this.rooms.evictor.stats(),
      segment: this.segment ? path.basename(this.segment.path) : '',
      busy: this.writer !== null || this.snapshots.writing !== null,
    };
  }

  // ---- Close ------------------------------------------------------------------------------------

  protected async shutdown(wasOpen: boolean): Promise<void> {
    this.eviction.stop();
    try {
      // Submissions already taken are written and acknowledged; new ones are refused (phase).
      while (this.writer !== null) await this.writer;
      await this.snapshots.writing;
      if (wasOpen && this.failure === null && this.position > this.snapshots.position) {
        await this.beginSnapshot();
        await this.snapshots.writing;
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

  private unavailable(): ChorusError {
    if (this.failure !== null) {
      return chorusError('LOG_WRITE_FAILED', { dataDir: this.dataDir, problem: this.failure.message });
    }
    return this.life.unavailable();
  }
}
