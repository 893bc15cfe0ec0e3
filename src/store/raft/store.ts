// The Raft store: the nodes of one Raft group (every `--peers` member) order every room's commands
// in one replicated log, durably, and each applies the committed log to its rooms. Driving the pure core (node.ts states the contract this follows):
// - a timer calls tick() every `tickMs` (election timeout electionTick..2·electionTick ticks, the
//   jitter drawn from a PRNG seeded once from crypto randomness: the only randomness, at the edge);
// - the Ready loop: persist (RaftStorage, one fsync per Ready, so every proposal that arrived while
//   the previous fsync ran shares the next), send (a leader sends before its own write), restore a
//   snapshot, apply committed entries to the rooms, answer ReadIndex reads, advance; then, every
//   `snapshotEvery` applied entries (and once snapshots are large, only when the entries since hold as
//   many bytes), take the rooms' states for a snapshot that is serialised and written beside the loop
//   and becomes the log's base between two Readies. Committed entries already durable here before this Ready
//   (on a leader, all of them) are applied while the Ready's fsync runs: their answers do not wait
//   for a write they do not depend on. Nothing may touch the core between ready() and advance():
//   inputs arriving meanwhile (messages, ticks, proposals) wait in `deferred` and run right after.
// - writes: the leader proposes; a follower forwards on its peer link (forwarding.ts). Either way the node that
//   took the write answers once it has applied the command itself (PendingCommands), so the answer
//   is what this node's rooms say and minVersion reads here see it. A proposal overwritten by a new
//   leader is answered UNAVAILABLE (retry with the same commandId: the room's window applies it once).
// - without a known leader a write is refused UNAVAILABLE with details.leader / leaderAddress.
// - membership (store-admin.ts, membership.ts): an operator's change goes to the leader (a follower passes it on),
//   which proposes one conf change and answers once it has applied it; every node learns a new
//   member's address from the entry when it applies it. A node started with `join` founds nothing
//   (empty membership), so it never campaigns before the leader has made it a voter.
// - metrics (metrics.ts) are read off the Ready loop and reported through the node's telemetry.

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ChorusError } from '../../domain/index.ts';
import { chorusError, type Envelope, type RoomState } from '../../domain/index.ts';
import { decodeCommand, encodeCommand, MAX_COMMAND_BYTES } from '../codec.ts';
import { acquireDirLock, type DirLock } from '../disk/lock.ts';
import { snapshotWorthWriting } from '../disk/snapshot-file.ts';
import { Lifecycle } from '../lifecycle.ts';
import type { StoreLogger } from '../logger.ts';
import { PendingCommands } from '../replica.ts';
import type {
  CommitOutcome,
  FeedListener,
  GroupStatus,
  PeerService,
  RoomListing,
  Store,
  StoreHealth,
  Subscription,
} from '../types.ts';
import { prng } from '../../prng.ts';
import { NO_TELEMETRY, type StoreTelemetry } from '../telemetry.ts';
import type { ForwardOutcome, Proposed } from './forwarding.ts';
import { AddressBook } from './membership.ts';
import { RaftMetrics } from './metrics.ts';
import { RaftNode, type RaftConfig } from './node.ts';
import { RaftAdmin } from './store-admin.ts';
import { ReadIndexWaiters, groupStatus, raftHealth, unavailableWithHint } from './store-helpers.ts';
import { RaftRooms, serialiseRooms } from './rooms.ts';
import { RaftStorage } from './storage.ts';
import { RaftTransport, type Peer } from './transport.ts';
import {
  dataSize,
  decodeConfChange,
  EMPTY_CONF,
  NONE,
  type Entry,
  type Message,
  type NodeId,
  type Snapshot,
} from './types.ts';

