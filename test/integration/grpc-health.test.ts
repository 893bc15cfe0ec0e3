// grpc.health.v1 follows the store: NOT_SERVING while store.health().ready is false (Redis down,
// recovering), SERVING again once it is back; and the server's metrics count its calls and streams. A gRPC server started in-process over a store whose
// readiness the test switches, since a real store's outage is not something a test can order.

import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { connect, type Stubs } from '../../src/api/grpc/client.ts';
import type * as health from '../../src/api/grpc/generated/grpc/health/v1/index.ts';
import { startGrpcServer, type GrpcServer } from '../../src/api/grpc/server.ts';
import { ChorusError } from '../../src/domain/index.ts';
import { createMetrics } from '../../src/node/metrics.ts';
import { RoomService } from '../../src/node/service.ts';
import { TokenSigner } from '../../src/node/tokens.ts';
import type { Store } from '../../src/store/types.ts';
import { call, md, rejectsWith, soon } from '../helpers/grpc-calls.ts';
import { until } from '../helpers/until.ts';

let ready = true;
const unavailable = (): Promise<never> => Promise.reject(new ChorusError('UNAVAILABLE', 'the store is down'));

/** A store that only reports health; everything else answers UNAVAILABLE, as a store that is down. */
const store: Store = {
  kind: 'redis',
  start: async () => undefined,
  submit: unavailable,
  read: unavailable,
  subscribe: unavailable,
  listRooms: unavailable,
  loadedRooms: () => [],
  health: () => ({ ready, detail: ready ? 'connected' : 'the store is down' }),
  close: async () => undefined,
};

let server: GrpcServer;
let stubs: Stubs;
const metrics = createMetrics({ roomsLoaded: () => 0, sseConnections: () => 0, streamWaitingBytes: () => 0 });

before(async () => {
  const service = new RoomService({
    store,
    catalog: { get: () => undefined, search: () => [], artwork: () => undefined },
    tokens: new TokenSigner('a test secret of enough length'),
    readTimeoutMs: 1000,
  });
  const logger = {
    error: (obj: object, msg?: string) => assert.fail(`unexpected error log: ${msg} ${JSON.stringify(obj)}`),
  };
  server = await startGrpcServer({
    service,
    store,
    logger,
    metrics,
    legacyRoom: null,
    host: '127.0.0.1',
    port: 0,
    limits: { healthPollMs: 20 },
  });
  stubs = connect(server.address);
});

after(async () => {
  stubs.close();
  await server.close();
});

const check = (service: string) =>
  call<health.HealthCheckResponse__Output>((done) => stubs.health.Check({ service }, md(), soon(), done));

void it('health is NOT_SERVING while the store is not ready, and SERVING again after', async () => {
  const statuses: string[] = [];
  const watchAll = stubs.health.Watch({ service: '' }, md());
  watchAll.on('data', (m: health.HealthCheckResponse__Output) => statuses.push(m.status));
  const ended = new Promise<number>((resolve) =>
    watchAll.on('error', (err: { code: number }) => resolve(err.code)),
  );
  await until('the first status', () => (statuses.length === 1 ? true : undefined));

  ready = false;
  assert.equal((await check('')).status, 'NOT_SERVING');
  assert.equal((await check('chorus.v1.QueueService')).status, 'NOT_SERVING');
  await until('the NOT_SERVING change', () => (statuses.length === 2 ? true : undefined));
  // Calls are refused the way the store refuses them: UNAVAILABLE, retryable.
  await rejectsWith(
    call((done) => stubs.rooms.GetRoom({ roomId: 'any-room' }, md(), soon(), done)),
    status.UNAVAILABLE,
  );

  ready = true;
  assert.equal((await check('')).status, 'SERVING');
  await until('the SERVING change', () => (statuses.length === 3 ? true : undefined));
  assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING', 'SERVING']);

  // The legacy service is off here, so health does not know it.
  await rejectsWith(check('queue.QueueService'), status.NOT_FOUND);
  const unknown = stubs.health.Watch({ service: 'queue.QueueService' }, md());
  const first = await new Promise<health.HealthCheckResponse__Output>((resolve) =>
    unknown.once('data', resolve),
  );
  assert.equal(first.status, 'SERVICE_UNKNOWN');
  unknown.on('error', () => undefined);
  unknown.cancel();

  watchAll.cancel();
  assert.equal(await ended, status.CANCELLED);
});

/** How many unary calls of `method` ended with `code`, as the histogram has counted them. */
async function callsCounted(method: string, code: string): Promise<number> {
  const { values } = await metrics.grpcDuration.get();
  const found = values.find(
    (v) =>
      v.metricName === 'chorus_grpc_request_duration_seconds_count' &&
      v.labels['method'] === method &&
      v.labels['code'] === code,
  );
  return found?.value ?? 0;
}

async function streamsOpen(method: string): Promise<number> {
  const { values } = await metrics.grpcStreams.get();
  return values.find((v) => v.labels['method'] === method)?.value ?? 0;
}

void it('counts unary calls by method and status code, and server streams while they are open', async () => {
  const getRoom = '/chorus.v1.RoomService/GetRoom';
  const healthCheck = '/grpc.health.v1.Health/Check';
  const healthWatch = '/grpc.health.v1.Health/Watch';
  const refusedBefore = await callsCounted(getRoom, 'UNAVAILABLE');
  const okBefore = await callsCounted(getRoom, 'OK');
  const checksBefore = await callsCounted(healthCheck, 'OK');

  // Every call of this store's is refused: UNAVAILABLE.
  for (let i = 0; i < 3; i++) {
    await rejectsWith(
      call((done) => stubs.rooms.GetRoom({ roomId: 'any-room' }, md(), soon(), done)),
      status.UNAVAILABLE,
    );
  }
  assert.equal((await check('')).status, 'SERVING');
  assert.equal(await callsCounted(getRoom, 'UNAVAILABLE'), refusedBefore + 3);
  assert.equal(await callsCounted(getRoom, 'OK'), okBefore);
  assert.equal(await callsCounted(healthCheck, 'OK'), checksBefore + 1);

  const before = await streamsOpen(healthWatch);
  const stream = stubs.health.Watch({ service: '' }, md());
  const ended = new Promise<number>((resolve) =>
    stream.on('error', (err: { code: number }) => resolve(err.code)),
  );
  await new Promise((resolve) => stream.once('data', resolve));
  assert.equal(await streamsOpen(healthWatch), before + 1);
  stream.cancel();
  assert.equal(await ended, status.CANCELLED);
  await until('the cancelled stream to be counted as closed', async () =>
    (await streamsOpen(healthWatch)) === before ? true : undefined,
  );
});
