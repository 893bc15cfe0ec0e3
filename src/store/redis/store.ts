// The redis store (docs/architecture.md section 1): Redis orders each room's commands in one stream; every node
// materialises the rooms it serves by tailing their streams and applying them through RoomReplica.
//
// A write: register the command with PendingCommands, append it with a Lua script (which refuses to
// create the log of a room that does not exist; the appends of one event-loop turn go as one script
// call per room, all in one pipeline), apply what the script's reply brings (the entries this node
// had not applied yet, its own among them), and answer with what this node applied. A node far
// behind waits for its tailer instead. Reads are served from the replica this node holds, so they
// keep answering (with the last applied state) while Redis is away; writes fail fast instead. When
// Redis comes back holding less than a node applied (a failover, an older backup), the node notices
// (checkLog) and follows Redis, so that every node agrees again.

import { Cluster } from 'ioredis';
import { ChorusError, type Envelope, chorusError } from '../../domain/index.ts';
import { encodeCommand } from '../codec.ts';
import { Lifecycle } from '../lifecycle.ts';
import { LogFollower, type FollowedLog } from '../log-follower.ts';
import { PendingCommands, RoomReplica } from '../replica.ts';
import { listLimit, RoomTable, type HeldRoom } from '../room-table.ts';
import { Slicer } from '../slicer.ts';
import { StoreBase } from '../store-base.ts';
import type { CommitOutcome, RoomListing, StoreHealth } from '../types.ts';
import { AppendBatcher, type AppendResult } from './batch.ts';
import { checkServerVersion, openNodeConnection, type RedisClient } from './connection.ts';
import { messageOf, RedisLink } from './link.ts';
import { listingKeys, roomKeys, type RoomKeys } from './keys.ts';
import { RoomList, type ListedRoom } from './listing.ts';
import { resolveRedisOptions, type RedisStoreOptions, type ResolvedRedisOptions } from './options.ts';
import { BrokenLogError, fetchRoom, maybeSnapshot, rewoundReason, type FetchedRoom } from './room-log.ts';
import { decodeEnvelope, type LogEntry, type StreamBatch } from './stream.ts';
import { ClusterTailer } from './cluster-tailer.ts';
import { Tailer, type LogTailer, type TailerHooks } from './tailer.ts';

/** A room this node holds: its replica and where it stands in the room's log (entry n of id `0-n`). */
interface LoadedRoom extends HeldRoom, FollowedLog, ListedRoom {
  readonly keys: RoomKeys;
  snapshotting: boolean;
}

/** A writer at most this far behind its room's log gets the missing entries with its append's reply. */
const APPEND_CATCH_UP = 256;
/** Longest time close() lets submits in flight finish. */
const CLOSE_DRAIN_MS = 5000;

export class RedisStore extends StoreBase<LoadedRoom> {
  readonly kind = 'redis' as const;
  private readonly opts: ResolvedRedisOptions;
  private readonly link: RedisLink;
  /** The link's command connection. */
  private readonly cmd: RedisClient;
  /** Appends, sent a turn of the event loop at a time (batch.ts). */
  private readonly appends: AppendBatcher;
  private readonly tailer: LogTailer;
  private readonly listing: RoomList;
  /** Rooms this node serves; one that does not exist is kept briefly, then evicted when idle. */
  protected readonly rooms: RoomTable<LoadedRoom>;
  private readonly byLogKey = new Map<string, LoadedRoom>();
  private readonly pending = new PendingCommands();
  private readonly follower: LogFollower<LogEntry>;
  private readonly timers: NodeJS.Timeout[] = [];
  protected readonly life = new Lifecycle('redis store');
  private submitsInFlight = 0;
  /** Set while close() waits for the submits in flight. */
  private drained: (() => void) | null = null;

