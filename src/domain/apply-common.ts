// What the command handlers share (apply.ts and its apply-*.ts modules): the handler's shape, how a
// refusal is built, and who may act (a member, or one with host powers).
//
// Invariants: pure lookups over RoomState, no state is built here; a refusal is always a Decision
// of kind 'error' made through `refusal` (reasons.ts), so every handler refuses the same way. This
// module imports none of the apply-*.ts modules, so they import it without a cycle.

import type { Decision } from './decision.ts';
import type { ErrorInfo } from './errors.ts';
import { refusal, type Reason, type ReasonArgs } from './reasons.ts';
import type { Command, Envelope, Member, RoomState } from './types.ts';
import { hasHostPowers } from './access.ts';

/** Voter keys of anonymous (legacy) votes start with this; no member id may. */
export const ANONYMOUS_PREFIX = '~';

export type Handler<T extends Command['type']> = (
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: T }>,
) => Decision;

export function fail<R extends Reason>(reason: R, ...args: ReasonArgs<R>): Decision {
  return { kind: 'error', error: refusal(reason, ...args) };
}

export function memberOf(state: RoomState, actor: string | null): Member | ErrorInfo {
  if (actor === null) return refusal('MEMBER_TOKEN_MISSING');
  // Own properties only: an id such as "constructor" or "__proto__" must not find Object.prototype's.
  const member = state.members.get(actor);
  if (!member) {
    if (Object.hasOwn(state.pendingJoins ?? {}, actor)) return refusal('JOIN_PENDING');
    return refusal('NOT_A_MEMBER', { roomId: state.id });
  }
  return member;
}

export function hostOf(state: RoomState, actor: string | null, action: string): Member | ErrorInfo {
  const member = memberOf(state, actor);
  if ('code' in member) return member;
  if (!hasHostPowers(member)) return refusal('HOST_ONLY', { action });
  return member;
}
