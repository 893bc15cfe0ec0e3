// gRPC load with grpc-js clients and the same accounting as the HTTP side: each call timed on its
// own, every non-OK counted (application refusals apart from failures), acknowledgements recorded.

import {
  credentials,
  loadPackageDefinition,
  Metadata,
  status,
  type Client,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { connect, type Stubs } from '../../src/api/grpc/client.ts';
import type { AddTrackResponse__Output } from '../../src/api/grpc/generated/chorus/v1/index.ts';
import { drive, type LoadResult, type Outcome } from './stats.ts';
import type { BenchRoom, Workload } from './workload.ts';

/** Application refusals: the rules said no. Everything else non-OK is a failure. */
const REFUSALS = new Set<number>([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.PERMISSION_DENIED,
  status.FAILED_PRECONDITION,
  status.UNAUTHENTICATED,
]);

export function outcomeOf(err: ServiceError | null): Outcome {
  if (!err) return 'ok';
  return REFUSALS.has(err.code) ? 'refused' : 'failed';
}

/** Several channels, as several clients would have (one HTTP/2 connection each). */
export function clients(address: string, count: number): Stubs[] {
  return Array.from({ length: count }, (_, i) =>
    connect(address, { 'grpc.primary_user_agent': `bench-${i}` }),
  );
}

const metadataFor = (token: string): Metadata => {
  const m = new Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
};

function unary<Req, Res>(
  fn: (
    req: Req,
    md: Metadata,
    options: { deadline: Date },
    cb: (err: ServiceError | null, res?: Res) => void,
  ) => unknown,
  req: Req,
  md: Metadata,
): Promise<{ err: ServiceError | null; res: Res | undefined }> {
  return new Promise((resolve) => {
    fn(req, md, { deadline: new Date(Date.now() + 10_000) }, (err, res) => resolve({ err, res }));
  });
}

function addTrack(
  stub: Stubs,
  roomId: string,
  workload: Workload,
  md: Metadata,
): Promise<{ err: ServiceError | null; res: AddTrackResponse__Output | undefined }> {
  return new Promise((resolve) => {
    stub.queue.AddTrack(
      { roomId, track: workload.newTrack() },
      md,
      { deadline: new Date(Date.now() + 10_000) },
      (err, res) => resolve({ err, res }),
    );
  });
}

export async function grpcAdds(o: {
  stubs: readonly Stubs[];
  room: BenchRoom;
  amount: number;
  concurrency: number;
  workload: Workload;
}): Promise<LoadResult> {
  return drive({
    concurrency: o.concurrency,
    amount: o.amount,
    seed: 1,
    call: async (index, _random, worker) => {
      const stub = o.stubs[worker % o.stubs.length]!;
      const md = metadataFor(o.room.tokens[index % o.room.tokens.length]!);
      const { err, res } = await addTrack(stub, o.room.id, o.workload, md);
      if (!err && res?.entry)
        o.workload.ackAdd(o.room.id, {
          entry: { entryId: res.entry.entryId, track: { trackId: res.entry.track?.trackId ?? '' } },
        });
      return outcomeOf(err);
    },
  });
}

export async function grpcMixed(o: {
  stubs: readonly Stubs[];
  rooms: readonly BenchRoom[];
  durationS: number;
  concurrency: number;
  workload: Workload;
  seed: number;
}): Promise<LoadResult> {
  return drive({
    concurrency: o.concurrency,
    durationS: o.durationS,
    seed: o.seed,
    call: async (_index, random, worker) => {
      const stub = o.stubs[worker % o.stubs.length]!;
      const op = o.workload.pick(random);
      const md = metadataFor(op.room.tokens[Math.floor(random() * op.room.tokens.length)]!);
      switch (op.kind) {
        case 'vote': {
          const direction = (
            ['VOTE_DIRECTION_UP', 'VOTE_DIRECTION_DOWN', 'VOTE_DIRECTION_WITHDRAW'] as const
          )[Math.floor(random() * 3)]!;
          const { err } = await unary(
            stub.queue.Vote.bind(stub.queue),
            { roomId: op.room.id, entryId: op.entryId, direction },
            md,
          );
          return outcomeOf(err);
        }
        case 'add': {
          const { err, res } = await addTrack(stub, op.room.id, o.workload, md);
          if (!err && res?.entry)
            o.workload.ackAdd(op.room.id, {
              entry: { entryId: res.entry.entryId, track: { trackId: res.entry.track?.trackId ?? '' } },
            });
          return outcomeOf(err);
        }
        case 'remove': {
          o.workload.attemptRemove(op.room.id, op.entryId);
          const { err } = await unary(
            stub.queue.RemoveEntry.bind(stub.queue),
            { roomId: op.room.id, entryId: op.entryId },
            metadataFor(op.room.hostToken),
          );
          if (!err) o.workload.ackRemove(op.room.id, op.entryId);
          return outcomeOf(err);
        }
        case 'read': {
          const { err } = await unary(
            stub.rooms.GetRoom.bind(stub.rooms),
            { roomId: op.room.id, limit: 20 },
            new Metadata(),
          );
          return outcomeOf(err);
        }
      }
    },
  });
}

// ---- The ceiling's gRPC echo ---------------------------------------------------------------------

interface EchoClient extends Client {
  Echo(
    req: { body: string },
    md: Metadata,
    options: { deadline: Date },
    cb: (err: ServiceError | null, res?: { body: string }) => void,
  ): void;
}

export function echoClients(address: string, count: number): EchoClient[] {
  const definition = loadSync(fileURLToPath(new URL('../echo.proto', import.meta.url)));
  const Echo = (loadPackageDefinition(definition) as unknown as { bench: { Echo: ServiceClientConstructor } })
    .bench.Echo;
  return Array.from(
    { length: count },
    (_, i) =>
      new Echo(address, credentials.createInsecure(), {
        'grpc.primary_user_agent': `echo-${i}`,
      }) as unknown as EchoClient,
  );
}

export async function grpcEcho(o: {
  clients: readonly EchoClient[];
  concurrency: number;
  amount?: number;
  durationS?: number;
}): Promise<LoadResult> {
  const body = JSON.stringify({
    track: { trackId: 'echo', title: 'Echo', artist: 'Bench', album: '', durationMs: 180000 },
  });
  return drive({
    concurrency: o.concurrency,
    ...(o.amount !== undefined ? { amount: o.amount } : {}),
    ...(o.durationS !== undefined ? { durationS: o.durationS } : {}),
    seed: 1,
    call: async (_i, _r, worker) => {
      const client = o.clients[worker % o.clients.length]!;
      const { err } = await unary(client.Echo.bind(client), { body }, new Metadata());
      return outcomeOf(err);
    },
  });
}
