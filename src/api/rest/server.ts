// The REST API v1 (DESIGN.md section 3) over the node's RoomService. Routes parse and authenticate;
// the service does the work; errors.ts maps every failure. OpenAPI is generated from the schemas.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawServerDefault,
} from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { NodeMetrics } from '../../node/metrics.ts';
import type { RoomService } from '../../node/service.ts';
import type { Store } from '../../store/types.ts';
import type { ShareAddresses } from '../../node/addresses.ts';
import { registerAudioRoute, type AudioSource } from './audio.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { registerLegacyRoutes } from './legacy.ts';
import {
  AddTrackBody,
  CreateRoomBody,
  EndedBody,
  EntryParams,
  ErrorSchema,
  EventsQuery,
  HistoryPageSchema,
  HistoryQuery,
  IdempotencyHeaders,
  JoinBody,
  ListQuery,
  List,
  LockBody,
  QueueItemSchema,
  RoomListingSchema,
  RoomParams,
  RoomQuery,
  RoomViewSchema,
  SearchQuery,
  SettingsPatchSchema,
  SkipBody,
  TrackParams,
  TrackSchema,
  VoteBody,
} from './schemas.ts';
import { StreamBudget } from '../stream-budget.ts';
import { refuseCrossSiteLegacyWrites, refuseIllFormedText } from './guards.ts';
import { limitHttpConnections, type ConnectionLimits } from '../connection-limits.ts';
import { SseHub } from './sse.ts';

export type RestApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface Artwork {
  readonly mime: string;
  readonly data: Uint8Array;
}

export interface RestOptions {
  readonly service: RoomService;
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: NodeMetrics;
  readonly artwork: (trackId: string) => Artwork | undefined;
  /** The music folder's files, for the audio route. */
  readonly audio: AudioSource;
  /** Where guests can open this node (the page's share link and QR code). */
  readonly share?: () => ShareAddresses;
  /** The legacy API's room, or null when the legacy API is off. */
  readonly legacyRoom: string | null;
  readonly bodyLimit?: number;
  readonly sseHeartbeatMs?: number;
  /** What live streams may hold in memory, shared with gRPC Watch (default: a budget of its own). */
  readonly streams?: StreamBudget;
  /** Request timeout and connection caps (default: the node's defaults). */
  readonly limits?: RestLimits;
  /** Registers the web page (static files) on the server, when there is one. */
  readonly registerWeb?: (app: RestApp) => Promise<void>;
}

export interface RestServer {
  readonly app: RestApp;
  readonly sse: SseHub;
}

export interface RestLimits extends ConnectionLimits {
  /** A request must arrive whole (headers and body) within this. */
  readonly requestTimeoutMs: number;
  /** Proxies whose X-Forwarded-For names the client. */
  readonly trustProxy?: readonly string[];
}

const REST_LIMITS: RestLimits = {
  requestTimeoutMs: 30_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1000,
};

/** Artwork types served; anything else a file embeds is not. */
const RASTER_IMAGES = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
]);

/** How long a stopping node waits for in-flight requests before cutting connections. */
const STOP_GRACE_MS = 10_000;

/** What an advance (a skip, a device's "ended") answers. */
const AdvanceAnswerSchema = Type.Object({
  advanced: Type.Boolean({
    description: 'False when the expected entry was no longer playing (nothing changed)',
  }),
  ended: Type.Union([HistoryPageSchema.properties.records.items, Type.Null()]),
  room: RoomViewSchema,
});

const Errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

function commandId(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  return typeof key === 'string' ? key : undefined;
}

