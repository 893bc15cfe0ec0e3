// Options of the redis store, validated once when the store is opened (docs/architecture.md section 7: config is
// read and checked at start and passed down). Every option but `url` has a default that suits a
// production deployment; tests shrink the thresholds to exercise snapshots and eviction quickly.

import type { ConnectionOptions } from 'node:tls';
import type { StoreLogger } from '../logger.ts';
import { invalidOption, resolveLogger, resolveNumbers, type OptionTable } from '../options.ts';

export interface RedisStoreOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS (the REDIS_URL convention),
   * or `redis-sentinel://[[user]:password@]host1[:port1],host2[:port2]/master-name` to find the
   * master through Redis Sentinel (default sentinel port 26379; the credentials are the master's,
   * the sentinels are reached without), or `redis-cluster://[[user]:password@]host1[:port1],host2[:port2]`
   * for a Redis Cluster (any of its nodes, default port 6379: the rest is discovered). Redis 7.0 or
   * newer is required (stream ids of the form `0-*`).
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
  /**
   * Pause after a read that brought entries, so that under load one read brings many (each read
   * wakes this node and Redis). Delays what other nodes wrote by at most this much; this node's
   * own writes do not wait for it. 0 reads again at once. Default 2 ms.
   */
  readonly tailLingerMs?: number;
  /**
   * Redis Cluster only: when one primary holds rooms of several slots, no single blocking read can
   * name them all, so the tailer polls that primary (one pipeline of XREADs, one per slot) at this
   * interval while nothing arrives. Default 10 ms.
   */
  readonly tailPollMs?: number;
  /** How often this node copies the rooms it holds into the public room list. Default 5000 ms. */
  readonly listingRefreshMs?: number;
  /** Where the store reports what it does on its own (reconnects, reloads). Pino loggers fit. */
  readonly logger?: StoreLogger;
}

/** The nodes a Redis Cluster client starts from (it discovers the others and the slot map). */
export interface ClusterTarget {
  readonly nodes: ReadonlyArray<{ readonly host: string; readonly port: number }>;
}

/** Where Sentinel mode finds the master: the sentinels to ask, and the name they monitor it under. */
export interface SentinelTarget {
  readonly sentinels: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  readonly name: string;
}

export interface ResolvedRedisOptions {
  /** The URL as given; for a plain server ioredis parses it, in Sentinel mode `sentinel` says where to go. */
  readonly url: string;
  /** Set for a redis-sentinel:// URL: connect through these sentinels instead of to `url`. */
  readonly sentinel: SentinelTarget | null;
  /** Set for a redis-cluster:// URL: a Redis Cluster, started from these nodes. */
  readonly cluster: ClusterTarget | null;
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
  readonly tailLingerMs: number;
  readonly tailPollMs: number;
  readonly listingRefreshMs: number;
  readonly logger: StoreLogger;
}

type NumericOption =
  | 'commandTimeoutMs'
  | 'submitTimeoutMs'
  | 'readTimeoutMs'
  | 'snapshotEvery'
  | 'retainBehindSnapshot'
  | 'idleEvictMs'
  | 'tailBlockMs'
  | 'tailBatch'
  | 'tailLingerMs'
  | 'tailPollMs'
  | 'listingRefreshMs';

/** Default and inclusive bounds of each numeric option. */
const NUMERIC: OptionTable<NumericOption> = {
  commandTimeoutMs: [2000, 50, 600_000],
  submitTimeoutMs: [10_000, 100, 600_000],
  readTimeoutMs: [5000, 0, 600_000],
  snapshotEvery: [500, 1, 10_000_000],
  retainBehindSnapshot: [500, 1, 10_000_000],
  idleEvictMs: [600_000, 100, 7 * 24 * 3_600_000],
  tailBlockMs: [2000, 10, 60_000],
  tailBatch: [500, 1, 100_000],
  tailLingerMs: [2, 0, 1000],
  tailPollMs: [10, 1, 1000],
  listingRefreshMs: [5000, 50, 3_600_000],
};

function invalid(message: string, option: string) {
  return invalidOption('redis store', message, option);
}

export function resolveRedisOptions(options: RedisStoreOptions): ResolvedRedisOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object', 'options');
  const { url } = options;
  if (typeof url !== 'string' || url.trim() === '') {
    throw invalid('url is required, e.g. redis://127.0.0.1:6379 or rediss://user:secret@host:6380', 'url');
  }
  const target = url.startsWith('redis-sentinel://')
    ? parseSentinelUrl(url)
    : url.startsWith('redis-cluster://')
      ? parseClusterUrl(url)
      : parseServerUrl(url);

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
  const logger = resolveLogger('redis store', options.logger);
  const numbers = resolveNumbers('redis store', NUMERIC, options);

  return {
    url,
    sentinel: target.sentinel,
    cluster: target.cluster ?? null,
    where: target.where,
    // Credentials in the URL win over the options, as ioredis does for a plain URL.
    username: target.username ?? options.username,
    password: target.password ?? options.password,
    tls: options.tls,
    keyPrefix,
    ...numbers,
    logger,
  };
}

