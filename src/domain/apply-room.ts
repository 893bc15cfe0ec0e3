// Room-wide commands: creating a room, and the host's settings, lock, clear and replacement of the
// whole queue.
//
// Invariants: every command here but createRoom needs host powers; a room is created only by a
// host, with valid settings and its passcode hashed; a settings change or replacement that would
// start playback (autoplay) does so through apply-playback.ts, like every other start; a refused
// replacement leaves the old queue whole (everything is checked before anything is built), and a
// replaced queue holds each track once and never the one playing.

import type { Decision } from './decision.ts';
import { fail, hostOf, type Handler } from './apply-common.ts';
import { startNextIfIdle, trimHistory } from './apply-playback.ts';
import { checkCreateAccess } from './access.ts';
import { passcodeAfter } from './joining.ts';
import { Members } from './members.ts';
import { compareEntries, Queue } from './order.ts';
import { refusal } from './reasons.ts';
import { RecentWindow } from './recent.ts';
import { applySettingsPatch, DEFAULT_SETTINGS, fullSettings, isErrorInfo } from './settings.ts';
import type {
  Command,
  CommandValue,
  Envelope,
  Member,
  QueueEntry,
  ReplacementEntry,
  RoomEventBody,
  RoomState,
} from './types.ts';
import { checkId, checkText, checkTrack, LIMITS, normaliseTrack } from './validate.ts';
import { Votes } from './votes.ts';
import { wireEntry } from './wire.ts';

export function createRoom(env: Envelope, command: Extract<Command, { type: 'createRoom' }>): Decision {
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

export const updateSettings: Handler<'updateSettings'> = (state, env, command) => {
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

export const setLocked: Handler<'setLocked'> = (state, env, command) => {
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

export const clear: Handler<'clear'> = (state, env) => {
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

export const replaceQueue: Handler<'replaceQueue'> = (state, env, command) => {
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
