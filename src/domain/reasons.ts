// The one registry of error reasons, as fastify's lib/errors.js: every refusal Chorus gives is
// declared once, with its code (errors.ts), its message template and the details it carries.
// The domain, the stores, the services and the APIs build errors only through `refusal` and
// `chorusError`, so a reason reads the same whichever layer or store gives it, and a client can
// tell reasons apart by `details.reason` on the wire (errors.ts `wireError`).
//
// The reasons are declared by area, one file each under reasons/ (add a reason to its area's file):
// requests.ts (request shapes and fields, legacy, catalog, audio, routes), rooms.ts (settings,
// commands, rooms, members, tokens, joining, presence, snapshots), access.ts (hosts, co-hosts,
// removal, bans), queue.ts (the queue and playback), limits.ts (rates, streams, deadlines, a
// stopping node, internal errors), store.ts (stores in general, disk, redis), twopc.ts, raft.ts.
//
// Invariants: a reason's name is its key, and names are unique across the areas (the unit test
// counts them); templates are pure (no clock, no I/O); the README's error section lists every
// reason (test/unit/domain/reasons.test.ts checks it).

import { ChorusError, type ErrorInfo } from './errors.ts';
import { ACCESS_REASONS } from './reasons/access.ts';
import { LIMIT_REASONS } from './reasons/limits.ts';
import { QUEUE_REASONS } from './reasons/queue.ts';
import { RAFT_REASONS } from './reasons/raft.ts';
import { REQUEST_REASONS } from './reasons/requests.ts';
import { ROOM_REASONS } from './reasons/rooms.ts';
import type { ReasonSpec } from './reasons/spec.ts';
import { STORE_REASONS } from './reasons/store.ts';
import { TWOPC_REASONS } from './reasons/twopc.ts';

/** Each area's table, as declared (the unit test checks that no name stands in two). */
export const REASON_AREAS = {
  requests: REQUEST_REASONS,
  rooms: ROOM_REASONS,
  access: ACCESS_REASONS,
  queue: QUEUE_REASONS,
  limits: LIMIT_REASONS,
  store: STORE_REASONS,
  twopc: TWOPC_REASONS,
  raft: RAFT_REASONS,
} as const;

// Pure (a spread is not, to a bundler): the web page, which imports the domain but gives no
// refusals, drops the registry.
export const REASONS = /* @__PURE__ */ (() => ({
  ...REQUEST_REASONS,
  ...ROOM_REASONS,
  ...ACCESS_REASONS,
  ...QUEUE_REASONS,
  ...LIMIT_REASONS,
  ...STORE_REASONS,
  ...TWOPC_REASONS,
  ...RAFT_REASONS,
}))();

export type Reason = keyof typeof REASONS;

/** The arguments a reason's template takes: none, or one object. */
export type ReasonArgs<R extends Reason> = Parameters<(typeof REASONS)[R]['message']>;

/** A refusal as data (what the state machine returns). */
export function refusal<R extends Reason>(name: R, ...args: ReasonArgs<R>): ErrorInfo {
  const spec = REASONS[name] as ReasonSpec<unknown>;
  const given = args[0];
  const details = spec.details?.(given);
  const message = spec.message(given);
  return details === undefined
    ? { code: spec.code, message, reason: name }
    : { code: spec.code, message, details, reason: name };
}

/** A refusal to throw (stores, services, APIs). */
export function chorusError<R extends Reason>(name: R, ...args: ReasonArgs<R>): ChorusError {
  return ChorusError.from(refusal(name, ...args));
}
