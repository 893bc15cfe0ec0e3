// Bad input over gRPC against a real `chorus serve`: random bytes as message bodies (sent raw, with
// identity serialisers), messages of the wrong type, unknown enum values, oversized messages, bad
// tokens and metadata, expired deadlines. Each gets an error a caller can act on, never INTERNAL or
// UNKNOWN, and the node keeps serving; then a graceful stop turns health NOT_SERVING and tells
// watchers to resume elsewhere.

import { Metadata, status, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadProtos } from '../../src/api/grpc/protos.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import type * as health from '../../src/api/grpc/generated/grpc/health/v1/index.ts';
import { prng } from '../../src/prng.ts';
import {
  call,
  md,
  rawCall,
  rawClient,
  rejectsWith,
  soon,
  watch,
  type RawClient,
} from '../helpers/grpc-calls.ts';
import { startGrpcNode, type GrpcNode } from '../helpers/grpc-node.ts';
import { listServices } from '../helpers/grpc-reflection.ts';
import { until } from '../helpers/until.ts';

let node: GrpcNode;
let roomId: string;
let token: string;

before(async () => {
  node = await startGrpcNode();
  const created = await call<pb.JoinResponse__Output>((done) =>
    node.stubs.rooms.CreateRoom(
      { name: 'Bad input', hostName: 'Host', roomId: 'bad-input' },
      md(),
      soon(),
      done,
    ),
  );
  roomId = created.room!.id;
  token = created.token;
});

after(async () => {
  if (node.running()) await node.stop();
});

/** Every method the node serves, as `/package.Service/Method` paths with their serialisers. */
function methods(): { path: string; serialize: (value: object) => Buffer }[] {
  const definition = loadProtos();
  const services = [
    'chorus.v1.RoomService',
    'chorus.v1.SessionService',
    'chorus.v1.QueueService',
    'chorus.v1.CatalogService',
    'queue.QueueService',
    'grpc.health.v1.Health',
  ];
  return services.flatMap((name) =>
    Object.values(definition[name] as ServiceDefinition).map((m) => ({
      path: m.path,
      serialize: m.requestSerialize as (value: object) => Buffer,
    })),
  );
}

/** What no bad request may ever produce: a bug's status. */
const BUG_STATUSES = new Set([status.INTERNAL, status.UNKNOWN, status.DATA_LOSS]);

/** The status of a raw call (on `raw`, or a client of its own). */
async function outcome(
  path: string,
  body: Buffer,
  metadata = new Metadata(),
  raw?: RawClient,
): Promise<status> {
  try {
    await (raw ? raw.call(path, body, metadata) : rawCall(node.grpcAddress, path, body, metadata));
    return status.OK;
  } catch (err) {
    return (err as ServiceError).code;
  }
}

/** The node still answers normally and has logged no unexpected failure. */
async function assertStillServing(): Promise<void> {
  assert.ok(node.running(), `the node exited:\n${node.stderr()}`);
  const room = await call<pb.Room__Output>((done) =>
    node.stubs.rooms.GetRoom({ roomId }, md(), soon(), done),
  );
  assert.equal(room.id, roomId);
  assert.doesNotMatch(node.stderr(), /gRPC call failed|uncaught|TypeError|RangeError/);
}

