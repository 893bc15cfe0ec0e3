// The public form of entries in events and command answers (issue 20: no event tells other members
// who voted which way). The state's QueueEntry holds its voter map; what leaves the state machine
// towards subscribers and callers is a WireEntry: the entry's counts and score, nothing per voter.
//
// Answers remembered for idempotent retries (the recent window) were written with whole entries
// before this split; `wireValue` gives their public form when a retry answers with one, so an old
// snapshot still loads and is written back byte for byte, and still never shows a voter map.

import { scoreOf } from './rank.ts';
import type { CommandValue, NowPlaying, QueueEntry, WireEntry, WireNowPlaying } from './types.ts';

/** Anything shaped like an entry: a state's QueueEntry, or one in an answer written before the split. */
type EntryLike = Omit<QueueEntry, 'votes'> | WireEntry;

export function wireEntry(entry: EntryLike): WireEntry {
  return {
    entryId: entry.entryId,
    track: entry.track,
    addedBy: entry.addedBy,
    addedAt: entry.addedAt,
    seq: entry.seq,
    ups: entry.ups,
    downs: entry.downs,
    score: scoreOf(entry),
  };
}

export function wireNowPlaying(np: NowPlaying | WireNowPlaying): WireNowPlaying {
  return {
    entry: wireEntry(np.entry),
    startedAt: np.startedAt,
    ...(np.pausedAt !== undefined ? { pausedAt: np.pausedAt } : {}),
  };
}

/** A remembered answer in its public form (answers written before the split carried whole entries). */
export function wireValue(value: CommandValue): CommandValue {
  switch (value.type) {
    case 'addTrack':
      return { ...value, entry: wireEntry(value.entry) };
    case 'advance':
      return { ...value, nowPlaying: value.nowPlaying ? wireNowPlaying(value.nowPlaying) : null };
    case 'pause':
    case 'resume':
      return { ...value, nowPlaying: wireNowPlaying(value.nowPlaying) };
    default:
      return value;
  }
}
