// The earlier system's REST API (DESIGN.md section 3), served unchanged on one configurable room so
// that existing scripts keep working: integer ids, durations in seconds, `votes` as the net score,
// `{message, queue}` replies. Every call acts as the legacy room's host; each vote is a fresh
// anonymous voter (so up then down nets 0, as before). Failures carry the earlier `message` and
// the Chorus `error` object side by side.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { ChorusError, type RoomState } from '../../domain/index.ts';
import type { RoomService } from '../../node/service.ts';
import {
  legacyHistory,
  legacyId,
  legacyQueue,
  LegacyNotFound,
  LegacyRoom,
  LEGACY_MAX_DURATION_S,
  type LegacyView,
} from '../legacy-room.ts';
import { HTTP_STATUS, toErrorInfo } from './errors.ts';
import type { RestApp } from './server.ts';

// The rules moved to ../legacy-room.ts (shared with the legacy gRPC service); re-exported for callers.
export { ensureLegacyRoom, legacyId, LEGACY_HOST, LEGACY_SETTINGS } from '../legacy-room.ts';

export interface LegacyTrack {
  id: number;
  title: string;
  artist: string;
  duration: number;
  votes: number;
}

/** The earlier REST shape: integer ids, duration in seconds. */
function toLegacy(view: LegacyView): LegacyTrack {
  return {
    id: legacyId(view.trackId),
    title: view.title,
    artist: view.artist,
    duration: view.durationSeconds,
    votes: view.votes,
  };
}

const LegacyId = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\d{1,15}$' })], {
  description: 'Track id (an integer)',
});
const IdBody = Type.Object({ id: LegacyId });
const TrackBody = Type.Object({
  id: LegacyId,
  title: Type.String({ minLength: 1, maxLength: 300 }),
  artist: Type.String({ minLength: 1, maxLength: 300 }),
  duration: Type.Number({ exclusiveMinimum: 0, maximum: LEGACY_MAX_DURATION_S, description: 'Seconds' }),
  votes: Type.Optional(Type.Integer({ description: 'Ignored: votes are cast, not set' })),
});

export function registerLegacyRoutes(app: RestApp, service: RoomService, roomId: string): void {
  const room = new LegacyRoom(service, roomId);
  const queue = (state: RoomState): LegacyTrack[] => legacyQueue(state).map(toLegacy);

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
      const state = await room.add({ id: Number(id), title, artist, durationSeconds: duration });
      return { message: 'Track added', queue: queue(state) };
    });

    legacy.post('/remove_track', { schema: { tags, body: IdBody } }, async (request) => {
      const state = await room.remove(Number(request.body.id));
      return { message: 'Track removed', queue: queue(state) };
    });

    legacy.post(
      '/vote',
      { schema: { tags, body: IdBody, querystring: Type.Object({ up: Type.Boolean() }) } },
      async (request) => {
        const state = await room.vote(Number(request.body.id), request.query.up);
        return { message: 'Vote updated', queue: queue(state) };
      },
    );

    legacy.get('/queue', { schema: { tags } }, async () => ({ queue: queue(await room.read()) }));

    legacy.get(
      '/metadata/:id',
      { schema: { tags, params: Type.Object({ id: Type.String({ maxLength: 32 }) }) } },
      async (request) => {
        if (!/^\d{1,15}$/.test(request.params.id)) throw new LegacyNotFound();
        const found = await room.find(Number(request.params.id));
        if (!found) throw new LegacyNotFound();
        return toLegacy(found);
      },
    );

    legacy.post('/play_next', { schema: { tags } }, async () => {
      const playing = await room.playNext();
      if (!playing) throw new ChorusError('INVALID_ARGUMENT', 'Queue empty');
      return toLegacy(playing);
    });

    legacy.get('/history', { schema: { tags } }, async () => ({
      history: legacyHistory(await room.read()).map(toLegacy),
    }));

    legacy.post('/clear', { schema: { tags } }, async () => {
      await room.clear();
      return { message: 'Queue cleared', queue: [] };
    });
  });
}
