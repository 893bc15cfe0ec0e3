// The room as the page holds it, and the pure functions that move it forward: from a REST answer
// (fromView), by the SSE change events of one version (applyEvents), with my votes still in flight
// (withPending). No DOM and no I/O here, so it is unit-tested under Node (web/test/model.test.ts).
//
// The page applies events itself instead of refetching the room on every change: a busy room sends
// many small changes, and a refetch per change per viewer would multiply the server's load. It
// refetches only when it cannot be sure (a version gap, a reset, a member it does not know, or a
// change outside the part of the queue it holds); applyEvents says so with `stale`.

import type { MemberView } from '../../src/domain/access.ts';
import type { RoomEvent, RoomSettings, Track, VoteValue } from '../../src/domain/types.ts';
import { fullSettings } from '../../src/domain/settings.ts';
import { compareEntries, insertionIndex, recount, scoreOf } from '../../src/domain/order.ts';
import {
  etaAfter,
  playedMs,
  remainingMs,
  type HistoryItem,
  type MemberRef,
  type RoomView,
} from '../../src/domain/view.ts';

// The rules are the server's own (src/domain): order, score, vote arithmetic, playback time, ETAs.
export { compareEntries, playedMs };

export type Vote = VoteValue | 0;

export interface EntryModel {
  readonly entryId: string;
  readonly track: Track;
  readonly addedBy: MemberRef;
  readonly seq: number;
  readonly ups: number;
  readonly downs: number;
  readonly myVote: Vote;
}

export interface PlayingModel extends EntryModel {
  /** The timeline's origin: it is at now - startedAt while playing (a resume moves it on). */
  readonly startedAt: number;
  /** Server time the host paused it at; null while it plays. */
  readonly pausedAt: number | null;
}

export interface RoomModel {
  readonly id: string;
  readonly name: string;
  readonly hostId: string;
  readonly settings: Required<RoomSettings>;
  readonly locked: boolean;
  readonly version: number;
  readonly memberCount: number;
  /** The members here now (a live page or stream, or a short grace after): "people". */
  readonly present: readonly MemberRef[];
  readonly playCount: number;
  readonly nowPlaying: PlayingModel | null;
  /** The head of the queue in the server's order; `queueLength` counts all of it. */
  readonly queue: readonly EntryModel[];
  readonly queueLength: number;
  /** The viewer, when they have joined (with their role: host, cohost or member). */
  readonly me: MemberView | null;
  /** My join request waits for the host (joinPolicy approval). */
  readonly joinPending: boolean;
  /** Join requests waiting for a decision, oldest first: known to the host and co-hosts only. */
  readonly pendingJoins: readonly MemberRef[];
  /**
   * The version at which the page last knew the members to change (a join, a removal, a role): the
   * host's members list reads itself again when this moves.
   */
  readonly rosterVersion: number;
  /** memberId -> display name, gathered from everything seen, to name who added what. */
  readonly names: Readonly<Record<string, string>>;
  /** A private room's invite secret, for its share link: known to its host and co-hosts only. */
  readonly invite?: string;
}

/** A history record as the REST API answers it (`addedBy` a MemberRef, as in the queue). */
export type { HistoryItem };

export interface ChangeOutcome {
  readonly room: RoomModel;
  /** Plays that ended in this change, newest first, for the history list. */
  readonly ended: readonly HistoryItem[];
  /** The history was emptied (the host cleared the room). */
  readonly cleared: boolean;
  /** The page cannot be sure it is right any more: refetch the room. */
  readonly stale: boolean;
  /** What happened, in words, for the screen reader's live region. */
  readonly notices: readonly string[];
  /** The host removed me from the room in this change (banned: for good). */
  readonly removedMe: { readonly banned: boolean } | null;
}

/** Host and co-hosts hold the host's powers (src/domain/access.ts hasHostPowers). */
export function hasHostPowers(me: Pick<MemberView, 'role'> | null): boolean {
  return me !== null && me.role !== 'member';
}

