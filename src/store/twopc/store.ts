// The two-phase-commit store (issue 17): every node holds every room, and each write commits on
// every node or on none. It drives the pure core (TwoPcNode, node.ts) on real I/O and follows the
// core's contract in order after every input (a write, a peer's message, a tick, an fsync done):
// append `persist` to the durable log (TwoPcWal), fsync when a forced record is among them and
// only then report persisted(lsn); send `messages` over gRPC (PeerLinks); apply `apply` through the
// room table in order; answer `answers`. The node that takes a write coordinates it over every node,
// itself included, and answers once the command is applied here.
//
// Invariants: nothing the core waits on (a vote, a COMMIT message, an apply, an ACK) leaves before
// the records it depends on are fsynced, since persisted() is only ever called with the lsn an
// fsync covered; a failed append or fsync stops the store (fail-stop): it refuses writes from then
// on rather than vote or decide on a log it cannot trust.
//
// Compaction: once `compactEvery` records have been written since the last snapshot, at the first
// moment every record is durable and the core's output taken (so every committed command is
// applied here), the store takes the core's checkpoint and its rooms' states (immutable, so taking
// them is taking references), holds the core's output while the log rolls to a new segment at that
// lsn, then writes the snapshot in the background and deletes the segments before it. Start = the
// newest snapshot's rooms + the records after it (the core hands only those commands again).

import { randomBytes, randomInt } from 'node:crypto';
import { ChorusError, chorusError, type Envelope, type RoomState } from '../../domain/index.ts';
import { decodeCommand, encodeCommand } from '../codec.ts';
import { Failpoints, type FailpointName } from '../failpoints.ts';
import { Lifecycle } from '../lifecycle.ts';
import type { StoreLogger } from '../logger.ts';
import { LocalRooms } from '../room-table.ts';
import { NO_TELEMETRY } from '../telemetry.ts';
import { StoreBase } from '../store-base.ts';
import type { HeldRoom } from '../room-table.ts';
import type { CommitOutcome, GroupStatus, PeerService, RoomListing, StoreHealth } from '../types.ts';
import { TwoPcMetrics } from './metrics.ts';
import { TwoPcNode } from './node.ts';
import { PeerLinks, twoPcPeerServices } from './transport.ts';
import type { ClientAnswer, CommittedEntry, LogRecord, Message } from './types.ts';
import { TwoPcWal } from './wal.ts';
import {
  compactEvery,
  DEFAULT_CALL_DEADLINE_MS,
  DEFAULT_READ_TIMEOUT_MS,
  DEFAULT_SUBMIT_TIMEOUT_MS,
  DEFAULT_TICK_MS,
  type TwoPcStoreOptions,
} from './options.ts';

export {
  COMPACT_EVERY_ENV,
  DEFAULT_COMPACT_EVERY,
  DEFAULT_TICK_MS,
  compactEvery,
  type TwoPcStoreOptions,
} from './options.ts';

interface Waiting {
  readonly resolve: (outcome: CommitOutcome) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** performance.now() when the write was taken, for the commit latency. */
  readonly since: number;
}

export async function openTwoPcStore(options: TwoPcStoreOptions): Promise<TwoPcStore> {
  const store = new TwoPcStore(options);
  await store.start();
  return store;
}

export class TwoPcStore extends StoreBase<HeldRoom> {
  readonly kind = '2pc' as const;
  readonly peerServices: readonly PeerService[];
  protected readonly life: Lifecycle;
  protected readonly rooms: LocalRooms;
  private readonly opts: TwoPcStoreOptions;
  private readonly logger: StoreLogger;
  private node: TwoPcNode | null = null;
  private wal: TwoPcWal | null = null;
  private links: PeerLinks | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  /** Writes this node coordinates, by write id, until answered. */
  private readonly waiting = new Map<string, Waiting>();
  /** The outcome of an applied command a waiting write will be answered with, by txn. */
  private readonly outcomes = new Map<string, CommitOutcome>();
  /** Write ids are unique in the cluster and across this node's lives (txn ids derive from them). */
  private readonly idPrefix: string;
  private nextWrite = 0;
  private syncWanted = false;
  private syncing: Promise<void> | null = null;
  private readonly metrics: TwoPcMetrics;
  private readonly failpoints: Failpoints;
  /** Armed failpoints and the lsn whose fsync reaches them (the first such record only). */
  private readonly trips = new Map<FailpointName, number>();
  private readonly compactEvery: number;
  /** Lsn of the newest snapshot (0: none). */
  private snapshotLsn = 0;
  /** True while the log rolls to a new segment: the core's output waits (pump takes none). */
  private holding = false;
  /** The snapshot being taken, if any (one at a time). */
  private compacting: Promise<void> | null = null;
  private readonly compaction = {
    snapshots: 0,
    removedFiles: 0,
    lastBytes: 0,
    segments: 1,
    /** The snapshot this node started from, and how many records after it it replayed then. */
    startedFrom: 0,
    replayed: 0,
  };