void describe('bad input', () => {
  void it('random bytes as the body of every method: errors, never INTERNAL', async () => {
    const random = prng(20240601);
    const seen = new Map<status, number>();
    const raw = rawClient(node.grpcAddress);
    for (const { path } of methods()) {
      if (path.endsWith('/Watch')) continue; // streams are covered below
      const bodies = [
        Buffer.from([0x0a, 0xff]), // a length running past the end
        Buffer.from([0x0f]), // a field number 1 with a reserved wire type
        Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // varint too long
        ...Array.from({ length: 12 }, () =>
          Buffer.from(
            Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
          ),
        ),
      ];
      for (const body of bodies) {
        const code = await outcome(path, body, md(token), raw);
        assert.ok(!BUG_STATUSES.has(code), `${path} answered ${status[code]} to ${body.toString('hex')}`);
        seen.set(code, (seen.get(code) ?? 0) + 1);
      }
    }
    raw.close();
    assert.ok((seen.get(status.INVALID_ARGUMENT) ?? 0) > 0, 'undecodable bodies are INVALID_ARGUMENT');
    await assertStillServing();
  });

  void it('random bytes opening a Watch end it with an error, and the node goes on', async () => {
    for (const body of [Buffer.from([0x0a, 0xff]), Buffer.from('not protobuf at all')]) {
      const code = await outcome('/chorus.v1.RoomService/Watch', body);
      assert.ok(!BUG_STATUSES.has(code), status[code]);
    }
    await assertStillServing();
  });

  void it('a message of another type, and wire types that do not match the fields', async () => {
    const definition = loadProtos();
    const track = (definition['queue.QueueService'] as ServiceDefinition)['AddTrack']!;
    // A legacy Track (string id, int votes and duration) where a chorus.v1.VoteRequest is expected.
    const legacyTrack = (track.requestSerialize as (value: object) => Buffer)({
      id: 'x',
      title: 'y',
      artist: 'z',
      votes: 3,
      duration: 9,
    });
    const code = await outcome('/chorus.v1.QueueService/Vote', legacyTrack, md(token));
    assert.ok([status.INVALID_ARGUMENT, status.PERMISSION_DENIED].includes(code), status[code]);
    // Field 1 (room_id, a string) sent as a varint.
    assert.equal(
      await outcome('/chorus.v1.RoomService/GetRoom', Buffer.from([0x08, 0x96, 0x01])),
      status.INVALID_ARGUMENT,
    );
    await assertStillServing();
  });

  void it('an enum value the proto does not define is INVALID_ARGUMENT', async () => {
    const added = await call<pb.AddTrackResponse__Output>((done) =>
      node.stubs.queue.AddTrack({ roomId, trackId: 'demo:0003' }, md(token), soon(), done),
    );
    const vote = (loadProtos()['chorus.v1.QueueService'] as ServiceDefinition)['Vote']!;
    const body = (vote.requestSerialize as (value: object) => Buffer)({
      roomId,
      entryId: added.entry?.entryId ?? '',
      direction: 99,
    });
    const trailer = await rejectsWith(
      rawCall(node.grpcAddress, '/chorus.v1.QueueService/Vote', body, md(token)),
      status.INVALID_ARGUMENT,
    );
    assert.equal(trailer?.details?.['field'], 'direction');
  });

  void it('an oversized message is RESOURCE_EXHAUSTED; a big one under the limit is checked like any', async () => {
    const huge = {
      roomId,
      track: { trackId: 't', title: 'x'.repeat(2 * 1024 * 1024), artist: 'a', durationMs: 1000 },
    };
    await rejectsWith(
      call((done) => node.stubs.queue.AddTrack(huge, md(token), soon(), done)),
      status.RESOURCE_EXHAUSTED,
    );
    const big = {
      roomId,
      track: { trackId: 't', title: 'x'.repeat(512 * 1024), artist: 'a', durationMs: 1000 },
    };
    await rejectsWith(
      call((done) => node.stubs.queue.AddTrack(big, md(token), soon(), done)),
      status.INVALID_ARGUMENT,
    );
    await assertStillServing();
  });

  void it('bad tokens and metadata are refused with UNAUTHENTICATED, PERMISSION_DENIED or INVALID_ARGUMENT', async () => {
    const add = (metadata: Metadata) =>
      call((done) => node.stubs.queue.AddTrack({ roomId, trackId: 'demo:0004' }, metadata, soon(), done));
    const tampered = `${token.slice(0, -2)}${token.endsWith('A') ? 'B' : 'A'}A`;
    for (const bad of ['', 'garbage', 'v1.e30.bad', tampered, 'v1.' + 'a'.repeat(8000) + '.b', 'Bearer']) {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${bad}`);
      await rejectsWith(add(metadata), status.UNAUTHENTICATED);
    }
    const other = await call<pb.JoinResponse__Output>((done) =>
      node.stubs.rooms.CreateRoom({ name: 'Other', hostName: 'O', roomId: 'other-room' }, md(), soon(), done),
    );
    await rejectsWith(add(md(other.token)), status.PERMISSION_DENIED);
    await rejectsWith(add(md(token, 'k'.repeat(500))), status.INVALID_ARGUMENT);
    const binaryAuth = new Metadata();
    binaryAuth.set('authorization-bin', Buffer.from([0, 1, 2]));
    await rejectsWith(add(binaryAuth), status.UNAUTHENTICATED);
    await assertStillServing();
  });

  void it('a deadline already past is DEADLINE_EXCEEDED', async () => {
    await rejectsWith(
      call((done) => node.stubs.rooms.GetRoom({ roomId }, md(), { deadline: Date.now() - 1000 }, done)),
      status.DEADLINE_EXCEEDED,
    );
    await assertStillServing();
  });

  void it('out-of-range numbers are INVALID_ARGUMENT', async () => {
    const get = (request: pb.GetRoomRequest) =>
      call((done) => node.stubs.rooms.GetRoom(request, md(), soon(), done));
    await rejectsWith(get({ roomId, offset: -1 }), status.INVALID_ARGUMENT);
    await rejectsWith(get({ roomId, minVersion: -5 }), status.INVALID_ARGUMENT);
    await rejectsWith(get({ roomId, limit: -1 }), status.INVALID_ARGUMENT);
    await rejectsWith(
      call((done) => node.stubs.rooms.GetHistory({ roomId, before: -1 }, md(), soon(), done)),
      status.INVALID_ARGUMENT,
    );
    await assertStillServing();
  });
});

void describe('graceful stop', () => {
  void it('turns health NOT_SERVING, ends watches with UNAVAILABLE, and exits 0', async () => {
    const services = await listServices(node.grpcAddress);
    assert.ok(services.includes('chorus.v1.RoomService'));
    const statuses: string[] = [];
    const healthWatch = node.stubs.health.Watch({ service: '' }, md());
    healthWatch.on('data', (m: health.HealthCheckResponse__Output) => statuses.push(m.status));
    const healthEnded = new Promise<void>((resolve) => {
      healthWatch.on('end', resolve);
      healthWatch.on('error', () => resolve());
    });
    const roomWatch = watch(node.stubs, { roomId });
    await until('both streams', () =>
      statuses.length > 0 && roomWatch.messages.length > 0 ? true : undefined,
    );

    node.terminate();
    const ended = await roomWatch.ended;
    assert.equal(ended?.code, status.UNAVAILABLE);
    await healthEnded;
    assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING']);
    assert.equal(await node.stop(), 0, node.stderr());
  });
});
