// The tailer: one loop per node that reads the logs of every room the node holds, in batches, with
// one blocking XREAD over all their streams on a dedicated connection (a blocked connection can run
// nothing else). It hands what it reads to the store, which applies it; it never applies anything
// itself, so each room has exactly one path by which commands reach its replica after loading.
//
// Redis Cluster: one XREAD may only name keys of one slot; cluster-tailer.ts reads a Cluster, with
// the same hooks.

import type { Redis } from 'ioredis';
import type { RedisClient } from './connection.ts';
import { idOf, parseXread, type StreamBatch } from './stream.ts';

export interface TailTarget {
  readonly key: string;
  /** Position of the last entry applied: the read starts after it. */
  readonly position: number;
}

export interface TailerHooks {
  /** Runs before each read; a rejection counts as a failed read (back off, then try again). */
  beforeRead(): Promise<void>;
  /** The streams to read now, with their positions. Called before each read. */
  targets(): readonly TailTarget[];
  /** Applies what was read. May do Redis reads of its own (a room that must be reloaded). */
  deliver(batches: readonly StreamBatch[]): Promise<void>;
  /** Every target was read up to the end of its stream at this moment. */
  synced(at: number): void;
  /** A read failed (connection lost, Redis loading); the loop backs off and retries by itself. */
  failed(err: unknown): void;
}

/** What the store asks of its tailer, on a single server (Tailer) or a Redis Cluster (ClusterTailer). */
export interface LogTailer {
  start(): void;
  wake(positionsMoved?: boolean): void;
  isReading(key: string): boolean;
  stop(): Promise<void>;
}

export interface TailerOptions {
  /** The dedicated blocking connection. */
  readonly reader: Redis;
  /** Another connection, used to interrupt the reader's block when the set of rooms grows. */
  readonly control: RedisClient;
  readonly blockMs: number;
  readonly batch: number;
  /** Pause after a read that brought entries. */
  readonly lingerMs: number;
  readonly hooks: TailerHooks;
}

const MAX_BACKOFF_MS = 2000;

export class Tailer implements LogTailer {
  private readonly opts: TailerOptions;
  private stopped = false;
  private loop: Promise<void> | null = null;
  /** CLIENT ID of the reader connection, for CLIENT UNBLOCK; null after a reconnect until re-read. */
  private readerId: number | null = null;
  /** Streams named by the XREAD in flight, or null when none is. */
  private inFlight: ReadonlySet<string> | null = null;
  /** Wakes the loop from an idle wait (no rooms) or a back-off sleep. */
  private nudge: (() => void) | null = null;

  constructor(opts: TailerOptions) {
    this.opts = opts;
    // A new connection has a new client id.
    opts.reader.on('close', () => {
      this.readerId = null;
    });
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /**
   * The set of rooms changed (one was loaded): make the loop read again at once. A blocked XREAD
   * that does not name the new room is cut short with CLIENT UNBLOCK from the control connection;
   * with `positionsMoved` (a room went back to an earlier position) any blocked XREAD is.
   */
  wake(positionsMoved = false): void {
    this.nudge?.();
    const inFlight = this.inFlight;
    if (inFlight === null || this.readerId === null) return;
    if (!positionsMoved && this.opts.hooks.targets().every((t) => inFlight.has(t.key))) return;
    this.opts.control.call('CLIENT', 'UNBLOCK', this.readerId).catch(() => {
      // The control connection is down too; the block ends by itself within blockMs.
    });
  }

  /** True when the XREAD in flight already names this stream (its new entries arrive without a wake). */
  isReading(key: string): boolean {
    return this.inFlight?.has(key) ?? false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge?.();
    // Disconnecting the reader rejects a blocked XREAD at once.
    this.opts.reader.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { reader, blockMs, batch, lingerMs, hooks } = this.opts;
    let backoff = 0;
    while (!this.stopped) {
      try {
        // Before the targets: it may move a room's position.
        await hooks.beforeRead();
        const targets = hooks.targets();
        if (targets.length === 0) {
          hooks.synced(Date.now());
          await this.pause(blockMs);
          continue;
        }
        if (this.readerId === null) this.readerId = Number(await reader.call('CLIENT', 'ID'));
        const keys = targets.map((t) => t.key);
        this.inFlight = new Set(keys);
        const reply = await reader.call(
          'XREAD',
          'COUNT',
          batch,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...keys,
          ...targets.map((t) => idOf(t.position)),
        );
        this.inFlight = null;
        const readAt = Date.now();
        const batches = parseXread(reply);
        await hooks.deliver(batches);
        // A full batch means that stream may hold more: not known to be in sync yet.
        if (batches.every((b) => b.entries.length < batch)) hooks.synced(readAt);
        backoff = 0;
        // Under load, let entries gather before the next read (see RedisStoreOptions.tailLingerMs).
        if (lingerMs > 0 && batches.length > 0) await this.pause(lingerMs);
      } catch (err) {
        this.inFlight = null;
        if (this.stopped) break;
        hooks.failed(err);
        backoff = Math.min(Math.max(50, backoff * 2), MAX_BACKOFF_MS);
        await this.pause(backoff);
      }
    }
  }

  /** Sleeps for ms, or less when woken. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.nudge = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.nudge = done;
    });
  }
}
