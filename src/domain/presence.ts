// Presence: who is in the room now, as the room's own commands say, so that every node gives the
// same answer. A node never decides from its local count of connections; it reports.
//
// Model: each node keeps one report per room, `{ until, members }`: the members with a live
// connection (page/SSE, gRPC Watch) on that node, held until `until` (a lease). A member is present
// at time t when some report holding them has until > t. A node sends a `presence` command when
// members arrive or depart (debounced and batched by the node), and a cheap renewal (no ids) while
// connections stay open; a report it stops renewing (the node died for good) simply runs out. A
// restarted node's first report in a room is a reset: it replaces whatever it reported before its
// crash.
//
// Invariants: time is the command's (`env.at`), never a clock, so the same log gives the same
// present set everywhere; every presence command drops reports that ran out (the state stays
// bounded by live nodes x members); rules read presence only through `presentMembers`.

import type { ErrorInfo } from './errors.ts';
import { refusal } from './reasons.ts';
import type { Command, Envelope, RoomEventBody, RoomState } from './types.ts';
import { checkId } from './validate.ts';

/** One node's report in one room. `members` is sorted and has no duplicates. */
export interface PresenceReport {
  readonly until: number;
  readonly members: readonly string[];
}

/** Reports by node id. Absent on rooms written before presence (nobody present). */
export type Presence = Readonly<Record<string, PresenceReport>>;

export type PresenceCommand = Extract<Command, { type: 'presence' }>;

/** Bounds of a lease: long enough to renew calmly, short enough that a dead node is forgotten soon. */
export const PRESENCE_LEASE_BOUNDS: readonly [number, number] = [1_000, 3_600_000];
/** Ids one presence command may carry per list (a node sends more in several commands). */
export const PRESENCE_MAX_IDS = 1_000;

/** The members present at `at`, sorted: held by a report that has not run out, and still members. */
export function presentMembers(state: RoomState, at: number): string[] {
  const reports = state.presence;
  if (reports === undefined) return [];
  const present = new Set<string>();
  for (const report of Object.values(reports)) {
    if (report.until <= at) continue;
    for (const id of report.members) if (state.members.has(id)) present.add(id);
  }
  return [...present].sort();
}

/**
 * How many votes a rule needs: the room's fixed minimum, or `share` of the present members if that
 * is more. A minimum of 0 leaves the rule off (as before presence existed).
 */
export function votesNeeded(minimum: number, share: number, present: number): number {
  if (minimum <= 0) return 0;
  return Math.max(minimum, Math.ceil(share * present));
}

/** Applies a node's report; an error when the command is malformed. */
export function applyPresence(
  state: RoomState,
  env: Envelope,
  command: PresenceCommand,
): ErrorInfo | { readonly state: RoomState; readonly events: RoomEventBody[] } {
  // Only the nodes speak for presence: no transport builds this command for a member.
  if (env.actor !== null) return refusal('PRESENCE_SYSTEM_ONLY');
  const bad =
    checkId('node', command.node) ?? checkIds('arrive', command.arrive) ?? checkIds('depart', command.depart);
  if (bad) return bad;
  const [min, max] = PRESENCE_LEASE_BOUNDS;
  if (!Number.isSafeInteger(command.leaseMs) || command.leaseMs < min || command.leaseMs > max) {
    return refusal('NUMBER_OUT_OF_RANGE', { field: 'leaseMs', min, max });
  }
  if (command.reset !== undefined && typeof command.reset !== 'boolean') {
    return refusal('PRESENCE_RESET_INVALID');
  }
  const at = env.at;
  const before = presentMembers(state, at);
  const reports: Record<string, PresenceReport> = {};
  let expired = false;
  for (const [node, report] of Object.entries(state.presence ?? {})) {
    if (report.until > at) reports[node] = report;
    else expired = true;
  }
  const previous = command.reset === true ? [] : (reports[command.node]?.members ?? []);
  const mine = new Set(previous);
  // Only members (or ids the host may still admit) are kept: a report cannot grow the state with
  // ids that mean nothing in this room.
  for (const id of command.arrive) if (knownId(state, id)) mine.add(id);
  for (const id of command.depart) mine.delete(id);
  if (mine.size === 0) {
    delete reports[command.node];
  } else {
    Object.defineProperty(reports, command.node, {
      value: { until: at + command.leaseMs, members: [...mine].sort() },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const next: RoomState = { ...state, presence: reports };
  const after = presentMembers(next, at);
  // An event when the set changed, or when a report ran out (the set may have changed silently
  // since the last event: watchers learn the current one).
  const events: RoomEventBody[] =
    expired || !sameList(before, after) ? [{ type: 'presenceChanged', present: after }] : [];
  return { state: next, events };
}

function knownId(state: RoomState, id: string): boolean {
  return state.members.has(id) || Object.hasOwn(state.pendingJoins ?? {}, id);
}

function checkIds(field: string, ids: unknown): ErrorInfo | null {
  if (!Array.isArray(ids) || ids.length > PRESENCE_MAX_IDS) {
    return refusal('PRESENCE_IDS_INVALID', { field, max: PRESENCE_MAX_IDS });
  }
  for (const id of ids as unknown[]) {
    const bad = checkId(field, id);
    if (bad) return bad;
  }
  return null;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
