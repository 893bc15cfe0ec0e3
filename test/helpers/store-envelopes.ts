// Small builders for command envelopes, shared by the store contract, the memory store tests and
// the crash child process.

import { randomUUID } from 'node:crypto';
import type { Command, Envelope, SettingsPatch, Track } from '../../src/domain/index.ts';

let clock = 1_700_000_000_000;

/** A strictly increasing fake clock, so createdAt orders rooms the way they were created. */
export function tick(): number {
  clock += 1;
  return clock;
}

export function roomId(prefix = 'room'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function envelope(room: string, actor: string | null, command: Command, at = tick()): Envelope {
  return { commandId: randomUUID(), roomId: room, actor, at, command };
}

export function track(id: string, durationMs = 180_000): Track {
  return { trackId: id, title: `Title ${id}`, artist: `Artist ${id}`, album: 'Album', durationMs };
}

/** Settings that let any amount of load through: no caps, no vote-off, no autoplay. */
export const OPEN_SETTINGS: SettingsPatch = {
  maxQueueLength: 1_000_000,
  maxEntriesPerMember: 0,
  voteOffThreshold: 0,
  skipVotes: 0,
  autoplay: false,
};

export const cmd = {
  createRoom: (room: string, host: string, settings?: SettingsPatch): Envelope =>
    envelope(room, host, {
      type: 'createRoom',
      name: `Room ${room}`,
      hostName: `Host ${host}`,
      ...(settings ? { settings } : {}),
    }),
  join: (room: string, member: string): Envelope =>
    envelope(room, member, { type: 'join', memberId: member, name: `Member ${member}` }),
  addTrack: (room: string, member: string, entryId: string, trackId = entryId): Envelope =>
    envelope(room, member, { type: 'addTrack', entryId, track: track(trackId) }),
  vote: (room: string, member: string, entryId: string, value: 1 | -1 | 0): Envelope =>
    envelope(room, member, { type: 'vote', entryId, value }),
  removeEntry: (room: string, member: string, entryId: string): Envelope =>
    envelope(room, member, { type: 'removeEntry', entryId }),
  setLocked: (room: string, host: string, locked: boolean): Envelope =>
    envelope(room, host, { type: 'setLocked', locked }),
};