  constructor(options: RedisStoreOptions) {
    super();
    this.opts = resolveRedisOptions(options);
    this.follower = new LogFollower<LogEntry>({
      pending: this.pending,
      logger: this.opts.logger,
      decode: (entry) => decodeEnvelope(entry.fields),
      label: 'redis store',
    });
    this.rooms = new RoomTable<LoadedRoom>({
      life: this.life,
      readTimeoutMs: this.opts.readTimeoutMs,
      load: (roomId) => this.load(roomId),
      dropEmpty: false,
      onDrop: (room) => this.byLogKey.delete(room.keys.log),
    });
    this.link = new RedisLink(this.opts, {
      open: () => this.life.isOpen,
      started: () => this.life.phase === 'open' || this.life.phase === 'closing',
      // The tailer checks the logs before its next read: let that be now, not after its back-off.
      reconnected: () => this.tailer.wake(),
    });
    this.cmd = this.link.cmd;
    this.listing = new RoomList(this.cmd, listingKeys(this.opts.keyPrefix));
    this.appends = new AppendBatcher(this.cmd, APPEND_CATCH_UP, this.opts.commandTimeoutMs);
    const hooks: TailerHooks = {
      // Nothing more is read after Redis came back until every room's log has been checked.
      beforeRead: () => (this.link.logCheckNeeded ? this.checkLogs() : Promise.resolve()),
      targets: () => [...this.rooms.values()].map((r) => ({ key: r.keys.log, position: r.position })),
      deliver: (batches) => this.deliver(batches),
      synced: (at) => this.link.synced(at),
      failed: (err) => this.link.failed(err),
    };
    const { tailBlockMs: blockMs, tailBatch: batch, tailLingerMs: lingerMs } = this.opts;
    const reader = this.link.reader;
    this.tailer =
      reader instanceof Cluster
        ? new ClusterTailer({
            cluster: reader,
            connect: (host, port) => openNodeConnection(this.opts, host, port),
            blockMs,
            batch,
            lingerMs,
            pollMs: this.opts.tailPollMs,
            hooks,
          })
        : new Tailer({ reader, control: this.cmd, blockMs, batch, lingerMs, hooks });
  }

  /** When this node last knew it had applied everything Redis held for its rooms (ms since epoch). */
  get lastSyncAt(): number | null {
    return this.link.lastSync;
  }

  async submit(given: Envelope): Promise<CommitOutcome> {
    this.life.assertOpen();
    // What is probed, written and applied is the decoded copy, as every node will read it back.
    const { env, json } = encodeCommand(given);
    const roomId = typeof env?.roomId === 'string' ? env.roomId : '';
    // Refusals that need no agreed order are answered here, by the same state machine, without
    // touching Redis: a malformed envelope (its room id must never become a key), or a createRoom
    // that no room could accept. For other commands this answer (NOT_FOUND) is kept for later.
    const probe = new RoomReplica(roomId, null).applyCommitted(env);
    const creates = env.command?.type === 'createRoom';
    if (!probe.result.ok && (creates || probe.result.error.code !== 'NOT_FOUND')) {
      return { result: probe.result, state: this.rooms.get(roomId)?.replica.state ?? null };
    }
    // Both connections: a command this node could order but not read back would only time out.
    if (!this.link.connected) throw this.link.unreachable('it cannot take writes now');
    if (!this.link.writable(roomKeys(this.opts.keyPrefix, roomId).log)) {
      throw this.link.unreachable(`the primary holding room ${roomId} is away (a failover may be under way)`);
    }
    this.submitsInFlight++;
    try {
      return await this.order(env, json, probe, creates);
    } finally {
      this.submitsInFlight--;
      if (this.submitsInFlight === 0) this.drained?.();
    }
  }