export async function buildRestServer(options: RestOptions): Promise<RestServer> {
  const { service, store, metrics } = options;
  const limits = options.limits ?? REST_LIMITS;
  const app = Fastify({
    // A client that trickles its request (a byte now and then) is cut off once the request is not
    // whole after requestTimeoutMs, and its headers must come within 10 s; Node looks every second.
    // An idle kept-alive connection closes after keepAliveTimeout (Fastify's 72 s).
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(10_000, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- it sets the app type
    loggerInstance: options.logger as FastifyBaseLogger,
    // Access logs would cost more than the requests themselves; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Reject unknown settings and the like instead of silently dropping them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    // While stopping, requests already on kept-alive connections are still served: the store is
    // closed only after the server, so they succeed instead of bouncing off a 503.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // request.ip is the client, not the proxy, only behind the proxies named in --trust-proxy.
    ...(limits.trustProxy && limits.trustProxy.length > 0 ? { trustProxy: [...limits.trustProxy] } : {}),
    // Long enough for every id the domain accepts (track ids up to 300 characters, URL-encoded).
    maxParamLength: 1000,
    // Malformed URLs and the like: answered in the one error shape, like every other failure.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();
  const sse = new SseHub({
    heartbeatMs: options.sseHeartbeatMs ?? 15_000,
    budget: options.streams ?? new StreamBudget(),
  });

  limitHttpConnections(app.server, limits);
  app.addHook('onRequest', refuseCrossSiteLegacyWrites);
  app.addHook('preValidation', refuseIllFormedText);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });
  // Graceful stop: live streams end (clients resume elsewhere); kept-alive connections close after
  // their current answer, idle ones at once, and whatever is left after a grace period is cut.
  let stopping = false;
  app.addHook('onSend', async (_request, reply, payload) => {
    if (stopping) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('preClose', async () => {
    stopping = true;
    sse.closeAll();
    const server = app.server;
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    const cut = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
    sweep.unref();
    cut.unref();
    server.once('close', () => {
      clearInterval(sweep);
      clearTimeout(cut);
    });
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Chorus REST API',
        version: '1',
        description:
          'A collaborative music queue. Writes need `Authorization: Bearer <token>` from creating or joining a room. ' +
          'Every answer carries the room `version`; pass it as `minVersion` to any node to read your writes. ' +
          'Errors: `{"error":{"code","message","details"}}`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // ---- Rooms and members ------------------------------------------------------------------------

  app.post(
    '/v1/rooms',
    {
      schema: {
        summary: 'Create a room; you become its host',
        tags: ['rooms'],
        body: CreateRoomBody,
        headers: IdempotencyHeaders,
        response: {
          201: Type.Object({ room: RoomViewSchema, memberId: Type.String(), token: Type.String() }),
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
    async (request) => ({ rooms: await service.listRooms(request.query.limit ?? 50) }),
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
          201: Type.Object({ room: RoomViewSchema, memberId: Type.String(), token: Type.String() }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const joined = await service.join(
        request.params.roomId,
        request.body.name,
        commandId(request),
        request.ip,
      );
      return reply.code(201).send(joined);
    },
  );

  // ---- Queue ------------------------------------------------------------------------------------

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
      const caller = service.authenticate(bearer(request), request.params.roomId);
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
      const caller = service.authenticate(bearer(request), request.params.roomId);
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
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const caller = service.authenticate(bearer(request), request.params.roomId);
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
      const caller = service.authenticate(bearer(request), request.params.roomId);
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
        const caller = service.authenticate(bearer(request), request.params.roomId);
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
      const caller = service.authenticate(bearer(request), request.params.roomId);
      return service.reportEnded(caller, request.body.entryId, commandId(request));
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
        body: SettingsPatchSchema,
        headers: IdempotencyHeaders,
        response: { 200: RoomViewSchema, ...Errors },
      },
    },
    async (request) => {
      const caller = service.authenticate(bearer(request), request.params.roomId);
      return service.updateSettings(caller, request.body, commandId(request));
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
      const caller = service.authenticate(bearer(request), request.params.roomId);
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
        limit: request.query.limit ?? 20,
        minVersion: request.query.minVersion,
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
      await sse.stream(service, request.params.roomId, fromHeader ?? request.query.after ?? null, reply);
    },
  );

  // ---- Catalog ----------------------------------------------------------------------------------

  app.get(
    '/v1/catalog/search',
    {
      schema: {
        summary: 'Search tracks by words in title, artist, album, genre',
        tags: ['catalog'],
        querystring: SearchQuery,
        response: { 200: Type.Object({ tracks: List(TrackSchema) }) },
      },
    },
    async (request) => ({ tracks: service.searchCatalog(request.query.q ?? '', request.query.limit ?? 20) }),
  );

  app.get(
    '/v1/catalog/tracks/:trackId',
    {
      schema: {
        summary: 'Track metadata',
        tags: ['catalog'],
        params: TrackParams,
        response: { 200: TrackSchema, ...Errors },
      },
    },
    async (request) => service.getTrack(request.params.trackId),
  );

  app.get(
    '/v1/catalog/tracks/:trackId/artwork',
    {
      schema: {
        summary: 'Embedded artwork of a track from the music folder',
        tags: ['catalog'],
        params: TrackParams,
      },
    },
    async (request, reply) => {
      const art = options.artwork(request.params.trackId);
      if (!art) return notFoundHandler(request, reply);
      // Only raster images, never sniffed, never scripted: an embedded "cover" can be any bytes
      // (an SVG with a script would run on this origin, whose storage holds room tokens).
      if (!RASTER_IMAGES.has(art.mime)) return notFoundHandler(request, reply);
      return reply
        .type(art.mime)
        .header('cache-control', 'public, max-age=86400')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(Buffer.from(art.data));
    },
  );

  registerAudioRoute(app, options.audio);

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

  // ---- Operations -------------------------------------------------------------------------------

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const health = store.health();
    return reply
      .code(health.ready ? 200 : 503)
      .send({ ready: health.ready, store: store.kind, detail: health.detail });
  });
  // The group this node belongs to (stores whose nodes form one: raft, 2pc); generic over the store.
  app.get(
    '/v1/cluster',
    { schema: { summary: 'This node’s view of its store group (raft, 2pc)', tags: ['cluster'] } },
    async () => service.clusterStatus(),
  );
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  if (options.legacyRoom !== null) registerLegacyRoutes(app, service, options.legacyRoom);
  if (options.registerWeb) await options.registerWeb(app);
  return { app, sse };
}
