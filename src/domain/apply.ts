// The state machine: apply(state, envelope) -> { state, events, result }.
//
// Pure and deterministic: no clock, no randomness, no I/O. Every id and timestamp arrives in the
// envelope, so every node that applies the same envelopes in the same order holds the same room.
// Each handler validates everything first and only then builds the new state, so a refused command
// never leaves a trace; refused and no-op commands do not change the version.
//
// This file checks the envelope, answers retries, hands each command to its handler and turns the
// decision into output (`finish`); it keeps joining and adding or removing a queue entry. The other
// handlers are split by feature: votes in apply-votes.ts, playback in apply-playback.ts, room-wide
// commands in apply-room.ts, roles and removals in access.ts; what they share in apply-common.ts.

import type { ErrorInfo } from './errors.ts';
import { refusal } from './reasons.ts';
import { entriesOf, findEntry, findTrack, insertSorted, removeSorted } from './order.ts';
import { admit, decide } from './joining.ts';
import { applyPresence, presentMembers } from './presence.ts';
import { findRecent, remember } from './recent.ts';
import type {
  ApplyOutput,
  Command,
  CommandValue,
  Envelope,
  Member,
  QueueEntry,
  RoomEventBody,
  RoomState,
} from './types.ts';
import { checkId, checkRoomId, checkText, checkTrack, LIMITS, normaliseTrack } from './validate.ts';
import { publicEntry } from './view.ts';
import { applyAccess, hasHostPowers, joinRefusal } from './access.ts';
import { Votes } from './votes.ts';
import { wireEntry, wireValue } from './wire.ts';
import type { Decision } from './decision.ts';
import { ANONYMOUS_PREFIX, fail, hostOf, memberOf, type Handler } from './apply-common.ts';
import { advance, pause, resume, startNextIfIdle } from './apply-playback.ts';
import { clear, createRoom, replaceQueue, setLocked, updateSettings } from './apply-room.ts';
import { anonymousVote, vote } from './apply-votes.ts';

export { ENDED_EARLY_TOLERANCE_MS } from './apply-playback.ts';

export function apply(state: RoomState | null, env: Envelope): ApplyOutput {
  const bad = checkEnvelope(env);
  if (bad) return refuse(state, bad);
  if (state !== null && state.id !== env.roomId) {
    return refuse(state, refusal('COMMAND_WRONG_ROOM', { roomId: env.roomId, appliedTo: state.id }));
  }
  const earlier = state ? findRecent(state.recent, env.commandId) : undefined;
  if (state && earlier) {
    // A retry answers as the first time did; the same id on another kind of command is a mistake.
    if (earlier.result.type !== answerType(env.command)) {
      return refuse(
        state,
        refusal('COMMAND_ID_REUSED', { commandId: env.commandId, usedFor: earlier.result.type }),
      );
    }
    // In its public form: an answer remembered before the state/wire split carried whole entries.
    return { state, events: [], result: { ok: true, value: wireValue(earlier.result) } };
  }

  const command = env.command;
  let decision: Decision;
  if (command.type === 'createRoom') {
    decision = state
      ? {
          kind: 'error',
          error: refusal('ROOM_EXISTS', { roomId: env.roomId }),
        }
      : createRoom(env, command);
  } else if (state === null) {
    decision = {
      kind: 'error',
      error: refusal('ROOM_NOT_FOUND', { roomId: env.roomId }),
    };
  } else {
    decision = dispatch(state, env, command);
  }
  return finish(state, env, decision);
}

/** The kind of answer a command gives (an anonymous vote answers like a vote). */
function answerType(command: Command): CommandValue['type'] | null {
  if (typeof command !== 'object' || command === null) return null;
  return command.type === 'anonymousVote' ? 'vote' : command.type;
}