export const score = (e: Pick<EntryModel, 'ups' | 'downs'>): number => scoreOf(e);

export function fromView(view: RoomView, knownNames: Readonly<Record<string, string>> = {}): RoomModel {
  const names: Record<string, string> = { ...knownNames };
  if (view.me) names[view.me.memberId] = view.me.name;
  const np = view.nowPlaying;
  if (np) names[np.addedBy.memberId] = np.addedBy.name;
  for (const item of view.queue) names[item.addedBy.memberId] = item.addedBy.name;
  for (const person of view.present) names[person.memberId] = person.name;
  return {
    id: view.id,
    name: view.name,
    hostId: view.hostId,
    settings: view.settings,
    locked: view.locked,
    version: view.version,
    memberCount: view.memberCount,
    present: view.present,
    ...(view.invite !== undefined ? { invite: view.invite } : {}),
    playCount: view.playCount,
    nowPlaying: np
      ? {
          entryId: np.entryId,
          track: np.track,
          addedBy: np.addedBy,
          seq: 0,
          ups: np.ups,
          downs: np.downs,
          myVote: np.myVote,
          startedAt: np.startedAt,
          // The server froze it at positionMs: its pause is that far from the origin.
          pausedAt: np.paused ? np.startedAt + np.positionMs : null,
        }
      : null,
    // A window that does not start at the head cannot be kept up to date by events; the page
    // always asks for the head, so offset is 0 here.
    queue: view.queue.map((q) => ({
      entryId: q.entryId,
      track: q.track,
      addedBy: q.addedBy,
      seq: q.seq,
      ups: q.ups,
      downs: q.downs,
      myVote: q.myVote,
    })),
    queueLength: view.queueLength,
    me: view.me,
    joinPending: view.joinPending,
    pendingJoins: view.pendingJoins,
    rosterVersion: view.version,
    names,
  };
}

