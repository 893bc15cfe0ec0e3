// `chorus serve --store 2pc` on three real processes, talking chorus.twopc.v1 over gRPC on
// loopback: a write taken by one node is applied on all; with a node SIGKILLed, writes answer
// UNAVAILABLE (every node must vote) while reads are still served; the node restarted on its data
// dir catches up, and then every node holds the same room and writes commit again. /metrics shows
// the 2PC counters and gauges moving along the way.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanupChorus } from '../helpers/chorus-process.ts';
import { ok, type Json } from '../helpers/http.ts';
import { metric, twoPcProcesses } from '../helpers/twopc-processes.ts';
import { until } from '../helpers/until.ts';

after(cleanupChorus);

void test('2pc on 3 processes: writes commit everywhere; a node down blocks writes, not reads; it catches up', async () => {
  // The legacy API stays on: its room is created in the background once the group votes.
  const g = await twoPcProcesses(3);
  for (let i = 0; i < 3; i++) await g.start(i);
  const { api, view } = g;
  const allReady = (): Promise<void> => g.ready();
  try {
    await allReady();
    // The legacy room, created in the background once the group could vote, is there on every node.
    for (let i = 0; i < 3; i++) {
      await until(
        `node ${i + 1} to serve the legacy queue`,
        async () => (await api(i).get('/queue')).status === 200,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    }
    const metricsText = async (i: number): Promise<string> => (await api(i).get('/metrics')).text;
    const before = await metricsText(0);
    assert.match(before, /^# TYPE chorus_2pc_commit_duration_seconds histogram$/m);
    assert.match(
      before,
      /^chorus_2pc_aborts_total\{reason="prepared-table-full"\} \d+$/m,
      'every reason shows from the start',
    );
    const room = `twopc-${Date.now()}`;
    ok(await api(0).post('/v1/rooms', { name: 'Two phase', hostName: 'Host', roomId: room }), 201);
    ok(await api(1).post(`/v1/rooms/${room}/members`, { name: 'Ann' }), 201);
    // Applied everywhere once answered: every node's own copy has both members.
    for (let i = 0; i < 3; i++) {
      const v: Json = await until(`node ${i + 1} to hold version 2`, async (): Promise<Json> => {
        const body: Json = await view(i, room);
        return body.version === 2 ? body : undefined;
      });
      assert.equal(v.memberCount, 2, JSON.stringify(v));
    }
    const moved = await until('node 1 metrics to count the two writes', async () => {
      const text = await metricsText(0);
      return metric(text, 'chorus_2pc_commits_total') >= metric(before, 'chorus_2pc_commits_total') + 2
        ? text
        : undefined;
    });
    assert.ok(metric(moved, 'chorus_2pc_prepares_total') >= metric(before, 'chorus_2pc_prepares_total') + 2);
    assert.ok(
      metric(moved, 'chorus_2pc_commit_duration_seconds_count') >=
        metric(before, 'chorus_2pc_commit_duration_seconds_count') + 1,
      'node 1 coordinated the room creation: one commit latency observed',
    );
    // Gauges: every peer heard from, nothing left prepared once both writes are done.
    await until('node 1 gauges to settle', async () => {
      const text = await metricsText(0);
      return metric(text, 'chorus_2pc_peers_reachable') === 3 && metric(text, 'chorus_2pc_prepared') === 0;
    });

    await g.kill(2);
    const refused = await until('a write to be refused with n3 down', async () => {
      const res = await api(0).post(`/v1/rooms/${room}/members`, { name: 'Bob' });
      return res.status === 201 ? false : res;
    });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.error.code, 'UNAVAILABLE');
    for (const i of [0, 1]) assert.equal((await view(i, room)).id, room, `node ${i + 1} still serves reads`);
    const notReady = await api(0).get('/readyz');
    assert.equal(notReady.status, 503, 'not ready for writes while a peer is down');
    assert.match(notReady.text, /n3 unreachable/);
    const down = await until('node 1 metrics to show the timeout abort and n3 unreachable', async () => {
      const text = await metricsText(0);
      return metric(text, 'chorus_2pc_aborts_total{reason="timeout"}') >
        metric(moved, 'chorus_2pc_aborts_total{reason="timeout"}') &&
        metric(text, 'chorus_2pc_peers_reachable') === 2
        ? text
        : undefined;
    });
    assert.equal(metric(down, 'chorus_2pc_in_doubt'), 0, 'an abort on timeout leaves nothing in doubt');

    await g.start(2);
    await allReady();
    ok(await api(2).post(`/v1/rooms/${room}/members`, { name: 'Cid' }), 201);
    const versions = await until('every node to agree', async () => {
      const all = await Promise.all([0, 1, 2].map((i) => view(i, room)));
      const vs = all.map((b) => b.version as number);
      return vs.every((v) => v === vs[0]) ? all : undefined;
    });
    const strip = (b: Json): string => JSON.stringify({ ...b, serverTime: undefined, position: undefined });
    assert.equal(strip(versions[0]), strip(versions[1]));
    assert.equal(strip(versions[0]), strip(versions[2]));
  } finally {
    await g.stopAll();
  }
});
