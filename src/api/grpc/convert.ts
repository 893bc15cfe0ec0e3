// The chorus.v1 messages and the domain's data, both ways. The server turns views into messages
// (`toPb*`); clients (the CLI, tests) turn messages back into the same shapes the REST API returns
// (`fromPb*`), so code above a client does not care which transport it used. Events, built of these
// messages, are converted in convert-events.ts.

import type { ChorusError } from '../../domain/index.ts';
import {
  type EndReason,
  type HistoryRecord,
  type HistoryItem,
  type Member,
  type Role,
  type NowPlayingView,
  type QueueItemView,
  type RoomSettings,
  type RoomView,
  type SettingsPatch,
  type Track,
  type VoteValue,
  chorusError,
} from '../../domain/index.ts';
import { roleOf, type MemberView } from '../../domain/access.ts';
import type { RoomListing } from '../../store/types.ts';
import type * as pb from './generated/chorus/v1/index.ts';

type JoinPolicy = NonNullable<RoomSettings['joinPolicy']>;

// ---- Enums -----------------------------------------------------------------------------------------

const END_REASON: Readonly<Record<EndReason, pb.EndReason__Output>> = {
  finished: 'END_REASON_FINISHED',
  skipped: 'END_REASON_SKIPPED',
  votedOff: 'END_REASON_VOTED_OFF',
};

function endReasonFromPb(reason: pb.EndReason__Output | number): EndReason {
  for (const [key, value] of Object.entries(END_REASON)) if (value === reason) return key as EndReason;
  throw malformed(`end reason ${reason}`);
}

function voteFromPb(value: number): VoteValue | 0 {
  return value > 0 ? 1 : value < 0 ? -1 : 0;
}

export function malformed(what: string): ChorusError {
  return chorusError('ANSWER_MALFORMED', { problem: what });
}

export function need<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw malformed(`${what} is missing`);
  return value;
}

// ---- Server side: domain -> messages ---------------------------------------------------------------

export function toPbTrack(track: Track): pb.Track {
  return trackFields(track);
}

/** A track's fields, the optional ones only when set: the same copy both ways. */
function trackFields(track: Track | pb.Track__Output): Track {
  return {
    trackId: track.trackId,
    title: track.title,
    artist: track.artist,
    album: track.album,
    durationMs: track.durationMs,
    ...(track.artworkUrl !== undefined ? { artworkUrl: track.artworkUrl } : {}),
    ...(track.year !== undefined ? { year: track.year } : {}),
    ...(track.genre !== undefined ? { genre: track.genre } : {}),
    ...(track.sourceUri !== undefined ? { sourceUri: track.sourceUri } : {}),
    ...(track.audioUrl !== undefined ? { audioUrl: track.audioUrl } : {}),
  };
}

export function toPbSettings(settings: RoomSettings): pb.RoomSettings {
  return { ...settings };
}

export function toPbMember(member: Member | MemberView): pb.Member {
  const role = 'role' in member ? member.role : roleOf(member);
  return {
    memberId: member.memberId,
    name: member.name,
    isHost: member.isHost,
    joinedAt: member.joinedAt,
    role,
  };
}

export function toPbQueueItem(item: QueueItemView): pb.QueueItem {
  const { etaMs, ...rest } = item;
  // An unknown ETA is an unset optional field, told apart from an ETA of 0.
  return {
    ...rest,
    ...(etaMs !== null ? { etaMs } : {}),
    track: toPbTrack(item.track),
    addedBy: { ...item.addedBy },
  };
}

function toPbNowPlaying(np: NowPlayingView): pb.NowPlaying {
  const { remainingMs, ...rest } = np;
  return {
    ...rest,
    ...(remainingMs !== null ? { remainingMs } : {}),
    track: toPbTrack(np.track),
    addedBy: { ...np.addedBy },
  };
}

export function toPbRoom(room: RoomView): pb.Room {
  const np = room.nowPlaying;
  return {
    id: room.id,
    name: room.name,
    hostId: room.hostId,
    createdAt: room.createdAt,
    settings: toPbSettings(room.settings),
    locked: room.locked,
    version: room.version,
    memberCount: room.memberCount,
    queueLength: room.queueLength,
    playCount: room.playCount,
    nowPlaying: np ? toPbNowPlaying(np) : null,
    queue: room.queue.map(toPbQueueItem),
    queueOffset: room.queueOffset,
    me: room.me ? toPbMember(room.me) : null,
    ...(room.invite !== undefined ? { invite: room.invite } : {}),
    present: room.present.map((m) => ({ ...m })),
    presentCount: room.presentCount,
    joinPending: room.joinPending,
    pendingJoins: room.pendingJoins.map((m) => ({ ...m })),
  };
}

/**
 * A play in an answer (HistoryItem: `added_by` a MemberRef) or in a TrackEnded event (the stored
 * record: a member id only, the name left empty; events name members by id).
 */
export function toPbHistoryRecord(record: HistoryRecord | HistoryItem): pb.HistoryRecord {
  return {
    playNo: record.playNo,
    entryId: record.entryId,
    track: toPbTrack(record.track),
    addedBy:
      typeof record.addedBy === 'string' ? { memberId: record.addedBy, name: '' } : { ...record.addedBy },
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    reason: END_REASON[record.reason],
    ups: record.ups,
    downs: record.downs,
  };
}

