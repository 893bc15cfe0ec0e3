// What both tailers share (tailer.ts on one server, cluster-tailer.ts on a Redis Cluster): the loop
// that asks the store for its rooms and reads them round after round, the idle wait when there are
// none, the back-off after a failed round, the wake that makes the loop read again at once, and
// the stop. A subclass says how one round reads (`round`), how a blocked read is cut short
// (`interrupt`) and what it closes on stop (`disconnect`).
//
// Invariant: the loop never applies anything; it hands what it reads to the store's hooks, so each
// room has exactly one path by which commands reach its replica after loading.

import type { StreamBatch } from './stream.ts';

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

export const MAX_BACKOFF_MS = 2000;
/** While stopping: how often the connections are closed again, and for how long in all. */
export const STOP_RETRY_MS = 250;
export const STOP_GIVE_UP_MS = 10_000;

/** True when `p` settles within `ms`. */
function endsWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** The next back-off after a failure: 50 ms, doubling, at most MAX_BACKOFF_MS. */
export function nextBackoff(backoff: number): number {
  return Math.min(Math.max(50, backoff * 2), MAX_BACKOFF_MS);
}

export abstract class TailLoop implements LogTailer {
  protected readonly hooks: TailerHooks;
  /** How long to wait when there is nothing to read (a new room wakes the loop sooner). */
  private readonly idleMs: number;
  protected stopped = false;
  private loop: Promise<void> | null = null;
  /** Streams named by the blocking read(s) in flight, or null when none is. */
  protected inFlight: ReadonlySet<string> | null = null;
  /** Wakes the loop from an idle wait, a poll or a back-off sleep. */
  private nudge: (() => void) | null = null;

  protected constructor(hooks: TailerHooks, idleMs: number) {
    this.hooks = hooks;
    this.idleMs = idleMs;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /**
   * The set of rooms changed (one was loaded): make the loop read again at once. A blocked read
   * that does not name the new room is cut short; with `positionsMoved` (a room went back to an
   * earlier position) any blocked read is.
   */
  wake(positionsMoved = false): void {
    this.nudge?.();
    const inFlight = this.inFlight;
    if (inFlight === null) return;
    if (!positionsMoved && this.hooks.targets().every((t) => inFlight.has(t.key))) return;
    this.interrupt();
  }

  /** True when a read in flight already names this stream (its new entries arrive without a wake). */
  isReading(key: string): boolean {
    return this.inFlight?.has(key) ?? false;
  }

  /**
   * Stops the loop: its connections are closed, which rejects a read in flight at once. Not always
   * on a Redis Cluster: ioredis opens a node again for a command redirected (MOVED) while the
   * cluster is disconnecting, and queues the command until the cluster is ready, which it never is
   * again (seen once in a reshard under load: a close that never returned). So the connections are
   * closed again every STOP_RETRY_MS until the loop has ended; after STOP_GIVE_UP_MS, stop returns
   * anyway (the loop, stopped, ends whenever its read does).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge?.();
    this.disconnect();
    const loop = this.loop;
    if (loop === null) return;
    for (let waited = 0; waited < STOP_GIVE_UP_MS; waited += STOP_RETRY_MS) {
      if (await endsWithin(loop, STOP_RETRY_MS)) return;
      this.disconnect();
    }
  }

  /** One round over `targets` (never empty): read, deliver, say when in sync, pause as fits. */
  protected abstract round(targets: readonly TailTarget[]): Promise<void>;
  /** Cuts the blocked read(s) in flight short. */
  protected abstract interrupt(): void;
  /** Closes the connections the loop reads on. */
  protected abstract disconnect(): void;
  /** After a failed round, before the back-off. */
  protected afterFailure(): void {}

  private async run(): Promise<void> {
    let backoff = 0;
    while (!this.stopped) {
      try {
        // Before the targets: it may move a room's position.
        await this.hooks.beforeRead();
        const targets = this.hooks.targets();
        if (targets.length === 0) {
          this.hooks.synced(Date.now());
          await this.pause(this.idleMs);
          continue;
        }
        await this.round(targets);
        backoff = 0;
      } catch (err) {
        this.inFlight = null;
        if (this.stopped) break;
        this.hooks.failed(err);
        this.afterFailure();
        backoff = nextBackoff(backoff);
        await this.pause(backoff);
      }
    }
  }

  /** Sleeps for ms, or less when woken. */
  protected pause(ms: number): Promise<void> {
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
