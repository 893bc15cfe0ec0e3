// The one registry of stores, keyed by StoreKind: adding a store is one entry here (plus its own
// ordering and durability code). The node's configuration (`--store`, its checks), `openStore`,
// `chorus serve --help` and `chorus cluster --store` all read it, so they list exactly the stores
// that are registered: a kind named in StoreKind but not registered is refused like any typo.
// Entries load their store's code only when opened, so reading the list costs nothing.

import { mkdir } from 'node:fs/promises';
import type { StoreLogger } from './logger.ts';
import { MEMORY_METRICS } from './memory/eviction.ts';
import { RAFT_METRICS } from './raft/metrics.ts';
import type { MetricSpec, StoreTelemetry } from './telemetry.ts';
import { TWOPC_METRICS } from './twopc/metrics.ts';
import type { Store, StoreKind } from './types.ts';

/** What a node's configuration gives a store (NodeConfig fits). */
export interface StoreSettings {
  readonly dataDir: string;
  readonly redisUrl: string | null;
  readonly redisPrefix: string;
  readonly readTimeoutMs: number;
  /** Group stores (raft, 2pc): this node's id, every member's gRPC address. */
  readonly nodeId?: string | null;
  readonly peers?: readonly { readonly id: string; readonly address: string }[];
  /** The cluster secret (node-to-node calls are authenticated with it). */
  readonly secret?: string | null;
  /** Raft: join a running group instead of founding one. */
  readonly join?: boolean;
  /** Memory: how long a room stays quiet before it may leave memory (`--room-idle-ms`). */
  readonly roomIdleMs?: number;
}

export interface StoreEntry {
  readonly kind: StoreKind;
  /** Nodes can share it, so `chorus cluster` runs on it (and its nodes need one token secret). */
  readonly shared: boolean;
  /** What is missing from the settings for this store, in the words of the flags. */
  check(settings: StoreSettings): string[];
  /** The metrics the store reports through its telemetry (the node registers exactly these). */
  readonly metrics?: readonly MetricSpec[];
  /** Opens and starts the store (rejects as its open function does). */
  open(settings: StoreSettings, logger: StoreLogger, telemetry: StoreTelemetry): Promise<Store>;
}

const STORES = new Map<StoreKind, StoreEntry>();

/** Adds a store; a kind is registered once. */
export function registerStore(entry: StoreEntry): void {
  if (STORES.has(entry.kind)) throw new Error(`a store of kind ${entry.kind} is already registered`);
  STORES.set(entry.kind, entry);
}

/** Every registered kind, in the order registered. */
export function storeKinds(): StoreKind[] {
  return [...STORES.keys()];
}

/** The kinds `chorus cluster` can run on. */
export function sharedStoreKinds(): StoreKind[] {
  return [...STORES.values()].filter((e) => e.shared).map((e) => e.kind);
}

/** The registered entry of a kind; throws for a kind not registered (config.ts checks first). */
export function storeEntry(kind: string): StoreEntry {
  const entry = STORES.get(kind as StoreKind);
  if (!entry) throw new Error(`no store of kind ${kind} is registered (${storeKinds().join(', ')} are)`);
  return entry;
}

registerStore({
  kind: 'memory',
  shared: false,
  check: () => [],
  metrics: MEMORY_METRICS,
  open: async (settings, logger, telemetry) => {
    await mkdir(settings.dataDir, { recursive: true });
    const { openMemoryStore } = await import('./memory/index.ts');
    return openMemoryStore({ dataDir: settings.dataDir, logger, telemetry, roomIdleMs: settings.roomIdleMs });
  },
});

registerStore({
  kind: 'redis',
  shared: true,
  check: (settings) => (settings.redisUrl ? [] : ['--store redis needs --redis-url (or CHORUS_REDIS_URL)']),
  open: async (settings, logger) => {
    const { openRedisStore } = await import('./redis/index.ts');
    return openRedisStore({
      url: settings.redisUrl!,
      keyPrefix: settings.redisPrefix,
      readTimeoutMs: settings.readTimeoutMs,
      logger,
    });
  },
});

/** What a store whose nodes form a group opens with (its check has made sure they are there). */
function groupOptions(settings: StoreSettings, logger: StoreLogger) {
  return {
    dataDir: settings.dataDir,
    nodeId: settings.nodeId!,
    peers: settings.peers ?? [],
    secret: settings.secret!,
    readTimeoutMs: settings.readTimeoutMs,
    logger,
  };
}

registerStore({
  kind: '2pc',
  shared: true, // `chorus cluster --store 2pc` passes each node --node-id and --peers
  check: (settings) => {
    const problems: string[] = [];
    if (!settings.secret)
      problems.push(
        '--store 2pc needs --secret (or CHORUS_SECRET), the same on every node: nodes authenticate each other with it',
      );
    if (!settings.nodeId) problems.push('--store 2pc needs --node-id (this node’s id among --peers)');
    if ((settings.peers ?? []).length === 0)
      problems.push('--store 2pc needs --peers ID=HOST:GRPC_PORT,… (every node, this one included)');
    return problems;
  },
  metrics: TWOPC_METRICS,
  open: async (settings, logger, telemetry) =>
    (await import('./twopc/store.ts')).openTwoPcStore({ ...groupOptions(settings, logger), telemetry }),
});

registerStore({
  kind: 'raft',
  shared: true, // `chorus cluster --store raft` passes each node --node-id and --peers
  check: () => [], // config.ts checks its flags
  metrics: RAFT_METRICS,
  open: async (settings, logger, telemetry) =>
    (await import('./raft/store.ts')).openRaftStore({
      ...groupOptions(settings, logger),
      join: settings.join ?? false,
      telemetry,
    }),
});
