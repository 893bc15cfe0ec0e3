// Who holds a room and who may enter it: the host, co-hosts, hand-over, host recovery, kick and ban,
// and the invite secret of private rooms. Pure rules over RoomState, applied in the room's order like
// every other command, so every node agrees on who is host, who was removed and who is banned.
//
// Invariants: exactly one member has isHost (state.hostId names them); a co-host is never the host;
// a removed or banned member is gone from `members` (so their token opens nothing: writes answer
// NOT_A_MEMBER, a private room answers NOT_FOUND); the room keeps only hashes of recovery and client
// keys, never the keys (the invite is kept as given: hosts see it to share the link). A room has at
// most one working recovery key, and only its host can make one: a hand-over retires the key (the
// old host would otherwise keep a way back), and a retired key never works again.

import type { Decision } from './decision.ts';
import type { ErrorInfo } from './errors.ts';
import { removeSorted } from './order.ts';
import { refusal, type Reason, type ReasonArgs } from './reasons.ts';
import type { Command, CommandValue, Envelope, Member, Role, RoomEventBody, RoomState } from './types.ts';
import { checkId } from './validate.ts';

export type AccessCommand = Extract<
  Command,
  { type: 'setRole' | 'handOver' | 'removeMember' | 'recoverHost' | 'newRecoveryKey' | 'setInvite' }
>;

/**
 * Retired recovery key hashes a room keeps, to say "retired" rather than "wrong" to whoever still
 * holds one; older ones are then only wrong. Bounds the state however often a host makes keys.
 */
export const RETIRED_KEYS_KEPT = 8;

/** Hashes (hex sha-256, made by the node) and invites: long enough to be unguessable, short enough to log. */
const HASH_PATTERN = /^[0-9a-f]{64}$/;
const INVITE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

// ---- Rules anyone may ask ------------------------------------------------------------------------

/** Host powers: the host and co-hosts may skip, pause, lock, set, remove entries and members. */
export function hasHostPowers(member: Member): boolean {
  return member.isHost || member.coHost === true;
}

export function roleOf(member: Member): 'host' | 'cohost' | 'member' {
  return member.isHost ? 'host' : member.coHost === true ? 'cohost' : 'member';
}

export function isMember(state: RoomState, memberId: string | null): boolean {
  return memberId !== null && state.members.has(memberId);
}

/**
 * Whether someone may see, stream or join the room at all: a public room, a private room made
 * before invites (no invite kept: reachable by id until the host sets one), a member of it, or the
 * holder of its invite. Anyone else is told the room does not exist.
 */
export function mayEnter(state: RoomState, who: { memberId: string | null; invite: string | null }): boolean {
  if (state.settings.public || state.invite === undefined) return true;
  if (isMember(state, who.memberId)) return true;
  return who.invite !== null && who.invite === state.invite;
}

/** Whether a join from a client whose key hashes to `clientKeyHash` is refused by a ban. */
export function isBannedClient(state: RoomState, clientKeyHash: string | undefined): boolean {
  return clientKeyHash !== undefined && (state.bans ?? []).some((b) => b.clientKeyHash === clientKeyHash);
}

export function isBannedMember(state: RoomState, memberId: string): boolean {
  return (state.bans ?? []).some((b) => b.memberId === memberId);
}

export function checkHash(field: string, value: unknown): ErrorInfo | null {
  return typeof value === 'string' && HASH_PATTERN.test(value)
    ? null
    : refusal('FIELD_INVALID', { field, problem: 'must be a hex sha-256 hash' });
}

export function checkInvite(value: unknown): ErrorInfo | null {
  return typeof value === 'string' && INVITE_PATTERN.test(value)
    ? null
    : refusal('FIELD_INVALID', { field: 'invite', problem: 'must be 16-64 characters of A-Z a-z 0-9 _ -' });
}

/** createRoom's access fields: a recovery key hash and an invite, each optional. */
export function checkCreateAccess(command: Extract<Command, { type: 'createRoom' }>): ErrorInfo | null {
  return (
    (command.recoveryKeyHash === undefined ? null : checkHash('recoveryKeyHash', command.recoveryKeyHash)) ??
    (command.invite === undefined ? null : checkInvite(command.invite))
  );
}

