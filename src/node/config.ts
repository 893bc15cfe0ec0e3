// Node configuration: read once at start (flags, CHORUS_* environment, defaults), validated in one
// place, then passed down as a plain object. Nothing deeper reads process.env.

import { ROOM_ID_PATTERN } from '../domain/index.ts';
import { storeEntry, storeKinds } from '../store/registry.ts';
import type { StoreKind } from '../store/types.ts';
import { parsePreviousSecrets, type PreviousSecret } from './tokens.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface NodeConfig {
  readonly host: string;
  readonly port: number;
  readonly grpcPort: number;
  readonly dataDir: string;
  /** One of the registered stores (src/store/registry.ts). */
  readonly store: StoreKind;
  readonly redisUrl: string | null;
  readonly redisPrefix: string;
  /** HMAC secret for tokens; null: generated once and kept in the data dir (single node only). */
  readonly secret: string | null;
  /** Old token secrets still accepted until their dates (rotation; tokens.ts). */
  readonly previousSecrets?: readonly PreviousSecret[];
  /** The legacy API's room, or null to switch the legacy API off. */
  readonly legacyRoom: string | null;
  readonly musicDir: string | null;
  /** The bundled demo tracks in the catalog: on by default, off by default with a music folder. */
  readonly demoCatalog: boolean;
  /** The address guests open (behind a proxy, say), without a trailing slash; null: worked out. */
  readonly publicUrl: string | null;
  readonly logLevel: LogLevel;
  /** How long a read waits for minVersion. */
  readonly readTimeoutMs: number;
  /** How often the playback clock looks for tracks that ran out. */
  readonly clockIntervalMs: number;
  /** A name for this node in logs and cluster output. */
  readonly nodeName: string;
  readonly limits: NodeLimits;
  /** This node's id in a group of peers (consensus stores); null when it has none. */
  readonly nodeId: string | null;
  /** Every member of the group, this node included, with the gRPC address peers reach it at. */
  readonly peers: readonly Peer[];
  /**
   * Joins a running group instead of founding one (Raft): the node starts with an empty membership,
   * never campaigns, and waits for the leader to add it (`chorus raft add-member`).
   */
  readonly join: boolean;
  /** Presence (src/node/presence.ts): the grace after a member's last stream closes, the lease. */
  readonly presenceGraceMs: number;
  readonly presenceLeaseMs: number;
  /** Embedded store: a room quiet this long leaves memory (reloaded when used); 0: never. */
  readonly roomIdleMs: number;
}

export interface Peer {
  readonly id: string;
  /** HOST:PORT of the member's gRPC server. */
  readonly address: string;
}

/** A member id: short, lower-case, safe in file names, metrics labels and URLs. */
export const NODE_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** Parses `ID=HOST:PORT,ID=HOST:PORT,…`; problems are pushed, the good members returned. */
export function parsePeers(text: string, problems: string[]): Peer[] {
  const peers: Peer[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const match = /^([^=\s]+)=(\S+):(\d{1,5})$/.exec(part);
    if (!match) {
      problems.push(`--peers: "${part}" is not ID=HOST:PORT`);
      continue;
    }
    const [, id, host, port] = match as unknown as [string, string, string, string];
    if (!NODE_ID_PATTERN.test(id))
      problems.push(`--peers: "${id}" is not a node id (${String(NODE_ID_PATTERN)})`);
    else if (peers.some((p) => p.id === id)) problems.push(`--peers names ${id} twice`);
    else if (Number(port) < 1 || Number(port) > 65535)
      problems.push(`--peers: port of ${id} must be 1-65535`);
    else peers.push({ id, address: `${host}:${port}` });
  }
  return peers;
}

/** What one client, and all of them together, may hold of this node (README: Limits and defences). */
export interface NodeLimits {
  /** A request must arrive whole (headers and body) within this. */
  readonly requestTimeoutMs: number;
  /** Open REST connections on this node. */
  readonly maxConnections: number;
  /** Open REST connections from one client address. */
  readonly maxConnectionsPerAddress: number;
  /** Live streams (SSE and gRPC Watch) open at once on this node. */
  readonly maxStreams: number;
  /** Writes a member may make, per second (bursts of twice as many). */
  readonly writesPerMember: number;
  /** Rooms one client address may create, per minute (bursts of as many). */
  readonly roomsPerAddress: number;
  /** Joins from one client address, per minute (bursts of as many). */
  readonly joinsPerAddress: number;
  /** Addresses of proxies whose X-Forwarded-For names the real client (e.g. chorus cluster's nginx). */
  readonly trustProxy: readonly string[];
}

