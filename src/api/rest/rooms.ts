// REST: rooms and members. Create, list, read, join, the host's settings and lock, the history,
// the live feed (SSE, sse.ts) and where guests can open this node. Routes parse and authenticate;
// the service does the work; errors.ts maps every failure.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ShareAddresses } from '../../node/addresses.ts';
import type { RoomService } from '../../node/service.ts';
import { PAGE_LIMITS } from '../page-limits.ts';
import { bearer, commandId, Errors } from './request.ts';
import {
  CreateRoomBody,
  EventsQuery,
  HistoryPageSchema,
  HistoryQuery,
  IdempotencyHeaders,
  JoinBody,
  JoinDecisionBody,
  JoinRequestParams,
  List,
  ListQuery,
  LockBody,
  HandOverBody,
  InviteSchema,
  MemberParams,
  MembersSchema,
  RecoverBody,
  RecoveryKeySchema,
  RemovedSchema,
  RemoveMemberQuery,
  RoleBody,
  RoomListingSchema,
  RoomParams,
  RoomQuery,
  RoomViewSchema,
  SettingsPatchBody,
} from './schemas.ts';
import type { SseHub } from './sse.ts';

export interface RoomRoutesOptions {
  readonly service: RoomService;
  readonly sse: SseHub;
  /** Where guests can open this node (the page's share link and QR code). */
  readonly share?: (() => ShareAddresses) | undefined;
}

