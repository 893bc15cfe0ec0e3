// `chorus serve`: one node. Prints its endpoints once ready (`rest http://HOST:PORT`, one line per
// endpoint: scripts rely on this), logs to stderr, stops gracefully on SIGTERM/SIGINT.

import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { shareAddresses } from '../node/addresses.ts';
import { ConfigError, DEFAULTS, LOG_LEVELS, parseNodeConfig, type RawConfig } from '../node/config.ts';
import { storeKinds } from '../store/registry.ts';

/** The options of a node, shared by `serve` (and passed through by `cluster`). */
export function addNodeOptions(cmd: Command): Command {
  const opt = (flags: string, description: string, env: string, fallback?: string): Option => {
    const o = new Option(flags, description).env(env);
    return fallback === undefined ? o : o.default(fallback);
  };
  return cmd
    .addOption(opt('--host <host>', 'address to listen on', 'CHORUS_HOST', DEFAULTS.host))
    .addOption(
      opt('--port <port>', 'REST API and web page port (0: any free port)', 'CHORUS_PORT', DEFAULTS.port),
    )
    .addOption(opt('--grpc-port <port>', 'gRPC port', 'CHORUS_GRPC_PORT', DEFAULTS.grpcPort))
    .addOption(
      opt(
        '--data-dir <dir>',
        'where the embedded store keeps its log and snapshots',
        'CHORUS_DATA_DIR',
        DEFAULTS.dataDir,
      ),
    )
    .addOption(
      opt('--store <kind>', `where rooms live: ${storeKinds().join(' | ')}`, 'CHORUS_STORE', DEFAULTS.store),
    )
    .addOption(
      opt(
        '--redis-url <url>',
        'Redis for --store redis: redis://[:password@]host:port, rediss://… (TLS), or ' +
          'redis-sentinel://[:password@]host1:port1,host2:port2/master-name (Sentinel; the password is the master’s), or ' +
          'redis-cluster://[:password@]host1:port1,host2:port2 (a Redis Cluster: rooms sharded over its primaries)',
        'CHORUS_REDIS_URL',
      ),
    )
    .addOption(
      opt(
        '--redis-prefix <prefix>',
        'key prefix isolating this deployment in Redis',
        'CHORUS_REDIS_PREFIX',
        DEFAULTS.redisPrefix,
      ),
    )
    .addOption(
      opt(
        '--secret <secret>',
        'token signing secret, the same on every node (default: generated once into the data dir)',
        'CHORUS_SECRET',
      ),
    )
    .addOption(
      opt(
        '--previous-secret <secret@until>',
        'rotation: an old token secret still accepted until a date (ISO 8601 or ms); comma-separated for several',
        'CHORUS_PREVIOUS_SECRET',
      ),
    )
    .addOption(
      opt(
        '--legacy-room <id>',
        'room that serves the earlier system’s API',
        'CHORUS_LEGACY_ROOM',
        DEFAULTS.legacyRoom,
      ),
    )
    .addOption(new Option('--no-legacy', 'switch the legacy API off').env('CHORUS_NO_LEGACY'))
    .addOption(
      opt(
        '--music-dir <dir>',
        'a folder of music files to add to the catalog (read with their tags)',
        'CHORUS_MUSIC_DIR',
      ),
    )
    .addOption(
      new Option(
        '--demo-catalog',
        'include the bundled demo tracks (default: yes, but no with a music folder)',
      ).env('CHORUS_DEMO_CATALOG'),
    )
    .addOption(
      new Option('--no-demo-catalog', 'leave the bundled demo tracks out').env('CHORUS_NO_DEMO_CATALOG'),
    )
    .addOption(
      opt(
        '--public-url <url>',
        'the address guests open, e.g. behind a proxy (default: the LAN addresses of a wildcard bind)',
        'CHORUS_PUBLIC_URL',
      ),
    )
    .addOption(
      opt(
        '--log-level <level>',
        `log level: ${LOG_LEVELS.join(' | ')}`,
        'CHORUS_LOG_LEVEL',
        DEFAULTS.logLevel,
      ),
    )
    .addOption(
      opt(
        '--read-timeout-ms <ms>',
        'how long a read waits for minVersion',
        'CHORUS_READ_TIMEOUT_MS',
        DEFAULTS.readTimeoutMs,
      ),
    )
    .addOption(
      opt(
        '--clock-interval-ms <ms>',
        'how often the playback clock checks for finished tracks',
        'CHORUS_CLOCK_INTERVAL_MS',
        DEFAULTS.clockIntervalMs,
      ),
    )
    .addOption(opt('--node-name <name>', 'this node’s name in logs', 'CHORUS_NODE_NAME'))
    .addOption(
      opt(
        '--node-id <id>',
        'this node’s id in its group of peers (consensus stores): lower-case letters, digits, dashes',
        'CHORUS_NODE_ID',
      ),
    )
    .addOption(
      opt(
        '--peers <list>',
        'every member of the group, this node included, as ID=HOST:GRPC_PORT,… (consensus stores)',
        'CHORUS_PEERS',
      ),
    )
    .addOption(
      new Option(
        '--join',
        'raft: join a running group (the leader adds this node with `chorus raft add-member`) instead of founding one; never campaigns before it is a voter',
      ).env('CHORUS_JOIN'),
    )
    .addOption(
      opt(
        '--request-timeout-ms <ms>',
        'a request must arrive whole (headers and body) within this, or it is cut off',
        'CHORUS_REQUEST_TIMEOUT_MS',
        DEFAULTS.requestTimeoutMs,
      ),
    )
    .addOption(
      opt(
        '--max-connections <n>',
        'open connections on this node, REST and gRPC each; more are refused',
        'CHORUS_MAX_CONNECTIONS',
        DEFAULTS.maxConnections,
      ),
    )
    .addOption(
      opt(
        '--max-connections-per-address <n>',
        'open connections from one client address, REST and gRPC each; more are answered 429 (REST) or closed (gRPC)',
        'CHORUS_MAX_CONNECTIONS_PER_ADDRESS',
        DEFAULTS.maxConnectionsPerAddress,
      ),
    )
    .addOption(
      opt(
        '--writes-per-member <n>',
        'writes one member may make per second (bursts of twice as many); more are answered 429',
        'CHORUS_WRITES_PER_MEMBER',
        DEFAULTS.writesPerMember,
      ),
    )
    .addOption(
      opt(
        '--rooms-per-address <n>',
        'rooms one client address may create per minute; more are answered 429',
        'CHORUS_ROOMS_PER_ADDRESS',
        DEFAULTS.roomsPerAddress,
      ),
    )
    .addOption(
      opt(
        '--joins-per-address <n>',
        'joins from one client address per minute; more are answered 429',
        'CHORUS_JOINS_PER_ADDRESS',
        DEFAULTS.joinsPerAddress,
      ),
    )
    .addOption(
      opt(
        '--trust-proxy <addresses>',
        'proxies (comma-separated addresses) whose X-Forwarded-For names the real client',
        'CHORUS_TRUST_PROXY',
      ),
    )
    .addOption(
      opt(
        '--presence-grace-ms <ms>',
        'a member stays present this long after their last live stream on this node closed',
        'CHORUS_PRESENCE_GRACE_MS',
        DEFAULTS.presenceGraceMs,
      ),
    )
    .addOption(
      opt(
        '--room-idle-ms <ms>',
        'embedded store: a room without writes or subscribers this long leaves memory (reloaded from the snapshot when used); 0: never',
        'CHORUS_ROOM_IDLE_MS',
        DEFAULTS.roomIdleMs,
      ),
    )
    .addOption(
      opt(
        '--presence-lease-ms <ms>',
        "how long a node's presence report holds unless renewed (a dead node's members leave within it); 0: report none",
        'CHORUS_PRESENCE_LEASE_MS',
        DEFAULTS.presenceLeaseMs,
      ),
    )
    .addOption(
      opt(
        '--max-streams <n>',
        'live streams (SSE and gRPC Watch) open at once on this node; more are answered RESOURCE_EXHAUSTED',
        'CHORUS_MAX_STREAMS',
        DEFAULTS.maxStreams,
      ),
    );
}