  /** Appends the command to its room's log and waits until this node has applied it. */
  private async order(
    env: Envelope,
    json: string,
    probe: CommitOutcome,
    creates: boolean,
  ): Promise<CommitOutcome> {
    const roomId = env.roomId;
    const room = await this.rooms.ensure(roomId);
    room.busy++;
    const applied = this.pending.expect(roomId, env.commandId);
    try {
      let appended: AppendResult;
      try {
        appended = await this.appends.append(
          [room.keys.log, room.keys.snap],
          () => room.position,
          json,
          creates,
        );
      } catch (err) {
        this.pending.forget(roomId, env.commandId);
        throw this.link.appendFailure(err, env.commandId);
      }
      if (appended.seq === null) {
        // The room does not exist and nothing was written.
        this.pending.forget(roomId, env.commandId);
        return { result: probe.result, state: null };
      }
      if (appended.entries !== null && this.rooms.get(room.id) === room) {
        // What this node had not applied yet, up to its own command: applied now, in order. The
        // tailer skips these entries when its read brings them (they are behind the position), as
        // do the other commands of the same call (they came with the same reply).
        this.follower.applyInOrder(room, appended.entries);
      }
      if (appended.seq <= room.position && this.pending.isWaiting(roomId, env.commandId)) {
        // This node applied another command where Redis just put this one: the log was rewound.
        // Should the check fail, the wait below ends as it would have (DEADLINE_EXCEEDED: retry).
        await this.checkLog(room).catch(() => undefined);
      }
      // If the read in flight started before this room was loaded, cut it short (see Tailer.wake).
      if (room.position < appended.seq && !this.tailer.isReading(room.keys.log)) this.tailer.wake();
      const { submitTimeoutMs: timeoutMs } = this.opts;
      const late = (): ChorusError =>
        chorusError('REDIS_APPLY_TIMEOUT', { timeoutMs, commandId: env.commandId });
      const outcome = await this.pending.within(applied, roomId, env.commandId, timeoutMs, late);
      await this.afterOwnCommit(room, outcome);
      return outcome;
    } finally {
      room.busy--;
      room.replica.lastUsed = Date.now();
    }
  }

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    const count = listLimit(limit);
    if (count === 0) return [];
    try {
      return await this.listing.list(count, (id) => this.rooms.get(id)?.replica);
    } catch (err) {
      throw this.link.unreachable(`the room list cannot be read (${messageOf(err)})`);
    }
  }

  health(): StoreHealth {
    const notOpen = this.life.notOpenDetail();
    if (notOpen !== null) return { ready: false, detail: `${notOpen} (${this.opts.where})` };
    return this.link.health(this.rooms.size);
  }

  // ---- Lifecycle ---------------------------------------------------------------------------------

  protected async startUp(): Promise<void> {
    try {
      await Promise.all([this.cmd.connect(), this.link.reader.connect()]);
      await checkServerVersion(this.cmd, this.opts.where);
    } catch (err) {
      this.cmd.disconnect();
      this.link.reader.disconnect();
      if (err instanceof ChorusError) throw err;
      throw chorusError('REDIS_CONNECT_FAILED', { where: this.opts.where, problem: messageOf(err) });
    }
    this.tailer.start();
    const sweepEvery = Math.max(100, Math.min(this.opts.idleEvictMs / 4, 30_000));
    this.timers.push(
      setInterval(() => this.rooms.evictIdle(this.opts.idleEvictMs, (room) => room.snapshotting), sweepEvery),
    );
    this.timers.push(
      setInterval(
        () => this.cmd.status === 'ready' && this.listing.refresh(this.rooms.values()),
        this.opts.listingRefreshMs,
      ),
    );
    for (const timer of this.timers) timer.unref();
  }

  /** Runs once the lifecycle is `closing`, so new submits, reads and loads are refused already. */
  protected async shutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    // Submits already handed over finish normally (the tailer still runs), for a bounded time.
    if (this.submitsInFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(this.opts.submitTimeoutMs, CLOSE_DRAIN_MS));
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const reason = chorusError('STORE_CLOSED_BEFORE_APPLY');
    this.pending.failWaiting(reason);
    await this.tailer.stop();
    this.rooms.closeAll(reason);
    try {
      await this.cmd.quit();
    } catch {
      this.cmd.disconnect();
    }
  }

  /** Work the proposing node does once its command is applied: the room list, and snapshots. */
  private async afterOwnCommit(room: LoadedRoom, outcome: CommitOutcome): Promise<void> {
    const type = outcome.result.ok ? outcome.result.value.type : null;
    if (type === 'createRoom' || type === 'updateSettings') {
      // Awaited, so a room is listed on every node once its creation is acknowledged.
      await this.listing.announce(room, this.opts.logger);
    }
    maybeSnapshot(this.cmd, room, this.opts);
  }

  // ---- Loading and tailing -----------------------------------------------------------------------

  /** Snapshot, then the log after it, then the tailer takes over from there. */
  private async load(roomId: string): Promise<LoadedRoom> {
    if (this.cmd.status !== 'ready') throw this.link.unreachable(`room ${roomId} is not loaded on this node`);
    const keys = roomKeys(this.opts.keyPrefix, roomId);
    let fetched: FetchedRoom;
    try {
      fetched = await fetchRoom(this.cmd, roomId, keys);
    } catch (err) {
      if (err instanceof BrokenLogError) throw chorusError('LOG_BROKEN', { problem: err.message, roomId });
      throw this.link.unreachable(`room ${roomId} could not be loaded (${messageOf(err)})`);
    }
    if (this.life.closeRequested) throw this.life.unavailable();
    const replica = new RoomReplica(roomId, fetched.base, this.opts.logger);
    const room: LoadedRoom = {
      ...LogFollower.start(roomId, replica, fetched.baseSeq),
      keys,
      busy: 0,
      snapshotting: false,
      listedVersion: -1,
    };
    // Nobody else sees this replica yet, so yielding between entries is safe.
    await this.follower.catchUp(room, fetched.entries);
    if (this.life.closeRequested) throw this.life.unavailable();
    this.rooms.add(room);
    this.byLogKey.set(keys.log, room);
    this.tailer.wake();
    return room;
  }

  private async deliver(batches: readonly StreamBatch[]): Promise<void> {
    this.link.tailFailing = false;
    const slice = new Slicer();
    for (const { key, entries } of batches) {
      for (const entry of entries) {
        // Looked up per entry: the room may be evicted (or reloaded) while this loop yields.
        const room = this.byLogKey.get(key);
        if (!room) break;
        const offered = this.follower.offer(room, entry);
        // Applied already: the room was loaded while the read was in flight.
        if (offered === 'behind') continue;
        if (offered === 'gap') {
          await this.resync(room);
          break;
        }
        await slice.yieldIfLong();
      }
    }
  }

  /**
   * Starts the room again from what Redis holds, when the log was trimmed past this node's position
   * (it was away, or lagged by more than retainBehindSnapshot), or when `rewound` says why the log
   * no longer holds what this node applied. Subscribers get a `reset`.
   */
  private async resync(room: LoadedRoom, rewound?: string): Promise<void> {
    room.busy++;
    try {
      const { base, baseSeq, entries } = await fetchRoom(this.cmd, room.id, room.keys);
      if (this.rooms.get(room.id) !== room) return;
      if (rewound !== undefined || baseSeq > room.position) {
        if (rewound !== undefined) {
          this.opts.logger.warn(
            { roomId: room.id },
            `redis store: room ${room.id}: ${rewound}. Redis lost writes (a failover, or a restore from an older backup); the room follows what Redis holds now, from its snapshot at ${baseSeq} and ${entries.length} entries after it`,
          );
        } else {
          this.opts.logger.info(
            { roomId: room.id },
            `redis store: room ${room.id} log was trimmed past position ${room.position}; reloading from the snapshot at ${baseSeq}`,
          );
        }
        this.follower.install(room, base, baseSeq, rewound !== undefined);
      }
      // The room is busy, so it stays loaded while this yields; only the tailer (awaiting this) applies.
      await this.follower.catchUp(room, entries);
      // A read in flight waits for entries past the old position; the tailer reads again from here.
      if (rewound !== undefined) this.tailer.wake(true);
    } catch (err) {
      if (!(err instanceof BrokenLogError)) throw err;
      // Not this node's to repair: drop the room so that its next use reports the error.
      this.opts.logger.warn({ where: this.opts.where }, `redis store: ${err.message}; room unloaded`);
      this.rooms.drop(room, chorusError('LOG_BROKEN', { problem: err.message, roomId: room.id }));
    } finally {
      room.busy--;
    }
  }

  /** Follows Redis when the room's log there no longer holds what this node applied. */
  private async checkLog(room: LoadedRoom): Promise<void> {
    const rewound = await rewoundReason(this.cmd, room.keys, room);
    if (rewound !== null && this.rooms.get(room.id) === room) await this.resync(room, rewound);
  }

  /** Redis may have failed over, or been restarted from older data: every room held here is checked. */
  private async checkLogs(): Promise<void> {
    this.link.logCheckNeeded = false;
    const failed: string[] = [];
    await Promise.all(
      [...this.rooms.values()].map(async (room) => {
        room.busy++;
        try {
          await this.checkLog(room);
        } catch (err) {
          failed.push(`room ${room.id}: ${messageOf(err)}`);
        } finally {
          room.busy--;
        }
      }),
    );
    if (failed.length > 0) {
      this.link.logCheckNeeded = true;
      throw new Error(`the logs could not be checked after reconnecting (${failed.join('; ')})`);
    }
  }
}
