// The REST API v1 (docs/architecture.md section 3) over the node's RoomService: the assembly only. It builds
// the Fastify app (limits, hooks, the one error handler, graceful stop, OpenAPI) and registers one
// plugin per feature: rooms.ts, queue.ts, catalog.ts, operations.ts, legacy.ts and the web page.
// Routes parse and authenticate; the service does the work; errors.ts maps every failure.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawServerDefault,
} from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { NodeMetrics } from '../../node/metrics.ts';
import type { RoomService } from '../../node/service.ts';
import type { Store } from '../../store/types.ts';
import type { ShareAddresses } from '../../node/addresses.ts';
import type { AudioSource } from './audio.ts';
import type { Artwork } from '../../catalog/catalog.ts';
import { catalogRoutes } from './catalog.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { registerLegacyRoutes } from './legacy.ts';
import { operationsRoutes } from './operations.ts';
import { queueRoutes } from './queue.ts';
import { roomRoutes } from './rooms.ts';
import { StreamBudget } from '../stream-budget.ts';
import { refuseIllFormedText } from './guards.ts';
import { leanSerializerCompiler } from './serializer.ts';
import { LabelCache } from '../label-cache.ts';
import { limitHttpConnections, type ConnectionLimits } from '../connection-limits.ts';
import { SseHub } from './sse.ts';

export type RestApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

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

/** How long a stopping node waits for in-flight requests before cutting connections. */
const STOP_GRACE_MS = 10_000;

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
    // A router option: given at the top level, Fastify 5 warns FSTDEP022 at every start.
    routerOptions: { maxParamLength: 1000 },
    // Malformed URLs and the like: answered in the one error shape, like every other failure.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();
  const sse = new SseHub({
    heartbeatMs: options.sseHeartbeatMs ?? 15_000,
    budget: options.streams ?? new StreamBudget(),
  });

  limitHttpConnections(app.server, limits);
  // Answers are written by serialisers compiled once per route (serializer.ts).
  app.setSerializerCompiler(leanSerializerCompiler);
  // Hooks run on every request: callback style, so that none costs a promise of its own.
  app.addHook('preValidation', refuseIllFormedText);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // The request histogram's child per (route, method, status), one cache per label (label-cache.ts).
  type DurationChild = ReturnType<typeof metrics.httpDuration.labels>;
  type ByStatus = LabelCache<DurationChild, number>;
  const durations = new LabelCache<LabelCache<ByStatus>>();
  const newByMethod = (): LabelCache<ByStatus> => new LabelCache<ByStatus>();
  const newByStatus = (): ByStatus => new LabelCache<DurationChild, number>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const { method } = request;
    const status = reply.statusCode;
    durations
      .get(route, newByMethod)
      .get(method, newByStatus)
      .get(status, () => metrics.httpDuration.labels(method, route, String(status)))
      .observe(reply.elapsedTime / 1000);
    done();
  });
  // Graceful stop: live streams end (clients resume elsewhere); kept-alive connections close after
  // their current answer, idle ones at once, and whatever is left after a grace period is cut.
  let stopping = false;
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (stopping) void reply.header('connection', 'close');
    done(null, payload);
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

  // One plugin per feature. Each gets only what it uses.
  await app.register(roomRoutes, { service, sse, share: options.share });
  await app.register(queueRoutes, { service });
  await app.register(catalogRoutes, { service, artwork: options.artwork, audio: options.audio });
  await app.register(operationsRoutes, { service, store, metrics });

  if (options.legacyRoom !== null) registerLegacyRoutes(app, service, options.legacyRoom);
  if (options.registerWeb) await options.registerWeb(app);
  return { app, sse };
}
