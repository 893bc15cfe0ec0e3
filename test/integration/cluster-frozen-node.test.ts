// A frozen node (SIGSTOP: it still accepts connections in the kernel, and answers nothing) must not
// stall the clients nginx sends to it: nginx gives up on its answer after a few seconds, takes it out
// of rotation, and passes reads on to another node. Before, every request sent to it hung for the
// full 60 s proxy timeout.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANSWER_TIMEOUT_S } from '../../src/cluster/nginx.ts';
import { call, roomPath, startCluster } from '../helpers/cluster.ts';

void test('nginx fails a SIGSTOPped node over within seconds, and writes retried with their key land once', async () => {
  const cluster = await startCluster({ nodes: 3 });
  const frozen = cluster.node(2);
  let stopped = false;
  try {
    const created = await call<{ token: string }>(cluster.lb, 'POST', '/v1/rooms', {
      body: { roomId: 'frozen', name: 'Frozen', hostName: 'Ann', settings: { autoplay: false } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = created.body.token;
    // Every node holds the room before the freeze (a node loads a room on its first request).
    for (const node of cluster.nodes()) {
      const read = await call(node.rest, 'GET', roomPath('frozen'));
      assert.equal(read.status, 200, `node ${node.index} reads the room`);
    }

    process.kill(frozen.pid, 'SIGSTOP');
    stopped = true;
    const readMs: number[] = [];
    const acked = new Set<string>();
    const limitMs = (ANSWER_TIMEOUT_S + 2) * 1000;
    for (let i = 0; i < 12; i++) {
      const read = await call(cluster.lb, 'GET', roomPath('frozen'), { timeoutMs: 30_000 });
      assert.equal(read.status, 200, `read ${i} through nginx: ${JSON.stringify(read.body)}`);
      readMs.push(read.ms);
      // A write nginx sent to the frozen node is not resent by nginx (it may yet apply): the client
      // retries with the same key, which is safe.
      const key = `frozen-add-${i}`;
      let added = await call<{ entry?: { entryId: string } }>(
        cluster.lb,
        'POST',
        roomPath('frozen', '/queue'),
        {
          token,
          key,
          body: { track: { trackId: `t:${i}`, title: `T${i}`, artist: 'A', album: '', durationMs: 60_000 } },
          timeoutMs: 30_000,
        },
      );
      for (let retry = 0; added.status !== 201 && retry < 3; retry++) {
        assert.ok(
          [504, 502].includes(added.status),
          `a write answered ${added.status}: ${JSON.stringify(added.body)}`,
        );
        added = await call(cluster.lb, 'POST', roomPath('frozen', '/queue'), {
          token,
          key,
          body: { track: { trackId: `t:${i}`, title: `T${i}`, artist: 'A', album: '', durationMs: 60_000 } },
          timeoutMs: 30_000,
        });
      }
      assert.equal(added.status, 201, `write ${i} lands after retries: ${JSON.stringify(added.body)}`);
      acked.add(`t:${i}`);
    }
    const slow = readMs.filter((ms) => ms > 1000).length;
    console.log(
      `reads through nginx with node 2 frozen: max ${Math.round(Math.max(...readMs))} ms, ${slow} of ${readMs.length} over 1 s`,
    );
    assert.ok(
      Math.max(...readMs) < limitMs,
      `no read waits past nginx's answer timeout (${ANSWER_TIMEOUT_S} s) plus a retry: ${readMs.map(Math.round).join(', ')}`,
    );

    process.kill(frozen.pid, 'SIGCONT');
    stopped = false;
    // Every node ends with each acknowledged add exactly once.
    for (const node of cluster.nodes()) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const read = await call<{ queue: { track: { trackId: string } }[] }>(
          node.rest,
          'GET',
          `${roomPath('frozen')}?limit=1000`,
        );
        const ids = read.status === 200 ? read.body.queue.map((e) => e.track.trackId) : [];
        if (ids.length === acked.size && new Set(ids).size === ids.length && ids.every((id) => acked.has(id)))
          break;
        assert.ok(
          Date.now() < deadline,
          `node ${node.index} holds every acked add once: ${JSON.stringify(ids)}`,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    if (stopped) process.kill(frozen.pid, 'SIGCONT');
    await cluster.stop();
  }
});
