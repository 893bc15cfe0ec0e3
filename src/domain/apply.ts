// The state machine: apply(state, envelope) -> { state, events, result }.
//
// Pure and deterministic: no clock, no randomness, no I/O. Every id and timestamp arrives in the
// envelope, so every node that applies the same envelopes in the same order holds the same room.
// Each handler validates everything first and only then builds the new state, so a refused command
// never leaves a trace; refused and no-op commands do not change the version.

import type { ErrorInfo } from './errors.ts';
import { refusal, type Reason, type ReasonArgs } from './reasons.ts';
import {
  compareEntries,
  entriesOf,
  findEntry,
  findTrack,
  indexOfEntry,
  insertSorted,
  Queue,
  recount,
  removeSorted,
  replaceSorted,
  scoreOf,
  withoutHead,
} from './order.ts';
import { admit, decide, passcodeAfter } from './joining.ts';
import { applyPresence, presentMembers, votesNeeded } from './presence.ts';
import { findRecent, RecentWindow, remember } from './recent.ts';
import { applySettingsPatch, DEFAULT_SETTINGS, fullSettings, isErrorInfo } from './settings.ts';
import type {
  ApplyOutput,
  Command,
  CommandValue,
  Envelope,
  HistoryRecord,
  Member,
  NowPlaying,
  QueueEntry,
  ReplacementEntry,
  RoomEventBody,
  RoomState,
  VoteValue,
} from './types.ts';
import { checkId, checkRoomId, checkText, checkTrack, LIMITS, normaliseTrack } from './validate.ts';
import { publicEntry } from './view.ts';
import { applyAccess, checkCreateAccess, hasHostPowers, joinRefusal } from './access.ts';
import { Votes } from './votes.ts';
import { Members } from './members.ts';
import { wireEntry, wireNowPlaying, wireValue } from './wire.ts';
import type { Decision } from './decision.ts';

/** Voter keys of anonymous (legacy) votes start with this; no member id may. */
const ANONYMOUS_PREFIX = '~';

type Handler<T extends Command['type']> = (
  state: RoomState,
  env: Envelope,
  command: Extract<Command, { type: T }>,
) => Decision;

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