/**
 * Why a join is refused by access rules: a private room without its invite answers exactly as a
 * room that does not exist; a banned client key is told it is banned.
 */
export function joinRefusal(state: RoomState, command: Extract<Command, { type: 'join' }>): ErrorInfo | null {
  if (command.clientKeyHash !== undefined) {
    const bad = checkHash('clientKeyHash', command.clientKeyHash);
    if (bad) return bad;
  }
  if (command.invite !== undefined && typeof command.invite !== 'string') {
    return refusal('FIELD_INVALID', { field: 'invite', problem: 'must be a string' });
  }
  if (!mayEnter(state, { memberId: null, invite: command.invite ?? null })) {
    return refusal('ROOM_NOT_FOUND', { roomId: state.id });
  }
  // A banned id stays taken (ids are drawn by the node, so only a forged command reuses one).
  if (isBannedClient(state, command.clientKeyHash) || isBannedMember(state, command.memberId)) {
    return refusal('MEMBER_BANNED', { roomId: state.id });
  }
  return null;
}

/** A member as views show them: the role spelled out, the client key hash left out. */
export interface MemberView {
  readonly memberId: string;
  readonly name: string;
  readonly isHost: boolean;
  readonly role: Role;
  readonly joinedAt: number;
}

/** The viewer's part of a room view: who they are, and the invite when they hold host powers. */
export function viewerAccess(
  state: RoomState,
  me: Member | null,
): { readonly me: MemberView | null; readonly invite?: string } {
  if (me === null) return { me: null };
  const view = {
    memberId: me.memberId,
    name: me.name,
    isHost: me.isHost,
    role: roleOf(me),
    joinedAt: me.joinedAt,
  };
  return hasHostPowers(me) && state.invite !== undefined ? { me: view, invite: state.invite } : { me: view };
}

// ---- Handlers ------------------------------------------------------------------------------------

export function applyAccess(state: RoomState, env: Envelope, command: AccessCommand): Decision {
  switch (command.type) {
    case 'setRole':
      return setRole(state, env, command);
    case 'handOver':
      return handOver(state, env, command);
    case 'removeMember':
      return removeMember(state, env, command);
    case 'recoverHost':
      return recoverHost(state, env, command);
    case 'newRecoveryKey':
      return newRecoveryKey(state, env, command);
    case 'setInvite':
      return setInvite(state, env, command);
  }
}

function fail<R extends Reason>(reason: R, ...args: ReasonArgs<R>): Decision {
  return { kind: 'error', error: refusal(reason, ...args) };
}

function actorOf(state: RoomState, actor: string | null): Member | ErrorInfo {
  if (actor === null) return refusal('MEMBER_TOKEN_MISSING');
  return state.members.has(actor) ? state.members.get(actor)! : refusal('NOT_A_MEMBER', { roomId: state.id });
}

function targetOf(state: RoomState, memberId: unknown): Member | ErrorInfo {
  const bad = checkId('memberId', memberId);
  if (bad) return bad;
  const id = memberId as string;
  return state.members.has(id) ? state.members.get(id)! : refusal('MEMBER_NOT_FOUND', { memberId: id });
}

/** The host (only) makes a member a co-host or a plain member again. */
function setRole(state: RoomState, env: Envelope, command: Extract<Command, { type: 'setRole' }>): Decision {
  const actor = actorOf(state, env.actor);
  if ('code' in actor) return { kind: 'error', error: actor };
  if (!actor.isHost) return fail('HOST_ONLY', { action: 'make or unmake co-hosts' });
  if (command.role !== 'cohost' && command.role !== 'member') {
    return fail('FIELD_INVALID', { field: 'role', problem: 'must be "cohost" or "member"' });
  }
  const target = targetOf(state, command.memberId);
  if ('code' in target) return { kind: 'error', error: target };
  if (target.isHost) return fail('ROLE_OF_HOST');
  const value: CommandValue = { type: 'setRole', memberId: target.memberId, role: command.role };
  if (roleOf(target) === command.role) return { kind: 'noop', value };
  const { coHost: _dropped, ...plain } = target;
  const changed: Member = command.role === 'cohost' ? { ...plain, coHost: true } : plain;
  return {
    kind: 'change',
    state: { ...state, members: state.members.with(changed) },
    events: [{ type: 'roleChanged', memberId: changed.memberId, role: command.role }],
    value,
  };
}

