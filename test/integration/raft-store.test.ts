// The Raft store on three in-process nodes over real gRPC on loopback: the Store contract (run on a
// follower, so every write is forwarded to the leader), then what only a replicated store promises.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runStoreContract } from '../store-contract.ts';
import { cmd, roomId } from '../helpers/store-envelopes.ts';
import { startRaftGroup, waitFor } from '../helpers/raft-group.ts';

runStoreContract('raft (3 nodes, on a follower)', async () => {
  const group = await startRaftGroup(3);
  const leader = await waitFor(() => group.leader(), 'a leader');
  const follower = group.members.find((m) => m !== leader)!;
  await waitFor(() => group.members.every((m) => m.store.health().ready), 'every node ready');
  return { store: follower.store, cleanup: () => group.close() };
});

void describe('raft store: a group of three', () => {
  void test('a write on any node is applied on every node, in one order', async () => {
    const group = await startRaftGroup(3);
    try {
      await waitFor(() => group.leader(), 'a leader');
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