/** Applies the events of one room version (all carry the same version) and moves to it. */
export function applyEvents(room: RoomModel, events: readonly RoomEvent[]): ChangeOutcome {
  let r: RoomModel = room;
  let stale = false;
  let cleared = false;
  const ended: HistoryItem[] = [];
  const notices: string[] = [];
  let removedMe: ChangeOutcome['removedMe'] = null;
  const me = room.me?.memberId ?? null;
  const version = events[0]?.version ?? r.version;
  const nameOf = (memberId: string): string => r.names[memberId] ?? 'someone';
  // Holding only the head of a long queue, changes below it are invisible: refetch then.
  const partial = (): boolean => r.queue.length < r.queueLength;

  for (const event of events) {
    switch (event.type) {
      case 'roomCreated':
        break;
      case 'memberJoined':
        r = {
          ...r,
          memberCount: r.memberCount + 1,
          names: { ...r.names, [event.member.memberId]: event.member.name },
          // An admitted request no longer waits.
          pendingJoins: r.pendingJoins.filter((p) => p.memberId !== event.member.memberId),
          rosterVersion: version,
        };
        if (event.member.memberId !== me) notices.push(`${event.member.name} joined`);
        break;
      case 'memberRemoved':
        r = {
          ...r,
          memberCount: Math.max(0, r.memberCount - 1),
          present: r.present.filter((p) => p.memberId !== event.memberId),
          rosterVersion: version,
        };
        if (event.memberId === me) removedMe = { banned: event.banned };
        break;
      case 'roleChanged':
        // Roles decide what I may see (the waiting requests, the invite): read the room again.
        r = { ...r, rosterVersion: version };
        stale = true;
        break;
      case 'entryAdded': {
        const known = Object.hasOwn(r.names, event.entry.addedBy);
        if (!known) stale = true;
        const entry: EntryModel = {
          entryId: event.entry.entryId,
          track: event.entry.track,
          addedBy: { memberId: event.entry.addedBy, name: nameOf(event.entry.addedBy) },
          seq: event.entry.seq,
          ups: event.entry.ups,
          downs: event.entry.downs,
          myVote: 0, // a new entry has no votes
        };
        const queue = insertSorted(r.queue, entry);
        // Outside the window it would be shown in the wrong place: leave it to the count.
        const fits = !partial() || queue[queue.length - 1]!.entryId !== entry.entryId;
        r = { ...r, queue: fits ? queue : r.queue, queueLength: r.queueLength + 1 };
        if (event.entry.addedBy !== me) notices.push(`${entry.addedBy.name} added “${entry.track.title}”`);
        break;
      }
      case 'entryRemoved': {
        const gone = r.queue.find((e) => e.entryId === event.entryId);
        if (partial()) stale = true;
        r = {
          ...r,
          queue: r.queue.filter((e) => e.entryId !== event.entryId),
          queueLength: Math.max(0, r.queueLength - 1),
        };
        if (gone && event.reason === 'votedOff') notices.push(`“${gone.track.title}” was voted off`);
        else if (gone && event.by !== me) notices.push(`“${gone.track.title}” was removed`);
        break;
      }
      case 'voteChanged': {
        // Counts only: events never say who voted which way; my own vote comes from my vote's answer.
        const patch = (e: EntryModel): EntryModel => ({ ...e, ups: event.ups, downs: event.downs });
        if (r.nowPlaying?.entryId === event.entryId) {
          r = { ...r, nowPlaying: { ...r.nowPlaying, ...patch(r.nowPlaying) } };
          break;
        }
        const entry = r.queue.find((e) => e.entryId === event.entryId);
        if (!entry) {
          // Below the window (it may now rise into it), or something the page missed.
          stale = true;
          break;
        }
        const queue = insertSorted(
          r.queue.filter((e) => e !== entry),
          patch(entry),
        );
        // An entry that sinks to the bottom of a partial window may belong below entries not held.
        if (partial() && queue[queue.length - 1]!.entryId === entry.entryId) stale = true;
        r = { ...r, queue };
        break;
      }
      case 'trackEnded': {
        const record = event.record;
        ended.unshift({ ...record, addedBy: { memberId: record.addedBy, name: nameOf(record.addedBy) } });
        r = {
          ...r,
          nowPlaying: r.nowPlaying?.entryId === record.entryId ? null : r.nowPlaying,
          playCount: Math.max(r.playCount, record.playNo),
        };
        break;
      }
      case 'trackStarted': {
        const np = event.nowPlaying;
        const queued = r.queue.find((e) => e.entryId === np.entry.entryId);
        if (!queued && partial()) stale = true;
        const addedBy = { memberId: np.entry.addedBy, name: nameOf(np.entry.addedBy) };
        r = {
          ...r,
          nowPlaying: {
            entryId: np.entry.entryId,
            track: np.entry.track,
            addedBy,
            seq: np.entry.seq,
            ups: np.entry.ups,
            downs: np.entry.downs,
            // The event carries counts only: my vote is the one I had on it in the queue.
            myVote: queued?.myVote ?? 0,
            startedAt: np.startedAt,
            pausedAt: null,
          },
          queue: r.queue.filter((e) => e.entryId !== np.entry.entryId),
          queueLength: Math.max(0, r.queueLength - 1),
        };
        notices.push(`Now playing “${np.entry.track.title}” by ${np.entry.track.artist}`);
        break;
      }
      case 'presenceChanged':
        r = { ...r, present: event.present.map((id) => ({ memberId: id, name: nameOf(id) })) };
        break;
      case 'joinRequested':
        // Only the host and co-hosts see waiting requests.
        if (hasHostPowers(r.me) && !r.pendingJoins.some((p) => p.memberId === event.memberId)) {
          r = { ...r, pendingJoins: [...r.pendingJoins, { memberId: event.memberId, name: event.name }] };
          notices.push(`${event.name} asks to join`);
        }
        break;
      case 'joinDenied':
        r = { ...r, pendingJoins: r.pendingJoins.filter((p) => p.memberId !== event.memberId) };
        break;
      case 'settingsChanged':
        r = { ...r, settings: fullSettings(event.settings) };
        notices.push('The host changed the room settings');
        break;
      case 'lockChanged':
        r = { ...r, locked: event.locked };
        notices.push(event.locked ? 'The host locked the queue' : 'The host unlocked the queue');
        break;
      case 'playbackPaused':
      case 'playbackResumed': {
        const np = event.nowPlaying;
        if (r.nowPlaying?.entryId !== np.entry.entryId) {
          stale = true;
          break;
        }
        r = { ...r, nowPlaying: { ...r.nowPlaying, startedAt: np.startedAt, pausedAt: np.pausedAt ?? null } };
        notices.push(event.type === 'playbackPaused' ? 'The host paused the music' : 'The music plays again');
        break;
      }
      case 'cleared':
        r = { ...r, queue: [], queueLength: 0, nowPlaying: null };
        cleared = true;
        ended.length = 0;
        notices.push('The host cleared the queue and the history');
        break;
      default: {
        // An event type this page does not know (a newer server): be safe, refetch.
        stale = true;
      }
    }
  }
  return { room: { ...r, version: Math.max(r.version, version) }, ended, cleared, stale, notices, removedMe };
}