/**
 * The state without its recovery key, the key's hash kept among the retired (the newest
 * RETIRED_KEYS_KEPT). A room without a key is returned as it is.
 */
function retireKey(state: RoomState): RoomState {
  const { recoveryKeyHash: key, ...rest } = state;
  if (key === undefined) return state;
  const retired = [...(state.retiredRecoveryKeys ?? []).filter((k) => k !== key), key];
  return { ...rest, retiredRecoveryKeys: retired.slice(-RETIRED_KEYS_KEPT) };
}

/**
 * The host makes another member the host, and stays on as a co-host. The recovery key is retired
 * when the command says so (every node does; see the command's type): the new host makes their own.
 */
function handOver(
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: 'handOver' }>,
): Decision {
  const actor = actorOf(state, env.actor);
  if ('code' in actor) return { kind: 'error', error: actor };
  if (!actor.isHost) return fail('HOST_ONLY', { action: 'hand the room over' });
  if (command.retireRecoveryKey !== undefined && typeof command.retireRecoveryKey !== 'boolean') {
    return fail('FIELD_INVALID', { field: 'retireRecoveryKey', problem: 'must be true or false' });
  }
  const target = targetOf(state, command.memberId);
  if ('code' in target) return { kind: 'error', error: target };
  const value: CommandValue = { type: 'handOver', hostId: target.memberId };
  if (target.isHost) return { kind: 'noop', value };
  const { coHost: _was, ...plain } = target;
  const members = state.members
    .with({ ...actor, isHost: false, coHost: true })
    .with({ ...plain, isHost: true });
  const kept = command.retireRecoveryKey === true ? retireKey(state) : state;
  return {
    kind: 'change',
    state: { ...kept, hostId: target.memberId, members },
    events: [
      { type: 'roleChanged', memberId: target.memberId, role: 'host' },
      { type: 'roleChanged', memberId: actor.memberId, role: 'cohost' },
    ],
    value,
  };
}

/**
 * The host or a co-host removes a member, optionally with their waiting entries, optionally banning
 * them (their member id, and the client key they joined with, if any). Co-hosts remove plain
 * members only; nobody removes the host or themselves.
 */
function removeMember(
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: 'removeMember' }>,
): Decision {
  const actor = actorOf(state, env.actor);
  if ('code' in actor) return { kind: 'error', error: actor };
  if (!hasHostPowers(actor)) return fail('HOST_ONLY', { action: 'remove members' });
  if (typeof command.ban !== 'boolean')
    return fail('FIELD_INVALID', { field: 'ban', problem: 'must be true or false' });
  if (typeof command.removeEntries !== 'boolean') {
    return fail('FIELD_INVALID', { field: 'removeEntries', problem: 'must be true or false' });
  }
  const target = targetOf(state, command.memberId);
  if ('code' in target) return { kind: 'error', error: target };
  if (target.isHost || target.memberId === actor.memberId)
    return fail('REMOVE_MEMBER_NOT_ALLOWED', {
      why: target.isHost ? 'the host cannot be removed' : 'you cannot remove yourself',
    });
  if (target.coHost === true && !actor.isHost) {
    return fail('REMOVE_MEMBER_NOT_ALLOWED', { why: 'only the host removes a co-host' });
  }
  const members = state.members.without(target.memberId);
  let queue = state.queue;
  const events: RoomEventBody[] = [];
  let removedEntries = 0;
  if (command.removeEntries) {
    // Waiting entries only: the playing track plays on (the host can skip it).
    for (const entry of state.queue.filter((e) => e.addedBy === target.memberId)) {
      queue = removeSorted(queue, entry);
      events.push({ type: 'entryRemoved', entryId: entry.entryId, reason: 'removed', by: actor.memberId });
      removedEntries += 1;
    }
  }
  const bans = command.ban
    ? [
        ...(state.bans ?? []),
        {
          memberId: target.memberId,
          name: target.name,
          at: env.at,
          ...(target.clientKeyHash !== undefined ? { clientKeyHash: target.clientKeyHash } : {}),
        },
      ]
    : state.bans;
  events.unshift({ type: 'memberRemoved', memberId: target.memberId, banned: command.ban });
  return {
    kind: 'change',
    state: { ...state, members, queue, ...(bans !== undefined ? { bans } : {}) },
    events,
    value: { type: 'removeMember', memberId: target.memberId, banned: command.ban, removedEntries },
  };
}

