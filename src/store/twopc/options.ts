// The two-phase-commit store's options and their defaults (the store is store.ts): what a node is
// opened with, and the rule for compactEvery (the option, else CHORUS_2PC_COMPACT_EVERY, else
// 10,000), which refuses anything but a whole number of records ≥ 1.

import { chorusError } from '../../domain/index.ts';
import type { Failpoints } from '../failpoints.ts';
import type { StoreLogger } from '../logger.ts';
import type { StoreTelemetry } from '../telemetry.ts';
import type { Limits } from './types.ts';

export interface TwoPcStoreOptions {
  readonly dataDir: string;
  readonly nodeId: string;
  /** Every node of the group, this one included, with the address of its gRPC server. */
  readonly peers: readonly { readonly id: string; readonly address: string }[];
  /** The cluster secret: node-to-node calls carry an HMAC of it. */
  readonly secret: string;
  readonly logger: StoreLogger;
  /** One core tick (every timeout of the core counts ticks). */
  readonly tickMs?: number;
  /** Deadline of every node-to-node call. */
  readonly callDeadlineMs?: number;
  /** A submit not answered by then is DEADLINE_EXCEEDED (it may still take effect). */
  readonly submitTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly limits?: Partial<Limits>;
  /** Records written between snapshots (each snapshot compacts the log before it). */
  readonly compactEvery?: number;
  /** Where its metrics go (metrics.ts declares them); NO_TELEMETRY by default. */
  readonly telemetry?: StoreTelemetry;
  /** Test-only crash points (failpoints.ts); by default those of CHORUS_FAILPOINTS, usually none. */
  readonly failpoints?: Failpoints;
}

export const DEFAULT_TICK_MS = 50;
export const DEFAULT_CALL_DEADLINE_MS = 2_000;
export const DEFAULT_SUBMIT_TIMEOUT_MS = 15_000;
export const DEFAULT_READ_TIMEOUT_MS = 5_000;
export const DEFAULT_COMPACT_EVERY = 10_000;
/** The environment variable that sets compactEvery for a node (tests use small values). */
export const COMPACT_EVERY_ENV = 'CHORUS_2PC_COMPACT_EVERY';

/** compactEvery from the options, else the environment, else the default. */
export function compactEvery(given: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const raw =
    given ?? (env[COMPACT_EVERY_ENV] !== undefined ? Number(env[COMPACT_EVERY_ENV]) : DEFAULT_COMPACT_EVERY);
  if (!Number.isSafeInteger(raw) || raw < 1) {
    throw chorusError('STORE_OPTION_INVALID', {
      store: '2pc',
      problem: `compactEvery (${COMPACT_EVERY_ENV}) must be a whole number of records ≥ 1, not ${String(raw)}`,
      option: 'compactEvery',
    });
  }
  return raw;
}
