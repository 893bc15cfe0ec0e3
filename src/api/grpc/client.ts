// Typed client stubs for the services a node serves, over one shared channel: what the CLI's gRPC
// transport and the tests use. The stubs' types are the generated ones; only their construction
// (grpc-js builds clients from the loaded definitions at run time) needs a cast.

import {
  Channel,
  credentials,
  makeClientConstructor,
  Metadata,
  type ChannelOptions,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import type * as chorus from './generated/chorus/v1/index.ts';
import type * as health from './generated/grpc/health/v1/index.ts';
import type * as legacy from './generated/queue/index.ts';
import { loadProtos } from './protos.ts';

export interface Stubs {
  readonly rooms: chorus.RoomServiceClient;
  readonly sessions: chorus.SessionServiceClient;
  readonly queue: chorus.QueueServiceClient;
  readonly catalog: chorus.CatalogServiceClient;
  readonly cluster: chorus.ClusterServiceClient;
  readonly legacy: legacy.QueueServiceClient;
  readonly health: health.HealthClient;
  /** Closes the channel (calls in flight end CANCELLED). */
  close(): void;
}

/** Keep an idle connection checked, as the server does, so a dead peer is noticed. */
const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
};

/** Stubs for every service at `address` (HOST:PORT), plaintext, sharing one channel. */
export function connect(address: string, options: ChannelOptions = {}): Stubs {
  const channelOptions = { ...CHANNEL_OPTIONS, ...options };
  const channel = new Channel(address, credentials.createInsecure(), channelOptions);
  const definitions = loadProtos();
  const stub = <T>(name: string): T => {
    const Ctor = makeClientConstructor(definitions[name] as ServiceDefinition, name);
    const client: Client = new Ctor(address, credentials.createInsecure(), { channelOverride: channel });
    return client as unknown as T;
  };
  return {
    rooms: stub('chorus.v1.RoomService'),
    sessions: stub('chorus.v1.SessionService'),
    queue: stub('chorus.v1.QueueService'),
    catalog: stub('chorus.v1.CatalogService'),
    cluster: stub('chorus.v1.ClusterService'),
    legacy: stub('queue.QueueService'),
    health: stub('grpc.health.v1.Health'),
    close: () => channel.close(),
  };
}

/** Call metadata: the bearer token and an idempotency key, when given. */
export function callMetadata(token?: string, idempotencyKey?: string): Metadata {
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  if (idempotencyKey) metadata.set('idempotency-key', idempotencyKey);
  return metadata;
}

/** A unary call as a promise: `unaryCall<Res>((done) => stub.Method(request, metadata, options, done))`. */
export function unaryCall<Res>(
  invoke: (done: (err: ServiceError | null, value?: Res) => void) => unknown,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    invoke((err, value) => {
      if (err) reject(err);
      else if (value === undefined) reject(new Error('the call ended without an answer'));
      else resolve(value);
    });
  });
}
