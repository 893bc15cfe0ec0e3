// The tailer: one loop per node that reads the logs of every room the node holds, in batches, with
// one blocking XREAD over all their streams on a dedicated connection (a blocked connection can run
// nothing else). It hands what it reads to the store, which applies it; it never applies anything
// itself, so each room has exactly one path by which commands reach its replica after loading.
// The loop, wake, back-off and stop are tail-loop.ts's, shared with cluster-tailer.ts.
//
// Redis Cluster: one XREAD may only name keys of one slot; cluster-tailer.ts reads a Cluster, with
// the same hooks.

import type { Redis } from 'ioredis';
import type { RedisClient } from './connection.ts';
import { idOf, parseXread } from './stream.ts';
import { TailLoop, type TailerHooks, type TailTarget } from './tail-loop.ts';

export type { LogTailer, TailerHooks, TailTarget } from './tail-loop.ts';

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

export class Tailer extends TailLoop {
  private readonly opts: TailerOptions;
  /** CLIENT ID of the reader connection, for CLIENT UNBLOCK; null after a reconnect until re-read. */
  private readerId: number | null = null;

  constructor(opts: TailerOptions) {
    super(opts.hooks, opts.blockMs);
    this.opts = opts;
    // A new connection has a new client id.
    opts.reader.on('close', () => {
      this.readerId = null;
    });
  }

  /** CLIENT UNBLOCK from the control connection. */
  protected interrupt(): void {
    if (this.readerId === null) return;
    this.opts.control.call('CLIENT', 'UNBLOCK', this.readerId).catch(() => {
      // The control connection is down too; the block ends by itself within blockMs.
    });
  }

  protected disconnect(): void {
    this.opts.reader.disconnect();
  }

  protected async round(targets: readonly TailTarget[]): Promise<void> {
    const { reader, blockMs, batch, lingerMs } = this.opts;
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
    await this.hooks.deliver(batches);
    // A full batch means that stream may hold more: not known to be in sync yet.
    if (batches.every((b) => b.entries.length < batch)) this.hooks.synced(readAt);
    // Under load, let entries gather before the next read (see RedisStoreOptions.tailLingerMs).
    if (lingerMs > 0 && batches.length > 0) await this.pause(lingerMs);
  }
}