export interface RaftStoreOptions {
  readonly dataDir: string;
  readonly nodeId: NodeId;
  /** Every member, this node included, with its gRPC address. */
  readonly peers: readonly Peer[];
  /** The cluster secret: peers authenticate each other's calls with it. */
  readonly secret: string;
  readonly logger: StoreLogger;
  readonly tickMs?: number;
  readonly electionTick?: number;
  /**
   * Applied entries between snapshots, at least (default 10 000); a snapshot over 1 MiB is taken
   * again only once the entries applied since hold as many bytes (snapshotWorthWriting).
   */
  readonly snapshotEvery?: number;
  readonly fsync?: boolean;
  readonly readTimeoutMs?: number;
  /** How long a write waits to be applied here before DEADLINE_EXCEEDED (default 10 s). */
  readonly submitTimeoutMs?: number;
  /** Join a running group (empty membership: wait to be added) instead of founding one. */
  readonly join?: boolean;
  readonly telemetry?: StoreTelemetry;
}

/** A local snapshot on disk, and when it was begun (for the metrics). */
interface WrittenSnapshot {
  readonly snapshot: Snapshot;
  readonly started: number;
}

export async function openRaftStore(options: RaftStoreOptions): Promise<RaftStore> {
  const store = new RaftStore(options);
  await store.start();
  return store;
}

export class RaftStore implements Store {
  readonly kind = 'raft' as const;
  readonly peerServices: readonly PeerService[];
  readonly transport: RaftTransport;
  private readonly opts: Required<Omit<RaftStoreOptions, 'logger'>> & { logger: StoreLogger };
  private readonly life: Lifecycle;
  private readonly rooms: RaftRooms;
  private readonly pending = new PendingCommands();
  private readonly reads = new ReadIndexWaiters();
  /** Index → term of proposals someone waits on, to notice one overwritten by a new leader. */
  private readonly proposed = new Map<number, { term: number; lost: (err: ChorusError) => void }>();
  private core: RaftNode | null = null;
  private storage: RaftStorage | null = null;
  private lock: DirLock | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inReady = false;
  private loop: Promise<void> | null = null;
  private deferred: (() => void)[] = [];
  private failure: Error | null = null;
  private snapshotIndex = 0;
  /** The size of the last snapshot written or installed, and the entry bytes applied since. */
  private snapshotBytes = 0;
  private logBytes = 0;
  /** The background part of a compaction (serialise and write), awaited by close(). */
  private compaction: Promise<void> | null = null;
  /** A snapshot written and durable, waiting for the loop to make it the log's base. */
  private written: WrittenSnapshot | null = null;
  /** Rejecters of the writes in flight, so close() settles every one. */
  private readonly inflight = new Set<(err: ChorusError) => void>();
  readonly lastContact = new Map<NodeId, number>();
  private readonly book: AddressBook;
  private readonly metrics: RaftMetrics;
  /** Membership changes and leader transfer (store-admin.ts). */
  readonly admin: RaftAdmin;

  constructor(options: RaftStoreOptions) {
    this.opts = {
      // A heartbeat every 50 ms and an election timeout of 300-600 ms (etcd: 100 ms / 1 s): a dead
      // leader is replaced in well under a second; a follower whose link to the leader breaks
      // campaigns sooner still (RaftNode.reportUnreachable).
      tickMs: 50,
      electionTick: 6,
      snapshotEvery: 10_000,
      fsync: true,
      readTimeoutMs: 5_000,
      submitTimeoutMs: 10_000,
      join: false,
      telemetry: NO_TELEMETRY,
      ...options,
      dataDir: path.resolve(options.dataDir),
    };
    if (!options.peers.some((p) => p.id === options.nodeId))
      throw new Error('raft store: --peers must list this node');
    this.life = new Lifecycle(`raft store ${options.nodeId} at ${this.opts.dataDir}`, {
      nodeId: options.nodeId,
    });
    this.rooms = new RaftRooms(this.life, this.opts.readTimeoutMs, options.logger);
    this.book = new AddressBook(options.nodeId, options.peers);
    this.metrics = new RaftMetrics(this.opts.telemetry);
    this.transport = new RaftTransport(
      options.nodeId,
      options.peers,
      options.secret,
      {
        onMessages: (ms) => this.receive(ms),
        onClientRequest: (command, answer) => this.takeForwarded(command, answer),
        onSnapshotDone: (to, ok) => this.input((core) => core.reportSnapshot(to, ok)),
        onUnreachable: (to) => this.input((core) => core.reportUnreachable(to)),
        onChangeMembership: (req) => this.admin.changeMembership(req),
        onTransferLeader: (to) => this.admin.transferLeader(to),
      },
      options.logger,
    );
    this.peerServices = [this.transport.service()];
    this.admin = new RaftAdmin({
      openCore: () => {
        if (!this.life.isOpen || this.failure !== null || this.core === null) throw this.unavailable();
        return this.core;
      },
      core: () => this.core,
      input: (fn) => this.input(fn),
      book: this.book,
      transport: this.transport,
      submitTimeoutMs: this.opts.submitTimeoutMs,
      electionMs: this.opts.electionTick * this.opts.tickMs,
    });
  }