/** Raw option values as the CLI parsed them (strings from flags or the environment). */
export type RawConfig = Readonly<Record<string, string | boolean | undefined>>;

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: '8080',
  grpcPort: '50051',
  dataDir: './data',
  store: 'memory',
  redisPrefix: 'chorus:',
  legacyRoom: 'legacy',
  logLevel: 'info',
  readTimeoutMs: '5000',
  clockIntervalMs: '250',
  requestTimeoutMs: '30000',
  maxConnections: '10000',
  maxConnectionsPerAddress: '1000',
  maxStreams: '10000',
  writesPerMember: '100',
  roomsPerAddress: '600',
  joinsPerAddress: '1200',
  presenceGraceMs: '5000',
  presenceLeaseMs: '90000',
  roomIdleMs: '600000',
} as const;

/** Validates every option and reports all problems at once. */
export function parseNodeConfig(raw: RawConfig): NodeConfig {
  const problems: string[] = [];
  const str = (key: string, fallback?: string): string | undefined => {
    const v = raw[key];
    return typeof v === 'string' ? v : fallback;
  };
  const int = (key: string, flag: string, min: number, max: number, fallback: string): number => {
    const text = str(key, fallback) ?? fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      problems.push(`${flag} must be a whole number from ${min} to ${max} (got "${text}")`);
      return min;
    }
    return n;
  };
  const oneOf = <T extends string>(key: string, flag: string, allowed: readonly T[], fallback: T): T => {
    const v = str(key, fallback) ?? fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${flag} must be one of ${allowed.join(', ')} (got "${v}")`);
      return fallback;
    }
    return v as T;
  };

  const host = str('host', DEFAULTS.host) ?? DEFAULTS.host;
  if (host.trim() === '') problems.push('--host must not be empty');
  const port = int('port', '--port', 0, 65535, DEFAULTS.port);
  const grpcPort = int('grpcPort', '--grpc-port', 0, 65535, DEFAULTS.grpcPort);
  const store = oneOf<StoreKind>('store', '--store', storeKinds(), DEFAULTS.store);
  const redisUrl = str('redisUrl') ?? null;
  if (redisUrl && !/^(rediss?|redis-sentinel|redis-cluster):\/\//.test(redisUrl))
    problems.push('--redis-url must start with redis://, rediss://, redis-sentinel:// or redis-cluster://');
  const secret = str('secret') ?? null;
  if (secret !== null && secret.length < 16) problems.push('--secret must be at least 16 characters');
  const previousSecrets = parsePreviousSecrets(str('previousSecret') ?? '', problems);
  if (previousSecrets.length > 0 && secret === null)
    problems.push('--previous-secret needs --secret (the new one)');
  if (storeEntry(store).shared && secret === null) {
    problems.push(
      `--store ${store} needs --secret (or CHORUS_SECRET), the same on every node, so nodes accept each other’s tokens`,
    );
  }
  if (store === 'raft' && secret === null) {
    problems.push(
      '--store raft needs --secret (or CHORUS_SECRET), the same on every node: nodes authenticate each other with it',
    );
  }
  const nodeId = str('nodeId') ?? null;
  if (nodeId !== null && !NODE_ID_PATTERN.test(nodeId))
    problems.push('--node-id must be lower-case letters, digits and inner dashes, at most 32 characters');
  const peers = parsePeers(str('peers') ?? '', problems);
  if (peers.length > 0 && nodeId === null)
    problems.push('--peers needs --node-id (this node’s id among them)');
  if (nodeId !== null && peers.length > 0 && !peers.some((p) => p.id === nodeId))
    problems.push(`--peers must list this node (--node-id ${nodeId}) too`);
  if (store === 'raft' && (nodeId === null || peers.length === 0))
    problems.push(
      '--store raft needs --node-id and --peers ID=HOST:GRPC_PORT,… (every member, this node too)',
    );
  // commander turns --no-legacy into legacy=false.
  const legacyRoom =
    raw['legacy'] === false ? null : (str('legacyRoom', DEFAULTS.legacyRoom) ?? DEFAULTS.legacyRoom);
  if (legacyRoom !== null && !new RegExp(ROOM_ID_PATTERN).test(legacyRoom)) {
    problems.push('--legacy-room must be a room id: lower-case letters, digits and inner dashes');
  }
  const musicDir = str('musicDir') ?? null;
  // commander: --demo-catalog sets true, --no-demo-catalog false, neither leaves it unset.
  const demo = raw['demoCatalog'];
  const demoCatalog = typeof demo === 'boolean' ? demo : musicDir === null || musicDir === '';
  let publicUrl = str('publicUrl') ?? null;
  if (publicUrl !== null) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(publicUrl);
    } catch {
      // Reported below.
    }
    if (parsed === null || !/^https?:$/.test(parsed.protocol) || parsed.search !== '' || parsed.hash !== '') {
      problems.push(`--public-url must be an http:// or https:// URL without a query (got "${publicUrl}")`);
    } else {
      publicUrl = parsed.href.replace(/\/+$/, '');
    }
  }
  const config: NodeConfig = {
    host,
    port,
    grpcPort,
    dataDir: str('dataDir', DEFAULTS.dataDir) ?? DEFAULTS.dataDir,
    store,
    redisUrl,
    redisPrefix: str('redisPrefix', DEFAULTS.redisPrefix) ?? DEFAULTS.redisPrefix,
    secret,
    previousSecrets,
    legacyRoom,
    musicDir,
    demoCatalog,
    publicUrl,
    logLevel: oneOf('logLevel', '--log-level', LOG_LEVELS, DEFAULTS.logLevel),
    readTimeoutMs: int('readTimeoutMs', '--read-timeout-ms', 1, 600_000, DEFAULTS.readTimeoutMs),
    clockIntervalMs: int('clockIntervalMs', '--clock-interval-ms', 10, 60_000, DEFAULTS.clockIntervalMs),
    nodeName: str('nodeName') ?? `${host}:${port}`,
    limits: {
      requestTimeoutMs: int(
        'requestTimeoutMs',
        '--request-timeout-ms',
        1000,
        600_000,
        DEFAULTS.requestTimeoutMs,
      ),
      maxConnections: int('maxConnections', '--max-connections', 1, 1_000_000, DEFAULTS.maxConnections),
      maxConnectionsPerAddress: int(
        'maxConnectionsPerAddress',
        '--max-connections-per-address',
        1,
        1_000_000,
        DEFAULTS.maxConnectionsPerAddress,
      ),
      maxStreams: int('maxStreams', '--max-streams', 1, 1_000_000, DEFAULTS.maxStreams),
      writesPerMember: int('writesPerMember', '--writes-per-member', 1, 1_000_000, DEFAULTS.writesPerMember),
      roomsPerAddress: int('roomsPerAddress', '--rooms-per-address', 1, 1_000_000, DEFAULTS.roomsPerAddress),
      joinsPerAddress: int('joinsPerAddress', '--joins-per-address', 1, 1_000_000, DEFAULTS.joinsPerAddress),
      trustProxy: (str('trustProxy') ?? '')
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== ''),
    },
    nodeId,
    peers,
    join: raw['join'] === true || raw['join'] === 'true' || raw['join'] === '1',
    presenceGraceMs: int('presenceGraceMs', '--presence-grace-ms', 0, 600_000, DEFAULTS.presenceGraceMs),
    // 0: this node reports no presence (its streams count nobody).
    presenceLeaseMs: int('presenceLeaseMs', '--presence-lease-ms', 0, 3_600_000, DEFAULTS.presenceLeaseMs),
    roomIdleMs: int('roomIdleMs', '--room-idle-ms', 0, 2 ** 31 - 1, DEFAULTS.roomIdleMs),
  };
  if (config.presenceLeaseMs > 0 && config.presenceLeaseMs < 3_000)
    problems.push('--presence-lease-ms must be 0 (no presence) or from 3000');
  if (config.join && store !== 'raft') problems.push('--join is for --store raft only');
  problems.push(...storeEntry(store).check(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
