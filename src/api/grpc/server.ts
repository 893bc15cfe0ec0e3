// The gRPC server of a node (docs/architecture.md section 3), on its own port beside REST: the chorus.v1
// services, the legacy queue.QueueService (when the legacy API is on), grpc.health.v1 health and
// server reflection, with keepalive and message size limits. Stops gracefully: health turns
// NOT_SERVING, watchers are told to resume elsewhere, in-flight calls finish.

import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { createServer } from 'node:net';
import { ReflectionService } from '@grpc/reflection';
import type { RoomService } from '../../node/service.ts';
import type { Store } from '../../store/types.ts';
import { tolerant } from './call.ts';
import { chorusServices } from './chorus-services.ts';
import type { ErrorLogger } from './errors.ts';
import { HealthService } from './health.ts';
import { legacyQueueService } from './legacy-service.ts';
import { observed, type GrpcMetrics } from './observe.ts';
import { loadProtos } from './protos.ts';
import { encodeOnce, WatchHub, type WatchOptions } from './watch.ts';
import { StreamBudget } from '../stream-budget.ts';
import { admitConnections } from '../connection-limits.ts';

export interface GrpcLimits {
  /** Largest request accepted; bigger ones end RESOURCE_EXHAUSTED. Requests are small (a track). */
  readonly maxReceiveBytes: number;
  /** Largest answer; the legacy GetQueue sends a whole queue, which may be long. */
  readonly maxSendBytes: number;
  /** Ping an idle connection this often, and drop it when no answer comes within the timeout. */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Calls at once on one connection. */
  readonly maxConcurrentStreams: number;
  /** How long a graceful stop waits for in-flight calls before cutting them. */
  readonly shutdownGraceMs: number;
  /** Watch heartbeats (keep proxies from closing idle streams) and the health poll. */
  readonly heartbeatMs: number;
  readonly healthPollMs: number;
  /** Connections at once, in all and from one client address (over the latter: closed at once). */
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
}

export const GRPC_LIMITS: GrpcLimits = {
  maxReceiveBytes: 1024 * 1024,
  maxSendBytes: 64 * 1024 * 1024,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  maxConcurrentStreams: 1000,
  shutdownGraceMs: 5_000,
  heartbeatMs: 15_000,
  healthPollMs: 1_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1000,
};

export interface GrpcServerOptions {
  readonly service: RoomService;
  readonly store: Store;
  readonly logger: ErrorLogger;
  readonly metrics: GrpcMetrics;
  /** The legacy API's room, or null when the legacy API is off. */
  readonly legacyRoom: string | null;
  readonly host: string;
  readonly port: number;
  readonly limits?: Partial<GrpcLimits>;
  /** What live streams may hold in memory, shared with SSE (default: a budget of its own). */
  readonly streams?: StreamBudget;
}

export interface GrpcServer {
  /** HOST:PORT as clients dial it (IPv6 hosts in brackets). */
  readonly address: string;
  readonly port: number;
  readonly watches: WatchHub;
  /** Graceful stop; safe to call more than once. */
  close(): Promise<void>;
}

function serviceDefinition(definition: PackageDefinition, name: string): ServiceDefinition {
  const found = definition[name];
  // Messages and enums carry a `format`; services are maps of methods.
  if (!found || 'format' in found) throw new Error(`proto/ defines no service ${name}`);
  return encodeOnce(tolerant(found));
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const limits = { ...GRPC_LIMITS, ...options.limits };
  const { service, logger } = options;
  const definition = loadProtos();
  const server = new Server({
    'grpc.max_receive_message_length': limits.maxReceiveBytes,
    'grpc.max_send_message_length': limits.maxSendBytes,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
  });

  // Served as made here: Watch writes its frames with this very definition's encoder (encodeOnce).
  const roomService = serviceDefinition(definition, 'chorus.v1.RoomService');
  const watches = new WatchHub({
    heartbeatMs: limits.heartbeatMs,
    maxBufferedMessages: 1000,
    budget: options.streams ?? new StreamBudget(),
    logger,
    serialize: roomService['Watch']!.responseSerialize as WatchOptions['serialize'],
  });
  const chorus = chorusServices(service, watches, logger);
  const served: string[] = [];
  const add = (name: string, handlers: object, methods = serviceDefinition(definition, name)): void => {
    // grpc-js keys implementations by method name; the generated Handlers types guarantee them.
    server.addService(methods, observed(methods, handlers as UntypedServiceImplementation, options.metrics));
    served.push(name);
  };
  add('chorus.v1.RoomService', chorus.RoomService, roomService);
  add('chorus.v1.SessionService', chorus.SessionService);
  add('chorus.v1.QueueService', chorus.QueueService);
  add('chorus.v1.CatalogService', chorus.CatalogService);
  add('chorus.v1.ClusterService', chorus.ClusterService);
  if (options.legacyRoom !== null)
    add('queue.QueueService', legacyQueueService(service, options.legacyRoom, logger));
  // The store's own node-to-node services (Raft, 2PC): its protocol, not the client API, so they are
  // neither observed as client calls nor listed with the client services.
  for (const peer of options.store.peerServices ?? []) server.addService(peer.definition, peer.handlers);

  const health = new HealthService({
    store: options.store,
    services: served,
    pollMs: limits.healthPollMs,
    logger,
  });
  add('grpc.health.v1.Health', health.handlers);
  // Reflection describes exactly what is served, so grpcurl lists no service that would not answer.
  new ReflectionService(definition, { services: [...served] }).addToServer(server);

  // Our own listener hands grpc-js the connections it admits (grpc-js has no hook to count them).
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener = createServer();
  admitConnections(listener, limits, {
    admit: (socket) => injector.injectConnection(socket),
    refuse: (socket) => socket.destroy(),
  });
  const port = await new Promise<number>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ host: options.host, port: options.port }, () => {
      listener.off('error', reject);
      resolve((listener.address() as { port: number }).port);
    });
  });

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      health.shutdown();
      watches.closeAll();
      listener.close();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, limits.shutdownGraceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    })();
    return closing;
  };
  return { address: `${hostPart(options.host)}:${port}`, port, watches, close };
}

function hostPart(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
