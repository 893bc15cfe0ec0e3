// The store's connections to Redis: how each is made (a plain server, through Sentinel, or a Redis
// Cluster client), how it fails fast while Redis is away and reconnects, and the check that the
// server is new enough.

import { Cluster, Redis } from 'ioredis';
import { chorusError } from '../../domain/index.ts';
import type { ResolvedRedisOptions } from './options.ts';

/** Silence after which a connection with commands in flight is taken for dead. */
const HALF_OPEN_MS = 10_000;

/** `commands`: commands, scripts and loads; `tail`: the tailer's blocking reads. */
export type ConnectionRole = 'commands' | 'tail';

/** A single server's connection, or a Redis Cluster client (which routes each key to its slot's primary). */
export type RedisClient = Redis | Cluster;

/**
 * `keepAsking` says whether a Sentinel connection goes on asking the sentinels for the master
 * (once the store has started), or gives up after one pass (while starting).
 */
/**
 * Every connection the store opens is made here: to the server of a redis:// or rediss:// URL
 * (ioredis parses it), or to whichever server the sentinels name as master.
 */
export function openConnection(
  opts: ResolvedRedisOptions,
  role: ConnectionRole,
  keepAsking: () => boolean,
): RedisClient {
  const options = connectionOptions(opts, role);
  const { sentinel, cluster } = opts;
  if (cluster !== null) {
    return new Cluster(
      cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        lazyConnect: true,
        redisOptions: { ...options, lazyConnect: false },
        // Unlike a single connection's, the cluster's offline queue stays on: without it a command
        // sent while a node's connection is still being opened (even the client's own readiness
        // check) fails, and connect() then never settles. Writes still fail fast: the store refuses
        // them unless the cluster is ready and the room's primary is connected (RedisLink.writable).
        enableOfflineQueue: true,
        // MOVED and ASK are followed (the command did not run where it was refused), and so are
        // TRYAGAIN (a multi-key command during a slot migration) and CLUSTERDOWN (a failover in
        // progress), briefly: none of them ran the command. A connection that closes with a
        // command in flight is NOT retried (0): the command may have run, and sending it again
        // would append it twice; the store answers DEADLINE_EXCEEDED (retry with the same id).
        retryDelayOnFailover: 0,
        retryDelayOnTryAgain: 50,
        retryDelayOnClusterDown: 100,
        maxRedirections: 16,
        // No periodic refresh of the slot map: ioredis restarts its timer when a refresh was in
        // flight at disconnect, which keeps a closed store's process alive. A MOVED reply refreshes
        // the map, and so do the tailer and the write check when a primary goes away.
        slotsRefreshInterval: 0,
        slotsRefreshTimeout: Math.max(1000, opts.commandTimeoutMs),
        clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
        scaleReads: 'master',
      },
    );
  }
  if (sentinel === null) return new Redis(opts.url, options);
  return new Redis({
    ...options,
    sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: sentinel.name,
    role: 'master',
    // While starting, one pass over the sentinels: none answering fails the start (UNAVAILABLE)
    // instead of waiting forever. Once started, keep asking them (ioredis ends a connection for
    // good when this returns null), at the pace of retryStrategy; writes fail fast meanwhile.
    sentinelRetryStrategy: (times: number) => (keepAsking() ? Math.min(50 * times, 1000) : null),
    // A failover that leaves the old master alive turns it into a replica, which answers writes
    // with READONLY: reconnect then, which asks the sentinels for the master again. (ioredis'
    // failoverDetector would notice sooner, but can leave its sentinel subscriptions open after
    // disconnect, keeping the process alive.)
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
  });
}

/**
 * A plain connection to one node of a Redis Cluster (the tailer's blocking reads go to the primary
 * that owns the slot they read), with the store's credentials and TLS.
 */
export function openNodeConnection(opts: ResolvedRedisOptions, host: string, port: number): Redis {
  return new Redis({ ...connectionOptions(opts, 'tail'), host, port });
}

function connectionOptions(opts: ResolvedRedisOptions, role: ConnectionRole) {
  const o = opts;
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

/** Log ids of the form `0-*` (auto sequence under an explicit time part) need Redis 7.0. */
export async function checkServerVersion(cmd: RedisClient, where: string): Promise<void> {
  let info: string;
  try {
    info = String(await cmd.call('INFO', 'server'));
  } catch (err) {
    // Some managed services refuse INFO; the first append would then tell the truth.
    if (err instanceof Error && err.name === 'ReplyError') return;
    throw err;
  }
  const version = /redis_version:(\S+)/.exec(info)?.[1];
  const major = Number(version?.split('.')[0]);
  if (Number.isFinite(major) && major < 7) {
    throw chorusError('REDIS_TOO_OLD', { where, version: version ?? null });
  }
}
