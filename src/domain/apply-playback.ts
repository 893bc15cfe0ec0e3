// Playback: advancing to the next track (a finish the clock noticed, a device's "ended", a host's
// skip), pause and resume, and the moves every handler that starts or ends a track shares
// (`startNextIfIdle`, `endAndStartNext`, `trimHistory`).
//
// Invariants: at most one track plays, and it is no longer in the queue; a track ends into history
// exactly once, with the next play number, and history keeps at most `historyRetention` records; a
// paused track's position is frozen (its origin moves forward by the pause on resume); an advance
// names the entry it expects to end, so a stale or repeated one is a no-op, never a second skip.

import type { Decision } from './decision.ts';
import { fail, hostOf, memberOf, type Handler } from './apply-common.ts';
import { withoutHead } from './order.ts';
import type { CommandValue, HistoryRecord, NowPlaying, RoomEventBody, RoomState } from './types.ts';
import { checkId } from './validate.ts';
import { wireNowPlaying } from './wire.ts';

/**
 * How much earlier than the timeline's end a device's "ended" is taken: a file may run a little
 * shorter than its tags say (encoder padding), and devices keep step only within a fraction of a
 * second. Earlier than this is a device out of step, refused.
 */
export const ENDED_EARLY_TOLERANCE_MS = 5_000;

export const advance: Handler<'advance'> = (state, env, command) => {
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
export function endAndStartNext(
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
export function startNextIfIdle(state: RoomState, at: number, events: RoomEventBody[]): RoomState {
  const head = state.queue.at(0);
  if (state.nowPlaying !== null || head === undefined) return state;
  const nowPlaying: NowPlaying = { entry: head, startedAt: at };
  events.push({ type: 'trackStarted', nowPlaying: wireNowPlaying(nowPlaying) });
  return { ...state, queue: withoutHead(state.queue), nowPlaying };
}

export function trimHistory(history: HistoryRecord[], retention: number): HistoryRecord[] {
  return history.length > retention ? history.slice(history.length - retention) : history;
}

export const pause: Handler<'pause'> = (state, env) => {
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

export const resume: Handler<'resume'> = (state, env) => {
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