/**
 * Whoever presents the room's recovery key (the node hashes it) becomes the host under a new member
 * id with the old host's name; the old host's id leaves the room, so a lost or stolen host token
 * opens nothing any more. The key stays valid for the next time.
 */
function recoverHost(
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: 'recoverHost' }>,
): Decision {
  const bad = checkHash('keyHash', command.keyHash) ?? checkId('memberId', command.memberId);
  if (bad) return { kind: 'error', error: bad };
  if (state.recoveryKeyHash === undefined || command.keyHash !== state.recoveryKeyHash) {
    return (state.retiredRecoveryKeys ?? []).includes(command.keyHash)
      ? fail('RECOVERY_KEY_RETIRED')
      : fail('RECOVERY_KEY_WRONG');
  }
  // A banned id stays taken, like a member's.
  if (state.members.has(command.memberId) || isBannedMember(state, command.memberId)) {
    return fail('MEMBER_EXISTS', { memberId: command.memberId });
  }
  const old = state.members.get(state.hostId);
  const rest = state.members.without(state.hostId);
  const host: Member = {
    memberId: command.memberId,
    name: old?.name ?? 'host',
    isHost: true,
    joinedAt: env.at,
  };
  return {
    kind: 'change',
    state: { ...state, hostId: host.memberId, members: rest.with(host) },
    events: [
      { type: 'memberRemoved', memberId: state.hostId, banned: false },
      { type: 'memberJoined', member: host },
      { type: 'roleChanged', memberId: host.memberId, role: 'host' },
    ],
    value: { type: 'recoverHost', memberId: host.memberId },
  };
}

/**
 * The host (only: a co-host could otherwise lock the host out) makes a new recovery key; the one
 * before, if any, is retired. No event: the key is the host's alone, and nobody else needs to know.
 */
function newRecoveryKey(
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: 'newRecoveryKey' }>,
): Decision {
  const actor = actorOf(state, env.actor);
  if ('code' in actor) return { kind: 'error', error: actor };
  if (!actor.isHost) return fail('HOST_ONLY', { action: 'make a recovery key' });
  const bad = checkHash('keyHash', command.keyHash);
  if (bad) return { kind: 'error', error: bad };
  // A key once used (current or retired) is never current again: a retired key stays retired.
  if (
    command.keyHash === state.recoveryKeyHash ||
    (state.retiredRecoveryKeys ?? []).includes(command.keyHash)
  ) {
    return fail('RECOVERY_KEY_REUSED');
  }
  return {
    kind: 'change',
    state: { ...retireKey(state), recoveryKeyHash: command.keyHash },
    events: [],
    value: { type: 'newRecoveryKey' },
  };
}

/** The host or a co-host sets a new invite secret: links with the old one stop working. */
function setInvite(
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: 'setInvite' }>,
): Decision {
  const actor = actorOf(state, env.actor);
  if ('code' in actor) return { kind: 'error', error: actor };
  if (!hasHostPowers(actor)) return fail('HOST_ONLY', { action: 'change the room link' });
  const bad = checkInvite(command.invite);
  if (bad) return { kind: 'error', error: bad };
  // No event: the invite is for hosts' eyes only (they read it from the room view).
  return {
    kind: 'change',
    state: { ...state, invite: command.invite },
    events: [],
    value: { type: 'setInvite' },
  };
}
