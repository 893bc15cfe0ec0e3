// `chorus serve --store 2pc` on three real processes, talking chorus.twopc.v1 over gRPC on
// loopback: a write taken by one node is applied on all; with a node SIGKILLed, writes answer
// UNAVAILABLE (every node must vote) while reads are still served; the node restarted on its data
// dir catches up, and then every node holds the same room and writes commit again. /metrics shows
// the 2PC counters and gauges moving along the way.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freePort } from '../../src/cluster/ports.ts';
import { cleanupChorus, makeTempDir, startChorus, type ChorusProcess } from '../helpers/chorus-process.ts';
import { Http, ok, until, type Json } from '../helpers/http.ts';

after(cleanupChorus);

const SECRET = 'twopc-integration-secret-0123456789';

/** One sample of a Prometheus text page (0 when absent), e.g. metric(text, 'x_total{reason="a"}'). */
function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

void test('2pc on 3 processes: writes commit everywhere; a node down blocks writes, not reads; it catches up', async () => {
  const ids = ['n1', 'n2', 'n3'];
  const ports = [await freePort(), await freePort(), await freePort()];
  const dirs = [await makeTempDir(), await makeTempDir(), await makeTempDir()];
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]!}`).join(',');
  const start = (i: number): Promise<ChorusProcess> =>
    startChorus({
      dataDir: dirs[i]!,
      grpcPort: ports[i]!,
      waitForGrpc: true,
      env: { CHORUS_SECRET: SECRET },
      // The legacy API stays on: its room is created in the background once the group votes.
      args: ['--store', '2pc', '--node-id', ids[i]!, '--peers', peers],
    });
  const nodes = [await start(0), await start(1), await start(2)];
  const api = (i: number): Http => new Http(nodes[i]!.restUrl);
  const allReady = (): Promise<void> =>
    until(
      'every node ready',
      async () =>
        (await Promise.all(nodes.map((_, i) => api(i).get('/readyz')))).every((r) => r.status === 200),
      60_000,
      100,
    ).then(() => undefined);
  const view = async (i: number, room: string): Promise<Json> =>
    ok(await api(i).get(`/v1/rooms/${room}`), 200);
  try {
    await allReady();
    // The legacy room, created in the background once the group could vote, is there on every node.
    for (let i = 0; i < 3; i++) {
      await until(
        `node ${i + 1} to serve the legacy queue`,
        async () => (await api(i).get('/queue')).status === 200,
        30_000,
        100,
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
    assert.equal(metric(moved, 'chorus_2pc_peers_reachable'), 3);
    assert.equal(metric(moved, 'chorus_2pc_prepared'), 0);

    await nodes[2]!.kill();
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

    nodes[2] = await start(2);
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
    for (const n of nodes) if (n.running) await n.stop();
  }
});
