// The earlier system's REST API (DESIGN.md section 3), served unchanged on one configurable room so
// that existing scripts keep working: integer ids, durations in seconds, `votes` as the net score,
// `{message, queue}` replies. Every call acts as the legacy room's host; each vote is a fresh
// anonymous voter (so up then down nets 0, as before). Failures carry the earlier `message` and
// the Chorus `error` object side by side.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import {
  ChorusError,
  scoreOf,
  type QueueEntry,
  type RoomState,
  type SettingsPatch,
  type Track,
} from '../../domain/index.ts';
import { newId } from '../../node/ids.ts';
import type { RoomService } from '../../node/service.ts';
import { HTTP_STATUS, toErrorInfo } from './errors.ts';
import type { RestApp } from './server.ts';

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

export interface LegacyTrack {
  id: number;
  title: string;
  artist: string;
  duration: number;
  votes: number;
}

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
  if (/^\d{1,15}$/.test(trackId)) return Number(trackId);
  let h = 2166136261;
  for (let i = 0; i < trackId.length; i++) h = Math.imul(h ^ trackId.charCodeAt(i), 16777619);
  return h >>> 1;
}

function toLegacy(entry: { track: Track; ups: number; downs: number }): LegacyTrack {
  return {
    id: legacyId(entry.track.trackId),
    title: entry.track.title,
    artist: entry.track.artist,
    duration: Math.round(entry.track.durationMs / 1000),
    votes: scoreOf(entry),
  };
}

function legacyQueue(state: RoomState): LegacyTrack[] {
  return state.queue.map(toLegacy);
}

/** Played tracks oldest first, then the one playing now: what play_next moved out of the queue. */
function legacyHistory(state: RoomState): LegacyTrack[] {
  const played = state.history.map(toLegacy);
  if (state.nowPlaying) played.push(toLegacy(state.nowPlaying.entry));
  return played;
}

function findQueued(state: RoomState, id: number): QueueEntry | undefined {
  return state.queue.find((e) => legacyId(e.track.trackId) === id);
}

class LegacyNotFound extends ChorusError {
  constructor() {
    super('NOT_FOUND', 'Track not found');
  }
}

const LegacyId = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\d{1,15}$' })], {
  description: 'Track id (an integer)',
});
const IdBody = Type.Object({ id: LegacyId });
const TrackBody = Type.Object({
  id: LegacyId,
  title: Type.String({ minLength: 1, maxLength: 300 }),
  artist: Type.String({ minLength: 1, maxLength: 300 }),
  duration: Type.Number({ exclusiveMinimum: 0, maximum: 86_400, description: 'Seconds' }),
  votes: Type.Optional(Type.Integer({ description: 'Ignored: votes are cast, not set' })),
});

export function registerLegacyRoutes(app: RestApp, service: RoomService, roomId: string): void {
  const host = { roomId, memberId: LEGACY_HOST };
  const read = () => service.read(roomId);

  void app.register(async (plugin) => {
    const legacy = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // The earlier clients read `message`; keep the Chorus error beside it for new ones.
    legacy.setErrorHandler((err, _request, reply: FastifyReply) => {
      const info = toErrorInfo(err) ?? { code: 'INTERNAL' as const, message: 'internal error' };
      if (info.code === 'INTERNAL') legacy.log.error({ err }, 'legacy request failed');
      void reply.code(HTTP_STATUS[info.code]).send({ message: info.message, error: info });
    });
    const tags = ['legacy'];

    legacy.post('/add_track', { schema: { tags, body: TrackBody } }, async (request) => {
      const { id, title, artist, duration } = request.body;
      const track = {
        trackId: String(Number(id)),
        title,
        artist,
        album: '',
        durationMs: Math.round(duration * 1000),
      };
      const command = { type: 'addTrack', entryId: newId('e'), track } as const;
      const { state } = await service.run(roomId, LEGACY_HOST, command);
      return { message: 'Track added', queue: legacyQueue(state) };
    });

    legacy.post('/remove_track', { schema: { tags, body: IdBody } }, async (request) => {
      const entry = findQueued(await read(), Number(request.body.id));
      if (!entry) throw new LegacyNotFound();
      const { state } = await service.run(roomId, LEGACY_HOST, {
        type: 'removeEntry',
        entryId: entry.entryId,
      });
      return { message: 'Track removed', queue: legacyQueue(state) };
    });

    legacy.post(
      '/vote',
      { schema: { tags, body: IdBody, querystring: Type.Object({ up: Type.Boolean() }) } },
      async (request) => {
        const entry = findQueued(await read(), Number(request.body.id));
        if (!entry) throw new LegacyNotFound();
        const value = request.query.up ? 1 : -1;
        const { state } = await service.run(roomId, LEGACY_HOST, {
          type: 'anonymousVote',
          entryId: entry.entryId,
          value,
        });
        return { message: 'Vote updated', queue: legacyQueue(state) };
      },
    );

    legacy.get('/queue', { schema: { tags } }, async () => ({ queue: legacyQueue(await read()) }));

    legacy.get(
      '/metadata/:id',
      { schema: { tags, params: Type.Object({ id: Type.String({ maxLength: 32 }) }) } },
      async (request) => {
        if (!/^\d{1,15}$/.test(request.params.id)) throw new LegacyNotFound();
        const id = Number(request.params.id);
        const state = await read();
        const all = [...state.queue, ...(state.nowPlaying ? [state.nowPlaying.entry] : []), ...state.history];
        const found = all.find((e) => legacyId(e.track.trackId) === id);
        if (!found) throw new LegacyNotFound();
        return toLegacy(found);
      },
    );

    legacy.post('/play_next', { schema: { tags } }, async () => {
      // A conditional advance: if another caller moved first, look again and move the new head.
      for (let attempt = 0; attempt < 20; attempt++) {
        const state = await read();
        if (state.queue.length === 0) throw new ChorusError('INVALID_ARGUMENT', 'Queue empty');
        const { advanced, room } = await service.skip(host, state.nowPlaying?.entry.entryId ?? null);
        if (advanced && room.nowPlaying) return toLegacy(room.nowPlaying);
      }
      throw new ChorusError('ABORTED', 'the queue kept changing; try again');
    });

    legacy.get('/history', { schema: { tags } }, async () => ({ history: legacyHistory(await read()) }));

    legacy.post('/clear', { schema: { tags } }, async () => {
      await service.run(roomId, LEGACY_HOST, { type: 'clear' });
      return { message: 'Queue cleared', queue: [] };
    });
  });
}
