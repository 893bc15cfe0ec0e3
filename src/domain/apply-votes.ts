// Votes: a member's vote (up, down, withdrawn) and a host's anonymous (legacy) vote on a queued or
// playing entry, and the rules a changed vote may trigger: skip the playing track, vote a queued
// entry off, reorder the queue.
//
// Invariants: at most one vote per member per entry (the entry's persistent vote map, keyed by
// member id); anonymous votes are counts only, never voter keys, so each costs the same; ups and
// downs always equal the map's votes plus the anonymous counts; the events carry counts, never who
// voted (issue 20); the skip and vote-off thresholds count the members present when the vote is
// applied (presence.ts), never fewer than the room's fixed minimum.

import type { Decision } from './decision.ts';
import { fail, hostOf, memberOf, type Handler } from './apply-common.ts';
import { endAndStartNext } from './apply-playback.ts';
import { findEntry, indexOfEntry, recount, removeSorted, replaceSorted, scoreOf } from './order.ts';
import { presentMembers, votesNeeded } from './presence.ts';
import { fullSettings } from './settings.ts';
import type {
  CommandValue,
  Envelope,
  NowPlaying,
  QueueEntry,
  RoomEventBody,
  RoomState,
  VoteValue,
} from './types.ts';
import { checkId } from './validate.ts';

export const vote: Handler<'vote'> = (state, env, command) => {
  const member = memberOf(state, env.actor);
  if ('code' in member) return { kind: 'error', error: member };
  const bad = checkId('entryId', command.entryId);
  if (bad) return { kind: 'error', error: bad };
  if (command.value !== 1 && command.value !== -1 && command.value !== 0) {
    return fail('VOTE_INVALID');
  }
  return castVote(state, env, command.entryId, member.memberId, command.value);
};

export const anonymousVote: Handler<'anonymousVote'> = (state, env, command) => {
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