  start(): Promise<void> {
    return this.life.start(async () => {
      await mkdir(this.opts.dataDir, { recursive: true });
      this.lock = await acquireDirLock(this.opts.dataDir);
      const { storage, persisted } = await RaftStorage.open({
        dir: this.opts.dataDir,
        fsync: this.opts.fsync,
        logger: this.opts.logger,
      });
      this.storage = storage;
      if (persisted.snapshot) this.learnPeers(await this.rooms.restore(persisted.snapshot));
      this.snapshotIndex = persisted.snapshot?.meta.index ?? 0;
      this.snapshotBytes = persisted.snapshot === null ? 0 : dataSize(persisted.snapshot.data);
      const seed = randomBytes(4).readUInt32LE(0);
      const config: RaftConfig = {
        id: this.opts.nodeId,
        electionTick: this.opts.electionTick,
        random: prng(seed),
        maxSizePerMsg: 256 * 1024,
      };
      // Founders write the first membership (every --peers member a voter) into their logs; a
      // joining node writes none and so cannot campaign until a conf change makes it a voter.
      const founding = this.opts.join
        ? EMPTY_CONF
        : { voters: this.opts.peers.map((p) => p.id), learners: [] };
      this.core = new RaftNode(config, persisted, founding);
      this.metrics.state(this.core, this.rooms.applied);
      this.opts.logger.info(
        { nodeId: this.opts.nodeId, seed, term: persisted.hardState.term, join: this.opts.join },
        'raft node started',
      );
      this.timer = setInterval(() => this.input((core) => core.tick()), this.opts.tickMs);
      this.timer.unref();
      this.kick(); // bootstrap entries of a new group are persisted at once
    });
  }

  // ---- The Ready loop ---------------------------------------------------------------------------

  /**
   * Runs `fn` on the core now, or right after the Ready being processed; the loop then runs. The
   * loop is started first: its turn comes before anything `fn` schedules for a later turn (a
   * forward's answer queued on a link leaves with the Ready's append, not alone before it).
   */
  private input(fn: (core: RaftNode) => void): void {
    const core = this.core;
    if (core === null || this.failure !== null) return;
    if (this.inReady) this.deferred.push(() => fn(core));
    else {
      this.kick();
      fn(core);
    }
  }

  private receive(messages: Message[]): void {
    const now = Date.now();
    for (const m of messages) this.lastContact.set(m.from, now);
    this.input((core) => {
      for (const m of messages) core.step(m);
    });
  }

