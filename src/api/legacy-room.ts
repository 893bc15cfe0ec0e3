// The earlier system's queue (docs/architecture.md section 3) as one Chorus room, shared by the legacy REST
// routes and the legacy gRPC service so both behave the same on the same room. Every call acts as
// the room's host; each vote is a fresh anonymous voter (so up then down nets 0, as before), kept as
// a count. As the earlier system did, an id that is not queued is no error for remove and vote (the
// queue comes back unchanged), and adding a track already queued answers the queue unchanged.
// A duration of 0 is a track of unknown length. How ids and failures look on the wire is each
// transport's business; the rules live here.

import {
  ChorusError,
  scoreOf,
  type Command,
  type CommandValue,
  type RoomState,
  type SettingsPatch,
  type Track,
  chorusError,
} from '../domain/index.ts';
import { newId } from '../node/ids.ts';
import type { RoomService } from '../node/service.ts';

/** The legacy room's host: every legacy call acts as this member. */
export const LEGACY_HOST = 'legacy-host';

/** The earlier system's limits: one anonymous caller adds hundreds of thousands of tracks. */
export const LEGACY_SETTINGS: SettingsPatch = {
  public: false,
  autoplay: false,
  maxQueueLength: 500_000,
  maxEntriesPerMember: 0,
  maxTrackDurationMs: 24 * 3_600_000,
  voteOffThreshold: 0,
  skipVotes: 0,
  historyRetention: 100_000,
};

/** The longest legacy track, in seconds (the earlier API's unit); 0 is a track of unknown length. */
export const LEGACY_MAX_DURATION_S = 86_400;

const NUMERIC_ID = /^\d{1,15}$/;

/** Creates the legacy room once; every node may call this at start (the first one wins). */
export async function ensureLegacyRoom(service: RoomService, roomId: string): Promise<void> {
  try {
    await service.run(
      roomId,
      LEGACY_HOST,
      { type: 'createRoom', name: 'Legacy queue', hostName: 'legacy', settings: LEGACY_SETTINGS },
      `legacy-room-create`,
    );
  } catch (err) {
    if (!(err instanceof ChorusError && err.code === 'ALREADY_EXISTS')) throw err;
  }
}

/** Legacy ids are integers; a track added through v1 with another id gets a stable 31-bit number. */
export function legacyId(trackId: string): number {
  if (NUMERIC_ID.test(trackId)) return Number(trackId);
  let h = 2166136261;
  for (let i = 0; i < trackId.length; i++) h = Math.imul(h ^ trackId.charCodeAt(i), 16777619);
  return h >>> 1;
}

/** The track id a legacy id is stored under: decimal ids canonical ("007" is track 7). */
export function storedTrackId(id: string | number): string {
  const text = String(id);
  return NUMERIC_ID.test(text) ? String(Number(text)) : text;
}

/** True when `track` is the one a legacy caller means by `id` (a number, or an id given as text). */
export function isLegacyTrack(track: Track, id: string | number): boolean {
  const text = String(id);
  return NUMERIC_ID.test(text) ? legacyId(track.trackId) === Number(text) : track.trackId === text;
}

/** The earlier system's fields of a queued, playing or played track. */
export interface LegacyView {
  readonly trackId: string;
  readonly title: string;
  readonly artist: string;
  /** Whole seconds. */
  readonly durationSeconds: number;
  /** The net score. */
  readonly votes: number;
}

export function legacyView(entry: { track: Track; ups: number; downs: number }): LegacyView {
  return {
    trackId: entry.track.trackId,
    title: entry.track.title,
    artist: entry.track.artist,
    durationSeconds: Math.round(entry.track.durationMs / 1000),
    votes: scoreOf(entry),
  };
}

/** The legacy "Track not found". */
export class LegacyNotFound extends ChorusError {
  constructor() {
    super('NOT_FOUND', 'Track not found');
  }
}

export interface LegacyTrackInput {
  readonly id: string | number;
  readonly title: string;
  readonly artist: string;
  /** 0: unknown length. */
  readonly durationSeconds: number;
  /** The net score; only /sync sets it (add_track ignores the field, as the earlier system did). */
  readonly votes?: number;
}

function toTrack(input: LegacyTrackInput): Track {
  return {
    trackId: storedTrackId(input.id),
    title: input.title,
    artist: input.artist,
    album: '',
    durationMs: Math.round(input.durationSeconds * 1000),
  };
}

/** The legacy operations on one room. Each answers the room as it is after the call. */
export class LegacyRoom {
  readonly roomId: string;
  private readonly service: RoomService;