export const roomRoutes: FastifyPluginAsyncTypebox<RoomRoutesOptions> = async (app, options) => {
  const { service, sse } = options;

  app.post(
    '/v1/rooms',
    {
      schema: {
        summary: 'Create a room; you become its host',
        tags: ['rooms'],
        body: CreateRoomBody,
        headers: IdempotencyHeaders,
        response: {
          201: Type.Object({
            room: RoomViewSchema,
            memberId: Type.String(),
            token: Type.String(),
            recoveryKey: Type.String({
              description: 'Shown this once: POST /v1/rooms/:id/recover with it makes you the host again',
            }),
            invite: Type.Optional(
              Type.String({ description: "A private room's invite secret, for its link (?invite=)" }),
            ),
          }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const created = await service.createRoom({
        ...request.body,
        commandId: commandId(request),
        client: request.ip,
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/v1/rooms',
    {
      schema: {
        summary: 'Public rooms, newest first',
        tags: ['rooms'],
        querystring: ListQuery,
        response: { 200: Type.Object({ rooms: List(RoomListingSchema) }) },
      },
    },
    async (request) => ({
      rooms: await service.listRooms(request.query.limit ?? PAGE_LIMITS.rooms.fallback),
    }),
  );

  app.get(
    '/v1/rooms/:roomId',
    {
      schema: {
        summary: 'The room: settings, now playing, the ordered queue (a window of it), your own votes',
        tags: ['rooms'],
        params: RoomParams,
        querystring: RoomQuery,
        response: { 200: RoomViewSchema, ...Errors },
      },
    },
    async (request) => {
      const { roomId } = request.params;
      return service.getRoom(roomId, {
        viewer: service.viewerOf(bearer(request), roomId),
        ...request.query,
      });
    },
  );

  app.get(
    '/v1/rooms/:roomId/members',
    {
      schema: {
        summary: 'Host and co-hosts: the members with their roles, and the banned',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: RoomParams,
        response: { 200: MembersSchema, ...Errors },
      },
    },
    async (request) => service.members(await service.authenticate(bearer(request), request.params.roomId)),
  );

  app.put(
    '/v1/rooms/:roomId/members/:memberId/role',
    {
      schema: {
        summary: 'Host: make a member a co-host, or a plain member again',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: MemberParams,
        body: RoleBody,
        headers: IdempotencyHeaders,
        response: { 200: RoomViewSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.setRole(caller, request.params.memberId, request.body.role, commandId(request));
    },
  );

  app.delete(
    '/v1/rooms/:roomId/members/:memberId',
    {
      schema: {
        summary:
          'Host or co-host: remove a member (?removeEntries=true: their waiting entries too; ?ban=true: for good)',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: MemberParams,
        querystring: RemoveMemberQuery,
        headers: IdempotencyHeaders,
        response: { 200: RemovedSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.removeMember(
        caller,
        request.params.memberId,
        { ban: request.query.ban ?? false, removeEntries: request.query.removeEntries ?? false },
        commandId(request),
      );
    },
  );

  app.post(
    '/v1/rooms/:roomId/hand-over',
    {
      schema: {
        summary:
          'Host: make another member the host (you stay on as a co-host); the recovery key stops working',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: RoomParams,
        body: HandOverBody,
        headers: IdempotencyHeaders,
        response: { 200: RoomViewSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.handOver(caller, request.body.memberId, commandId(request));
    },
  );

  app.post(
    '/v1/rooms/:roomId/recover',
    {
      schema: {
        summary: 'Present the recovery key: a new host token (the old host identity leaves the room)',
        tags: ['rooms'],
        params: RoomParams,
        body: RecoverBody,
        headers: IdempotencyHeaders,
        response: {
          200: Type.Object({ room: RoomViewSchema, memberId: Type.String(), token: Type.String() }),
          ...Errors,
        },
      },
    },
    async (request) =>
      service.recoverHost(request.params.roomId, request.body.recoveryKey, commandId(request)),
  );

  app.post(
    '/v1/rooms/:roomId/recovery-key',
    {
      schema: {
        summary: 'Host: a new recovery key, shown this once (the one before, if any, stops working)',
        description: 'A hand-over retires the room’s recovery key: the new host makes their own here.',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: RoomParams,
        headers: IdempotencyHeaders,
        response: { 200: RecoveryKeySchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.newRecoveryKey(caller, commandId(request));
    },
  );

  app.post(
    '/v1/rooms/:roomId/invite',
    {
      schema: {
        summary: 'Host or co-host: a new invite secret for the room link (old links stop working)',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: RoomParams,
        headers: IdempotencyHeaders,
        response: { 200: InviteSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.newInvite(caller, commandId(request));
    },
  );

  app.post(
    '/v1/rooms/:roomId/members',
    {
      schema: {
        summary: 'Join a room with a display name: returns your member id and bearer token',
        tags: ['rooms'],
        params: RoomParams,
        body: JoinBody,
        headers: IdempotencyHeaders,
        response: {
          201: Type.Object({
            room: RoomViewSchema,
            memberId: Type.String(),
            token: Type.String(),
            pending: Type.Boolean({
              description: 'The room admits by approval: the host decides; watch room.me / joinPending',
            }),
          }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const { name, invite, clientKey, passcode } = request.body;
      const joined = await service.join(request.params.roomId, name, commandId(request), request.ip, {
        invite,
        clientKey,
        passcode,
      });
      return reply.code(201).send(joined);
    },
  );

  app.post(
    '/v1/rooms/:roomId/join-requests/:memberId',
    {
      schema: {
        summary: 'Host: admit (approve: true) or turn away a join request (joinPolicy approval)',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: JoinRequestParams,
        body: JoinDecisionBody,
        headers: IdempotencyHeaders,
        response: { 200: RoomViewSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.decideJoin(caller, request.params.memberId, request.body.approve, commandId(request));
    },
  );

  app.patch(
    '/v1/rooms/:roomId/settings',
    {
      schema: {
        summary: 'Host: change settings (any subset)',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: RoomParams,
        body: SettingsPatchBody,
        headers: IdempotencyHeaders,
        response: { 200: RoomViewSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      const { passcode, ...patch } = request.body;
      return service.updateSettings(caller, patch, commandId(request), passcode);
    },
  );

  app.put(
    '/v1/rooms/:roomId/lock',
    {
      schema: {
        summary: 'Host: lock or unlock the queue (members cannot add or remove while locked)',
        tags: ['rooms'],
        security: [{ bearer: [] }],
        params: RoomParams,
        body: LockBody,
        headers: IdempotencyHeaders,
        response: { 200: RoomViewSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = await service.authenticate(bearer(request), request.params.roomId);
      return service.setLocked(caller, request.body.locked, commandId(request));
    },
  );

  app.get(
    '/v1/rooms/:roomId/history',
    {
      schema: {
        summary: 'Plays, newest first, a page at a time',
        tags: ['rooms'],
        params: RoomParams,
        querystring: HistoryQuery,
        response: { 200: HistoryPageSchema, ...Errors },
      },
    },
    async (request) =>
      service.history(request.params.roomId, {
        before: request.query.before,
        limit: request.query.limit ?? PAGE_LIMITS.history.fallback,
        minVersion: request.query.minVersion,
        who: service.visitor(bearer(request), request.params.roomId, request.query.invite),
      }),
  );

  app.get(
    '/v1/rooms/:roomId/events',
    {
      // A HEAD of a stream that never ends would never answer.
      exposeHeadRoute: false,
      schema: {
        summary: 'Live changes as Server-Sent Events (`change` per version, `reset` with the whole room)',
        description:
          'Resume with the Last-Event-ID header (browsers do it by themselves) or ?after=VERSION. ' +
          'Without either, the stream starts with a `reset`.',
        tags: ['rooms'],
        params: RoomParams,
        querystring: EventsQuery,
      },
    },
    async (request, reply) => {
      const header = request.headers['last-event-id'];
      const fromHeader = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : null;
      const { roomId } = request.params;
      // The member streaming (a token in the query, or the header): present while it is open.
      const who = service.visitor(request.query.token ?? bearer(request), roomId, request.query.invite);
      await sse.stream(service, roomId, fromHeader ?? request.query.after ?? null, reply, who);
    },
  );

  app.get(
    '/v1/share',
    {
      schema: {
        summary: 'Where guests can open this node: the public URL, or the LAN URLs of a 0.0.0.0 bind',
        description:
          'The page shares publicUrl when set; else, when it was opened on a loopback address, the first LAN URL; ' +
          'else the address it was opened at.',
        tags: ['rooms'],
        response: {
          200: Type.Object({
            publicUrl: Type.Union([Type.String(), Type.Null()]),
            lanUrls: List(Type.String()),
          }),
        },
      },
    },
    async () => options.share?.() ?? { publicUrl: null, lanUrls: [] },
  );
};
