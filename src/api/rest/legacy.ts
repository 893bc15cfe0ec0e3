// The earlier system's REST API (docs/architecture.md section 3), served answer for answer on one configurable
// room so that existing scripts keep working (issue 13 has the table): integer ids, durations in
// seconds (0: unknown length), `votes` as the net score, bare JSON arrays for /queue and /history,
// `{message, queue}` for writes, and failures as FastAPI answered them: 422 `{"detail":[{loc, msg,
// type}]}` for a bad request, `{"detail": "Track not found"}` (404) and `{"detail": "Queue empty"}`
// (400), each with the Chorus `error` object beside it. The rules are in ../legacy-room.ts (shared
// with the legacy gRPC service); request parsing is in ./legacy-validate.ts.

import type { FastifyError, FastifyReply } from 'fastify';
import { chorusError, refusal, wireError, type RoomState } from '../../domain/index.ts';
import type { RoomService } from '../../node/service.ts';
import {
  legacyHistory,
  legacyId,
  legacyQueue,
  LegacyNotFound,
  LegacyRoom,
  type LegacyView,
} from '../legacy-room.ts';
import { HTTP_STATUS, toErrorInfo } from './errors.ts';
import { refuseCrossSiteLegacyWrites } from './guards.ts';
import {
  LegacyValidationError,
  parseIdBody,
  parsePathId,
  parseTrackBody,
  parseTrackList,
  parseHistoryPage,
  parseUp,
  type LegacyFieldError,
} from './legacy-validate.ts';
import type { RestApp } from './server.ts';

// node.ts imports these through here.
export { ensureLegacyRoom, legacyId, LEGACY_HOST, LEGACY_SETTINGS } from '../legacy-room.ts';

export interface LegacyTrack {
  id: number;
  title: string;
  artist: string;
  duration: number;
  votes: number;
}

/** The earlier REST shape: integer ids, duration in seconds. */
export function toLegacy(view: LegacyView): LegacyTrack {
  return {
    id: legacyId(view.trackId),
    title: view.title,
    artist: view.artist,
    duration: view.durationSeconds,
    votes: view.votes,
  };
}

/** A /sync may carry a whole queue: room for about 50,000 tracks, where other bodies get 64 KiB. */
const SYNC_BODY_LIMIT = 8 * 1024 * 1024;

/** Fastify's own body failures, as FastAPI reported them (it read every such body as 422). */
function bodyFailure(err: FastifyError): LegacyFieldError[] | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return [{ loc: ['body', 0], msg: 'Expecting value', type: 'value_error.jsondecode' }];
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return [{ loc: ['body'], msg: 'field required', type: 'value_error.missing' }];
  }
  return err instanceof SyntaxError
    ? [{ loc: ['body', 0], msg: 'Expecting value', type: 'value_error.jsondecode' }]
    : null;
}

export function registerLegacyRoutes(app: RestApp, service: RoomService, roomId: string): void {
  const room = new LegacyRoom(service, roomId);
  const queue = (state: RoomState): LegacyTrack[] => legacyQueue(state).map(toLegacy);

  void app.register(async (legacy) => {
    // Only the legacy routes take writes without a token: only they need the cross-site check.
    legacy.addHook('onRequest', refuseCrossSiteLegacyWrites);
    legacy.setErrorHandler((err, _request, reply: FastifyReply) => {
      const detail = err instanceof LegacyValidationError ? err.detail : bodyFailure(err as FastifyError);
      if (detail) {
        const error = toErrorInfo(err) ?? refusal('REQUEST_INVALID');
        void reply.code(422).send({ detail, error: { ...error, details: { detail } } });
        return;
      }
      const info = toErrorInfo(err) ?? refusal('INTERNAL_UNLOGGED');
      if (info.code === 'INTERNAL') legacy.log.error({ err }, 'legacy request failed');
      if (info.code === 'UNAVAILABLE') void reply.header('retry-after', '1');
      void reply.code(HTTP_STATUS[info.code]).send({ detail: info.message, error: wireError(info) });
    });
    const tags = ['legacy'];

    legacy.post(
      '/add_track',
      { schema: { tags, summary: 'Add a track: {id, title, artist, duration?}' } },
      async (request) => {
        const state = await room.add(parseTrackBody(request.body));
        return { message: 'Track added', queue: queue(state) };
      },
    );

    legacy.post(
      '/remove_track',
      { schema: { tags, summary: 'Remove a queued track: {id}' } },
      async (request) => {
        const state = await room.remove(parseIdBody(request.body));
        return { message: 'Track removed', queue: queue(state) };
      },
    );

    legacy.post(
      '/vote',
      { schema: { tags, summary: 'One anonymous vote: ?up=true|false, {id}' } },
      async (request) => {
        const up = parseUp((request.query as Record<string, unknown>)['up']);
        const state = await room.vote(parseIdBody(request.body), up);
        return { queue: queue(state) };
      },
    );

    legacy.get('/queue', { schema: { tags, summary: 'The queue in play order (a JSON array)' } }, async () =>
      queue(await room.read()),
    );

    legacy.get(
      '/metadata/:id',
      { schema: { tags, summary: 'A queued, playing or played track' } },
      async (request) => {
        const found = await room.find(parsePathId((request.params as { id: string }).id));
        if (!found) throw new LegacyNotFound();
        return toLegacy(found);
      },
    );

    legacy.post('/play_next', { schema: { tags, summary: 'Play the head of the queue' } }, async () => {
      const playing = await room.playNext();
      if (!playing) throw chorusError('LEGACY_QUEUE_EMPTY');
      return { now_playing: toLegacy(playing) };
    });

    legacy.get(
      '/history',
      {
        schema: {
          tags,
          summary: 'Played tracks, oldest first (a JSON array); ?offset=&limit= for one page of it',
        },
      },
      async (request, reply) => {
        const { offset, limit } = parseHistoryPage(request.query);
        const played = legacyHistory(await room.read());
        // The whole length, so a client can page from the newest end (offset = total - limit).
        void reply.header('x-total-count', String(played.length));
        return played.slice(offset, limit === null ? undefined : offset + limit).map(toLegacy);
      },
    );

    legacy.post(
      '/sync',
      { bodyLimit: SYNC_BODY_LIMIT, schema: { tags, summary: 'Replace the queue: [track, …], in one step' } },
      async (request) => {
        const state = await room.sync(parseTrackList(request.body));
        return { message: 'Queue synchronized', queue: queue(state) };
      },
    );

    legacy.post('/clear', { schema: { tags, summary: 'Empty the queue and the history' } }, async () => {
      await room.clear();
      return { message: 'Queue and history cleared' };
    });
  });
}