export async function serve(raw: RawConfig): Promise<void> {
  let config;
  try {
    config = parseNodeConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`chorus serve: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const logger = pino({ level: config.logLevel, base: { node: config.nodeName } }, pino.destination(2));
  let node;
  try {
    // Loaded here, not at the top: client commands share this binary and should start fast.
    const [{ startNode }, { registerWeb }] = await Promise.all([
      import('../node/node.ts'),
      import('../api/rest/web.ts'),
    ]);
    node = await startNode(config, logger, { registerWeb });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err }, 'could not start');
    process.stderr.write(`chorus serve: could not start: ${message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`rest ${node.restUrl}\ngrpc ${node.grpcAddress}\n`);
  // Where guests can open it: the public URL, or each LAN address of a wildcard bind.
  const port = Number(new URL(node.restUrl).port);
  const share = shareAddresses({ host: config.host, port, publicUrl: config.publicUrl });
  const guests = [
    ...(share.publicUrl !== null ? [`public ${share.publicUrl}`] : []),
    ...share.lanUrls.map((url) => `lan ${url}`),
  ];
  if (guests.length > 0) process.stdout.write(`${guests.join('\n')}\n`);
  logger.info(`Chorus is ready: open ${node.restUrl}/ in a browser (API docs at ${node.restUrl}/docs)`);
  // Scripts and tests wait for this line before they look for the folder's tracks.
  void node.musicScanned?.then((tracks) => process.stdout.write(`music ${tracks} tracks\n`));

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: stopping (finishing requests, flushing the log)`);
    node.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exitCode = 0;
      },
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