function dispatch(
  state: RoomState,
  env: Envelope,
  command: Exclude<Command, { type: 'createRoom' }>,
): Decision {
  switch (command.type) {
    case 'join':
      return join(state, env, command);
    case 'decideJoin': {
      const host = hostOf(state, env.actor, 'admit members');
      if ('code' in host) return { kind: 'error', error: host };
      const out = decide(state, env, command);
      if ('code' in out) return { kind: 'error', error: out };
      const value: CommandValue = {
        type: 'decideJoin',
        memberId: command.memberId,
        approved: command.approve,
      };
      return { kind: 'change', state: out.state, events: out.events, value };
    }
    case 'presence': {
      const out = applyPresence(state, env, command);
      if ('code' in out) return { kind: 'error', error: out };
      const value: CommandValue = { type: 'presence', present: presentMembers(out.state, env.at).length };
      return { kind: 'change', state: out.state, events: out.events, value };
    }
    case 'addTrack':
      return addTrack(state, env, command);
    case 'removeEntry': {
      const resolved = byTrack(state, command);
      return 'code' in resolved ? { kind: 'error', error: resolved } : removeEntry(state, env, resolved);
    }
    case 'vote':
      return vote(state, env, command);
    case 'anonymousVote': {
      const resolved = byTrack(state, command);
      return 'code' in resolved ? { kind: 'error', error: resolved } : anonymousVote(state, env, resolved);
    }
    case 'advance':
      return advance(state, env, command);
    case 'updateSettings':
      return updateSettings(state, env, command);
    case 'setLocked':
      return setLocked(state, env, command);
    case 'pause':
      return pause(state, env, command);
    case 'resume':
      return resume(state, env, command);
    case 'clear':
      return clear(state, env, command);
    case 'replaceQueue':
      return replaceQueue(state, env, command);
    case 'setRole':
    case 'handOver':
    case 'removeMember':
    case 'recoverHost':
    case 'newRecoveryKey':
    case 'setInvite':
      return applyAccess(state, env, command);
    default:
      return fail('COMMAND_UNKNOWN', { type: (command as { type: unknown }).type });
  }
}

/**
 * A legacy command may name its entry by the queued track's id instead: resolved here, in log
 * order, so that it finds a track added a moment earlier through another node that the proposing
 * node had not applied yet.
 */
function byTrack<C extends { readonly entryId: string; readonly trackId?: string }>(
  state: RoomState,
  command: C,
): C | ErrorInfo {
  if (command.trackId === undefined) return command;
  const bad = checkText('trackId', command.trackId, LIMITS.textMaxLength);
  if (bad) return bad;
  const entry = findTrack(state.queue, command.trackId);
  if (!entry) {
    return refusal('TRACK_NOT_QUEUED', { trackId: command.trackId });
  }
  return { ...command, entryId: entry.entryId };
}

/** Stamps the version on a change, remembers its command id, and turns the decision into output. */
function finish(state: RoomState | null, env: Envelope, decision: Decision): ApplyOutput {
  switch (decision.kind) {
    case 'error':
      return refuse(state, decision.error);
    case 'noop':
      return { state, events: [], result: { ok: true, value: decision.value } };
    case 'change': {
      const version = decision.state.version + 1;
      const next: RoomState = {
        ...decision.state,
        version,
        recent: remember(
          decision.state.recent,
          { commandId: env.commandId, result: decision.value },
          version,
        ),
      };
      const events = decision.events.map((body) => ({ ...body, roomId: env.roomId, version, at: env.at }));
      return { state: next, events, result: { ok: true, value: decision.value } };
    }
  }
}

function refuse(state: RoomState | null, error: ErrorInfo): ApplyOutput {
  return { state, events: [], result: { ok: false, error } };
}

function checkEnvelope(env: Envelope): ErrorInfo | null {
  if (typeof env !== 'object' || env === null) return refusal('ENVELOPE_NOT_OBJECT');
  if (typeof env.command !== 'object' || env.command === null) {
    return refusal('COMMAND_NOT_OBJECT');
  }
  if (!Number.isSafeInteger(env.at) || env.at < 0) {
    return refusal('COMMAND_TIME_INVALID');
  }
  return (
    checkId('commandId', env.commandId) ??
    checkRoomId(env.roomId) ??
    (env.actor === null ? null : checkId('actor', env.actor))
  );
}

// ---- Handlers ------------------------------------------------------------------------------------

const join: Handler<'join'> = (state, env, command) => {
  const bad = checkId('memberId', command.memberId) ?? checkText('name', command.name, LIMITS.nameMaxLength);
  if (bad) return { kind: 'error', error: bad };
  if (command.memberId.startsWith(ANONYMOUS_PREFIX)) {
    return fail('MEMBER_ID_RESERVED', { prefix: ANONYMOUS_PREFIX });
  }
  if (state.members.has(command.memberId)) {
    return fail('MEMBER_EXISTS', { memberId: command.memberId });
  }
  const refused = joinRefusal(state, command);
  if (refused) return { kind: 'error', error: refused };
  const member: Member = {
    memberId: command.memberId,
    name: command.name.trim(),
    isHost: false,
    joinedAt: env.at,
  };
  // Cap, rate, passcode, approval: joining.ts. The client key's hash is kept in state only (bans).
  const out = admit(state, env, command, member);
  if ('code' in out) return { kind: 'error', error: out };
  const key = command.clientKeyHash;
  return {
    kind: 'change',
    state:
      out.kind === 'member' && key !== undefined
        ? {
            ...out.state,
            members: out.state.members.with({ ...member, clientKeyHash: key }),
          }
        : out.state,
    events: out.events,
    value:
      out.kind === 'pending'
        ? { type: 'join', memberId: member.memberId, pending: true }
        : { type: 'join', memberId: member.memberId },
  };
};

