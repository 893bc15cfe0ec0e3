// The store's two connections to Redis and what it knows of them: when it last was in sync, since
// when Redis is away and why, whether the tailer's reads fail, and whether the logs must be checked
// again (Redis may have failed over, or come back from older data, while it was away). Health and
// the "Redis is unreachable" refusal are written from here.

import { Cluster } from 'ioredis';
import type { RedisClient } from './connection.ts';
import { keySlot } from './keys.ts';
import { chorusError, type ChorusError } from '../../domain/index.ts';
import type { StoreHealth } from '../types.ts';
import { openConnection } from './connection.ts';
import type { ResolvedRedisOptions } from './options.ts';

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class RedisLink {
  /** Commands, scripts and loads. No offline queue: a command while disconnected fails at once. */
  readonly cmd: RedisClient;
  /** The tailer's blocking connection. */
  readonly reader: RedisClient;
  /** When this node last knew it had applied everything Redis held for its rooms (ms since epoch). */
  lastSync: number | null = null;
  /**
   * Set when a connection to Redis was lost: whatever Redis holds after it came back (another
   * primary, older data) is checked against every room here before the tailer reads more.
   */
  logCheckNeeded = false;
  /** The tailer's last read failed: this node is not following its rooms right now. */
  tailFailing = false;
  private downSince: number | null = null;
  private lastError: string | null = null;
  private readonly opts: ResolvedRedisOptions;

  /**
   * `open`: the store is open (connections lost before or after do not count as outages);
   * `started`: a Sentinel connection keeps asking the sentinels; `reconnected`: both are back.
   */
  constructor(
    opts: ResolvedRedisOptions,
    hooks: { open: () => boolean; started: () => boolean; reconnected: () => void },
  ) {
    this.opts = opts;
    this.cmd = openConnection(opts, 'commands', hooks.started);
    this.reader = openConnection(opts, 'tail', hooks.started);
    for (const client of [this.cmd, this.reader]) {
      client.on('error', (err: Error) => {
        this.lastError = err.message;
      });
      // On a Cluster one primary may go while the client stays up: its rooms must be checked once
      // it is back or replaced (its replica may not hold everything it acknowledged).
      client.on('node error', (err: Error) => {
        this.lastError = err.message;
        if (hooks.open()) this.logCheckNeeded = true;
      });
      client.on('close', () => {
        if (!hooks.open()) return;
        this.logCheckNeeded = true;
        if (this.downSince !== null) return;
        this.downSince = Date.now();
        opts.logger.warn(
          { where: opts.where },
          `redis store: lost the connection to ${opts.where}; reconnecting`,
        );
      });
      client.on('ready', () => {
        if (this.downSince === null || !this.connected) return;
        opts.logger.info(
          { where: opts.where },
          `redis store: reconnected to ${opts.where} after ${Date.now() - this.downSince} ms; catching up`,
        );
        this.downSince = null;
        this.lastError = null;
        hooks.reconnected();
      });
    }
  }

  /** Both connections are up. */
  get connected(): boolean {
    return this.cmd.status === 'ready' && this.reader.status === 'ready';
  }

  /**
   * On a Cluster, whether the primary that owns this key's slot can be written to now. A command for
   * a primary the client lost would be refused before being sent with the same words ("Connection is
   * closed") as one lost in flight; refused here it is certainly not written: UNAVAILABLE.
   */
  writable(key: string): boolean {
    const cmd = this.cmd;
    if (!(cmd instanceof Cluster)) return true;
    const owner = cmd.slots[keySlot(key)]?.[0];
    const node = cmd.nodes('master').find((r) => `${r.options.host ?? ''}:${r.options.port ?? ''}` === owner);
    // No owner known yet: let the client route it. An owner no longer connected (the client drops
    // a node whose connection closed) or reconnecting: refuse.
    if (owner === undefined) return true;
    if (node !== undefined && !['reconnecting', 'close', 'end'].includes(node.status)) return true;
    // A failover replaces the owner; ask the cluster who owns the slot now.
    cmd.refreshSlotsCache();
    return false;
  }

  /** The tailer read everything there was at `at`. */
  synced(at: number): void {
    if (this.reader.status !== 'ready') return;
    this.lastSync = at;
    this.tailFailing = false;
  }

  /** The tailer's read failed. */
  failed(err: unknown): void {
    this.lastError = messageOf(err);
    this.tailFailing = true;
  }

  /** The refusal of an operation that needs Redis now. */
  unreachable(what: string): ChorusError {
    const why = this.lastError === null ? '' : ` (${this.lastError})`;
    return chorusError('REDIS_UNREACHABLE', { where: this.opts.where, why, what });
  }

  /**
   * Whether an append that failed may still have been written decides the code: UNAVAILABLE only
   * when it certainly was not (never sent, or refused by Redis); otherwise the outcome is unknown.
   */
  appendFailure(err: unknown, commandId: string): ChorusError {
    const message = messageOf(err);
    // Cluster replies and client refusals that come before the command ran anywhere.
    const notSent =
      message.includes("isn't writeable") ||
      message.includes("Cluster isn't ready") ||
      /^(Too many Cluster redirections|CLUSTERDOWN|TRYAGAIN)/.test(message);
    const refused = err instanceof Error && err.name === 'ReplyError';
    if (notSent || refused) return this.unreachable(`the command was not written (${message})`);
    return chorusError('REDIS_WRITE_INTERRUPTED', { problem: message, commandId });
  }

  /** Health of an open store holding `loaded` rooms. */
  health(loaded: number): StoreHealth {
    const { where, keyPrefix } = this.opts;
    const rooms = `${loaded} rooms loaded`;
    const sync = this.lastSync === null ? 'not yet in sync' : `in sync ${Date.now() - this.lastSync} ms ago`;
    if (this.connected && !this.tailFailing) {
      return { ready: true, detail: `redis ${where} (prefix ${keyPrefix}): ${rooms}, ${sync}` };
    }
    if (this.connected) {
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
}