  constructor(service: RoomService, roomId: string) {
    this.service = service;
    this.roomId = roomId;
  }

  read(): Promise<RoomState> {
    return this.service.read(this.roomId);
  }

  /** Queues the track; one already queued or playing leaves the queue as it is (no error). */
  async add(input: LegacyTrackInput): Promise<RoomState> {
    try {
      return await this.submit({ type: 'addTrack', entryId: newId('e'), track: toTrack(input) });
    } catch (err) {
      if (err instanceof ChorusError && err.code === 'ALREADY_EXISTS') return this.read();
      throw err;
    }
  }

  /** Removes a queued track; an id not queued leaves the queue as it is. */
  async remove(id: string | number): Promise<RoomState> {
    return this.onQueued(id, (target) => ({ type: 'removeEntry', ...target }));
  }

  /** One more vote by a fresh anonymous voter; an id not queued leaves the queue as it is. */
  async vote(id: string | number, up: boolean): Promise<RoomState> {
    return this.onQueued(id, (target) => ({ type: 'anonymousVote', ...target, value: up ? 1 : -1 }));
  }

  /**
   * Replaces the queue with these tracks in one command, so every node sees the old queue or the
   * new one, never a mix. A track listed twice (or the one playing) is queued once.
   */
  async sync(tracks: readonly LegacyTrackInput[]): Promise<RoomState> {
    const entries = tracks.map((t) => ({
      entryId: newId('e'),
      track: toTrack(t),
      ...(t.votes ? { votes: t.votes } : {}),
    }));
    return this.submit({ type: 'replaceQueue', entries });
  }

  /** A queued, playing or played track with this id, or null. */
  async find(id: string | number): Promise<LegacyView | null> {
    const state = await this.read();
    const all = [...state.queue, ...(state.nowPlaying ? [state.nowPlaying.entry] : []), ...state.history];
    const found = all.find((e) => isLegacyTrack(e.track, id));
    return found ? legacyView(found) : null;
  }

  /**
   * Moves the head of the queue to playing and answers it; null when the queue is empty. Both are
   * decided by the state machine in log order (this node may trail a write made through another).
   */
  async playNext(): Promise<LegacyView | null> {
    // A conditional advance: if another caller moved first, look again (now caught up) and retry.
    for (let attempt = 0; attempt < 20; attempt++) {
      const expectedEntryId = (await this.read()).nowPlaying?.entry.entryId ?? null;
      const out = await this.service.run(this.roomId, LEGACY_HOST, {
        type: 'advance',
        expectedEntryId,
        reason: 'skipped',
        requireNext: true,
      });
      const value = out.value as Extract<CommandValue, { type: 'advance' }>;
      if (value.advanced && value.nowPlaying) return legacyView(value.nowPlaying.entry);
      if (out.state.queue.length === 0) return null;
    }
    throw chorusError('QUEUE_KEPT_CHANGING');
  }

  async clear(): Promise<RoomState> {
    return this.submit({ type: 'clear' });
  }

  private async submit(command: Command): Promise<RoomState> {
    return (await this.service.run(this.roomId, LEGACY_HOST, command)).state;
  }

  /**
   * Runs a command on the queued entry of this track, named by its track id so that the state
   * machine finds it in log order: this node may not have applied yet a track just added through
   * another node. An id not queued then (or one that left meanwhile: removed, NOT_FOUND, or played,
   * FAILED_PRECONDITION for a remove) answers the queue unchanged, as the earlier system did.
   */
  private async onQueued(
    id: string | number,
    command: (target: { entryId: string; trackId: string }) => Command,
  ): Promise<RoomState> {
    // A v1 track shown under its legacy number is known only to a node that holds it; a legacy
    // track's id is its number.
    const known = (await this.read()).queue.find((e) => isLegacyTrack(e.track, id));
    const target = known
      ? { entryId: known.entryId, trackId: known.track.trackId }
      : { entryId: 'legacy-by-track', trackId: storedTrackId(id) };
    try {
      return await this.submit(command(target));
    } catch (err) {
      if (err instanceof ChorusError && (err.code === 'NOT_FOUND' || err.code === 'FAILED_PRECONDITION')) {
        return this.read();
      }
      throw err;
    }
  }
}

/** The queue in play order. */
export function legacyQueue(state: RoomState): LegacyView[] {
  return state.queue.map(legacyView);
}

/** Played tracks oldest first, then the one playing now: what play_next moved out of the queue. */
export function legacyHistory(state: RoomState): LegacyView[] {
  const played = state.history.map(legacyView);
  if (state.nowPlaying) played.push(legacyView(state.nowPlaying.entry));
  return played;
}