const addTrack: Handler<'addTrack'> = (state, env, command) => {
  const member = memberOf(state, env.actor);
  if ('code' in member) return { kind: 'error', error: member };
  const bad = checkId('entryId', command.entryId) ?? checkTrack(command.track);
  if (bad) return { kind: 'error', error: bad };
  const track = normaliseTrack(command.track);
  const { settings } = state;

  if (state.locked && !hasHostPowers(member)) return fail('QUEUE_LOCKED');
  // A track of unknown length (0) is not refused: nothing says it is too long.
  if (track.durationMs > settings.maxTrackDurationMs) {
    return fail('TRACK_TOO_LONG', {
      durationMs: track.durationMs,
      maxTrackDurationMs: settings.maxTrackDurationMs,
    });
  }
  const existing =
    state.nowPlaying?.entry.track.trackId === track.trackId
      ? { entry: state.nowPlaying.entry, where: 'nowPlaying' }
      : ((e) => (e ? { entry: e, where: 'queue' } : null))(findTrack(state.queue, track.trackId));
  if (existing) {
    return fail('TRACK_ALREADY_QUEUED', {
      title: track.title,
      where: existing.where,
      existing: publicEntry(state, existing.entry),
    });
  }
  if (
    state.nowPlaying?.entry.entryId === command.entryId ||
    findEntry(state.queue, command.entryId) !== undefined
  ) {
    return fail('ENTRY_ID_IN_USE', { entryId: command.entryId });
  }
  if (state.queue.length >= settings.maxQueueLength) {
    return fail('QUEUE_FULL', { maxQueueLength: settings.maxQueueLength });
  }
  if (!hasHostPowers(member) && settings.maxEntriesPerMember > 0) {
    const mine = entriesOf(state.queue, member.memberId);
    if (mine >= settings.maxEntriesPerMember) {
      return fail('MEMBER_QUOTA', { waiting: mine, maxEntriesPerMember: settings.maxEntriesPerMember });
    }
  }
  if (settings.replayProtectionMinutes > 0) {
    const since = env.at - settings.replayProtectionMinutes * 60_000;
    const recent = state.history.findLast((r) => r.track.trackId === track.trackId && r.endedAt > since);
    if (recent) {
      return fail('REPLAY_PROTECTED', {
        title: track.title,
        replayProtectionMinutes: settings.replayProtectionMinutes,
        lastEndedAt: recent.endedAt,
      });
    }
  }

  const entry: QueueEntry = {
    entryId: command.entryId,
    track,
    addedBy: member.memberId,
    addedAt: env.at,
    seq: state.nextSeq,
    votes: Votes.EMPTY,
    ups: 0,
    downs: 0,
  };
  const added: RoomState = { ...state, queue: insertSorted(state.queue, entry), nextSeq: state.nextSeq + 1 };
  const wire = wireEntry(entry);
  const events: RoomEventBody[] = [{ type: 'entryAdded', entry: wire }];
  const next = settings.autoplay ? startNextIfIdle(added, env.at, events) : added;
  return {
    kind: 'change',
    state: next,
    events,
    value: { type: 'addTrack', entry: wire, started: next.nowPlaying?.entry.entryId === entry.entryId },
  };
};

const removeEntry: Handler<'removeEntry'> = (state, env, command) => {
  const member = memberOf(state, env.actor);
  if ('code' in member) return { kind: 'error', error: member };
  const bad = checkId('entryId', command.entryId);
  if (bad) return { kind: 'error', error: bad };
  const entry = findEntry(state.queue, command.entryId);
  if (!entry) {
    if (state.nowPlaying?.entry.entryId === command.entryId) {
      return fail('ENTRY_PLAYING');
    }
    return fail('ENTRY_NOT_FOUND', { entryId: command.entryId });
  }
  if (entry.addedBy !== member.memberId && !hasHostPowers(member)) {
    return fail('REMOVE_NOT_ALLOWED');
  }
  if (state.locked && !hasHostPowers(member)) return fail('QUEUE_LOCKED');
  return {
    kind: 'change',
    state: { ...state, queue: removeSorted(state.queue, entry) },
    events: [{ type: 'entryRemoved', entryId: entry.entryId, reason: 'removed', by: member.memberId }],
    value: { type: 'removeEntry', entryId: entry.entryId },
  };
};
