// Error reasons, area: the queue (adding, removing, voting, entries lists) and playback. Part of
// the one registry (../reasons.ts builds it); add a reason of this area here, and to the README's
// table.

import { reason } from './spec.ts';

/** "20 min", "3 min 30 s": a limit as people read it. */
function formatMinutes(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const QUEUE_REASONS = /* @__PURE__ */ (() =>
  ({
    // ---- The queue ------------------------------------------------------------------------------
    QUEUE_LOCKED: reason('FAILED_PRECONDITION', () => 'the host has locked the queue'),
    QUEUE_FULL: reason(
      'FAILED_PRECONDITION',
      (a: { maxQueueLength: number }) => `the queue is full (${a.maxQueueLength} entries)`,
      ({ maxQueueLength }) => ({ maxQueueLength }),
    ),
    MEMBER_QUOTA: reason(
      'FAILED_PRECONDITION',
      (a: { waiting: number; maxEntriesPerMember: number }) =>
        `you already have ${a.waiting} tracks waiting; the room allows ${a.maxEntriesPerMember} per member`,
      ({ maxEntriesPerMember }) => ({ maxEntriesPerMember }),
    ),
    TRACK_TOO_LONG: reason(
      'FAILED_PRECONDITION',
      (a: { durationMs: number; maxTrackDurationMs: number }) =>
        `this track is longer than the room allows (${formatMinutes(a.maxTrackDurationMs)})`,
      ({ durationMs, maxTrackDurationMs }) => ({ durationMs, maxTrackDurationMs }),
    ),
    TRACK_ALREADY_QUEUED: reason(
      'ALREADY_EXISTS',
      (a: { title: string; where: string; existing: unknown }) =>
        a.where === 'queue' ? `"${a.title}" is already in the queue` : `"${a.title}" is playing right now`,
      ({ existing, where }) => ({ existing, where }),
    ),
    REPLAY_PROTECTED: reason(
      'FAILED_PRECONDITION',
      (a: { title: string; replayProtectionMinutes: number; lastEndedAt: number }) =>
        `"${a.title}" was played less than ${a.replayProtectionMinutes} minutes ago`,
      ({ replayProtectionMinutes, lastEndedAt }) => ({ replayProtectionMinutes, lastEndedAt }),
    ),
    ENTRY_ID_IN_USE: reason(
      'ALREADY_EXISTS',
      (a: { entryId: string }) => `entry id ${a.entryId} is already in use`,
      ({ entryId }) => ({ entryId }),
    ),
    ENTRY_NOT_FOUND: reason(
      'NOT_FOUND',
      (a: { entryId: unknown }) => `no entry ${String(a.entryId)} in the queue`,
      ({ entryId }) => ({ entryId }),
    ),
    TRACK_NOT_QUEUED: reason(
      'NOT_FOUND',
      (a: { trackId: string }) => `track ${a.trackId} is not in the queue`,
      ({ trackId }) => ({ trackId }),
    ),
    ENTRY_PLAYING: reason('FAILED_PRECONDITION', () => 'this entry is playing; the host can skip it instead'),
    REMOVE_NOT_ALLOWED: reason(
      'PERMISSION_DENIED',
      () => 'only the member who added an entry, or the host, can remove it',
    ),
    VOTE_INVALID: reason(
      'INVALID_ARGUMENT',
      () => 'a vote is 1 (up), -1 (down) or 0 (withdraw)',
      () => ({ field: 'value' }),
    ),
    ANONYMOUS_VOTE_INVALID: reason(
      'INVALID_ARGUMENT',
      () => 'an anonymous vote is 1 (up) or -1 (down)',
      () => ({ field: 'value' }),
    ),
    ENTRIES_NOT_LIST: reason('INVALID_ARGUMENT', () => 'entries must be a list'),
    ENTRIES_ITEM_NOT_OBJECT: reason(
      'INVALID_ARGUMENT',
      (a: { index: number }) => `entries[${a.index}] must be an object`,
    ),
    ENTRIES_VOTES_INVALID: reason(
      'INVALID_ARGUMENT',
      (a: { index: number }) => `entries[${a.index}].votes must be a whole number`,
      () => ({ field: 'votes' }),
    ),
    ENTRIES_TRACK_TOO_LONG: reason(
      'FAILED_PRECONDITION',
      (a: { index: number; durationMs: number; maxTrackDurationMs: number }) =>
        `entries[${a.index}] is longer than the room allows`,
      ({ durationMs, maxTrackDurationMs }) => ({ durationMs, maxTrackDurationMs }),
    ),
    ENTRIES_ID_TWICE: reason(
      'ALREADY_EXISTS',
      (a: { entryId: string }) => `entry id ${a.entryId} is given twice`,
      ({ entryId }) => ({ entryId }),
    ),
    QUEUE_KEPT_CHANGING: reason('ABORTED', () => 'the queue kept changing; try again'),

    // ---- Playback -------------------------------------------------------------------------------
    ADVANCE_REASON_INVALID: reason(
      'INVALID_ARGUMENT',
      () => "advance reason must be 'finished', 'skipped' or 'ended'",
      () => ({ field: 'reason' }),
    ),
    REQUIRE_NEXT_INVALID: reason(
      'INVALID_ARGUMENT',
      () => 'requireNext must be true or false',
      () => ({ field: 'requireNext' }),
    ),
    AUTOPLAY_OFF: reason('FAILED_PRECONDITION', () => 'autoplay is off; the host starts playback'),
    TRACK_PAUSED: reason('FAILED_PRECONDITION', () => 'the track is paused'),
    TRACK_LENGTH_UNKNOWN: reason(
      'FAILED_PRECONDITION',
      () => 'the track is of unknown length; it ends when the host skips it',
      () => ({ durationMs: 0 }),
    ),
    TRACK_STILL_PLAYING: reason(
      'FAILED_PRECONDITION',
      (a: { remainingMs: number }) => `the track is still playing (${a.remainingMs} ms left)`,
      ({ remainingMs }) => ({ remainingMs }),
    ),
    NOTHING_PLAYING: reason('FAILED_PRECONDITION', () => 'nothing is playing'),
  }) as const)();
