// The redis store (DESIGN.md section 1): Redis orders each room's commands in one stream; every node
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

import { Redis } from 'ioredis';
import { ChorusError, restore, snapshot, type Envelope, type RoomState } from '../../domain/index.ts';
import { encodeCommand } from '../codec.ts';
import { Lifecycle } from '../lifecycle.ts';
import { PendingCommands, RoomReplica } from '../replica.ts';
import { listLimit, RoomTable, type HeldRoom } from '../room-table.ts';
import { Slicer } from '../slicer.ts';
import type { CommitOutcome, FeedListener, RoomListing, Store, StoreHealth, Subscription } from '../types.ts';
import { listingKeys, roomKeys, type ListingKeys, type RoomKeys } from './keys.ts';
import { resolveRedisOptions, type RedisStoreOptions, type ResolvedRedisOptions } from './options.ts';
import { AppendBatcher, type AppendResult } from './batch.ts';
import { LISTING, SNAPSHOT } from './scripts.ts';
import { decodeEnvelope, idOf, parseEntries, type LogEntry, type StreamBatch } from './stream.ts';
import { Tailer } from './tailer.ts';

/** A room this node holds: its replica and where it stands in the room's log. */
interface LoadedRoom extends HeldRoom {
  readonly keys: RoomKeys;
  /** Position (entry n of id `0-n`) of the last log entry applied here. */
  position: number;
  /** Command id of the entry at `position`; null when not known (a snapshot's, or not a command). */
  lastCommandId: string | null;
  /** Position covered by the newest snapshot this node knows of. */
  snapshotAt: number;
  snapshotting: boolean;
  /** Version this node last wrote to the room list. */
  listedVersion: number;
}

interface FetchedRoom {
  readonly base: RoomState | null;
  readonly baseSeq: number;
  /** Log entries baseSeq+1, baseSeq+2, ... without gaps. */
  readonly entries: readonly LogEntry[];
}

const XRANGE_PAGE = 1000;
/** A writer at most this far behind its room's log gets the missing entries with its append's reply. */
const APPEND_CATCH_UP = 256;
const FETCH_ATTEMPTS = 5;
/** Silence after which a connection with commands in flight is taken for dead. */
const HALF_OPEN_MS = 10_000;
/** Longest time close() lets submits in flight finish. */
const CLOSE_DRAIN_MS = 5000;

