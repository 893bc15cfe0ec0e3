// The earlier system's gRPC service, queue.QueueService, as its clients used it, against a real
// `chorus serve`: add, vote (each vote a fresh anonymous voter, so up then down nets 0), remove,
// queue order, metadata, play next, history; and the same legacy room as the legacy REST API.

import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
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

beforeEach(async () => {
  // The legacy room is one for the whole node: empty it before each test (the earlier /clear).
  const response = await fetch(`${node.restUrl}/clear`, { method: 'POST' });
  assert.equal(response.status, 200);
});

const q = () => node.stubs.legacy;
const add = (track: legacy.Track) =>
  call<legacy.QueueResponse__Output>((done) => q().AddTrack(track, md(), soon(), done));
const voteTrack = (id: string, up: boolean) =>
  call<legacy.QueueResponse__Output>((done) => q().VoteTrack({ id, up }, md(), soon(), done));
const removeTrack = (id: string) =>
  call<legacy.QueueResponse__Output>((done) => q().RemoveTrack({ id }, md(), soon(), done));
const getQueue = () => call<legacy.QueueList__Output>((done) => q().GetQueue({}, md(), soon(), done));
const metadata = (id: string) =>
  call<legacy.Track__Output>((done) => q().GetMetadata({ id }, md(), soon(), done));
const playNext = () => call<legacy.Track__Output>((done) => q().PlayNext({}, md(), soon(), done));
const getHistory = () => call<legacy.QueueList__Output>((done) => q().GetHistory({}, md(), soon(), done));

const track = (id: number, votes = 0): legacy.Track => ({
  id: String(id),
  title: `Title ${id}`,
  artist: `Artist ${id}`,
  duration: 200 + id,
  votes,
});
const ids = (list: { queue: legacy.Track__Output[] }) => list.queue.map((t) => t.id);
const EMPTY = { id: '', title: '', artist: '', votes: 0, duration: 0 };

void describe('legacy queue.QueueService', () => {
  void it('AddTrack answers "Track added" and the queue; the votes field is ignored', async () => {
    const answer = await add(track(1, 42));
    assert.equal(answer.message, 'Track added');
    assert.deepEqual(answer.queue, [
      { id: '1', title: 'Title 1', artist: 'Artist 1', duration: 201, votes: 0 },
    ]);
  });

  void it('a vote up then a vote down nets 0: each vote is a fresh anonymous voter', async () => {
    await add(track(1));
    const up = await voteTrack('1', true);
    assert.equal(up.message, 'Vote updated');
    assert.equal(up.queue[0]!.votes, 1);
    const down = await voteTrack('1', false);
    assert.equal(down.message, 'Vote updated');
    assert.equal(down.queue[0]!.votes, 0);
    // The same caller voting up twice counts twice, as before.
    await voteTrack('1', true);
    assert.equal((await voteTrack('1', true)).queue[0]!.votes, 2);
  });

  void it('the queue is in play order: votes descending, then the order of adding', async () => {
    for (const id of [1, 2, 3, 4]) await add(track(id));
    await voteTrack('3', true);
    await voteTrack('3', true);
    await voteTrack('4', true);
    await voteTrack('1', false);
    assert.deepEqual(ids(await getQueue()), ['3', '4', '2', '1']);
  });

  void it('RemoveTrack answers "Track removed"; an unknown id is NOT_FOUND "Track not found"', async () => {
    await add(track(1));
    await add(track(2));
    const answer = await removeTrack('1');
    assert.equal(answer.message, 'Track removed');
    assert.deepEqual(ids(answer), ['2']);
    const missing = await rejectsWith(removeTrack('1'), status.NOT_FOUND);
    assert.equal(missing?.message, 'Track not found');
    await rejectsWith(voteTrack('77', true), status.NOT_FOUND);
  });

  void it('GetMetadata finds queued, playing and played tracks; an unknown id is an empty Track', async () => {
    await add(track(5));
    await add(track(6));
    assert.deepEqual(await metadata('5'), {
      id: '5',
      title: 'Title 5',
      artist: 'Artist 5',
      duration: 205,
      votes: 0,
    });
    await playNext();
    await playNext();
    assert.equal((await metadata('5')).title, 'Title 5', 'played');
    assert.equal((await metadata('6')).title, 'Title 6', 'playing');
    assert.deepEqual(await metadata('999'), EMPTY);
    assert.deepEqual(await metadata(''), EMPTY);
    assert.deepEqual(await metadata('x'.repeat(5000)), EMPTY);
  });

  void it('PlayNext moves the head of the queue to playing; an empty queue is an empty Track', async () => {
    assert.deepEqual(await playNext(), EMPTY);
    await add(track(1));
    await add(track(2));
    await voteTrack('2', true);
    const playing = await playNext();
    assert.equal(playing.id, '2');
    assert.equal(playing.votes, 1);
    assert.deepEqual(ids(await getQueue()), ['1']);
    assert.equal((await playNext()).id, '1');
    assert.deepEqual(await playNext(), EMPTY);
  });

  void it('GetHistory lists played tracks oldest first, then the one playing', async () => {
    for (const id of [1, 2, 3]) await add(track(id));
    await playNext();
    await playNext();
    assert.deepEqual(ids(await getHistory()), ['1', '2']);
    await playNext();
    assert.deepEqual(ids(await getHistory()), ['1', '2', '3']);
  });

  void it('is the same room as the legacy REST API', async () => {
    const viaRest = await fetch(`${node.restUrl}/add_track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 10, title: 'From REST', artist: 'R', duration: 100 }),
    });
    assert.equal(viaRest.status, 200);
    await add(track(11));
    await voteTrack('10', true);
    assert.deepEqual(ids(await getQueue()), ['10', '11']);
    const restQueue = (await (await fetch(`${node.restUrl}/queue`)).json()) as {
      queue: { id: number; votes: number }[];
    };
    assert.deepEqual(
      restQueue.queue.map((t) => [t.id, t.votes]),
      [
        [10, 1],
        [11, 0],
      ],
    );
  });

  void it('decimal ids are numbers, as over REST: "007" is track 7', async () => {
    await add(track(7));
    await rejectsWith(add({ ...track(7), id: '007' }), status.ALREADY_EXISTS);
    assert.equal((await metadata('007')).id, '7');
  });

  void it('refuses bad tracks with INVALID_ARGUMENT and keeps serving', async () => {
    await rejectsWith(add({ ...track(1), duration: 0 }), status.INVALID_ARGUMENT);
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
