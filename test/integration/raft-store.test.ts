// The Raft store on three in-process nodes over real gRPC on loopback: the Store contract (run on a
// follower, so every write is forwarded to the leader), then what only a replicated store promises.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWith, runStoreContract } from '../store-contract.ts';
import { cmd, roomId } from '../helpers/store-envelopes.ts';
import type { ServerReadableStream, UntypedHandleCall } from '@grpc/grpc-js';
import type * as pb from '../../src/api/grpc/generated/chorus/raft/v1/index.ts';
import { servePeers } from '../helpers/peer-server.ts';
import { startRaftGroup } from '../helpers/raft-group.ts';
import { until } from '../helpers/until.ts';

runStoreContract('raft (3 nodes, on a follower)', async () => {
  const group = await startRaftGroup(3);
  const leader = await until('a leader', () => group.leader());
  const follower = group.members.find((m) => m !== leader)!;
  await until('every node ready', () => group.members.every((m) => m.store.health().ready));
  return { store: follower.store, cleanup: () => group.close() };
});

void describe('raft store: a group of three', () => {
  void test('a write on any node is applied on every node, in one order', async () => {
    const group = await startRaftGroup(3);
    try {
      await until('a leader', () => group.leader());
      const room = roomId();
      const [a, b, c] = group.members;
      await a!.store.submit(cmd.createRoom(room, 'host'));
      await b!.store.submit(cmd.join(room, 'bob'));
      const out = await c!.store.submit(cmd.join(room, 'carol'));
      assert.ok(out.result.ok);
      const version = out.state!.version;
      for (const m of group.members) {
        const state = await m.store.read(room, version);
        assert.deepEqual(state, out.state);
      }
    } finally {
      await group.close();
    }
  });
});

void describe('raft store: forwarded writes', () => {
  void test("a forwarded write's answer comes back with the append that carries its entry, not alone", async () => {
    // With fsync, the leader's Ready waits for its disk, and forwards arriving meanwhile wait for it.
    const group = await startRaftGroup(3, { fsync: true });
    try {
      const leader = await until('a leader', () => group.leader());
      const follower = group.members.find((m) => m !== leader)!;
      // The follower's peer server again, recording what each batch on the leader's link carries.
      const batches: { messages: number; answers: number }[] = [];
      await new Promise<void>((resolve) => follower.server.tryShutdown(() => resolve()));
      const [service] = follower.store.peerServices;
      const stream = service!.handlers['Stream'] as (
        call: ServerReadableStream<pb.MessageBatch__Output, pb.Ack>,
        callback: unknown,
      ) => void;
      const recording = {
        ...service!,
        handlers: {
          ...service!.handlers,
          Stream: ((call: ServerReadableStream<pb.MessageBatch__Output, pb.Ack>, callback: unknown) => {
            call.on('data', (b: pb.MessageBatch__Output) =>
              batches.push({ messages: b.messages.length, answers: b.answers.length }),
            );
            stream(call, callback);
          }) as UntypedHandleCall,
        },
      };
      follower.server = await servePeers([recording], follower.address);
      // The leader's link back (on which it says it takes forwards) reopened: a heartbeat came.
      await until("the leader's link back", () => batches.length > 0);
      // Writes on both followers at once, so that forwards also reach the leader while it is in
      // the middle of a Ready (writing its log): their proposals wait for it to end.
      const other = group.members.find((m) => m !== leader && m !== follower)!;
      const rooms = Array.from({ length: 10 }, () => roomId());
      await Promise.all(rooms.map((r) => follower.store.submit(cmd.createRoom(r, 'host'))));
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          rooms.flatMap((r) => [
            follower.store.submit(cmd.join(r, `f${round}`)),
            other.store.submit(cmd.join(r, `o${round}`)),
          ]),
        );
      }
      const answered = batches.filter((b) => b.answers > 0);
      assert.equal(
        answered.reduce((n, b) => n + b.answers, 0),
        60,
        'every forward answered on the leader link',
      );
      assert.deepEqual(
        answered.filter((b) => b.messages === 0),
        [],
        'no answer left without the append',
      );
    } finally {
      await group.close();
    }
  });
});

void describe('raft store: snapshots, restarts, reads and refusals', () => {
  void test('a follower that missed compacted entries catches up through InstallSnapshot, and restarts intact', async () => {
    const group = await startRaftGroup(3, { snapshotEvery: 10 });
    try {
      const leader = await until('a leader', () => group.leader());
      const [lagging, other] = group.members.filter((m) => m !== leader);
      await group.stop(lagging!);
      const room = roomId();
      await leader.store.submit(cmd.createRoom(room, 'host'));
      let last = await other!.store.submit(cmd.join(room, 'm0'));
      for (let i = 1; i < 30; i++) last = await other!.store.submit(cmd.join(room, `m${i}`));
      const version = last.state!.version;
      await group.restart(lagging!);
      assert.deepEqual(await lagging!.store.read(room, version, 10_000), last.state);
      // Every node restarts from its snapshot and log to the same rooms.
      for (const m of group.members) {
        await group.stop(m);
        await group.restart(m);
      }
      await until('a leader after the restarts', () => group.leader());
      for (const m of group.members) assert.deepEqual(await m.store.read(room, version, 10_000), last.state);
    } finally {
      await group.close();
    }
  });

  void test('a linearizable read on a follower sees a write just acknowledged by another node', async () => {
    const group = await startRaftGroup(3);
    try {
      const leader = await until('a leader', () => group.leader());
      const follower = group.members.find((m) => m !== leader)!;
      const room = roomId();
      await follower.store.submit(cmd.createRoom(room, 'host'));
      const out = await leader.store.submit(cmd.join(room, 'late'));
      const state = await follower.store.readLinearizable(room);
      assert.ok(state !== null && state.version >= out.state!.version);
    } finally {
      await group.close();
    }
  });

  void test('without a quorum, writes are refused UNAVAILABLE with the leader hint in details', async () => {
    const group = await startRaftGroup(3);
    try {
      const leader = await until('a leader', () => group.leader());
      const room = roomId();
      await leader.store.submit(cmd.createRoom(room, 'host'));
      const [a, b] = group.members.filter((m) => m !== leader);
      await group.stop(a!);
      await group.stop(b!);
      // Check-quorum: the lone leader steps down; then no leader is known.
      await until('the leader to step down', () => leader.store.groupStatus().leaderId === null);
      const err = await rejectsWith(leader.store.submit(cmd.join(room, 'nobody')), 'UNAVAILABLE');
      assert.ok(err.details !== undefined && 'leader' in err.details && 'leaderAddress' in err.details);
      assert.equal(leader.store.health().ready, false);
      await rejectsWith(leader.store.readLinearizable(room, 500), 'UNAVAILABLE');
    } finally {
      await group.close();
    }
  });
});