export function toPbListing(listing: RoomListing): pb.RoomListing {
  const { nowPlaying, ...rest } = listing;
  return { ...rest, ...(nowPlaying !== null ? { nowPlaying } : {}) };
}

// ---- Requests: messages -> domain input (server) and back (clients) --------------------------------

/** The fields the caller set; unset ones are absent (proto3 `optional` keeps the difference). */
export function fromPbSettingsPatch(patch: pb.SettingsPatch__Output | null): SettingsPatch {
  const out: SettingsPatch = {};
  if (!patch) return out;
  if (patch.public !== undefined) out.public = patch.public;
  if (patch.autoplay !== undefined) out.autoplay = patch.autoplay;
  if (patch.maxQueueLength !== undefined) out.maxQueueLength = patch.maxQueueLength;
  if (patch.maxEntriesPerMember !== undefined) out.maxEntriesPerMember = patch.maxEntriesPerMember;
  if (patch.maxTrackDurationMs !== undefined) out.maxTrackDurationMs = patch.maxTrackDurationMs;
  if (patch.voteOffThreshold !== undefined) out.voteOffThreshold = patch.voteOffThreshold;
  if (patch.skipVotes !== undefined) out.skipVotes = patch.skipVotes;
  if (patch.replayProtectionMinutes !== undefined)
    out.replayProtectionMinutes = patch.replayProtectionMinutes;
  if (patch.historyRetention !== undefined) out.historyRetention = patch.historyRetention;
  if (patch.skipShare !== undefined) out.skipShare = patch.skipShare;
  // Checked by the settings validation like any other value (an unknown policy is refused there).
  if (patch.joinPolicy !== undefined) out.joinPolicy = patch.joinPolicy as JoinPolicy;
  if (patch.maxMembers !== undefined) out.maxMembers = patch.maxMembers;
  if (patch.joinsPerMinute !== undefined) out.joinsPerMinute = patch.joinsPerMinute;
  return out;
}

export function toPbSettingsPatch(patch: SettingsPatch): pb.SettingsPatch {
  return { ...patch };
}

export function fromPbTrack(track: pb.Track__Output): Track {
  return trackFields(track);
}

// ---- Client side: messages -> the REST API's shapes ------------------------------------------------

export function fromPbSettings(settings: pb.RoomSettings__Output): Required<RoomSettings> {
  return { ...settings, joinPolicy: settings.joinPolicy as JoinPolicy };
}

export function fromPbQueueItem(item: pb.QueueItem__Output): QueueItemView {
  const { etaMs, _etaMs: _present, ...rest } = item;
  return {
    ...rest,
    etaMs: etaMs ?? null,
    track: fromPbTrack(need(item.track, 'queue item track')),
    addedBy: { ...need(item.addedBy, 'queue item addedBy') },
    myVote: voteFromPb(item.myVote),
  };
}

export function fromPbRoom(room: pb.Room__Output): RoomView {
  const np = room.nowPlaying;
  return {
    id: room.id,
    name: room.name,
    hostId: room.hostId,
    createdAt: room.createdAt,
    settings: fromPbSettings(need(room.settings, 'room settings')),
    locked: room.locked,
    version: room.version,
    memberCount: room.memberCount,
    queueLength: room.queueLength,
    playCount: room.playCount,
    nowPlaying: np
      ? {
          ...withoutPresence(np),
          remainingMs: np.remainingMs ?? null,
          track: fromPbTrack(need(np.track, 'now playing track')),
          addedBy: { ...need(np.addedBy, 'now playing addedBy') },
          myVote: voteFromPb(np.myVote),
        }
      : null,
    queue: room.queue.map(fromPbQueueItem),
    queueOffset: room.queueOffset,
    me: room.me ? { ...room.me, role: roleFromPb(room.me.role) } : null,
    ...(room.invite ? { invite: room.invite } : {}),
    present: room.present.map((m) => ({ ...m })),
    presentCount: room.presentCount,
    joinPending: room.joinPending,
    pendingJoins: room.pendingJoins.map((m) => ({ ...m })),
  };
}

export function roleFromPb(role: string): Role {
  if (role === 'host' || role === 'cohost' || role === 'member') return role;
  throw malformed(`role ${role}`);
}

function withoutPresence(np: pb.NowPlaying__Output): Omit<pb.NowPlaying__Output, '_remainingMs'> {
  const { _remainingMs: _present, ...rest } = np;
  return rest;
}

export function fromPbHistoryRecord(record: pb.HistoryRecord__Output): HistoryItem {
  return {
    ...record,
    addedBy: { ...need(record.addedBy, 'history addedBy') },
    track: fromPbTrack(need(record.track, 'history track')),
    reason: endReasonFromPb(record.reason),
  };
}

export function fromPbListing(listing: pb.RoomListing__Output): RoomListing {
  const { nowPlaying, _nowPlaying: _present, ...rest } = listing;
  return { ...rest, nowPlaying: nowPlaying ?? null };
}