interface ParsedTarget {
  readonly where: string;
  readonly sentinel: SentinelTarget | null;
  readonly cluster?: ClusterTarget;
  /** Credentials taken from a sentinel or cluster URL; a plain URL's stay in the URL, which ioredis parses. */
  readonly username?: string;
  readonly password?: string;
}

function parseServerUrl(url: string): ParsedTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(
      `url ${JSON.stringify(url)} is not a URL; use redis://host:port, rediss://host:port or redis-sentinel://host:port/master`,
      'url',
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw invalid(
      `url must start with redis://, rediss://, redis-sentinel:// or redis-cluster:// (got ${parsed.protocol}//)`,
      'url',
    );
  }
  if (parsed.hostname === '') throw invalid('url has no host', 'url');
  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d{1,2}$/.test(parsed.pathname)) {
    throw invalid(`the path of the url is the database number (e.g. /0), not ${parsed.pathname}`, 'url');
  }
  return {
    where: `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`,
    sentinel: null,
  };
}

const DEFAULT_SENTINEL_PORT = 26379;
const DEFAULT_REDIS_PORT = 6379;

/**
 * `redis-sentinel://[[user]:password@]host1[:port1][,host2[:port2]…]/master-name`. Parsed by hand:
 * WHATWG URL parsing does not take a list of hosts.
 */
function parseSentinelUrl(url: string): ParsedTarget {
  const usage = 'use redis-sentinel://[:password@]host1:port1,host2:port2/master-name';
  const match = /^redis-sentinel:\/\/(?:([^@/]*)@)?([^@/?#]+)\/([^/?#]+)$/.exec(url);
  if (!match) throw invalid(`url ${JSON.stringify(redactUrl(url))} is not a sentinel URL; ${usage}`, 'url');
  const [, userinfo, hostList, rawName] = match as unknown as [string, string | undefined, string, string];
  const credentials = parseUserinfo(userinfo, usage);
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    throw invalid(`the url has a malformed percent-encoding; ${usage}`, 'url');
  }
  if (!/^[\w.:-]{1,100}$/.test(name)) {
    throw invalid(
      `the master name must be letters, digits, '.', ':', '_' or '-' (got ${JSON.stringify(name)})`,
      'url',
    );
  }
  const sentinels = parseHostList(hostList, DEFAULT_SENTINEL_PORT, 'sentinel', usage);
  return {
    where: `redis-sentinel://${hostsText(sentinels)}/${name}`,
    sentinel: { sentinels, name },
    ...credentials,
  };
}

/**
 * `redis-cluster://[[user]:password@]host1[:port1][,host2[:port2]…]`: any nodes of a Redis Cluster
 * (the client asks them for the others and for the slot map). The credentials are every node's.
 */
function parseClusterUrl(url: string): ParsedTarget {
  const usage = 'use redis-cluster://[:password@]host1:port1,host2:port2';
  const match = /^redis-cluster:\/\/(?:([^@/]*)@)?([^@/?#]+)\/?$/.exec(url);
  if (!match) throw invalid(`url ${JSON.stringify(redactUrl(url))} is not a cluster URL; ${usage}`, 'url');
  const [, userinfo, hostList] = match as unknown as [string, string | undefined, string];
  const credentials = parseUserinfo(userinfo, usage);
  const nodes = parseHostList(hostList, DEFAULT_REDIS_PORT, 'cluster node', usage);
  return {
    where: `redis-cluster://${hostsText(nodes)}`,
    sentinel: null,
    cluster: { nodes },
    ...credentials,
  };
}

/** `[user][:password]` of a URL that WHATWG parsing cannot take (a list of hosts). */
function parseUserinfo(
  userinfo: string | undefined,
  usage: string,
): { username?: string; password?: string } {
  if (userinfo === undefined) return {};
  try {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon));
    return {
      ...(user !== '' ? { username: user } : {}),
      ...(colon !== -1 ? { password: decodeURIComponent(userinfo.slice(colon + 1)) } : {}),
    };
  } catch {
    throw invalid(`the url has a malformed percent-encoding; ${usage}`, 'url');
  }
}

function parseHostList(
  hostList: string,
  defaultPort: number,
  what: string,
  usage: string,
): Array<{ host: string; port: number }> {
  return hostList.split(',').map((item) => {
    const one = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(item.trim());
    const port = one?.[3] === undefined ? defaultPort : Number(one[3]);
    if (!one || port < 1 || port > 65535) {
      throw invalid(`${what} address ${JSON.stringify(item)} is not host[:port]; ${usage}`, 'url');
    }
    return { host: (one[1] ?? one[2])!, port };
  });
}

function hostsText(hosts: ReadonlyArray<{ host: string; port: number }>): string {
  return hosts.map((s) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`).join(',');
}

/** The URL without its credentials, safe for an error message. */
function redactUrl(url: string): string {
  return url.replace(/^(redis-(?:sentinel|cluster):\/\/)[^@/]*@/, '$1***@');
}