function fail<R extends Reason>(reason: R, ...args: ReasonArgs<R>): Decision {
  return { kind: 'error', error: refusal(reason, ...args) };
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

// ---- Who may act ---------------------------------------------------------------------------------

function memberOf(state: RoomState, actor: string | null): Member | ErrorInfo {
  if (actor === null) return refusal('MEMBER_TOKEN_MISSING');
  // Own properties only: an id such as "constructor" or "__proto__" must not find Object.prototype's.
  const member = state.members.get(actor);
  if (!member) {
    if (Object.hasOwn(state.pendingJoins ?? {}, actor)) return refusal('JOIN_PENDING');
    return refusal('NOT_A_MEMBER', { roomId: state.id });
  }
  return member;
}

function hostOf(state: RoomState, actor: string | null, action: string): Member | ErrorInfo {
  const member = memberOf(state, actor);
  if ('code' in member) return member;
  if (!hasHostPowers(member)) return refusal('HOST_ONLY', { action });
  return member;
}

// ---- Handlers ------------------------------------------------------------------------------------

function createRoom(env: Envelope, command: Extract<Command, { type: 'createRoom' }>): Decision {
  const bad =
    (env.actor === null ? refusal('CREATE_NEEDS_HOST') : null) ??
    checkText('name', command.name, LIMITS.nameMaxLength) ??
    checkText('hostName', command.hostName, LIMITS.nameMaxLength) ??
    checkCreateAccess(command);
  if (bad) return { kind: 'error', error: bad };
  const settings = applySettingsPatch(DEFAULT_SETTINGS, command.settings ?? {});
  if (isErrorInfo(settings)) return { kind: 'error', error: settings };
  const passcode = passcodeAfter(
    { passcodeHash: undefined } as unknown as RoomState,
    fullSettings(settings).joinPolicy,
    command.passcodeHash,
  );
  if ('code' in passcode) return { kind: 'error', error: passcode };
  const hostId = env.actor!;
  const host: Member = { memberId: hostId, name: command.hostName.trim(), isHost: true, joinedAt: env.at };
  const state: RoomState = {
    id: env.roomId,
    name: command.name.trim(),
    createdAt: env.at,
    hostId,
    settings,
    locked: false,
    members: Members.of(host),
    queue: Queue.EMPTY,
    nowPlaying: null,
    history: [],
    nextSeq: 1,
    playCount: 0,
    version: 0,
    recent: RecentWindow.EMPTY,
    ...(command.recoveryKeyHash !== undefined ? { recoveryKeyHash: command.recoveryKeyHash } : {}),
    ...(command.invite !== undefined ? { invite: command.invite } : {}),
    ...(passcode.hash !== undefined ? { passcodeHash: passcode.hash } : {}),
  };
  return {
    kind: 'change',
    state,
    events: [
      { type: 'roomCreated', name: state.name, hostId, settings },
      { type: 'memberJoined', member: host },
    ],
    value: { type: 'createRoom', roomId: state.id, hostId },
  };
}

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

const vote: Handler<'vote'> = (state, env, command) => {
  const member = memberOf(state, env.actor);
  if ('code' in member) return { kind: 'error', error: member };
  const bad = checkId('entryId', command.entryId);
  if (bad) return { kind: 'error', error: bad };
  if (command.value !== 1 && command.value !== -1 && command.value !== 0) {
    return fail('VOTE_INVALID');
  }
  return castVote(state, env, command.entryId, member.memberId, command.value);
};

const anonymousVote: Handler<'anonymousVote'> = (state, env, command) => {
  const host = hostOf(state, env.actor, 'cast anonymous votes');
  if ('code' in host) return { kind: 'error', error: host };
  const bad = checkId('entryId', command.entryId);
  if (bad) return { kind: 'error', error: bad };
  if (command.value !== 1 && command.value !== -1) {
    return fail('ANONYMOUS_VOTE_INVALID');
  }
  const playing = state.nowPlaying?.entry.entryId === command.entryId ? state.nowPlaying : null;
  const entry = playing ? playing.entry : findEntry(state.queue, command.entryId);
  if (!entry) return fail('ENTRY_NOT_FOUND', { entryId: command.entryId });
  // A count, not a voter key: the entry's vote map is not copied, so every anonymous vote costs the same.
  const up = command.value === 1;
  const updated: QueueEntry = {
    ...entry,
    ups: entry.ups + (up ? 1 : 0),
    downs: entry.downs + (up ? 0 : 1),
    anonymousUps: (entry.anonymousUps ?? 0) + (up ? 1 : 0),
    anonymousDowns: (entry.anonymousDowns ?? 0) + (up ? 0 : 1),
  };
  return voteChanged(state, env, playing, entry, updated, command.value);
};

/** One voter's vote on a queued or playing entry, with the rules it may trigger. */
function castVote(
  state: RoomState,
  env: Envelope,
  entryId: string,
  voter: string,
  value: VoteValue | 0,
): Decision {
  const playing = state.nowPlaying?.entry.entryId === entryId ? state.nowPlaying : null;
  const entry = playing ? playing.entry : findEntry(state.queue, entryId);
  if (!entry) return fail('ENTRY_NOT_FOUND', { entryId });

  const previous = entry.votes.get(voter);
  if (previous === value) {
    const position = playing ? null : indexOfEntry(state.queue, entry) + 1;
    return { kind: 'noop', value: voteValue(entry, 'none', position) };
  }
  // A persistent map: O(log voters), not a copy of every vote on the entry.
  const updated: QueueEntry = {
    ...entry,
    votes: entry.votes.with(voter, value),
    ...recount(entry, previous, value),
  };
  return voteChanged(state, env, playing, entry, updated, value);
}

/** A changed vote (`entry` became `updated`), with the rules it may trigger: skip, vote-off, reorder. */
function voteChanged(
  state: RoomState,
  env: Envelope,
  playing: NowPlaying | null,
  entry: QueueEntry,
  updated: QueueEntry,
  value: VoteValue | 0,
): Decision {
  const entryId = entry.entryId;
  // Counts only: who voted, and which way, stays in the state (issue 20).
  const events: RoomEventBody[] = [
    {
      type: 'voteChanged',
      entryId,
      ups: updated.ups,
      downs: updated.downs,
      score: scoreOf(updated),
    },
  ];
  const settings = fullSettings(state.settings);
  // Votes count people: the rules need a share of the members present when the vote is applied
  // (presence.ts), never less than the room's fixed minimum. Counted only when a rule may fire.
  const needed = (minimum: number, reached: number): number =>
    minimum > 0 && reached >= minimum
      ? votesNeeded(minimum, settings.skipShare, presentMembers(state, env.at).length)
      : minimum;

  if (playing) {
    const withVote: RoomState = { ...state, nowPlaying: { ...playing, entry: updated } };
    const skipAt = needed(settings.skipVotes, updated.downs);
    if (value === -1 && skipAt > 0 && updated.downs >= skipAt) {
      const next = endAndStartNext(withVote, env.at, 'votedOff', settings.autoplay, events);
      return { kind: 'change', state: next, events, value: voteValue(updated, 'skipped', null) };
    }
    return { kind: 'change', state: withVote, events, value: voteValue(updated, 'none', null) };
  }

  const voteOffAt = needed(settings.voteOffThreshold, -scoreOf(updated));
  if (voteOffAt > 0 && scoreOf(updated) <= -voteOffAt) {
    events.push({ type: 'entryRemoved', entryId, reason: 'votedOff', by: null });
    return {
      kind: 'change',
      state: { ...state, queue: removeSorted(state.queue, entry) },
      events,
      value: voteValue(updated, 'votedOff', null),
    };
  }
  const queue = replaceSorted(state.queue, entry, updated);
  return {
    kind: 'change',
    state: { ...state, queue },
    events,
    value: voteValue(updated, 'none', indexOfEntry(queue, updated) + 1),
  };
}

function voteValue(
  entry: QueueEntry,
  effect: 'none' | 'votedOff' | 'skipped',
  position: number | null,
): CommandValue {
  return {
    type: 'vote',
    entryId: entry.entryId,
    ups: entry.ups,
    downs: entry.downs,
    score: scoreOf(entry),
    effect,
    position,
  };
}

/**
 * How much earlier than the timeline's end a device's "ended" is taken: a file may run a little
 * shorter than its tags say (encoder padding), and devices keep step only within a fraction of a
 * second. Earlier than this is a device out of step, refused.
 */
export const ENDED_EARLY_TOLERANCE_MS = 5_000;

const advance: Handler<'advance'> = (state, env, command) => {
  if (command.reason !== 'finished' && command.reason !== 'skipped' && command.reason !== 'ended') {
    return fail('ADVANCE_REASON_INVALID');
  }
  if (command.expectedEntryId !== null) {
    const bad = checkId('expectedEntryId', command.expectedEntryId);
    if (bad) return { kind: 'error', error: bad };
  }
  if (command.reason === 'skipped') {
    const host = hostOf(state, env.actor, 'skip or start tracks');
    if ('code' in host) return { kind: 'error', error: host };
  }
  if (command.reason === 'ended') {
    const member = memberOf(state, env.actor);
    if ('code' in member) return { kind: 'error', error: member };
  }
  const current = state.nowPlaying;
  const unchanged: Decision = {
    kind: 'noop',
    value: {
      type: 'advance',
      advanced: false,
      ended: null,
      nowPlaying: current ? wireNowPlaying(current) : null,
    },
  };
  if (command.requireNext !== undefined && typeof command.requireNext !== 'boolean') {
    return fail('REQUIRE_NEXT_INVALID');
  }
  if ((current?.entry.entryId ?? null) !== command.expectedEntryId) return unchanged;
  // Decided here, in log order, not on a node that may not have applied the last add yet.
  if (command.requireNext === true && state.queue.length === 0) return unchanged;

  if (current === null) {
    // Nothing is playing: start the head of the queue, if the host asks or autoplay allows.
    if (state.queue.length === 0) return unchanged;
    if (command.reason !== 'skipped' && !state.settings.autoplay) {
      return fail('AUTOPLAY_OFF');
    }
    const events: RoomEventBody[] = [];
    const next = startNextIfIdle(state, env.at, events);
    return { kind: 'change', state: next, events, value: advanceValue(next, null) };
  }

  if (command.reason !== 'skipped') {
    if (current.pausedAt !== undefined) return fail('TRACK_PAUSED');
    if (command.reason === 'finished' && current.entry.track.durationMs === 0) {
      return fail('TRACK_LENGTH_UNKNOWN');
    }
    const endsAt = current.startedAt + current.entry.track.durationMs;
    const tolerance = command.reason === 'ended' ? ENDED_EARLY_TOLERANCE_MS : 0;
    if (env.at < endsAt - tolerance) {
      return fail('TRACK_STILL_PLAYING', { remainingMs: endsAt - env.at });
    }
  }
  const events: RoomEventBody[] = [];
  // A host's skip always starts the next track ("play next"); a track that ran out does so only under autoplay.
  const startNext = command.reason === 'skipped' || state.settings.autoplay;
  // A device's "ended" is a finish, at the moment it was reported (perhaps a little early).
  const reason = command.reason === 'skipped' ? 'skipped' : 'finished';
  const next = endAndStartNext(state, env.at, reason, startNext, events, command.reason !== 'finished');
  return { kind: 'change', state: next, events, value: advanceValue(next, next.history.at(-1) ?? null) };
};

function advanceValue(state: RoomState, ended: HistoryRecord | null): CommandValue {
  const np = state.nowPlaying;
  return { type: 'advance', advanced: true, ended, nowPlaying: np ? wireNowPlaying(np) : null };
}

/** Ends the playing track into history, then (optionally) starts the head of the queue. */
function endAndStartNext(
  state: RoomState,
  at: number,
  reason: HistoryRecord['reason'],
  startNext: boolean,
  events: RoomEventBody[],
  /** False: the clock noticed it ran out (it ended on time); true: it stopped when this happened. */
  stoppedNow = reason !== 'finished',
): RoomState {
  const current = state.nowPlaying!;
  // A paused track stopped at its pause.
  const stoppedAt = current.pausedAt ?? at;
  // A track of unknown length has no scheduled end: it ends when it is cut (it never 'finishes').
  const scheduledEnd =
    current.entry.track.durationMs === 0 ? stoppedAt : current.startedAt + current.entry.track.durationMs;
  const record: HistoryRecord = {
    playNo: state.playCount + 1,
    entryId: current.entry.entryId,
    track: current.entry.track,
    addedBy: current.entry.addedBy,
    startedAt: current.startedAt,
    // A track that ran out ended on time, however late the clock noticed; a device's "ended" (a
    // little early, perhaps) and a cut track ended when they stopped.
    endedAt: Math.max(current.startedAt, Math.min(stoppedNow ? stoppedAt : scheduledEnd, scheduledEnd)),
    reason,
    ups: current.entry.ups,
    downs: current.entry.downs,
  };
  events.push({ type: 'trackEnded', record });
  const ended: RoomState = {
    ...state,
    nowPlaying: null,
    playCount: record.playNo,
    history: trimHistory([...state.history, record], state.settings.historyRetention),
  };
  return startNext ? startNextIfIdle(ended, at, events) : ended;
}

/** Starts the head of the queue when nothing is playing. */
function startNextIfIdle(state: RoomState, at: number, events: RoomEventBody[]): RoomState {
  const head = state.queue.at(0);
  if (state.nowPlaying !== null || head === undefined) return state;
  const nowPlaying: NowPlaying = { entry: head, startedAt: at };
  events.push({ type: 'trackStarted', nowPlaying: wireNowPlaying(nowPlaying) });
  return { ...state, queue: withoutHead(state.queue), nowPlaying };
}

function trimHistory(history: HistoryRecord[], retention: number): HistoryRecord[] {
  return history.length > retention ? history.slice(history.length - retention) : history;
}

const updateSettings: Handler<'updateSettings'> = (state, env, command) => {
  const host = hostOf(state, env.actor, 'change the settings');
  if ('code' in host) return { kind: 'error', error: host };
  const settings = applySettingsPatch(state.settings, command.patch);
  if (isErrorInfo(settings)) return { kind: 'error', error: settings };
  const passcode = passcodeAfter(state, fullSettings(settings).joinPolicy, command.passcodeHash);
  if ('code' in passcode) return { kind: 'error', error: passcode };
  const passcodeSame = passcode.hash === state.passcodeHash;
  if (JSON.stringify(settings) === JSON.stringify(state.settings) && passcodeSame) {
    return { kind: 'noop', value: { type: 'updateSettings', settings } };
  }
  // A passcode change alone is no settingsChanged: watchers are not told of it (nor is it shown).
  const events: RoomEventBody[] =
    JSON.stringify(settings) === JSON.stringify(state.settings)
      ? []
      : [{ type: 'settingsChanged', settings }];
  const { passcodeHash: _old, ...rest } = state;
  const updated: RoomState = {
    ...rest,
    ...(passcode.hash !== undefined ? { passcodeHash: passcode.hash } : {}),
    settings,
    history: trimHistory([...state.history], settings.historyRetention),
  };
  const next = settings.autoplay ? startNextIfIdle(updated, env.at, events) : updated;
  return { kind: 'change', state: next, events, value: { type: 'updateSettings', settings } };
};

const setLocked: Handler<'setLocked'> = (state, env, command) => {
  const host = hostOf(state, env.actor, 'lock or unlock the queue');
  if ('code' in host) return { kind: 'error', error: host };
  if (typeof command.locked !== 'boolean') return fail('LOCKED_INVALID');
  if (command.locked === state.locked)
    return { kind: 'noop', value: { type: 'setLocked', locked: state.locked } };
  return {
    kind: 'change',
    state: { ...state, locked: command.locked },
    events: [{ type: 'lockChanged', locked: command.locked }],
    value: { type: 'setLocked', locked: command.locked },
  };
};

const pause: Handler<'pause'> = (state, env) => {
  const host = hostOf(state, env.actor, 'pause playback');
  if ('code' in host) return { kind: 'error', error: host };
  const current = state.nowPlaying;
  if (current === null) return fail('NOTHING_PLAYING');
  if (current.pausedAt !== undefined)
    return { kind: 'noop', value: { type: 'pause', nowPlaying: wireNowPlaying(current) } };
  // Paused after its time ran out (the clock has not caught up yet): it stays at its end.
  const pausedAt = Math.min(env.at, current.startedAt + current.entry.track.durationMs);
  const nowPlaying: NowPlaying = { ...current, pausedAt };
  const wire = wireNowPlaying(nowPlaying);
  return {
    kind: 'change',
    state: { ...state, nowPlaying },
    events: [{ type: 'playbackPaused', nowPlaying: wire }],
    value: { type: 'pause', nowPlaying: wire },
  };
};

const resume: Handler<'resume'> = (state, env) => {
  const host = hostOf(state, env.actor, 'resume playback');
  if ('code' in host) return { kind: 'error', error: host };
  const current = state.nowPlaying;
  if (current === null) return fail('NOTHING_PLAYING');
  if (current.pausedAt === undefined)
    return { kind: 'noop', value: { type: 'resume', nowPlaying: wireNowPlaying(current) } };
  // The origin moves forward by the pause, so the position carries on from where it froze.
  const { pausedAt, ...playing } = current;
  const nowPlaying: NowPlaying = {
    ...playing,
    startedAt: current.startedAt + Math.max(0, env.at - pausedAt),
  };
  const wire = wireNowPlaying(nowPlaying);
  return {
    kind: 'change',
    state: { ...state, nowPlaying },
    events: [{ type: 'playbackResumed', nowPlaying: wire }],
    value: { type: 'resume', nowPlaying: wire },
  };
};

const clear: Handler<'clear'> = (state, env) => {
  const host = hostOf(state, env.actor, 'clear the room');
  if ('code' in host) return { kind: 'error', error: host };
  const removedEntries = state.queue.length + (state.nowPlaying ? 1 : 0);
  const removedHistory = state.history.length;
  const value: CommandValue = { type: 'clear', removedEntries, removedHistory };
  if (removedEntries === 0 && removedHistory === 0) return { kind: 'noop', value };
  return {
    kind: 'change',
    state: { ...state, queue: Queue.EMPTY, nowPlaying: null, history: [] },
    events: [{ type: 'cleared' }],
    value,
  };
};

const replaceQueue: Handler<'replaceQueue'> = (state, env, command) => {
  const host = hostOf(state, env.actor, 'replace the queue');
  if ('code' in host) return { kind: 'error', error: host };
  // A command from a log or a buggy client may hold anything: check the shape before trusting the type.
  const list: unknown = command.entries;
  if (!Array.isArray(list)) return fail('ENTRIES_NOT_LIST');
  const { settings } = state;
  // Check everything first: a refused replacement leaves the old queue whole.
  const kept: ReplacementEntry[] = [];
  const trackIds = new Set<string>(state.nowPlaying ? [state.nowPlaying.entry.track.trackId] : []);
  const entryIds = new Set<string>(state.nowPlaying ? [state.nowPlaying.entry.entryId] : []);
  for (const [i, given] of command.entries.entries()) {
    if (typeof (given as unknown) !== 'object' || given === null)
      return fail('ENTRIES_ITEM_NOT_OBJECT', { index: i });
    const bad =
      checkId(`entries[${i}].entryId`, given.entryId) ??
      checkTrack(given.track) ??
      (given.votes === undefined ||
      (Number.isSafeInteger(given.votes) && Math.abs(given.votes) <= 1_000_000_000)
        ? null
        : refusal('ENTRIES_VOTES_INVALID', { index: i }));
    if (bad) return { kind: 'error', error: bad };
    if (given.track.durationMs > settings.maxTrackDurationMs) {
      return fail('ENTRIES_TRACK_TOO_LONG', {
        index: i,
        durationMs: given.track.durationMs,
        maxTrackDurationMs: settings.maxTrackDurationMs,
      });
    }
    if (entryIds.has(given.entryId)) {
      return fail('ENTRIES_ID_TWICE', { entryId: given.entryId });
    }
    entryIds.add(given.entryId);
    // The same track twice, or the one playing: queued once, as addTrack would have it.
    if (trackIds.has(given.track.trackId)) continue;
    trackIds.add(given.track.trackId);
    kept.push(given);
  }
  if (kept.length > settings.maxQueueLength) {
    return fail('QUEUE_FULL', { maxQueueLength: settings.maxQueueLength });
  }
  const events: RoomEventBody[] = state.queue.map((e) => ({
    type: 'entryRemoved',
    entryId: e.entryId,
    reason: 'removed',
    by: host.memberId,
  }));
  const queue: QueueEntry[] = [];
  let seq = state.nextSeq;
  for (const given of kept) {
    const net = given.votes ?? 0;
    const entry: QueueEntry = {
      entryId: given.entryId,
      track: normaliseTrack(given.track),
      addedBy: host.memberId,
      addedAt: env.at,
      seq: seq++,
      votes: Votes.EMPTY,
      ups: Math.max(net, 0),
      downs: Math.max(-net, 0),
      ...(net > 0 ? { anonymousUps: net } : net < 0 ? { anonymousDowns: -net } : {}),
    };
    queue.push(entry);
    events.push({ type: 'entryAdded', entry: wireEntry(entry) });
  }
  queue.sort(compareEntries); // one sort, not one insertion per entry: a legacy queue may be long
  const value: CommandValue = { type: 'replaceQueue', removed: state.queue.length, added: kept.length };
  if (state.queue.length === 0 && kept.length === 0) return { kind: 'noop', value };
  const replaced: RoomState = { ...state, queue: Queue.fromSorted(queue), nextSeq: seq };
  const next = settings.autoplay ? startNextIfIdle(replaced, env.at, events) : replaced;
  return { kind: 'change', state: next, events, value };
};
