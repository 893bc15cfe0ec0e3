// Options of the redis store, validated once when the store is opened (DESIGN.md section 7: config is
// read and checked at start and passed down). Every option but `url` has a default that suits a
// production deployment; tests shrink the thresholds to exercise snapshots and eviction quickly.

import type { ConnectionOptions } from 'node:tls';
import { ChorusError } from '../../domain/index.ts';

/** Where the store reports what it does on its own (reconnects, reloads). Pino loggers fit. */
export interface RedisStoreLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface RedisStoreOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS (the REDIS_URL convention).
   * Redis 7.0 or newer is required (stream ids of the form `0-*`).
   */
  readonly url: string;
  /** Used when the URL carries no user name (Redis 6 ACL users). */
  readonly username?: string;
  /** Used when the URL carries no password, so a secret can stay out of a URL that gets logged. */
  readonly password?: string;
  /** TLS settings (CA, client certificate, servername). Given alone, they turn TLS on for a redis:// URL too. */
  readonly tls?: ConnectionOptions;
  /** Prefix of every key this store writes; isolates deployments sharing one Redis. Default `chorus:`. */
  readonly keyPrefix?: string;
  /** Longest time one Redis command may take before the operation fails. Default 2000 ms. */
  readonly commandTimeoutMs?: number;
  /** How long submit waits to see its own command applied here once Redis ordered it. Default 10000 ms. */
  readonly submitTimeoutMs?: number;
  /** Default wait of read() for minVersion. Default 5000 ms. */
  readonly readTimeoutMs?: number;
  /** Log entries since a room's last snapshot after which the proposing node writes a new one. Default 500. */
  readonly snapshotEvery?: number;
  /**
   * Log entries kept behind the newest snapshot when the log is trimmed, so a node that lags by less
   * than this keeps its event feed instead of resetting its subscribers from the snapshot. At least 1:
   * the entry at the snapshot's position stays, so a node behind it sees the gap on its next read.
   * Default 500.
   */
  readonly retainBehindSnapshot?: number;
  /** A room with no subscriber and no use for this long is dropped from memory. Default 10 minutes. */
  readonly idleEvictMs?: number;
  /** Longest block of the tailer's XREAD; also how often staleness is refreshed when idle. Default 2000 ms. */
  readonly tailBlockMs?: number;
  /** Entries read per stream per XREAD. Default 500. */
  readonly tailBatch?: number;
  /** How often this node copies the rooms it holds into the public room list. Default 5000 ms. */
  readonly listingRefreshMs?: number;
  readonly logger?: RedisStoreLogger;
}

export interface ResolvedRedisOptions {
  readonly url: string;
  /** The URL without credentials, for health and logs. */
  readonly where: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: ConnectionOptions | undefined;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly submitTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly snapshotEvery: number;
  readonly retainBehindSnapshot: number;
  readonly idleEvictMs: number;
  readonly tailBlockMs: number;
  readonly tailBatch: number;
  readonly listingRefreshMs: number;
  readonly logger: RedisStoreLogger;
}

const silent: RedisStoreLogger = { info: () => {}, warn: () => {} };

type NumericOption =
  | 'commandTimeoutMs'
  | 'submitTimeoutMs'
  | 'readTimeoutMs'
  | 'snapshotEvery'
  | 'retainBehindSnapshot'
  | 'idleEvictMs'
  | 'tailBlockMs'
  | 'tailBatch'
  | 'listingRefreshMs';

/** Default and inclusive bounds of each numeric option. */
const NUMERIC: Readonly<Record<NumericOption, readonly [def: number, min: number, max: number]>> = {
  commandTimeoutMs: [2000, 50, 600_000],
  submitTimeoutMs: [10_000, 100, 600_000],
  readTimeoutMs: [5000, 0, 600_000],
  snapshotEvery: [500, 1, 10_000_000],
  retainBehindSnapshot: [500, 1, 10_000_000],
  idleEvictMs: [600_000, 100, 7 * 24 * 3_600_000],
  tailBlockMs: [2000, 10, 60_000],
  tailBatch: [500, 1, 100_000],
  listingRefreshMs: [5000, 50, 3_600_000],
};

function invalid(message: string, option: string): ChorusError {
  return new ChorusError('INVALID_ARGUMENT', `redis store: ${message}`, { option });
}

export function resolveRedisOptions(options: RedisStoreOptions): ResolvedRedisOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object', 'options');
  const { url } = options;
  if (typeof url !== 'string' || url.trim() === '') {
    throw invalid('url is required, e.g. redis://127.0.0.1:6379 or rediss://user:secret@host:6380', 'url');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(
      `url ${JSON.stringify(url)} is not a URL; use redis://host:port or rediss://host:port`,
      'url',
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw invalid(`url must start with redis:// or rediss:// (got ${parsed.protocol}//)`, 'url');
  }
  if (parsed.hostname === '') throw invalid('url has no host', 'url');
  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d{1,2}$/.test(parsed.pathname)) {
    throw invalid(`the path of the url is the database number (e.g. /0), not ${parsed.pathname}`, 'url');
  }

  const keyPrefix = options.keyPrefix ?? 'chorus:';
  // A brace in the prefix would become the hash tag of every key and put all rooms in one Cluster slot.
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 100 || /[{}\s]/.test(keyPrefix)) {
    throw invalid('keyPrefix must be at most 100 characters without braces or spaces', 'keyPrefix');
  }
  for (const key of ['username', 'password'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'string') throw invalid(`${key} must be a string`, key);
  }
  if (options.tls !== undefined && (typeof options.tls !== 'object' || options.tls === null)) {
    throw invalid('tls must be an object of node:tls connection options', 'tls');
  }
  const logger = options.logger ?? silent;
  if (typeof logger.info !== 'function' || typeof logger.warn !== 'function') {
    throw invalid('logger must have info and warn methods', 'logger');
  }

  const numbers = {} as Record<NumericOption, number>;
  for (const [key, [def, min, max]] of Object.entries(NUMERIC) as Array<[NumericOption, readonly number[]]>) {
    const value = options[key] ?? def;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min! || value > max!) {
      throw invalid(`${key} must be a whole number from ${min} to ${max}`, key);
    }
    numbers[key] = value;
  }

  return {
    url,
    where: `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`,
    username: options.username,
    password: options.password,
    tls: options.tls,
    keyPrefix,
    ...numbers,
    logger,
  };
}
