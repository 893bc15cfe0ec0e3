// REST: the queue. Add, remove, vote, and playback (skip, pause, resume, a device's "ended"). Every
// route here is a member's write: authenticated, idempotent by Idempotency-Key.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RoomService } from '../../node/service.ts';
import { bearer, commandId, Errors } from './request.ts';
import {
  AddTrackBody,
  EndedBody,
  EntryParams,
  HistoryPageSchema,
  IdempotencyHeaders,
  QueueItemSchema,
  RoomParams,
  RoomViewSchema,
  SkipBody,
  VoteBody,
} from './schemas.ts';

export interface QueueRoutesOptions {
  readonly service: RoomService;
}

/** What an advance (a skip, a device's "ended") answers. */
const AdvanceAnswerSchema = Type.Object({
  advanced: Type.Boolean({
    description: 'False when the expected entry was no longer playing (nothing changed)',
  }),
  ended: Type.Union([HistoryPageSchema.properties.records.items, Type.Null()]),
  room: RoomViewSchema,
});

export const queueRoutes: FastifyPluginAsyncTypebox<QueueRoutesOptions> = async (app, { service }) => {
  app.post(
    '/v1/rooms/:roomId/queue',
    {
      schema: {
        summary: 'Add a track: a catalog track id, or metadata of your own',
        tags: ['queue'],
        security: [{ bearer: [] }],
        params: RoomParams,
        body: AddTrackBody,
        headers: IdempotencyHeaders,
        response: {
          201: Type.Object({
            entry: Type.Union([QueueItemSchema, Type.Null()], {
              description: 'Null when it started playing at once',
            }),
            started: Type.Boolean({ description: 'True when the room was idle and it started playing' }),
            version: Type.Integer(),
          }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return reply.code(201).send(await service.addTrack(caller, request.body, commandId(request)));
    },
  );

  app.delete(
    '/v1/rooms/:roomId/queue/:entryId',
    {
      schema: {
        summary: 'Remove an entry (your own, or any as the host)',
        tags: ['queue'],
        security: [{ bearer: [] }],
        params: EntryParams,
        headers: IdempotencyHeaders,
        response: { 200: Type.Object({ entryId: Type.String(), version: Type.Integer() }), ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.removeEntry(caller, request.params.entryId, commandId(request));
    },
  );

  app.put(
    '/v1/rooms/:roomId/queue/:entryId/vote',
    {
      schema: {
        summary: 'Vote: 1 up, -1 down, 0 withdraw. One vote per member per entry',
        tags: ['queue'],
        security: [{ bearer: [] }],
        params: EntryParams,
        body: VoteBody,
        headers: IdempotencyHeaders,
        response: {
          200: Type.Object({
            entryId: Type.String(),
            ups: Type.Integer(),
            downs: Type.Integer(),
            score: Type.Integer(),
            effect: Type.Union([Type.Literal('none'), Type.Literal('votedOff'), Type.Literal('skipped')]),
            position: Type.Union([Type.Integer(), Type.Null()], {
              description: 'Place in the queue after the vote',
            }),
            version: Type.Integer(),
            myVote: Type.Union([Type.Literal(1), Type.Literal(-1), Type.Literal(0)], {
              description: 'Your own vote on the entry now (events never say who voted which way)',
            }),
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      const { type: _type, ...result } = await service.vote(
        caller,
        request.params.entryId,
        request.body.value,
        commandId(request),
      );
      return result;
    },
  );

  app.post(
    '/v1/rooms/:roomId/advance',
    {
      // The body is optional (`curl -X POST …/advance` skips what plays now).
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        summary: 'Host: skip the playing track (or start playback when idle)',
        tags: ['queue'],
        security: [{ bearer: [] }],
        params: RoomParams,
        body: SkipBody,
        headers: IdempotencyHeaders,
        response: { 200: AdvanceAnswerSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      const { advanced, ended, room } = await service.skipTrack(
        caller,
        request.body?.expectedEntryId,
        commandId(request),
      );
      return { advanced, ended, room };
    },
  );

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    app.post(
      `/v1/rooms/:roomId/${action}`,
      {
        schema: {
          summary: paused
            ? 'Host: pause the playing track (its timeline stops; players follow)'
            : 'Host: resume the paused track from where it stopped',
          tags: ['queue'],
          security: [{ bearer: [] }],
          params: RoomParams,
          headers: IdempotencyHeaders,
          response: { 200: RoomViewSchema, ...Errors },
        },
      },
      async (request) => {
        const caller = await service.authenticate(bearer(request), request.params.roomId);
        return service.setPaused(caller, paused, commandId(request));
      },
    );
  }

  app.post(
    '/v1/rooms/:roomId/ended',
    {
      schema: {
        summary: 'A playing device: this entry played to its end (the room advances once, whoever reports)',
        description:
          'Accepted from any member up to 5 s before the timeline says the track ends; `advanced` is false ' +
          'when another report (or the clock) already moved the room on.',
        tags: ['queue'],
        security: [{ bearer: [] }],
        params: RoomParams,
        body: EndedBody,
        headers: IdempotencyHeaders,
        response: { 200: AdvanceAnswerSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.reportEnded(caller, request.body.entryId, commandId(request));
    },
  );
};
