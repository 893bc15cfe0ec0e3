// The read model every API shares: the room as a person sees it at a moment, from one member's
// point of view. Derived entirely from the state, the time and the viewer.

import { hasHostPowers, viewerAccess, type MemberView } from './access.ts';
import { durationBefore, scoreOf } from './order.ts';
import { presentMembers } from './presence.ts';
import { fullSettings } from './settings.ts';
import type {
  HistoryRecord,
  Member,
  QueueEntry,
  RoomSettings,
  RoomState,
  Track,
  VoteValue,
} from './types.ts';

export interface MemberRef {
  readonly memberId: string;
  readonly name: string;
}

/**
 * An entry as anyone may see it: its counts, never who voted which way (the entry's voter map
 * stays in the state). What an ALREADY_EXISTS refusal names as `details.existing`.
 */
export interface PublicEntry {
  readonly entryId: string;
  readonly track: Track;
  readonly addedBy: MemberRef;
  readonly addedAt: number;
  readonly seq: number;
  readonly score: number;
  readonly ups: number;
  readonly downs: number;
}

export interface QueueItemView extends PublicEntry {
  /** 1-based place in the queue. */
  readonly position: number;
  /**
   * Time until this entry starts: what is left of the playing track plus the durations ahead; null
   * when that or one of them is of unknown length.
   */
  readonly etaMs: number | null;
  readonly myVote: VoteValue | 0;
}

export interface NowPlayingView {
  readonly entryId: string;
  readonly track: Track;
  readonly addedBy: MemberRef;
  readonly startedAt: number;
  /** True while the host has it paused: position and ETAs hold still until it resumes. */
  readonly paused: boolean;
  readonly positionMs: number;
  /** null when the track is of unknown length (track.durationMs 0): it plays until skipped. */
  readonly remainingMs: number | null;
  readonly score: number;
  readonly ups: number;
  readonly downs: number;
  readonly myVote: VoteValue | 0;
}

export interface RoomView {
  readonly id: string;
  readonly name: string;
  readonly hostId: string;
  readonly createdAt: number;
  readonly settings: Required<RoomSettings>;
  readonly locked: boolean;
  readonly version: number;
  readonly memberCount: number;
  readonly queueLength: number;
  readonly playCount: number;
  readonly nowPlaying: NowPlayingView | null;
  /** A window of the queue: `queueOffset` entries are skipped, at most the requested limit shown. */
  readonly queue: readonly QueueItemView[];
  readonly queueOffset: number;
  /** The viewer, when a member is viewing (with their role; access.ts). */
  readonly me: MemberView | null;
  /** A private room's invite secret: shown to its host and co-hosts only, for the share link. */
  readonly invite?: string;
  /** The members here now (presence.ts), by name; what "people" means in the room. */
  readonly present: readonly MemberRef[];
  readonly presentCount: number;
  /** True when the viewer's join request waits for the host (joinPolicy approval). */
  readonly joinPending: boolean;
  /** Join requests waiting for the host, oldest first: shown to the host and co-hosts only (empty for others). */
  readonly pendingJoins: readonly MemberRef[];
}

export interface ViewOptions {
  /** The time to compute progress and ETAs at, ms since the epoch. */
  readonly now: number;
  readonly viewer?: string | null;
  readonly offset?: number;
  readonly limit?: number;
}

export function memberRef(state: RoomState, memberId: string): MemberRef {
  // Anonymous legacy voters and departed members still need a name to show.
  return { memberId, name: memberOrNull(state, memberId)?.name ?? memberId };
}

export function viewRoom(state: RoomState, options: ViewOptions): RoomView {
  const viewer = options.viewer ?? null;
  const offset = Math.max(0, options.offset ?? 0);
  const limit = Math.max(0, options.limit ?? state.queue.length);
  const np = state.nowPlaying;
  const { elapsed, remaining } = playing(state, options.now);

  const queue: QueueItemView[] = [];
  const end = Math.min(state.queue.length, offset + limit);
  let eta = etaAt(state, Math.min(offset, end), remaining);
  let position = offset;
  for (const entry of state.queue.from(offset)) {
    if (position >= end) break;
    position += 1;
    queue.push(queueItem(state, entry, position, eta, viewer));
    eta = etaAfter(eta, entry.track.durationMs);
  }

  return {
    id: state.id,
    name: state.name,
    hostId: state.hostId,
    createdAt: state.createdAt,
    settings: fullSettings(state.settings),
    locked: state.locked,
    version: state.version,
    memberCount: state.members.size,
    queueLength: state.queue.length,
    playCount: state.playCount,
    nowPlaying: np
      ? {
          entryId: np.entry.entryId,
          track: np.entry.track,
          addedBy: memberRef(state, np.entry.addedBy),
          startedAt: np.startedAt,
          paused: np.pausedAt !== undefined,
          positionMs: elapsed,
          remainingMs: remaining,
          score: scoreOf(np.entry),
          ups: np.entry.ups,
          downs: np.entry.downs,
          myVote: voteOf(np.entry, viewer),
        }
      : null,
    queue,
    queueOffset: offset,
    ...viewerAccess(state, viewer ? memberOrNull(state, viewer) : null),
    ...peopleView(state, options.now, viewer),
  };
}

/**
 * The queue entry at `index` (0-based) exactly as `viewRoom(state, { offset: index, limit: 1 })`
 * shows it, or null past the end: what a write answers about one entry, without building the rest
 * of the room's view (its people, its settings) only to throw it away.
 */
export function viewQueueItem(
  state: RoomState,
  index: number,
  options: Pick<ViewOptions, 'now' | 'viewer'>,
): QueueItemView | null {
  const entry = index >= 0 ? state.queue.at(index) : undefined;
  if (entry === undefined) return null;
  const eta = etaAt(state, index, playing(state, options.now).remaining);
  return queueItem(state, entry, index + 1, eta, options.viewer ?? null);
}