  constructor(options: TwoPcStoreOptions) {
    super();
    this.opts = options;
    this.logger = options.logger;
    this.metrics = new TwoPcMetrics(options.telemetry ?? NO_TELEMETRY);
    this.failpoints = options.failpoints ?? Failpoints.fromEnv();
    this.compactEvery = compactEvery(options.compactEvery);
    this.idPrefix = `${options.nodeId}.${randomBytes(6).toString('hex')}`;
    this.life = new Lifecycle(`2pc store node ${options.nodeId}`, { dataDir: options.dataDir });
    this.rooms = new LocalRooms({
      life: this.life,
      readTimeoutMs: options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
      logger: this.logger,
    });
    this.peerServices = twoPcPeerServices(options.secret, (m) => this.deliver(m));
  }

  // ---- Start, recovery, close -----------------------------------------------------------------

  protected async startUp(): Promise<void> {
    const { wal, snapshot, records } = await TwoPcWal.open(this.opts.dataDir, this.logger);
    this.wal = wal;
    for (const state of snapshot?.rooms ?? []) this.rooms.restore(state);
    this.snapshotLsn = snapshot?.checkpoint.lsn ?? 0;
    this.compaction.startedFrom = this.snapshotLsn;
    this.compaction.replayed = records.length;
    this.compaction.segments = await wal.segmentCount();
    this.node = TwoPcNode.restart(
      { id: this.opts.nodeId, nodes: this.opts.peers.map((p) => p.id), limits: this.opts.limits ?? {} },
      records,
      snapshot?.checkpoint ?? null,
    );
    this.links = new PeerLinks({
      self: this.opts.nodeId,
      peers: this.opts.peers,
      secret: this.opts.secret,
      deadlineMs: this.opts.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS,
    });
    // Recovery's output: every committed command applied again, in-doubt questions, re-sent COMMITs.
    this.pump();
    this.ticker = setInterval(() => this.tick(), this.opts.tickMs ?? DEFAULT_TICK_MS);
    this.logger.info(
      {
        nodeId: this.opts.nodeId,
        snapshotLsn: this.snapshotLsn,
        records: records.length,
        rooms: this.rooms.roomCount,
      },
      '2pc store recovered',
    );
  }

  protected async shutdown(): Promise<void> {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    const reason = this.life.unavailable();
    this.failAll(reason);
    this.links?.close();
    await this.compacting?.catch(() => undefined);
    await this.syncing?.catch(() => undefined);
    await this.wal?.close();
    this.node = null;
    this.rooms.closeAll(reason);
  }

  // ---- Writes -----------------------------------------------------------------------------------

