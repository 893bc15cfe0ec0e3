// Wires one Chorus node together: store, catalog, service, playback clock, REST; and stops it
// gracefully (stop accepting, finish in-flight requests, flush the store).

import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ChorusError } from '../domain/index.ts';
import { startGrpcServer } from '../api/grpc/server.ts';
import { ensureLegacyRoom } from '../api/rest/legacy.ts';
import { buildRestServer, type RestApp } from '../api/rest/server.ts';
import { loadCatalog } from '../catalog/catalog.ts';
import { watchCatalog } from '../catalog/watch.ts';
import { storeEntry } from '../store/registry.ts';
import type { Store } from '../store/types.ts';
import { StreamBudget } from '../api/stream-budget.ts';
import { shareAddresses } from './addresses.ts';
import { PlaybackClock } from './clock.ts';
import { randomUUID } from 'node:crypto';
import type { NodeConfig } from './config.ts';
import { createMetrics, storeTelemetry } from './metrics.ts';
import { RoomService } from './service.ts';
import { TokenSigner } from './tokens.ts';
import { privateDir } from '../store/disk/private.ts';

export interface RunningNode {
  readonly config: NodeConfig;
  readonly restUrl: string;
  /** HOST:PORT of the gRPC server. */
  readonly grpcAddress: string;
  readonly store: Store;
  readonly service: RoomService;
  readonly app: RestApp;
  /** With a music folder: resolves with the catalog's size once the first scan (in the background) ends. */
  readonly musicScanned: Promise<number> | null;
  /** Graceful stop; safe to call more than once. */
  close(): Promise<void>;
}

export interface NodeHooks {
  /** Registers the web page on the REST server (kept out of here so tests can run without it). */
  readonly registerWeb?: (app: RestApp) => Promise<void>;
}