/** How far the playing track is, ms (0 when none), and what is left of it (null: unknown length). */
function playing(state: RoomState, now: number): { elapsed: number; remaining: number | null } {
  const np = state.nowPlaying;
  if (!np) return { elapsed: 0, remaining: 0 };
  // A paused track's clock stands at its pause; ETAs then count from it, as if it resumed now.
  const elapsed = playedMs(np.startedAt, np.entry.track.durationMs, np.pausedAt ?? now);
  return { elapsed, remaining: remainingMs(np.entry.track.durationMs, elapsed) };
}

/** When the entry at `index` starts playing, ms from now (null: unknown). */
function etaAt(state: RoomState, index: number, remaining: number | null): number | null {
  // Once a track of unknown length lies ahead, every ETA behind it is unknown too.
  const ahead = durationBefore(state.queue, index);
  return remaining === null || ahead === null ? null : remaining + ahead;
}

/** Who is here, and (for the host) who waits to join. */
function peopleView(
  state: RoomState,
  now: number,
  viewer: string | null,
): Pick<RoomView, 'present' | 'presentCount' | 'joinPending' | 'pendingJoins'> {
  const present = presentMembers(state, now).map((id) => memberRef(state, id));
  const pending = state.pendingJoins ?? {};
  const viewerMember = viewer !== null ? memberOrNull(state, viewer) : null;
  // Host and co-hosts admit members (access.ts hasHostPowers), so both see who waits.
  const admits = viewerMember !== null && hasHostPowers(viewerMember);
  return {
    present,
    presentCount: present.length,
    joinPending: viewer !== null && Object.hasOwn(pending, viewer),
    pendingJoins: admits
      ? Object.values(pending)
          .sort((a, b) => a.requestedAt - b.requestedAt || (a.memberId < b.memberId ? -1 : 1))
          .map((p) => ({ memberId: p.memberId, name: p.name }))
      : [],
  };
}

function queueItem(
  state: RoomState,
  entry: QueueEntry,
  position: number,
  etaMs: number | null,
  viewer: string | null,
): QueueItemView {
  return { position, ...publicEntry(state, entry), etaMs, myVote: voteOf(entry, viewer) };
}

export function publicEntry(state: RoomState, entry: QueueEntry): PublicEntry {
  return {
    entryId: entry.entryId,
    track: entry.track,
    addedBy: memberRef(state, entry.addedBy),
    addedAt: entry.addedAt,
    seq: entry.seq,
    score: scoreOf(entry),
    ups: entry.ups,
    downs: entry.downs,
  };
}

/**
 * A play as answers carry it: who added it is a MemberRef, the one `addedBy` shape of every answer
 * (queue items, now playing, history). The state keeps the member's id only (HistoryRecord).
 */
export type HistoryItem = Omit<HistoryRecord, 'addedBy'> & { readonly addedBy: MemberRef };

export function historyItem(state: RoomState, record: HistoryRecord): HistoryItem {
  return { ...record, addedBy: memberRef(state, record.addedBy) };
}

export interface HistoryPage {
  /** Newest first. */
  readonly records: readonly HistoryItem[];
  /** Pass as `before` to get the next (older) page; null when there is none. */
  readonly nextBefore: number | null;
}

/** A page of history, newest first: records with playNo < before (all when before is absent). */
export function historyPage(state: RoomState, options: { before?: number; limit: number }): HistoryPage {
  const limit = Math.max(1, options.limit);
  const before = options.before ?? Number.POSITIVE_INFINITY;
  const records: HistoryItem[] = [];
  let i = state.history.length - 1;
  while (i >= 0 && state.history[i]!.playNo >= before) i--;
  for (; i >= 0 && records.length < limit; i--) {
    const r = state.history[i]!;
    records.push(historyItem(state, r));
  }
  const last = records.at(-1);
  const more = i >= 0 && last !== undefined;
  return { records, nextBefore: more ? last.playNo : null };
}

/**
 * When the playing track is due to end, or null when nothing plays, it is paused, or its length is
 * unknown (it never ends by itself). The playback clock uses it.
 */
export function playingEndsAt(state: RoomState): number | null {
  const np = state.nowPlaying;
  return np && np.pausedAt === undefined && np.entry.track.durationMs > 0
    ? np.startedAt + np.entry.track.durationMs
    : null;
}

// Own properties only, so that an id like "constructor" finds nothing rather than Object.prototype's.
function memberOrNull(state: RoomState, memberId: string): Member | null {
  return state.members.get(memberId) ?? null;
}

function voteOf(entry: QueueEntry, viewer: string | null): VoteValue | 0 {
  return viewer === null ? 0 : entry.votes.get(viewer);
}

/**
 * How far a track that started (its timeline's origin) at `startedAt` has played at `at` (its
 * pause while paused): never before its start, never past its end; unbounded when its length is
 * unknown (durationMs 0).
 */
export function playedMs(startedAt: number, durationMs: number, at: number): number {
  const played = Math.max(0, at - startedAt);
  return durationMs === 0 ? played : Math.min(durationMs, played);
}

/** What is left of a track that has played `played`: unknown (null) when its length is. */
export function remainingMs(durationMs: number, played: number): number | null {
  return durationMs === 0 ? null : durationMs - played;
}

/**
 * The ETA of the entry behind one that starts in `eta` and lasts `durationMs`: once a track of
 * unknown length lies ahead, every ETA behind it is unknown too.
 */
export function etaAfter(eta: number | null, durationMs: number): number | null {
  return eta === null || durationMs === 0 ? null : eta + durationMs;
}
