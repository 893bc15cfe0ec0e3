// Join control: who may become a member, and how fast. A room is open (anyone with its id joins),
// joins by passcode, or by the host's approval (a join waits as a request the host admits or turns
// away); a member cap and a room-wide join rate apply whatever the policy.
//
// Invariants: the plain passcode never enters a command or the state (the node hashes it; only
// hashes are compared here); the join rate is a token bucket in command time (`env.at`), so every
// node refuses the same joins; a refused join leaves no trace (no token spent, nothing waiting);
// waiting requests are bounded (MAX_PENDING_JOINS) and a member id is a member or waiting, never both.

import type { ErrorInfo } from './errors.ts';
import { refusal } from './reasons.ts';
import { fullSettings } from './settings.ts';
import type { Command, Envelope, Member, PendingJoin, RoomEventBody, RoomState } from './types.ts';

/** Join requests that may wait for the host at once. */
export const MAX_PENDING_JOINS = 100;
/** What a passcode hash looks like (the node's scrypt output, base64url): checked, never trusted blindly. */
const HASH_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

export type JoinOutcome =
  | { readonly kind: 'member'; readonly state: RoomState; readonly events: RoomEventBody[] }
  | { readonly kind: 'pending'; readonly state: RoomState; readonly events: RoomEventBody[] };

/**
 * The policy checks of a join whose shape was already checked (apply.ts): cap, rate, passcode or
 * approval. Returns the room with the member (or their request) in it.
 */
export function admit(
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: 'join' }>,
  member: Member,
): ErrorInfo | JoinOutcome {
  const settings = fullSettings(state.settings);
  if (Object.hasOwn(state.pendingJoins ?? {}, member.memberId)) {
    return refusal('MEMBER_EXISTS', { memberId: member.memberId });
  }
  const full = checkCap(state, settings.maxMembers);
  if (full) return full;
  const allowance = takeJoin(state, env.at, settings.joinsPerMinute);
  if ('code' in allowance) return allowance;
  if (settings.joinPolicy === 'passcode') {
    if (command.passcodeHash === undefined) return refusal('PASSCODE_REQUIRED');
    if (typeof command.passcodeHash !== 'string' || command.passcodeHash !== state.passcodeHash) {
      return refusal('PASSCODE_WRONG');
    }
  }
  const spent: RoomState = allowance.state;
  if (settings.joinPolicy === 'approval') {
    const pending = state.pendingJoins ?? {};
    if (Object.keys(pending).length >= MAX_PENDING_JOINS) {
      return refusal('JOIN_REQUESTS_FULL', { max: MAX_PENDING_JOINS });
    }
    const request: PendingJoin = {
      memberId: member.memberId,
      name: member.name,
      requestedAt: env.at,
      ...(command.clientKeyHash !== undefined ? { clientKeyHash: command.clientKeyHash } : {}),
    };
    return {
      kind: 'pending',
      state: { ...spent, pendingJoins: defineKey(pending, member.memberId, request) },
      events: [{ type: 'joinRequested', memberId: member.memberId, name: member.name }],
    };
  }
  return {
    kind: 'member',
    state: { ...spent, members: state.members.with(member) },
    events: [{ type: 'memberJoined', member }],
  };
}

/** The host admits (or turns away) a waiting request; the cap still holds at that moment. */
export function decide(
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: 'decideJoin' }>,
): ErrorInfo | { readonly state: RoomState; readonly events: RoomEventBody[] } {
  if (typeof command.approve !== 'boolean') return refusal('JOIN_DECISION_INVALID');
  const pending = state.pendingJoins ?? {};
  if (typeof command.memberId !== 'string' || !Object.hasOwn(pending, command.memberId)) {
    return refusal('JOIN_REQUEST_NOT_FOUND', { memberId: String(command.memberId) });
  }
  const request = pending[command.memberId]!;
  const rest: Record<string, PendingJoin> = { ...pending };
  delete rest[command.memberId];
  if (!command.approve) {
    return {
      state: { ...state, pendingJoins: rest },
      events: [{ type: 'joinDenied', memberId: request.memberId }],
    };
  }
  const full = checkCap(state, fullSettings(state.settings).maxMembers);
  if (full) return full;
  const member: Member = { memberId: request.memberId, name: request.name, isHost: false, joinedAt: env.at };
  // The request's client key goes with the member into the state (bans), never into the event.
  const key = request.clientKeyHash;
  return {
    state: {
      ...state,
      pendingJoins: rest,
      members: state.members.with(key === undefined ? member : { ...member, clientKeyHash: key }),
    },
    events: [{ type: 'memberJoined', member }],
  };
}

/** A passcode hash given with a command: well formed, or an error. */
export function checkPasscodeHash(hash: unknown): ErrorInfo | null {
  return typeof hash === 'string' && HASH_PATTERN.test(hash)
    ? null
    : refusal('PASSCODE_INVALID', PASSCODE_LENGTH);
}

/** How long a passcode may be (the transports check the plain text against it). */
export const PASSCODE_LENGTH = { min: 4, max: 128 } as const;

/**
 * A settings change that would make the room join by passcode needs a passcode: the one it has, or
 * the one set with the change (null removes it).
 */
export function passcodeAfter(
  state: RoomState,
  policy: string,
  passcodeHash: string | null | undefined,
): ErrorInfo | { readonly hash: string | undefined } {
  if (passcodeHash !== undefined && passcodeHash !== null) {
    const bad = checkPasscodeHash(passcodeHash);
    if (bad) return bad;
  }
  const hash = passcodeHash === undefined ? state.passcodeHash : (passcodeHash ?? undefined);
  if (policy === 'passcode' && hash === undefined) return refusal('PASSCODE_NOT_SET');
  return { hash };
}

function checkCap(state: RoomState, maxMembers: number): ErrorInfo | null {
  if (maxMembers > 0 && state.members.size >= maxMembers) {
    return refusal('ROOM_FULL', { maxMembers });
  }
  return null;
}

/** Spends one join from the room's allowance: `perMinute` a minute, bursts of as many. */
function takeJoin(
  state: RoomState,
  at: number,
  perMinute: number,
): ErrorInfo | { readonly state: RoomState } {
  if (perMinute <= 0) return { state };
  const last = state.joinAllowance;
  // Time never runs backwards here: a command stamped earlier than the last (another node's clock)
  // refills nothing.
  const elapsed = last ? Math.max(0, at - last.at) : 0;
  const tokens = last ? Math.min(perMinute, last.tokens + (elapsed * perMinute) / 60_000) : perMinute;
  if (tokens < 1) {
    const retryAfterMs = Math.ceil(((1 - tokens) * 60_000) / perMinute);
    return refusal('ROOM_JOINS_TOO_FAST', { joinsPerMinute: perMinute, retryAfterMs });
  }
  return { state: { ...state, joinAllowance: { tokens: tokens - 1, at: Math.max(at, last?.at ?? at) } } };
}

/** A copy of `record` with `key` set; defined, not assigned (a key "__proto__" stays a key). */
function defineKey<T>(record: Readonly<Record<string, T>>, key: string, value: T): Record<string, T> {
  const out: Record<string, T> = { ...record };
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}
