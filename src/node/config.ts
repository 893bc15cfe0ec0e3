// Node configuration: read once at start (flags, CHORUS_* environment, defaults), validated in one
// place, then passed down as a plain object. Nothing deeper reads process.env.

import { ROOM_ID_PATTERN } from '../domain/index.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const STORE_KINDS = ['memory', 'redis'] as const;
export type StoreChoice = (typeof STORE_KINDS)[number];

export interface NodeConfig {
  readonly host: string;
  readonly port: number;
  readonly grpcPort: number;
  readonly dataDir: string;
  readonly store: StoreChoice;
  readonly redisUrl: string | null;
  readonly redisPrefix: string;
  /** HMAC secret for tokens; null: generated once and kept in the data dir (single node only). */
  readonly secret: string | null;
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
  const store = oneOf('store', '--store', STORE_KINDS, DEFAULTS.store);
  const redisUrl = str('redisUrl') ?? null;
  if (store === 'redis' && !redisUrl) problems.push('--store redis needs --redis-url (or CHORUS_REDIS_URL)');
  if (redisUrl && !/^(rediss?|redis-sentinel):\/\//.test(redisUrl))
    problems.push('--redis-url must start with redis://, rediss:// or redis-sentinel://');
  const secret = str('secret') ?? null;
  if (secret !== null && secret.length < 16) problems.push('--secret must be at least 16 characters');
  if (store === 'redis' && secret === null) {
    problems.push(
      '--store redis needs --secret (or CHORUS_SECRET), the same on every node, so nodes accept each other’s tokens',
    );
  }
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
    legacyRoom,
    musicDir,
    demoCatalog,
    publicUrl,
    logLevel: oneOf('logLevel', '--log-level', LOG_LEVELS, DEFAULTS.logLevel),
    readTimeoutMs: int('readTimeoutMs', '--read-timeout-ms', 1, 600_000, DEFAULTS.readTimeoutMs),
    clockIntervalMs: int('clockIntervalMs', '--clock-interval-ms', 10, 60_000, DEFAULTS.clockIntervalMs),
    nodeName: str('nodeName') ?? `${host}:${port}`,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