  async submit(env: Envelope): Promise<CommitOutcome> {
    const node = this.node;
    if (!this.life.isOpen || node === null) throw this.life.unavailable();
    if (this.failure !== null) throw this.failed();
    const encoded = encodeCommand(env);
    const id = `${this.idPrefix}.${this.nextWrite++}`;
    const answered = new Promise<CommitOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(chorusError('TWOPC_COMMIT_NOT_SEEN', { commandId: env.commandId }));
      }, this.opts.submitTimeoutMs ?? DEFAULT_SUBMIT_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer, since: performance.now() });
    });
    node.write({ id, room: encoded.env.roomId, command: encoded.bytes, jitterSeed: randomInt(2 ** 31) });
    this.pump();
    return answered;
  }

  // ---- Driving the core -------------------------------------------------------------------------

  /** A peer's message (already authenticated by the transport). */
  private deliver(m: Message): boolean {
    if (this.node === null || !this.life.isOpen || this.failure !== null) return false;
    this.node.step(m);
    this.pump();
    return true;
  }

  private tick(): void {
    if (this.node === null || this.failure !== null) return;
    this.node.tick();
    this.pump();
    // Lazy records (ABORT, END) ride the next fsync; one per tick at the latest.
    if (this.wal !== null && this.wal.durableLsn < this.wal.lastLsn) this.requestSync();
    else this.maybeCompact();
    this.metrics.report(this.node.status(), this.compactionStatus());
  }

  /** Acts on the core's output in the contract's order: persist, send, apply, answer. */
  private pump(): void {
    const { node, wal, links } = this;
    if (node === null || wal === null || links === null || this.failure !== null || this.holding) return;
    const out = node.takeOutput();
    try {
      let force = false;
      for (const p of out.persist) {
        wal.append(p.lsn, p.record);
        force ||= p.force;
        const point = this.failpointAfter(p.record);
        if (point !== null && !this.trips.has(point)) this.trips.set(point, p.lsn);
      }
      if (force) this.requestSync();
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const m of out.messages) links.send(m);
    for (const entry of out.apply) this.apply(entry);
    for (const answer of out.answers) this.answer(answer);
  }

  /** Fsyncs until nothing forced waits, telling the core each durable lsn (one fsync at a time). */
  private requestSync(): void {
    this.syncWanted = true;
    if (this.syncing !== null) return;
    this.syncing = (async () => {
      try {
        while (this.syncWanted && this.wal !== null && this.failure === null) {
          this.syncWanted = false;
          const lsn = await this.wal.sync();
          // Between the fsync and anything that depends on it (a vote, a COMMIT message).
          for (const [point, at] of this.trips) if (lsn >= at) this.failpoints.hit(point);
          this.node?.persisted(lsn);
          this.pump();
          this.maybeCompact();
        }
      } catch (err) {
        this.fail(err);
      } finally {
        this.syncing = null;
      }
    })();
  }

  /**
   * Takes a snapshot when one is due and this is a moment it may be taken: every record durable
   * and no fsync running (so the output the last persisted() released has been taken and applied).
   */
  private maybeCompact(): void {
    const { node, wal } = this;
    if (node === null || wal === null || this.failure !== null || !this.life.isOpen) return;
    if (this.compacting !== null || this.holding) return;
    if (wal.lastLsn - this.snapshotLsn < this.compactEvery || wal.durableLsn !== wal.lastLsn) return;
    if (!node.canCheckpoint()) return;
    const checkpoint = node.checkpoint();
    const states: RoomState[] = [];
    for (const { replica } of this.rooms.values()) if (replica.state) states.push(replica.state);
    this.holding = true;
    const started = performance.now();
    this.compacting = (async () => {
      try {
        await wal.roll();
      } finally {
        this.holding = false;
        this.pump();
      }
      const { bytes, removed } = await wal.snapshot(checkpoint, states);
      this.snapshotLsn = checkpoint.lsn;
      this.compaction.snapshots++;
      this.compaction.removedFiles += removed;
      this.compaction.lastBytes = bytes;
      this.compaction.segments = await wal.segmentCount();
      this.metrics.snapshotTaken(bytes, (performance.now() - started) / 1000);
      this.logger.info(
        { lsn: checkpoint.lsn, rooms: states.length, bytes, removedFiles: removed },
        '2pc: snapshot written, log compacted',
      );
    })()
      .catch((err: unknown) => {
        // The log and the older snapshot are still whole: only compaction waits for the next try.
        this.logger.warn({ err: String(err) }, '2pc: could not snapshot the log; will try again');
      })
      .finally(() => {
        this.compacting = null;
      });
  }

  private compactionStatus(): { snapshotLsn: number; segments: number } {
    return { snapshotLsn: this.snapshotLsn, segments: this.compaction.segments };
  }

  /** The armed failpoint a record's fsync reaches, if any. */
  private failpointAfter(record: LogRecord): FailpointName | null {
    const self = this.opts.nodeId;
    // A participant's promise, for a transaction another node coordinates.
    if (record.kind === 'PREPARED' && record.coordinator !== self) {
      return this.failpoints.isArmed('twopc-after-prepared') ? 'twopc-after-prepared' : null;
    }
    // On the coordinator only the coordinator writes a COMMIT naming itself (its participant side
    // commits under the same record).
    if (record.kind === 'COMMIT' && record.coordinator === self) {
      return this.failpoints.isArmed('twopc-after-commit-record') ? 'twopc-after-commit-record' : null;
    }
    return null;
  }

  private apply(entry: CommittedEntry): void {
    let env: Envelope;
    try {
      env = decodeCommand(Buffer.from(entry.command).toString('utf8'));
    } catch (err) {
      // Every node holds the same bytes and skips them alike, so replicas still agree.
      this.logger.warn(
        { txn: entry.txn, room: entry.room, err: String(err) },
        '2pc: committed entry is not a command; skipped',
      );
      return;
    }
    const outcome = this.rooms.apply(env);
    const writeId = entry.txn.slice(0, entry.txn.lastIndexOf('#'));
    if (this.waiting.has(writeId)) this.outcomes.set(entry.txn, outcome);
  }

  private answer(answer: ClientAnswer): void {
    const waiting = this.waiting.get(answer.id);
    if (waiting === undefined) return;
    this.waiting.delete(answer.id);
    clearTimeout(waiting.timer);
    if (!answer.ok) {
      waiting.reject(ChorusError.from(answer.error));
      return;
    }
    const outcome = this.outcomes.get(answer.txn);
    this.outcomes.delete(answer.txn);
    if (outcome !== undefined) {
      this.metrics.committed((performance.now() - waiting.since) / 1000);
      waiting.resolve(outcome);
    } else waiting.reject(chorusError('TWOPC_NOT_APPLIED', { txn: answer.txn }));
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.logger.warn({ err: String(err) }, '2pc store: its log failed; it stops taking writes (fail-stop)');
    this.failAll(this.failed());
  }

  private failed(): ChorusError {
    return chorusError('TWOPC_LOG_FAILED', { problem: this.failure?.message ?? '' });
  }

  private failAll(reason: Error): void {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
    this.waiting.clear();
    this.outcomes.clear();
  }

  // ---- Reads and status -------------------------------------------------------------------------

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    return this.rooms.listings(limit);
  }

  health(): StoreHealth {
    const notOpen = this.life.notOpenDetail();
    if (notOpen !== null) return { ready: false, detail: notOpen };
    if (this.failure !== null) return { ready: false, detail: this.failed().message };
    const status = this.node!.status();
    if (!status.caughtUp)
      return { ready: false, detail: `2pc node ${status.node} is catching up from a peer` };
    const down = this.opts.peers.filter((p) => !status.peersReachable.includes(p.id)).map((p) => p.id);
    if (down.length > 0) {
      return {
        ready: false,
        detail: `2pc node ${status.node}: ${down.join(', ')} unreachable, so writes are UNAVAILABLE (reads are served)`,
      };
    }
    return {
      ready: true,
      detail: `2pc node ${status.node} with ${this.opts.peers.length - 1} peers reachable`,
    };
  }

  groupStatus(): GroupStatus {
    const nodeId = this.opts.nodeId;
    const status = this.node?.status() ?? null;
    return {
      nodeId,
      role: 'participant',
      leaderId: null,
      members: this.opts.peers.map((p) => ({
        id: p.id,
        address: p.address,
        role: 'participant',
        details: { reachable: status?.peersReachable.includes(p.id) ?? false, self: p.id === nodeId },
      })),
      details:
        status === null
          ? { running: false }
          : {
              caughtUp: status.caughtUp,
              inDoubt: status.inDoubt,
              preparedCount: status.preparedCount,
              writesInProgress: status.writesInProgress,
              awaitingAcks: status.awaitingAcks,
              lastDecision: status.lastDecision,
              counters: status.counters,
              logLsn: this.wal?.durableLsn ?? 0,
              compaction: {
                every: this.compactEvery,
                snapshotLsn: this.snapshotLsn,
                snapshots: this.compaction.snapshots,
                removedFiles: this.compaction.removedFiles,
                lastSnapshotBytes: this.compaction.lastBytes,
                segments: this.compaction.segments,
                startedFromSnapshotLsn: this.compaction.startedFrom,
                replayedAtStart: this.compaction.replayed,
              },
            },
    };
  }
}
