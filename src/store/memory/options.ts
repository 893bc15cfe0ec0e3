// Options and counters of the memory store, checked once when it is opened (docs/architecture.md section 7).

import path from 'node:path';
import type { StoreLogger } from '../logger.ts';
import type { StoreTelemetry } from '../telemetry.ts';
import { invalidOption, resolveLogger, resolveNumbers, type OptionTable } from '../options.ts';

export interface MemoryStoreOptions {
  /** Directory for the log, snapshots and lock; created when missing. */
  readonly dataDir: string;
  /** Records between automatic snapshots (default 10 000). */
  readonly snapshotEvery?: number | undefined;
  /**
   * fsync the log before acknowledging (default true). false survives a process crash but not a
   * machine crash or power loss; for tests and throwaway data only.
   */
  readonly fsync?: boolean | undefined;
  readonly logger?: StoreLogger | undefined;
  /**
   * A room quiet this long (no write, no subscriber) and held as it is by the newest snapshot leaves
   * memory, to be reloaded from the snapshot when used (default 10 minutes; 0: rooms never leave).
   */
  readonly roomIdleMs?: number | undefined;
  readonly telemetry?: StoreTelemetry | undefined;
}

export const DEFAULT_SNAPSHOT_EVERY = 10_000;
export const DEFAULT_ROOM_IDLE_MS = 600_000;
export const DEFAULT_READ_TIMEOUT_MS = 5_000;

/** Counters for tests, metrics and benchmarks. */
export interface MemoryStoreStats {
  /** Records in the log: the number of commands ever ordered by this data dir. */
  readonly position: number;
  /** Records appended to the log by this process. */
  readonly writes: number;
  /** Of those, records whose batch has been fsynced (with fsync: false, fully written). */
  readonly syncedWrites: number;
  /** Batches appended by this process (one write call each). */
  readonly batches: number;
  /** fsyncs of the log by this process (0 with fsync: false). */
  readonly fsyncs: number;
  /** Snapshots written and compacted (counted once the old files are gone). */
  readonly snapshots: number;
  /** Commands answered without a log record: decided at submit, they changed nothing (refusals). */
  readonly unlogged: number;
  /** Log position of the newest snapshot on disk (0 when none). */
  readonly snapshotPosition: number;
  /** Replicas held, including ones only kept for a waiting read or subscriber. */
  readonly replicas: number;
  /** Rooms held in memory (that exist). */
  readonly rooms: number;
  /** Rooms evicted from memory now (they live in the snapshot). */
  readonly evicted: number;
  /** Evictions and reloads by this process. */
  readonly evictions: number;
  readonly reloads: number;
  /** File name of the segment being appended to. */
  readonly segment: string;
  /** The writer loop is running: a batch or a snapshot is being written. */
  readonly busy: boolean;
}

const OPTIONS: OptionTable<'snapshotEvery' | 'roomIdleMs'> = {
  snapshotEvery: [DEFAULT_SNAPSHOT_EVERY, 1, Number.MAX_SAFE_INTEGER],
  roomIdleMs: [DEFAULT_ROOM_IDLE_MS, 0, 2 ** 31 - 1],
};

const defaultLogger: StoreLogger = {
  info: () => undefined,
  warn: (obj, msg) => console.warn(`chorus memory store: ${msg ?? ''}`, obj),
};

export interface ResolvedMemoryOptions {
  readonly dataDir: string;
  readonly snapshotEvery: number;
  readonly roomIdleMs: number;
  readonly fsync: boolean;
  readonly logger: StoreLogger;
}

export function resolveMemoryOptions(options: MemoryStoreOptions): ResolvedMemoryOptions {
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw invalidOption('memory store', 'a data dir is needed', 'dataDir');
  }
  return {
    dataDir: path.resolve(options.dataDir),
    ...resolveNumbers('memory store', OPTIONS, options),
    fsync: options.fsync ?? true,
    logger: resolveLogger('memory store', options.logger, defaultLogger),
  };
}