  private kick(): void {
    if (this.loop !== null || this.core === null) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = null;
    });
  }

  private async runLoop(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // gather this turn's inputs
    const core = this.core!;
    try {
      while (this.failure === null) {
        const written = this.written;
        if (written !== null) {
          this.written = null;
          await this.exclusive(() => this.finishCompaction(core, written));
        } else if (core.hasReady()) await this.exclusive(() => this.handleReady(core));
        else break;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** Runs `fn` with the core to itself: inputs arriving meanwhile wait, and run right after it. */
  private async exclusive(fn: () => Promise<void>): Promise<void> {
    this.inReady = true;
    try {
      await fn();
    } finally {
      this.inReady = false;
    }
    for (const fn of this.deferred.splice(0)) fn();
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.opts.logger.warn({ err: String(err) }, 'the raft loop failed; this node stops taking part');
    if (this.timer) clearInterval(this.timer);
  }

  private async handleReady(core: RaftNode): Promise<void> {
    const rd = core.ready();
    this.metrics.ready(rd, Date.now());
    const received = rd.snapshot === null ? 0 : performance.now();
    // Committed entries this node had already made durable before this Ready are applied (and
    // their writers answered) while this Ready's own write is being fsynced, not after it. Up
    // to the first membership change: its waiter reads the configuration, which the core
    // takes on only at advance(), after the fsync.
    const early: Entry[] = [];
    if (rd.snapshot === null) {
      for (const e of rd.committedEntries) {
        if (e.index > core.log.stabled || e.type === 'conf') break;
        early.push(e);
      }
    }
    if (rd.mayReplicateBeforePersist) this.transport.send(rd.messages);
    if (rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null) {
      const saving = this.storage!.save(rd.snapshot, rd.entries, rd.hardState, rd.mustSync);
      this.metrics.wrote(rd.mustSync || rd.snapshot !== null);
      saving.catch(() => undefined); // awaited below; an apply that throws first must not orphan it
      for (const e of early) this.applyEntry(e);
      await saving;
    } else for (const e of early) this.applyEntry(e);
    if (!rd.mayReplicateBeforePersist) this.transport.send(rd.messages);
    if (rd.snapshot !== null) {
      this.learnPeers(await this.rooms.restore(rd.snapshot));
      this.snapshotIndex = rd.snapshot.meta.index;
      this.snapshotBytes = dataSize(rd.snapshot.data);
      this.logBytes = 0;
      this.metrics.snapshot('installed', this.snapshotBytes, (performance.now() - received) / 1000);
    }
    for (const e of rd.committedEntries.slice(early.length)) this.applyEntry(e);
    this.reads.confirmed(rd.readStates, this.rooms.applied);
    core.advance();
    this.metrics.state(core, this.rooms.applied);
    this.maybeCompact(core);
  }

  private applyEntry(e: Entry): void {
    const waiting = this.proposed.get(e.index);
    if (waiting !== undefined) {
      this.proposed.delete(e.index);
      if (waiting.term !== e.term) {
        waiting.lost(chorusError('RAFT_WRITE_LOST', { index: e.index }));
      }
    }
    if (e.type === 'conf' && e.index > this.rooms.applied) this.applyMembership(e);
    this.logBytes += e.data.length;
    const applied = this.rooms.apply(e);
    if (applied !== null) this.pending.settle(applied.env.roomId, applied.env.commandId, applied.outcome);
  }

  /** A committed conf change: the address book and the transport follow it; a waiter is answered. */
  private applyMembership(e: Entry): void {
    const change = this.book.apply(decodeConfChange(e.data));
    if (change.set) this.transport.setPeer(change.set);
    if (change.removed !== undefined) this.transport.removePeer(change.removed);
    this.admin.applied(e.index, e.term);
  }

  private learnPeers(peers: readonly { id: NodeId; address: string }[]): void {
    for (const p of this.book.restore(peers)) this.transport.setPeer(p);
  }

  /**
   * Every `snapshotEvery` applied entries, a snapshot: the rooms' (immutable) states and the core's
   * snapshot meta are taken now, right after advance(), and the rooms are serialised and written
   * beside the loop, which goes on with heartbeats, appends and answers meanwhile (a snapshot of a
   * large state takes hundreds of ms to write; held inside the loop it cost leaders their lease).
   * Once it is durable, the loop makes it the log's base (finishCompaction). One at a time.
   */
  private maybeCompact(core: RaftNode): void {
    // One at a time: none being written, none waiting for the loop (which is running this one).
    if (this.compaction !== null || this.written !== null) return;
    if (this.rooms.applied - this.snapshotIndex < this.opts.snapshotEvery) return;
    if (!snapshotWorthWriting(this.snapshotBytes, this.logBytes)) return;
    this.logBytes = 0;
    const started = performance.now();
    const meta = core.snapshotMeta();
    const states = this.rooms.capture();
    const peers = this.book.peers();
    this.compaction = (async () => {
      const snapshot = { meta, data: await serialiseRooms(states, peers) };
      await this.storage!.writeLocalSnapshot(snapshot);
      this.written = { snapshot, started };
      this.kick();
    })()
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.compaction = null;
      });
  }

  /** Between two Readies: the durable snapshot becomes the core's and the log's base. */
  private async finishCompaction(core: RaftNode, { snapshot, started }: WrittenSnapshot): Promise<void> {
    // False when a newer snapshot came from the leader meanwhile: ours is left as an older file,
    // deleted at the next compaction.
    if (!core.compactTo(snapshot, Math.min(1000, this.opts.snapshotEvery))) return;
    // The log's entries after the snapshot that are on disk: those after `stabled` are in the next
    // Ready, and go to the new segment.
    const { index } = snapshot.meta;
    const stabled = core.log.stabled;
    const tail = stabled > index ? core.log.slice(index + 1, stabled + 1) : [];
    await this.storage!.rebase(snapshot.meta, tail, null);
    this.snapshotIndex = index;
    const bytes = dataSize(snapshot.data);
    this.snapshotBytes = bytes;
    this.metrics.snapshot('written', bytes, (performance.now() - started) / 1000);
    this.opts.logger.info({ index, bytes }, 'raft snapshot written, log compacted');
  }

  // ---- Writes -----------------------------------------------------------------------------------

  async submit(env: Envelope): Promise<CommitOutcome> {
    if (!this.life.isOpen || this.failure !== null) throw this.unavailable();
    const encoded = encodeCommand(env);
    const { roomId, commandId } = encoded.env;
    const applied = this.pending.expect(roomId, commandId);
    // Settles this write early: lost to a new leader, timed out, or the store closing.
    let abort: (err: ChorusError) => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
      abort = reject;
    });
    aborted.catch(() => undefined);
    this.inflight.add(abort);
    let timer: NodeJS.Timeout | undefined;
    try {
      const core = this.core!;
      const taken =
        core.role === 'leader' ? this.propose(encoded.json) : this.forward(core.lead, encoded.json);
      const at = await Promise.race([taken, aborted]);
      timer = setTimeout(() => {
        abort(chorusError('RAFT_APPLY_TIMEOUT', { index: at.index }));
      }, this.opts.submitTimeoutMs);
      if (at.index > this.rooms.applied) this.proposed.set(at.index, { term: at.term, lost: abort });
      return await Promise.race([applied, aborted]);
    } catch (err) {
      this.pending.forget(roomId, commandId);
      throw err;
    } finally {
      clearTimeout(timer);
      this.inflight.delete(abort);
    }
  }

  private async forward(leader: NodeId, json: string): Promise<Proposed> {
    if (leader === NONE)
      throw unavailableWithHint(
        this.core!,
        this.book.peers(),
        'no leader is known (an election is under way)',
      );
    return this.transport.forward(leader, json);
  }

  /** Proposes on this node (the leader); where the entry sits, or why not. */
  private propose(json: string): Promise<Proposed> {
    return new Promise((resolve, reject) =>
      this.proposeThen(json, (outcome) => ('ok' in outcome ? resolve(outcome.ok) : reject(outcome.error))),
    );
  }

  /** Proposes `json` and calls `done` once, in the same turn as the core takes it. */
  private proposeThen(
    json: string,
    done: (outcome: { readonly ok: Proposed } | { readonly error: ChorusError }) => void,
  ): void {
    if (this.core === null || this.failure !== null) return done({ error: this.unavailable() });
    this.input((core) => {
      const r = core.propose(json);
      if (r.ok) {
        this.metrics.proposed(r.index, Date.now());
        done({ ok: { index: r.index, term: r.term } });
      } else done({ error: unavailableWithHint(core, this.book.peers(), r.error.message) });
    });
  }

  /**
   * A follower's forwarded command: proposed here if this node leads, else refused with a hint. The
   * answer is queued on the link back within the turn the core takes the command, so it leaves
   * with the append that carries the entry (one batch, not two).
   */
  private takeForwarded(json: string, answer: (outcome: ForwardOutcome) => void): void {
    try {
      if (!this.life.isOpen || this.failure !== null) throw this.unavailable();
      // The same checks as a local write (JSON, size), without encoding the command again.
      decodeCommand(json);
      const bytes = Buffer.byteLength(json, 'utf8');
      if (bytes > MAX_COMMAND_BYTES)
        throw chorusError('COMMAND_TOO_LARGE', { bytes, maxBytes: MAX_COMMAND_BYTES });
    } catch (error) {
      answer({ error });
      return;
    }
    this.proposeThen(json, answer);
  }

  // ---- Reads ------------------------------------------------------------------------------------

  read(roomId: string, minVersion?: number, timeoutMs?: number): Promise<RoomState | null> {
    return this.rooms.table.read(roomId, minVersion, timeoutMs);
  }

  /** A linearizable read: confirms the leader's commit index (ReadIndex), applies up to it, reads. */
  async readLinearizable(roomId: string, timeoutMs = this.opts.readTimeoutMs): Promise<RoomState | null> {
    if (!this.life.isOpen || this.failure !== null) throw this.unavailable();
    const confirmed = this.reads.wait(timeoutMs);
    this.input((core) => {
      const err = core.readIndex(confirmed.context);
      if (err !== null)
        this.reads.fail(confirmed.context, unavailableWithHint(core, this.book.peers(), err.message));
    });
    await confirmed.promise;
    return this.rooms.table.read(roomId, 0, timeoutMs);
  }

  subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription> {
    return this.rooms.table.subscribe(roomId, afterVersion, listener);
  }

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    return this.rooms.table.listings(limit);
  }

  loadedRooms(): readonly string[] {
    return this.rooms.table.loadedRooms();
  }

  health(): StoreHealth {
    if (this.failure !== null) return { ready: false, detail: `raft store failed: ${this.failure.message}` };
    const notOpen = this.life.notOpenDetail();
    if (notOpen !== null || this.core === null) return { ready: false, detail: notOpen ?? 'starting' };
    return raftHealth(this.core, this.rooms.applied);
  }

  groupStatus(): GroupStatus {
    if (this.core === null) throw this.unavailable();
    return groupStatus(this.core, this.book.members(this.core), this.rooms.applied, this.lastContact);
  }

  // ---- Close ------------------------------------------------------------------------------------

  close(): Promise<void> {
    return this.life.close(async () => {
      try {
        // Writes already taken get a moment to be applied; the rest are refused below.
        const deadline = Date.now() + 1_000;
        while (this.inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        for (const reject of this.inflight) reject(this.unavailable());
        if (this.failure === null) await this.admin.handOver(this.opts.logger);
      } finally {
        if (this.timer) clearInterval(this.timer);
        // A snapshot being written finishes first (its last step runs in the loop).
        while (this.loop !== null || this.compaction !== null) {
          await this.compaction;
          await this.loop;
        }
        this.core = null;
        this.transport.close();
        this.reads.closeAll(this.unavailable());
        for (const w of this.proposed.values()) w.lost(this.unavailable());
        this.admin.closeAll();
        this.proposed.clear();
        for (const room of this.rooms.table.values()) room.replica.close(this.unavailable());
        await this.storage?.close();
        await this.lock?.release();
        this.lock = null;
      }
    });
  }

  private unavailable(): ChorusError {
    if (this.failure !== null) return chorusError('RAFT_FAILED', { problem: this.failure.message });
    return this.life.unavailable();
  }
}
