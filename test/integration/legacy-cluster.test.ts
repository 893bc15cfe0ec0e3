// The earlier system's API through `chorus cluster --nodes 5 --api both` (redis-server, five nodes,
// nginx round robin in front of REST and gRPC), as its own scripts would use it: issue 13's table,
// REST and gRPC (test/helpers/legacy-contract.ts, the suites the one-node tests run), where each
// request may land on another node than the one before; then /sync and /add_track racing from
// concurrent clients, after which every node answers the same legacy room at the same version, and
// that room is one a sequence of whole syncs and adds explains (no sync half applied).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RoomView } from '../../src/domain/index.ts';
import { startCluster, type StartedCluster } from '../helpers/cluster.ts';
import { grpcContract, ok, PyRequests, restContract, track } from '../helpers/legacy-contract.ts';

let cluster: StartedCluster;

before(async () => {
  cluster = await startCluster({ nodes: 5, api: 'both' });
});

after(async () => {
  await cluster?.stop();
});

const lb = () => ({ rest: cluster.lb, grpc: cluster.grpcLb! });

restContract(lb);
grpcContract(lb);

void describe('concurrent /sync and /add_track through nginx', () => {
  void test('leave every node with the same legacy room, each sync whole', async () => {
    const api = new PyRequests(cluster.lb);
    ok(await api.post('/clear'));
    const SYNCS = 6;
    const ADDS = 60;
    const SYNC_SIZE = 8;
    // Sync k holds tracks 1000k+1 … 1000k+8; adds are tracks 1 … 60.
    const syncOf = (k: number) => Array.from({ length: SYNC_SIZE }, (_, i) => track(1000 * (k + 1) + i + 1));
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < ADDS; i++) {
      requests.push(api.post('/add_track', { json: track(i + 1) }).then(ok));
      if (i % (ADDS / SYNCS) === 0) {
        const k = i / (ADDS / SYNCS);
        requests.push(
          api.post('/sync', { json: syncOf(k) }).then((res) => {
            const body = ok(res);
            assert.equal(body.message, 'Queue synchronized');
          }),
        );
      }
    }
    await Promise.all(requests); // bounded: 66 requests

    // Every node, at the newest version any of them holds, answers the same room.
    const version = Math.max(
      ...(await Promise.all(
        cluster
          .nodes()
          .map(async (n) => ((await (await fetch(`${n.rest}/v1/rooms/legacy`)).json()) as RoomView).version),
      )),
    );
    const views = await Promise.all(
      cluster.nodes().map(async (n) => {
        const res = await fetch(`${n.rest}/v1/rooms/legacy?minVersion=${version}&limit=1000`);
        assert.equal(res.status, 200);
        const view = (await res.json()) as RoomView;
        assert.equal(view.version, version, `node ${n.index} at version ${version}`);
        return view.queue.map((e) => [e.entryId, e.track.trackId, e.score, e.seq]);
      }),
    );
    for (const [i, view] of views.entries()) assert.deepEqual(view, views[0], `node ${i + 1} equals node 1`);

    // The queue is the last sync, whole, plus adds after it: never part of one sync and part of another.
    const ids = views[0]!.map((e) => Number(e[1]));
    const synced = ids.filter((id) => id > 1000);
    const k = Math.floor(synced[0]! / 1000) - 1;
    assert.deepEqual(
      [...synced].sort((a, b) => a - b),
      syncOf(k).map((t) => t.id),
      `one sync, whole: ${JSON.stringify(ids)}`,
    );
    assert.ok(
      ids.every((id) => id > 1000 || (id >= 1 && id <= ADDS)),
      'the rest are adds',
    );
    // And the legacy answers agree with v1 on every node.
    for (const n of cluster.nodes()) {
      const queue = ok(await new PyRequests(n.rest).get('/queue')) as { id: number }[];
      assert.deepEqual(
        queue.map((t) => t.id),
        ids,
        `node ${n.index}'s GET /queue`,
      );
    }
  });
});
