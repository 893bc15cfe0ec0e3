// The queue: adds, removals, votes, and playback (skip, pause, resume, a device's "ended", the
// clock's "finished"). One seam of the node's operations (service.ts).

import {
  findEntry,
  indexOfEntry,
  historyItem,
  viewQueueItem,
  type Command,
  type CommandValue,
  type HistoryItem,
  type QueueItemView,
  type RoomState,
  type RoomView,
  type Track,
  type VoteValue,
  chorusError,
} from '../domain/index.ts';
import { newId } from './ids.ts';
import { AccessService } from './service-access.ts';
import type { Caller } from './service-core.ts';

/** What an advance answers: whether it moved the room, the play that ended, the room afterwards. */
export interface AdvanceAnswer {
  readonly advanced: boolean;
  readonly ended: HistoryItem | null;
  readonly room: RoomView;
}

export type AddTrackInput = { readonly trackId: string } | { readonly track: Track };

export class QueueService extends AccessService {
  async addTrack(
    caller: Caller,
    input: AddTrackInput,
    commandId?: string,
  ): Promise<{ entry: QueueItemView | null; started: boolean; version: number }> {
    const track = 'track' in input ? input.track : this.catalog.get(input.trackId);
    if (!track) {
      throw chorusError('CATALOG_TRACK_NOT_FOUND', { trackId: 'trackId' in input ? input.trackId : '' });
    }
    const command: Command = { type: 'addTrack', entryId: newId('e'), track };
    const { value, state } = await this.run(caller.roomId, caller.memberId, command, commandId);
    const added = value as Extract<CommandValue, { type: 'addTrack' }>;
    const index = queuePosition(state, added.entry.entryId);
    // Only the new entry's own view (position, ETA): a big room's whole queue would dwarf the answer.
    const entry = viewQueueItem(state, index, { now: this.now(), viewer: caller.memberId });
    return { entry, started: added.started, version: state.version };
  }

  async removeEntry(
    caller: Caller,
    entryId: string,
    commandId?: string,
  ): Promise<{ entryId: string; version: number }> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'removeEntry', entryId },
      commandId,
    );
    return { entryId, version: state.version };
  }

  async vote(
    caller: Caller,
    entryId: string,
    value: VoteValue | 0,
    commandId?: string,
  ): Promise<Extract<CommandValue, { type: 'vote' }> & { version: number; myVote: VoteValue | 0 }> {
    const out = await this.run(caller.roomId, caller.memberId, { type: 'vote', entryId, value }, commandId);
    const result = out.value as Extract<CommandValue, { type: 'vote' }>;
    // A retry answers with the position the first time saw (data written before votes carried it: none).
    // The caller's own vote is what they asked for (a retry asks the same): events never say it.
    return { ...result, position: result.position ?? null, version: out.state.version, myVote: value };
  }

  /** Host skip (or start when idle). Without expectedEntryId, skips whatever plays now. */
  async skipTrack(
    caller: Caller,
    expectedEntryId?: string | null,
    commandId?: string,
  ): Promise<AdvanceAnswer> {
    const expected =
      expectedEntryId !== undefined
        ? expectedEntryId
        : ((await this.read(caller.roomId)).nowPlaying?.entry.entryId ?? null);
    return this.advance(caller, { type: 'advance', expectedEntryId: expected, reason: 'skipped' }, commandId);
  }

  /**
   * A member's device played `entryId` to its end: the same conditional advance as the clock's, so
   * however many devices report it, the room moves on once (the others answer advanced: false).
   */
  async reportEnded(caller: Caller, entryId: string, commandId?: string): Promise<AdvanceAnswer> {
    return this.advance(caller, { type: 'advance', expectedEntryId: entryId, reason: 'ended' }, commandId);
  }

  /** An advance by a member, answered with the play that ended and the room afterwards. */
  private async advance(
    caller: Caller,
    command: Extract<Command, { type: 'advance' }>,
    commandId?: string,
  ): Promise<AdvanceAnswer> {
    const { value, state } = await this.run(caller.roomId, caller.memberId, command, commandId);
    const { advanced, ended } = value as Extract<CommandValue, { type: 'advance' }>;
    return {
      advanced,
      ended: ended ? historyItem(state, ended) : null,
      room: this.view(state, caller.memberId),
    };
  }

  /** Host: pause (true) or resume (false) the playing track. */
  async setPaused(caller: Caller, paused: boolean, commandId?: string): Promise<RoomView> {
    const command: Command = { type: paused ? 'pause' : 'resume' };
    const { state } = await this.run(caller.roomId, caller.memberId, command, commandId);
    return this.view(state, caller.memberId);
  }

  /** The playback clock's proposal: the track `entryId` has run out. A no-op if it already moved on. */
  async finish(roomId: string, entryId: string): Promise<void> {
    await this.run(roomId, null, { type: 'advance', expectedEntryId: entryId, reason: 'finished' });
  }
}

/** Where the queued entry with this id stands now (0-based), or -1: found by id, then placed by its current counts. */
function queuePosition(state: RoomState, entryId: string): number {
  const entry = findEntry(state.queue, entryId);
  return entry ? indexOfEntry(state.queue, entry) : -1;
}