/** ensureLegacyRoom, retried every half second while the store cannot take writes yet. */
async function ensureLegacyRoomLater(
  service: RoomService,
  roomId: string,
  stopped: AbortSignal,
  logger: Logger,
): Promise<void> {
  while (!stopped.aborted) {
    try {
      await ensureLegacyRoom(service, roomId);
      return;
    } catch (err) {
      const retry =
        err instanceof ChorusError && (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED');
      if (!retry) {
        logger.warn({ err }, 'could not create the legacy room');
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Opens (and starts) the configured store, as its registry entry says, reporting to `registry`. */
function openStore(config: NodeConfig, logger: Logger, registry: Registry): Promise<Store> {
  const entry = storeEntry(config.store);
  const telemetry = storeTelemetry(registry, entry.metrics ?? []);
  return entry.open(config, logger.child({ component: 'store' }), telemetry);
}

/** The token secret: configured, or generated once and kept beside the data (single node). */
async function resolveSecret(config: NodeConfig): Promise<string> {
  if (config.secret) return config.secret;
  const file = join(config.dataDir, 'secret');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const secret = randomBytes(32).toString('base64url');
    await privateDir(config.dataDir);
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}

export async function startNode(
  config: NodeConfig,
  logger: Logger,
  hooks: NodeHooks = {},
): Promise<RunningNode> {
  const onProgress = (scanned: number, total: number): void => {
    if (scanned === total || scanned % 100 === 0) logger.info({ scanned, total }, 'scanning music folder');
  };
  const onWarning = (file: string, message: string): void =>
    logger.warn({ file }, `skipped a music file: ${message}`);
  // A music folder is watched, so added, changed and removed files appear without a restart.
  const watched = config.musicDir
    ? await watchCatalog({
        musicDir: config.musicDir,
        demo: config.demoCatalog,
        onProgress,
        onWarning,
        onRescan: (tracks) => logger.info({ tracks }, 'music folder changed: catalog updated'),
        onError: (err) => logger.warn({ err }, 'music folder watch'),
      })
    : null;
  const catalog = watched?.catalog ?? (await loadCatalog({ demo: config.demoCatalog }));
  if (!watched) logger.info({ tracks: catalog.size }, 'catalog loaded');

  const secret = await resolveSecret(config);

  let sseConnections = (): number => 0;
  let roomsLoaded = (): number => 0;
  // One budget for every live stream of this node, SSE and gRPC Watch alike.
  const streams = new StreamBudget({ maxStreams: config.limits.maxStreams });
  const metrics = createMetrics({
    roomsLoaded: () => roomsLoaded(),
    sseConnections: () => sseConnections(),
    streamWaitingBytes: () => streams.waitingBytes,
  });
  const store = await openStore(config, logger, metrics.registry);
  roomsLoaded = () => store.loadedRooms().length;
  // The commit histogram's children per command type, looked up once: prom-client's labels() per
  // write, or a cache keyed by a string built per write, costs more (bench/write-path-micro.ts).
  type CommitChild = ReturnType<typeof metrics.commitDuration.labels>;
  const commits = new Map<string, { readonly ok: CommitChild; readonly refused: CommitChild }>();
  const service = new RoomService({
    store,
    catalog,
    tokens: new TokenSigner(secret, config.previousSecrets ?? []),
    readTimeoutMs: config.readTimeoutMs,
    rates: {
      writesPerMember: { rate: config.limits.writesPerMember, burst: 2 * config.limits.writesPerMember },
      roomsPerAddress: { rate: config.limits.roomsPerAddress / 60, burst: config.limits.roomsPerAddress },
      joinsPerAddress: { rate: config.limits.joinsPerAddress / 60, burst: config.limits.joinsPerAddress },
    },
    onCommit: (command, seconds, ok) => {
      let children = commits.get(command);
      if (children === undefined) {
        const { commitDuration } = metrics;
        children = {
          ok: commitDuration.labels(command, 'ok'),
          refused: commitDuration.labels(command, 'refused'),
        };
        commits.set(command, children);
      }
      (ok ? children.ok : children.refused).observe(seconds);
    },
    ...(config.presenceLeaseMs > 0
      ? {
          presence: {
            // One id per process in the room's reports: the group's node id, or this node's name.
            node: presenceNodeId(config),
            graceMs: config.presenceGraceMs,
            leaseMs: config.presenceLeaseMs,
            telemetry: metrics.presence,
            onError: (roomId: string, err: unknown) =>
              logger.debug({ roomId, err }, 'presence report failed; retried'),
          },
        }
      : {}),
  });
  // A store whose nodes form a group can take writes only once they elect a leader, which needs
  // this node's gRPC server (started below): its legacy room is made in the background, retried.
  const stopping = new AbortController();
  if (config.legacyRoom && store.groupStatus)
    void ensureLegacyRoomLater(service, config.legacyRoom, stopping.signal, logger);
  else if (config.legacyRoom) {
    try {
      await ensureLegacyRoom(service, config.legacyRoom);
    } catch (err) {
      // A store that takes no writes now (a full disk): serve reads, make the room once it can.
      if (!(err instanceof ChorusError && err.code === 'UNAVAILABLE')) throw err;
      logger.warn({ err }, 'the store takes no writes: the legacy room is made once it can');
      void ensureLegacyRoomLater(service, config.legacyRoom, stopping.signal, logger);
    }
  }

  const { app, sse } = await buildRestServer({
    service,
    store,
    logger,
    metrics,
    artwork: (trackId) => catalog.artwork(trackId),
    audio: catalog,
    // The port is known once listening (--port 0 picks one); asked per request.
    share: () => shareAddresses({ host: config.host, port: listeningPort, publicUrl: config.publicUrl }),
    legacyRoom: config.legacyRoom,
    streams,
    limits: config.limits,
    ...(hooks.registerWeb ? { registerWeb: hooks.registerWeb } : {}),
  });
  sseConnections = () => sse.connections;
  let listeningPort = config.port;
  const address = await app.listen({ host: config.host, port: config.port });
  listeningPort = Number(new URL(address).port);
  const grpc = await startGrpcServer({
    service,
    store,
    logger,
    metrics,
    legacyRoom: config.legacyRoom,
    host: config.host,
    port: config.grpcPort,
    streams,
    limits: {
      maxConnections: config.limits.maxConnections,
      maxConnectionsPerAddress: config.limits.maxConnectionsPerAddress,
    },
  }).catch(async (err: unknown) => {
    // Nothing may keep the process alive after a failed start (e.g. the gRPC port is taken).
    stopping.abort();
    await app.close();
    await store.close();
    throw err;
  });

  const clock = new PlaybackClock({
    store,
    service,
    intervalMs: config.clockIntervalMs,
    onAdvance: () => metrics.clockAdvances.inc(),
    onError: (roomId, err) => logger.debug({ roomId, err }, 'playback clock could not advance'),
  });
  clock.start();
  // The music folder is read only now that the node serves (a big or hostile folder never delays
  // it); its tracks join the catalog when the scan ends.
  const began = Date.now();
  const musicScanned =
    watched?.start().then((tracks) => {
      logger.info(
        { tracks, ms: Date.now() - began },
        `music folder scanned: the catalog holds ${tracks} tracks`,
      );
      return tracks;
    }) ?? null;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopping.abort();
      clock.stop();
      service.stop();
      watched?.close();
      // REST first (its requests in flight finish on the open store); then the store, with the gRPC
      // server still up: a Raft leader hands over on close and must hear its successor on the peer
      // service that server carries; the gRPC server last.
      await app.close();
      await store.close();
      await grpc.close();
    })();
    return closing;
  };
  return { config, restUrl: address, grpcAddress: grpc.address, store, service, app, musicScanned, close };
}

/**
 * The node's id in presence reports: its group id, else its name (host:port) made a valid id. A
 * node on a port picked at start (--port 0, no name) has no stable name: a random suffix keeps two
 * such nodes apart (after a restart its old report simply runs out with the lease).
 */
function presenceNodeId(config: NodeConfig): string {
  const unstable = config.nodeId === null && config.port === 0 && config.nodeName.endsWith(':0');
  const name = unstable
    ? `${config.nodeName}-${randomUUID().slice(0, 8)}`
    : (config.nodeId ?? config.nodeName);
  return name.replace(/[^A-Za-z0-9_.:~-]/g, '-').slice(0, 128) || 'node';
}
