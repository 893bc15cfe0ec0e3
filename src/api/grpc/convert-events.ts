// RoomEvent, the domain's delta, and its chorus.v1 message, both ways: the server's Watch sends
// `toPbEvent`; clients read `fromPbEvent` back into the shape SSE gives (convert.ts does the
// messages events are built of). Events name members by id only (votes stay private).

import type { RoomEvent, WireEntry } from '../../domain/index.ts';
import {
  fromPbHistoryRecord,
  fromPbSettings,
  fromPbTrack,
  malformed,
  need,
  roleFromPb,
  toPbHistoryRecord,
  toPbMember,
  toPbSettings,
  toPbTrack,
} from './convert.ts';
import type * as pb from './generated/chorus/v1/index.ts';

function toPbEntry(entry: WireEntry): pb.QueueEntry {
  return {
    entryId: entry.entryId,
    track: toPbTrack(entry.track),
    addedBy: entry.addedBy,
    addedAt: entry.addedAt,
    seq: entry.seq,
    ups: entry.ups,
    downs: entry.downs,
    score: entry.score,
  };
}

export function toPbEvent(event: RoomEvent): pb.RoomEvent {
  const head = { roomId: event.roomId, version: event.version, at: event.at };
  switch (event.type) {
    case 'roomCreated':
      return {
        ...head,
        roomCreated: { name: event.name, hostId: event.hostId, settings: toPbSettings(event.settings) },
      };
    case 'memberJoined':
      return { ...head, memberJoined: { member: toPbMember(event.member) } };
    case 'entryAdded':
      return { ...head, entryAdded: { entry: toPbEntry(event.entry) } };
    case 'entryRemoved':
      return {
        ...head,
        entryRemoved: {
          entryId: event.entryId,
          reason: event.reason === 'votedOff' ? 'REASON_VOTED_OFF' : 'REASON_REMOVED',
          ...(event.by !== null ? { by: event.by } : {}),
        },
      };
    case 'voteChanged':
      return {
        ...head,
        voteChanged: {
          entryId: event.entryId,
          ups: event.ups,
          downs: event.downs,
          score: event.score,
        },
      };
    case 'trackEnded':
      return { ...head, trackEnded: { record: toPbHistoryRecord(event.record) } };
    case 'trackStarted':
      return {
        ...head,
        trackStarted: { entry: toPbEntry(event.nowPlaying.entry), startedAt: event.nowPlaying.startedAt },
      };
    case 'settingsChanged':
      return { ...head, settingsChanged: { settings: toPbSettings(event.settings) } };
    case 'lockChanged':
      return { ...head, lockChanged: { locked: event.locked } };
    case 'playbackPaused':
    case 'playbackResumed': {
      const np = event.nowPlaying;
      const change: pb.PlaybackChanged = {
        entry: toPbEntry(np.entry),
        startedAt: np.startedAt,
        ...(np.pausedAt !== undefined ? { pausedAt: np.pausedAt } : {}),
      };
      return event.type === 'playbackPaused'
        ? { ...head, playbackPaused: change }
        : { ...head, playbackResumed: change };
    }
    case 'cleared':
      return { ...head, cleared: {} };
    case 'roleChanged':
      return { ...head, roleChanged: { memberId: event.memberId, role: event.role } };
    case 'memberRemoved':
      return { ...head, memberRemoved: { memberId: event.memberId, banned: event.banned } };
    case 'presenceChanged':
      return { ...head, presenceChanged: { present: [...event.present] } };
    case 'joinRequested':
      return { ...head, joinRequested: { memberId: event.memberId, name: event.name } };
    case 'joinDenied':
      return { ...head, joinDenied: { memberId: event.memberId } };
  }
}

function fromPbEntry(entry: pb.QueueEntry__Output): WireEntry {
  return { ...entry, track: fromPbTrack(need(entry.track, 'entry track')) };
}

export function fromPbEvent(event: pb.RoomEvent__Output): RoomEvent {
  const head = { roomId: event.roomId, version: event.version, at: event.at };
  switch (event.event) {
    case 'roomCreated': {
      const e = need(event.roomCreated, 'roomCreated');
      return {
        ...head,
        type: 'roomCreated',
        name: e.name,
        hostId: e.hostId,
        settings: fromPbSettings(need(e.settings, 'settings')),
      };
    }
    case 'memberJoined': {
      // Events carry the member as joined; the role is the view's (a joiner is a plain member).
      const { role: _role, ...member } = need(need(event.memberJoined, 'memberJoined').member, 'member');
      return { ...head, type: 'memberJoined', member: { ...member } };
    }
    case 'roleChanged': {
      const e = need(event.roleChanged, 'roleChanged');
      return { ...head, type: 'roleChanged', memberId: e.memberId, role: roleFromPb(e.role) };
    }
    case 'memberRemoved': {
      const e = need(event.memberRemoved, 'memberRemoved');
      return { ...head, type: 'memberRemoved', memberId: e.memberId, banned: e.banned };
    }
    case 'entryAdded':
      return {
        ...head,
        type: 'entryAdded',
        entry: fromPbEntry(need(need(event.entryAdded, 'entryAdded').entry, 'entry')),
      };
    case 'entryRemoved': {
      const e = need(event.entryRemoved, 'entryRemoved');
      return {
        ...head,
        type: 'entryRemoved',
        entryId: e.entryId,
        reason: e.reason === 'REASON_VOTED_OFF' ? 'votedOff' : 'removed',
        by: e.by ?? null,
      };
    }
    case 'voteChanged': {
      const e = need(event.voteChanged, 'voteChanged');
      return { ...head, type: 'voteChanged', ...e };
    }
    case 'trackEnded': {
      const item = fromPbHistoryRecord(need(need(event.trackEnded, 'trackEnded').record, 'record'));
      return { ...head, type: 'trackEnded', record: { ...item, addedBy: item.addedBy.memberId } };
    }
    case 'trackStarted': {
      const e = need(event.trackStarted, 'trackStarted');
      return {
        ...head,
        type: 'trackStarted',
        nowPlaying: { entry: fromPbEntry(need(e.entry, 'entry')), startedAt: e.startedAt },
      };
    }
    case 'settingsChanged':
      return {
        ...head,
        type: 'settingsChanged',
        settings: fromPbSettings(need(need(event.settingsChanged, 'settingsChanged').settings, 'settings')),
      };
    case 'lockChanged':
      return { ...head, type: 'lockChanged', locked: need(event.lockChanged, 'lockChanged').locked };
    case 'playbackPaused':
    case 'playbackResumed': {
      const e = need(event[event.event], event.event);
      return {
        ...head,
        type: event.event,
        nowPlaying: {
          entry: fromPbEntry(need(e.entry, 'entry')),
          startedAt: e.startedAt,
          ...(e.pausedAt !== undefined ? { pausedAt: e.pausedAt } : {}),
        },
      };
    }
    case 'cleared':
      return { ...head, type: 'cleared' };
    case 'presenceChanged':
      return {
        ...head,
        type: 'presenceChanged',
        present: [...need(event.presenceChanged, 'presenceChanged').present],
      };
    case 'joinRequested': {
      const e = need(event.joinRequested, 'joinRequested');
      return { ...head, type: 'joinRequested', memberId: e.memberId, name: e.name };
    }
    case 'joinDenied':
      return { ...head, type: 'joinDenied', memberId: need(event.joinDenied, 'joinDenied').memberId };
    default:
      throw malformed('an event without a body');
  }
}