/** My votes and removals still in flight, shown as if done (optimistic), in the server's order. */
export function withPending(
  room: RoomModel,
  votes: ReadonlyMap<string, Vote>,
  removing: ReadonlySet<string>,
): RoomModel {
  if (votes.size === 0 && removing.size === 0) return room;
  const revote = <E extends EntryModel>(e: E): E => {
    const v = votes.get(e.entryId);
    if (v === undefined || v === e.myVote) return e;
    return { ...e, ...recount(e, e.myVote, v), myVote: v };
  };
  const queue = room.queue
    .filter((e) => !removing.has(e.entryId))
    .map(revote)
    .sort(compareEntries);
  return {
    ...room,
    queue,
    queueLength: room.queueLength - (room.queue.length - queue.length),
    nowPlaying: room.nowPlaying ? revote(room.nowPlaying) : null,
  };
}

/**
 * The server's answer to my vote, applied before its SSE event arrives (the answer may come from a
 * node ahead of the one streaming to me). Later events carry absolute counts, so they converge.
 */
export function withVoteAnswer(
  room: RoomModel,
  answer: { entryId: string; ups: number; downs: number; version: number },
  value: Vote,
): RoomModel {
  // The stream already brought the counts, but never my vote (events name no voter): set only that.
  const counted = answer.version <= room.version;
  const patch = <E extends EntryModel>(e: E): E =>
    counted ? { ...e, myVote: value } : { ...e, ups: answer.ups, downs: answer.downs, myVote: value };
  if (room.nowPlaying?.entryId === answer.entryId) return { ...room, nowPlaying: patch(room.nowPlaying) };
  const entry = room.queue.find((e) => e.entryId === answer.entryId);
  if (!entry) return room;
  return {
    ...room,
    queue: insertSorted(
      room.queue.filter((e) => e !== entry),
      patch(entry),
    ),
  };
}

/** Where the timeline of the playing track stands at server time `now`: frozen while paused. */
export function timelineMs(np: PlayingModel, now: number): number {
  return playedMs(np.startedAt, np.track.durationMs, np.pausedAt ?? now);
}

/**
 * Time until each queue entry starts, at server time `now`: what is left playing plus those ahead
 * (while paused, as if it resumed now); null from the first track of unknown length (durationMs 0)
 * on, as the server's view has it.
 */
export function etas(room: RoomModel, now: number): (number | null)[] {
  const np = room.nowPlaying;
  let eta: number | null = np ? remainingMs(np.track.durationMs, timelineMs(np, now)) : 0;
  return room.queue.map((e) => {
    const mine = eta;
    eta = etaAfter(eta, e.track.durationMs);
    return mine;
  });
}

function insertSorted(queue: readonly EntryModel[], entry: EntryModel): EntryModel[] {
  return queue.toSpliced(insertionIndex(queue, entry), 0, entry);
}