/** Thrown when a room's log does not continue its snapshot even after retries (data lost in Redis). */
class BrokenLogError extends Error {}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly opts: ResolvedRedisOptions;
  /** Commands, scripts and loads. No offline queue: a command while disconnected fails at once. */
  private readonly cmd: Redis;
  /** The tailer's blocking connection. */
  private readonly reader: Redis;
  /** Appends, sent a turn of the event loop at a time (batch.ts). */
  private readonly appends: AppendBatcher;
  private readonly tailer: Tailer;
  private readonly listing: ListingKeys;
  /** Rooms this node serves; one that does not exist is kept briefly, then evicted when idle. */
  private readonly rooms: RoomTable<LoadedRoom>;
  private readonly byLogKey = new Map<string, LoadedRoom>();
  private readonly pending = new PendingCommands();
  /** Rejecters of submits waiting for their command to be applied, so close() can fail them. */
  private readonly waitingSubmits = new Set<(err: Error) => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly life = new Lifecycle('redis store');
  private lastSync: number | null = null;
  private downSince: number | null = null;
  /**
   * Set when a connection to Redis was lost: whatever Redis holds after it came back (another
   * primary, older data) is checked against every room here before the tailer reads more.
   */
  private logCheckNeeded = false;
  private lastError: string | null = null;
  /** The tailer's last read failed: this node is not following its rooms right now. */
  private tailFailing = false;
  private submitsInFlight = 0;
  /** Set while close() waits for the submits in flight. */
  private drained: (() => void) | null = null;

  constructor(options: RedisStoreOptions) {
    this.opts = resolveRedisOptions(options);
    this.listing = listingKeys(this.opts.keyPrefix);
    this.rooms = new RoomTable<LoadedRoom>({
      life: this.life,
      readTimeoutMs: this.opts.readTimeoutMs,
      load: (roomId) => this.load(roomId),
      dropEmpty: false,
      onDrop: (room) => this.byLogKey.delete(room.keys.log),
    });
    this.cmd = this.connection('commands');
    this.reader = this.connection('tail');
    this.appends = new AppendBatcher(this.cmd, APPEND_CATCH_UP);
    for (const client of [this.cmd, this.reader]) this.watchConnection(client);
    this.tailer = new Tailer({
      reader: this.reader,
      control: this.cmd,
      blockMs: this.opts.tailBlockMs,
      batch: this.opts.tailBatch,
      lingerMs: this.opts.tailLingerMs,
      hooks: {
        // Nothing more is read after Redis came back until every room's log has been checked.
        beforeRead: () => (this.logCheckNeeded ? this.checkLogs() : Promise.resolve()),
        targets: () => [...this.rooms.values()].map((r) => ({ key: r.keys.log, position: r.position })),
        deliver: (batches) => this.deliver(batches),
        synced: (at) => {
          if (this.reader.status !== 'ready') return;
          this.lastSync = at;
          this.tailFailing = false;
        },
        failed: (err) => {
          this.lastError = messageOf(err);
          this.tailFailing = true;
        },
      },
    });
  }

  /** When this node last knew it had applied everything Redis held for its rooms (ms since epoch). */
  get lastSyncAt(): number | null {
    return this.lastSync;
  }

  start(): Promise<void> {
    return this.life.start(() => this.doStart());
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
    if (this.cmd.status !== 'ready' || this.reader.status !== 'ready') {
      throw this.unavailable('it cannot take writes now');
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
        throw this.appendFailure(err, env);
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
        this.applyInOrder(room, appended.entries);
      }
      if (appended.seq <= room.position && this.pending.isWaiting(roomId, env.commandId)) {
        // This node applied another command where Redis just put this one: the log was rewound.
        // Should the check fail, the wait below ends as it would have (DEADLINE_EXCEEDED: retry).
        await this.checkLog(room).catch(() => undefined);
      }
      // If the read in flight started before this room was loaded, cut it short (see Tailer.wake).
      if (room.position < appended.seq && !this.tailer.isReading(room.keys.log)) this.tailer.wake();
      const outcome = await this.awaitApplied(applied, env);
      await this.afterOwnCommit(room, outcome);
      return outcome;
    } finally {
      room.busy--;
      room.replica.lastUsed = Date.now();
    }
  }

  read(roomId: string, minVersion?: number, timeoutMs?: number): Promise<RoomState | null> {
    return this.rooms.read(roomId, minVersion, timeoutMs);
  }

  subscribe(roomId: string, afterVersion: number, listener: FeedListener): Promise<Subscription> {
    return this.rooms.subscribe(roomId, afterVersion, listener);
  }

  async listRooms(limit: number): Promise<readonly RoomListing[]> {
    this.life.assertOpen();
    const count = listLimit(limit);
    if (count === 0) return [];
    let ids: string[];
    let raw: Array<string | null>;
    try {
      ids = await this.cmd.zrevrange(this.listing.publicRooms, 0, count - 1);
      raw = ids.length > 0 ? await this.cmd.hmget(this.listing.listing, ...ids) : [];
    } catch (err) {
      throw this.unavailable(`the room list cannot be read (${messageOf(err)})`);
    }
    const out: RoomListing[] = [];
    ids.forEach((id, i) => {
      const stored = parseListing(raw[i] ?? null);
      // A room this node holds may be newer than what was last written to the list.
      const local = this.rooms.get(id)?.replica;
      if (local?.state && local.version >= (stored?.version ?? -1)) {
        const listing = local.listing();
        if (listing && local.state.settings.public) out.push(listing);
      } else if (stored) {
        out.push(stored);
      }
    });
    return out;
  }

  loadedRooms(): readonly string[] {
    return this.rooms.loadedRooms();
  }

  health(): StoreHealth {
    const { where, keyPrefix } = this.opts;
    const notOpen = this.life.notOpenDetail();
    if (notOpen !== null) return { ready: false, detail: `${notOpen} (${where})` };
    const rooms = `${this.rooms.size} rooms loaded`;
    const sync = this.lastSync === null ? 'not yet in sync' : `in sync ${Date.now() - this.lastSync} ms ago`;
    const connected = this.cmd.status === 'ready' && this.reader.status === 'ready';
    if (connected && !this.tailFailing) {
      return { ready: true, detail: `redis ${where} (prefix ${keyPrefix}): ${rooms}, ${sync}` };
    }
    if (connected) {
      return {
        ready: false,
        detail: `redis ${where}: reading the room logs fails (${this.lastError ?? 'unknown error'}); ${rooms}, ${sync}`,
      };
    }
    const since = this.downSince === null ? '' : ` since ${new Date(this.downSince).toISOString()}`;
    const why = this.lastError === null ? '' : ` (${this.lastError})`;
    return {
      ready: false,
      detail: `redis ${where} unreachable${since}${why}; writes refused, reads serve ${rooms} as last applied, ${sync}`,
    };
  }

  close(): Promise<void> {
    return this.life.close(() => this.doClose());
  }

  // ---- Lifecycle ---------------------------------------------------------------------------------

  /**
   * Every connection the store opens is made here: to the server of a redis:// or rediss:// URL
   * (ioredis parses it), or to whichever server the sentinels name as master.
   */
  private connection(role: 'commands' | 'tail'): Redis {
    const options = this.connectionOptions(role);
    const { sentinel } = this.opts;
    if (sentinel === null) return new Redis(this.opts.url, options);
    return new Redis({
      ...options,
      sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: sentinel.name,
      role: 'master',
      // While starting, one pass over the sentinels: none answering fails the start (UNAVAILABLE)
      // instead of waiting forever. Once started, keep asking them (ioredis ends a connection for
      // good when this returns null), at the pace of retryStrategy; writes fail fast meanwhile.
      sentinelRetryStrategy: (times: number) =>
        this.life.phase === 'open' || this.life.phase === 'closing' ? Math.min(50 * times, 1000) : null,
      // A failover that leaves the old master alive turns it into a replica, which answers writes
      // with READONLY: reconnect then, which asks the sentinels for the master again. (ioredis'
      // failoverDetector would notice sooner, but can leave its sentinel subscriptions open after
      // disconnect, keeping the process alive.)
      reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
    });
  }

  private connectionOptions(role: 'commands' | 'tail') {
    const o = this.opts;
    return {
      lazyConnect: true,
      // Replies in RESP2 shapes, which stream.ts checks.
      protocol: 2 as const,
      // A command while disconnected fails at once, and one in flight when the connection drops
      // fails at once too, instead of waiting for a reconnect: writes must fail fast (UNAVAILABLE).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Reconnect by ourselves, quickly at first, then every 2 s while Redis stays away.
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      connectTimeout: Math.max(2000, o.commandTimeoutMs),
      connectionName: `chorus-${role}`,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.tls !== undefined ? { tls: o.tls } : {}),
      ...(role === 'commands'
        ? {
            commandTimeout: o.commandTimeoutMs,
            // A connection that stops answering (a half-open socket) is dropped and reconnected.
            // Generous: a busy event loop reads replies late, and a false alarm drops every
            // command in flight.
            socketTimeout: HALF_OPEN_MS + o.commandTimeoutMs,
          }
        : {
            // The blocking read answers within tailBlockMs when the connection is alive.
            socketTimeout: HALF_OPEN_MS + o.tailBlockMs,
          }),
    };
  }

  private watchConnection(client: Redis): void {
    client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    client.on('close', () => {
      if (!this.life.isOpen) return;
      this.logCheckNeeded = true;
      if (this.downSince !== null) return;
      this.downSince = Date.now();
      this.opts.logger.warn(
        { where: this.opts.where },
        `redis store: lost the connection to ${this.opts.where}; reconnecting`,
      );
    });
    client.on('ready', () => {
      if (this.downSince === null || this.cmd.status !== 'ready' || this.reader.status !== 'ready') return;
      this.opts.logger.info(
        { where: this.opts.where },
        `redis store: reconnected to ${this.opts.where} after ${Date.now() - this.downSince} ms; catching up`,
      );
      this.downSince = null;
      this.lastError = null;
      // The tailer checks the logs before its next read: let that be now, not after its back-off.
      this.tailer.wake();
    });
  }

  private async doStart(): Promise<void> {
    try {
      await Promise.all([this.cmd.connect(), this.reader.connect()]);
      await this.checkServerVersion();
    } catch (err) {
      this.cmd.disconnect();
      this.reader.disconnect();
      if (err instanceof ChorusError) throw err;
      throw new ChorusError('UNAVAILABLE', `cannot reach Redis at ${this.opts.where}: ${messageOf(err)}`);
    }
    this.tailer.start();
    const sweepEvery = Math.max(100, Math.min(this.opts.idleEvictMs / 4, 30_000));
    this.timers.push(
      setInterval(() => this.rooms.evictIdle(this.opts.idleEvictMs, (room) => room.snapshotting), sweepEvery),
    );
    this.timers.push(setInterval(() => this.refreshListings(), this.opts.listingRefreshMs));
    for (const timer of this.timers) timer.unref();
  }

  /** Log ids of the form `0-*` (auto sequence under an explicit time part) need Redis 7.0. */
  private async checkServerVersion(): Promise<void> {
    let info: string;
    try {
      info = String(await this.cmd.call('INFO', 'server'));
    } catch (err) {
      // Some managed services refuse INFO; the first append would then tell the truth.
      if (err instanceof Error && err.name === 'ReplyError') return;
      throw err;
    }
    const version = /redis_version:(\S+)/.exec(info)?.[1];
    const major = Number(version?.split('.')[0]);
    if (Number.isFinite(major) && major < 7) {
      throw new ChorusError(
        'FAILED_PRECONDITION',
        `the redis store needs Redis 7.0 or newer; ${this.opts.where} runs ${version ?? 'an unknown version'}`,
      );
    }
  }

  /** Runs once the lifecycle is `closing`, so new submits, reads and loads are refused already. */
  private async doClose(): Promise<void> {
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
    const reason = new ChorusError(
      'UNAVAILABLE',
      'the store closed before this node saw the command applied; retry with the same commandId on another node',
    );
    for (const reject of [...this.waitingSubmits]) reject(reason);
    await this.tailer.stop();
    this.rooms.closeAll(reason);
    try {
      await this.cmd.quit();
    } catch {
      this.cmd.disconnect();
    }
  }

  private unavailable(what: string): ChorusError {
    const why = this.lastError === null ? '' : ` (${this.lastError})`;
    return new ChorusError(
      'UNAVAILABLE',
      `Redis at ${this.opts.where} is unreachable${why}: ${what}; retry later`,
      {
        retryable: true,
      },
    );
  }

  // ---- Writes ------------------------------------------------------------------------------------

  /**
   * Whether an append that failed may still have been written decides the code: UNAVAILABLE only
   * when it certainly was not (never sent, or refused by Redis); otherwise the outcome is unknown.
   */
  private appendFailure(err: unknown, env: Envelope): ChorusError {
    const message = messageOf(err);
    const notSent = message.includes("isn't writeable");
    const refused = err instanceof Error && err.name === 'ReplyError';
    if (notSent || refused) return this.unavailable(`the command was not written (${message})`);
    return new ChorusError(
      'DEADLINE_EXCEEDED',
      `the connection to Redis failed while the command was being written (${message}); it may still take effect: retry with the same commandId`,
      { commandId: env.commandId },
    );
  }

  private awaitApplied(applied: Promise<CommitOutcome>, env: Envelope): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.waitingSubmits.delete(fail);
      };
      const fail = (err: Error): void => {
        settle();
        this.pending.forget(env.roomId, env.commandId);
        reject(err);
      };
      const timer = setTimeout(() => {
        fail(
          new ChorusError(
            'DEADLINE_EXCEEDED',
            `Redis ordered the command but this node did not apply it within ${this.opts.submitTimeoutMs} ms; it will take effect: retry with the same commandId to see its result`,
            { commandId: env.commandId },
          ),
        );
      }, this.opts.submitTimeoutMs);
      this.waitingSubmits.add(fail);
      void applied.then((outcome) => {
        settle();
        resolve(outcome);
      });
    });
  }

  /** Work the proposing node does once its command is applied: the room list, and snapshots. */
  private async afterOwnCommit(room: LoadedRoom, outcome: CommitOutcome): Promise<void> {
    const type = outcome.result.ok ? outcome.result.value.type : null;
    if (type === 'createRoom' || type === 'updateSettings') {
      // Awaited, so a room is listed on every node once its creation is acknowledged.
      await this.writeListing(room).catch((err: unknown) => {
        this.opts.logger.warn(
          { roomId: room.id },
          `redis store: could not list room ${room.id} (${messageOf(err)}); will retry`,
        );
      });
    }
    this.maybeSnapshot(room);
  }

  /**
   * The proposer of a command that leaves the room's log `snapshotEvery` entries past the newest
   * known snapshot writes a new one (rather than every node holding the room). Two nodes may race;
   * the script keeps the newest, so that is safe.
   */
  private maybeSnapshot(room: LoadedRoom): void {
    if (room.snapshotting || room.position - room.snapshotAt < this.opts.snapshotEvery) return;
    room.snapshotting = true;
    void this.writeSnapshot(room)
      .catch((err: unknown) => {
        this.opts.logger.warn(
          { roomId: room.id },
          `redis store: snapshot of room ${room.id} failed (${messageOf(err)})`,
        );
      })
      .finally(() => {
        room.snapshotting = false;
      });
  }

  private async writeSnapshot(room: LoadedRoom): Promise<void> {
    // Another node may have written one meanwhile: a small read saves uploading the whole room.
    const stored = Number((await this.cmd.hget(room.keys.snap, 'seq')) ?? 0);
    room.snapshotAt = Math.max(room.snapshotAt, stored);
    const state = room.replica.state;
    if (!state || room.position - room.snapshotAt < this.opts.snapshotEvery) return;
    // State and position are read in the same tick, so the snapshot covers exactly that position.
    const seq = room.position;
    const data = JSON.stringify(snapshot(state));
    const after = await SNAPSHOT.run(
      this.cmd,
      [room.keys.snap, room.keys.log],
      [seq, data, this.opts.retainBehindSnapshot],
    );
    room.snapshotAt = Math.max(room.snapshotAt, Number(after));
  }

  private async writeListing(room: LoadedRoom): Promise<void> {
    const state = room.replica.state;
    const listing = room.replica.listing();
    if (!state || !listing || state.version <= room.listedVersion) return;
    await LISTING.run(
      this.cmd,
      [this.listing.publicRooms, this.listing.listing],
      [
        state.id,
        state.version,
        state.createdAt,
        state.settings.public ? '1' : '0',
        JSON.stringify({ ...listing, public: state.settings.public }),
      ],
    );
    room.listedVersion = Math.max(room.listedVersion, state.version);
  }

  /** Member counts, queue lengths and now playing change with most commands: copied in the background. */
  private refreshListings(): void {
    if (this.cmd.status !== 'ready') return;
    for (const room of this.rooms.values()) {
      if (!room.replica.state || room.replica.version <= room.listedVersion) continue;
      this.writeListing(room).catch(() => {
        // Retried at the next refresh.
      });
    }
  }

  // ---- Loading and tailing -----------------------------------------------------------------------

  /** Snapshot, then the log after it, then the tailer takes over from there. */
  private async load(roomId: string): Promise<LoadedRoom> {
    if (this.cmd.status !== 'ready') throw this.unavailable(`room ${roomId} is not loaded on this node`);
    const keys = roomKeys(this.opts.keyPrefix, roomId);
    let fetched: FetchedRoom;
    try {
      fetched = await this.fetchRoom(roomId, keys);
    } catch (err) {
      if (err instanceof BrokenLogError) throw new ChorusError('INTERNAL', err.message, { roomId });
      throw this.unavailable(`room ${roomId} could not be loaded (${messageOf(err)})`);
    }
    if (this.life.closeRequested) throw this.life.unavailable();
    const room: LoadedRoom = {
      id: roomId,
      keys,
      replica: new RoomReplica(roomId, fetched.base, this.opts.logger),
      position: fetched.baseSeq,
      lastCommandId: null,
      snapshotAt: fetched.baseSeq,
      busy: 0,
      snapshotting: false,
      listedVersion: -1,
    };
    // Nobody else sees this replica yet, so yielding between entries is safe.
    const slice = new Slicer();
    for (const entry of fetched.entries) {
      this.applyEntry(room, entry);
      await slice.yieldIfLong();
    }
    if (this.life.closeRequested) throw this.life.unavailable();
    this.rooms.add(room);
    this.byLogKey.set(keys.log, room);
    this.tailer.wake();
    return room;
  }

  /**
   * The newest snapshot and every log entry after it. Another node may write a newer snapshot and
   * trim the log between the two reads; the gap shows (entry ids are consecutive), so read again.
   */
  private async fetchRoom(roomId: string, keys: RoomKeys): Promise<FetchedRoom> {
    for (let attempt = 1; ; attempt++) {
      const [seq, data] = await this.cmd.hmget(keys.snap, 'seq', 'data');
      const baseSeq = seq ? Number(seq) : 0;
      const base = data ? restore(JSON.parse(data)) : null;
      const entries = await this.readLogAfter(keys.log, baseSeq);
      if (entries) return { base, baseSeq, entries };
      if (attempt >= FETCH_ATTEMPTS) {
        throw new BrokenLogError(
          `the log of room ${roomId} in Redis does not continue its snapshot (at ${baseSeq}); Redis lost data`,
        );
      }
    }
  }

  /** Entries after `after`, or null when the log does not continue from there. */
  private async readLogAfter(key: string, after: number): Promise<LogEntry[] | null> {
    const out: LogEntry[] = [];
    let position = after;
    for (;;) {
      const page = parseEntries(
        await this.cmd.call('XRANGE', key, `(${idOf(position)}`, '+', 'COUNT', XRANGE_PAGE),
      );
      for (const entry of page) {
        if (entry.seq !== position + 1) return null;
        out.push(entry);
        position = entry.seq;
      }
      if (page.length < XRANGE_PAGE) return out;
    }
  }

  private applyEntry(room: LoadedRoom, entry: LogEntry): void {
    room.position = entry.seq;
    const env = decodeEnvelope(entry.fields);
    room.lastCommandId = env?.commandId ?? null;
    if (env === null) {
      // Every node skips it alike, so replicas stay identical.
      this.opts.logger.warn(
        { roomId: room.id },
        `redis store: room ${room.id} log entry ${entry.seq} is not a command; skipped`,
      );
      return;
    }
    const outcome = room.replica.applyCommitted(env);
    this.pending.settle(room.id, env.commandId, outcome);
  }

  /**
   * Applies entries that continue the room's log from its position, skipping those already
   * applied. Stops at a gap (the log was trimmed past this node): the tailer resyncs then.
   */
  private applyInOrder(room: LoadedRoom, entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      if (entry.seq <= room.position) continue;
      if (entry.seq > room.position + 1) return;
      this.applyEntry(room, entry);
    }
  }

  private async deliver(batches: readonly StreamBatch[]): Promise<void> {
    this.tailFailing = false;
    const slice = new Slicer();
    for (const { key, entries } of batches) {
      for (const entry of entries) {
        // Looked up per entry: the room may be evicted (or reloaded) while this loop yields.
        const room = this.byLogKey.get(key);
        if (!room) break;
        // Applied already: the room was loaded while the read was in flight.
        if (entry.seq <= room.position) continue;
        if (entry.seq > room.position + 1) {
          await this.resync(room);
          break;
        }
        this.applyEntry(room, entry);
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
      const { base, baseSeq, entries } = await this.fetchRoom(room.id, room.keys);
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
        room.replica.reset(base);
        room.position = baseSeq;
        room.lastCommandId = null;
        // A rewound log may have lost the snapshot this node knew of, too.
        room.snapshotAt = rewound === undefined ? Math.max(room.snapshotAt, baseSeq) : baseSeq;
        // Own writes among the skipped entries: their results are in the room's recent commands.
        // (A refused one is not; its submit ends with DEADLINE_EXCEEDED, which says "retry".)
        for (const recent of base?.recent ?? []) {
          this.pending.settle(room.id, recent.commandId, {
            result: { ok: true, value: recent.result },
            state: base,
          });
        }
      }
      // The room is busy, so it stays loaded while this yields; only the tailer (awaiting this) applies.
      const slice = new Slicer();
      for (const entry of entries) {
        if (entry.seq !== room.position + 1) continue;
        this.applyEntry(room, entry);
        await slice.yieldIfLong();
      }
      // A read in flight waits for entries past the old position; the tailer reads again from here.
      if (rewound !== undefined) this.tailer.wake(true);
    } catch (err) {
      if (!(err instanceof BrokenLogError)) throw err;
      // Not this node's to repair: drop the room so that its next use reports the error.
      this.opts.logger.warn({ where: this.opts.where }, `redis store: ${err.message}; room unloaded`);
      this.rooms.drop(room, new ChorusError('INTERNAL', err.message, { roomId: room.id }));
    } finally {
      room.busy--;
    }
  }

  /**
   * Whether the room's log in Redis still holds what this node applied: an entry at its position,
   * with the command it applied there. After a failover (replication is asynchronous) or a restore
   * from an older backup, Redis may hold less or something else; this node must then follow Redis
   * rather than go on from a history that no other node has.
   */
  private async checkLog(room: LoadedRoom): Promise<void> {
    const { position, lastCommandId } = room;
    if (position === 0) return;
    const [lastReply, atReply] = await Promise.all([
      this.cmd.call('XREVRANGE', room.keys.log, '+', '-', 'COUNT', 1),
      this.cmd.call('XRANGE', room.keys.log, idOf(position), idOf(position)),
    ]);
    const last = parseEntries(lastReply, 'XREVRANGE')[0]?.seq ?? 0;
    const at = parseEntries(atReply)[0];
    let rewound: string | null = null;
    if (last < position) {
      rewound = `its log in Redis ends at entry ${last}, before entry ${position} that this node applied`;
    } else if (at && lastCommandId !== null && decodeEnvelope(at.fields)?.commandId !== lastCommandId) {
      rewound = `entry ${position} of its log in Redis is not the command this node applied there`;
    }
    if (rewound !== null && this.rooms.get(room.id) === room) await this.resync(room, rewound);
  }

  /** Redis may have failed over, or been restarted from older data: every room held here is checked. */
  private async checkLogs(): Promise<void> {
    this.logCheckNeeded = false;
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
      this.logCheckNeeded = true;
      throw new Error(`the logs could not be checked after reconnecting (${failed.join('; ')})`);
    }
  }
}

function parseListing(raw: string | null): RoomListing | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    if (
      typeof v['id'] !== 'string' ||
      typeof v['name'] !== 'string' ||
      typeof v['createdAt'] !== 'number' ||
      typeof v['memberCount'] !== 'number' ||
      typeof v['queueLength'] !== 'number' ||
      (v['nowPlaying'] !== null && typeof v['nowPlaying'] !== 'string') ||
      typeof v['version'] !== 'number' ||
      v['public'] === false
    ) {
      return null;
    }
    return {
      id: v['id'],
      name: v['name'],
      createdAt: v['createdAt'],
      memberCount: v['memberCount'],
      queueLength: v['queueLength'],
      nowPlaying: v['nowPlaying'],
      version: v['version'],
    };
  } catch {
    return null;
  }
}
