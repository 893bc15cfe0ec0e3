// The earlier system's gRPC service, queue.QueueService, as its clients used it, against a real
// `chorus serve`: issue 13's table (test/helpers/legacy-contract.ts, which the cluster test runs
// through nginx too), decimal ids, the refusals that remain; and --no-legacy.

import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { grpcContract } from '../helpers/legacy-contract.ts';
import type * as legacy from '../../src/api/grpc/generated/queue/index.ts';
import { call, md, rejectsWith, soon } from '../helpers/grpc-calls.ts';
import { startGrpcNode, type GrpcNode } from '../helpers/grpc-node.ts';

let node: GrpcNode;

before(async () => {
  node = await startGrpcNode();
});

after(async () => {
  assert.equal(await node.stop(), 0, `chorus serve did not stop cleanly:\n${node.stderr()}`);
});

grpcContract(() => ({ rest: node.restUrl, grpc: node.grpcAddress }));

const q = () => node.stubs.legacy;
const add = (track: legacy.Track) =>
  call<legacy.QueueResponse__Output>((done) => q().AddTrack(track, md(), soon(), done));
const removeTrack = (id: string) =>
  call<legacy.QueueResponse__Output>((done) => q().RemoveTrack({ id }, md(), soon(), done));
const getQueue = () => call<legacy.QueueList__Output>((done) => q().GetQueue({}, md(), soon(), done));
const metadata = (id: string) =>
  call<legacy.Track__Output>((done) => q().GetMetadata({ id }, md(), soon(), done));
const track = (id: number): legacy.Track => ({
  id: String(id),
  title: `Title ${id}`,
  artist: `Artist ${id}`,
  duration: 200 + id,
});
const ids = (list: { queue: legacy.Track__Output[] }) => list.queue.map((t) => t.id);
const EMPTY = { id: '', title: '', artist: '', votes: 0, duration: 0 };

void describe('legacy queue.QueueService, details', () => {
  beforeEach(async () => {
    const response = await fetch(`${node.restUrl}/clear`, { method: 'POST' });
    assert.equal(response.status, 200);
  });

  void it('decimal ids are numbers, as over REST: "007" is track 7', async () => {
    await add(track(7));
    assert.deepEqual(ids(await add({ ...track(7), id: '007' })), ['7'], 'already queued');
    assert.equal((await metadata('007')).id, '7');
  });

  void it('GetMetadata of an empty or oversized id is an empty Track', async () => {
    assert.deepEqual(await metadata(''), EMPTY);
    assert.deepEqual(await metadata('x'.repeat(5000)), EMPTY);
  });

  void it('refuses tracks no client could mean with INVALID_ARGUMENT and keeps serving', async () => {
    await rejectsWith(add({ ...track(1), duration: -1 }), status.INVALID_ARGUMENT);
    await rejectsWith(add({ ...track(1), duration: 86_401 }), status.INVALID_ARGUMENT);
    await rejectsWith(add({ ...track(1), id: '' }), status.INVALID_ARGUMENT);
    await rejectsWith(add({ ...track(1), title: '' }), status.INVALID_ARGUMENT);
    await rejectsWith(removeTrack(''), status.INVALID_ARGUMENT);
    assert.deepEqual(ids(await getQueue()), []);
  });
});

void describe('legacy service switched off', () => {
  void it('is not served with --no-legacy', async () => {
    const off = await startGrpcNode(['--no-legacy']);
    try {
      await rejectsWith(
        call((done) => off.stubs.legacy.GetQueue({}, md(), soon(), done)),
        status.UNIMPLEMENTED,
      );
    } finally {
      assert.equal(await off.stop(), 0);
    }
  });
});
