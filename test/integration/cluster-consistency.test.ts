// `chorus cluster` with real processes (redis-server, nginx, five `chorus serve` nodes): under
// concurrent load through the load balancer every node ends with the same room as replaying the
// room's Redis stream through `apply`, nothing acknowledged is lost, a write's version read through
// the load balancer as minVersion always shows the write, and SSE subscribers on one node see
// votes taken on another within a second.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { RoomEvent, RoomView } from '../../src/domain/index.ts';
import {
  archiveLogs,
  call,
  checkAfterLoad,
  clusterForFile,
  openSse,
  percentile,
  type Reply,
  roomPath,
  setupRooms,
  type StartedCluster,
  startMixedLoad,
  summarise,
} from '../helpers/cluster.ts';

const NODES = 5;
const CLIENTS = 20;
const OPERATIONS = 2000;

let cluster: StartedCluster;
// The last test stops the cluster and reports how that went.
const lifecycle = clusterForFile({ nodes: NODES }, (started) => (cluster = started));

void describe('chorus cluster: 5 nodes behind nginx on one Redis', () => {
  void test('20 clients, 2,000 mixed operations over 3 rooms: every node equals the replayed stream, nothing acknowledged lost', async (t) => {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const rooms = await setupRooms(cluster.lb, { rooms: 3, clients: CLIENTS, tag: 'mix' });
    // The store trims each log behind its snapshots: copy the logs as they grow to replay all of them.
    const archive = archiveLogs(
      cluster.redisUrl,
      rooms.map((r) => r.id),
    );
    t.after(() => archive.stop().catch(() => undefined));
    const load = await startMixedLoad({
      base: cluster.lb,
      rooms,
      clients: CLIENTS,
      operations: OPERATIONS,
      seed,
    }).done;
    console.log(`seed ${seed}: ${summarise(load)}`);

    assert.equal(load.operations, OPERATIONS);
    assert.deepEqual(load.failures, [], 'no request failed (5xx or transport) on a healthy cluster');
    assert.deepEqual(load.readViolations, [], 'reads with minVersion never went back in time');
    // Refusals are only the expected kind: votes and removes racing a remove of the same entry.
    for (const label of Object.keys(load.refusals)) {
      assert.match(label, /^(vote|withdraw|remove) 404 NOT_FOUND$/, `unexpected refusal ${label}`);
    }
    assert.ok(load.counts.add.ok > 400 && load.counts.vote.ok > 300, 'the load did mostly succeed');

    await checkAfterLoad(cluster, rooms, load, archive);
  });

  void test('read-your-writes through the load balancer: minVersion from a write always shows it', async () => {
    const [room] = await setupRooms(cluster.lb, { rooms: 1, clients: 4, tag: 'ryw' });
    const metricsBefore = await readsServed(cluster, room!.id);
    const iterations = 150;
    let staleWithout = 0;
    const lags: number[] = [];
    // Four writers at once, each: write through nginx, then read through nginx with minVersion.
    await Promise.all(
      room!.members.map(async (member, w) => {
        const entries: string[] = [];
        for (let i = 0; i < iterations / room!.members.length; i++) {
          const voting = entries.length > 0 && i % 2 === 1;
          let version: number;
          let check: (view: RoomView) => boolean;
          let what: string;
          if (voting) {
            const entryId = entries[Math.floor(Math.random() * entries.length)]!;
            const value = Math.random() < 0.5 ? 1 : -1;
            const voted = await call<{ version: number }>(
              cluster.lb,
              'PUT',
              roomPath(room!.id, `/queue/${entryId}/vote`),
              { token: member.token, key: randomUUID(), body: { value } },
            );
            assert.equal(voted.status, 200, JSON.stringify(voted.body));
            version = voted.body.version;
            check = (view) => view.queue.find((e) => e.entryId === entryId)?.myVote === value;
            what = `writer ${w}'s vote ${value} on ${entryId}`;
          } else {
            const added = await call<{ version: number; entry: { entryId: string } }>(
              cluster.lb,
              'POST',
              roomPath(room!.id, '/queue'),
              {
                token: member.token,
                key: randomUUID(),
                body: {
                  track: {
                    trackId: `ryw-${randomUUID()}`,
                    title: 'T',
                    artist: 'A',
                    album: 'B',
                    durationMs: 60_000,
                  },
                },
              },
            );
            assert.equal(added.status, 201, JSON.stringify(added.body));
            version = added.body.version;
            const entryId = added.body.entry.entryId;
            entries.push(entryId);
            check = (view) => view.queue.some((e) => e.entryId === entryId);
            what = `writer ${w}'s add of ${entryId}`;
          }
          // Control: the same read without minVersion may land on a node that has not applied it yet.
          const plain = await call<RoomView>(cluster.lb, 'GET', roomPath(room!.id, '?limit=1000'), {
            token: member.token,
          });
          assert.equal(plain.status, 200);
          if (plain.body.version < version) staleWithout++;
          const t = performance.now();
          const read = await call<RoomView>(
            cluster.lb,
            'GET',
            roomPath(room!.id, `?minVersion=${version}&limit=1000`),
            {
              token: member.token,
            },
          );
          lags.push(performance.now() - t);
          assert.equal(read.status, 200, JSON.stringify(read.body));
          assert.ok(read.body.version >= version, `read at ${read.body.version} after a write at ${version}`);
          assert.ok(
            check(read.body),
            `${what} (version ${version}) is visible at version ${read.body.version}`,
          );
        }
      }),
    );
    const metricsAfter = await readsServed(cluster, room!.id);
    const servedBy = metricsAfter.map((n, i) => n - metricsBefore[i]!);
    console.log(
      `read-your-writes: ${iterations} writes each read back with minVersion through nginx; ` +
        `reads served per node ${JSON.stringify(servedBy)}; read p50 ${percentile(lags, 50).toFixed(1)} ms, ` +
        `p95 ${percentile(lags, 95).toFixed(1)} ms; without minVersion ${staleWithout} of ${iterations} reads were older than the write`,
    );
    assert.ok(servedBy.filter((n) => n > 0).length >= 3, 'the reads were spread over the nodes by nginx');
  });

  void test('cross-node SSE: a vote on node A reaches a subscriber on node B (and through nginx) within a second', async () => {
    const [room] = await setupRooms(cluster.lb, { rooms: 1, clients: 2, tag: 'sse' });
    const voter = room!.members[0]!;
    const added = await call<{ entry: { entryId: string }; version: number }>(
      cluster.lb,
      'POST',
      roomPath(room!.id, '/queue'),
      {
        token: voter.token,
        body: { track: { trackId: 'sse-1', title: 'T', artist: 'A', album: 'B', durationMs: 60_000 } },
      },
    );
    assert.equal(added.status, 201);
    const entryId = added.body.entry.entryId;
    const nodes = cluster.nodes();
    const latencies: number[] = [];
    let value: 1 | -1 = 1;
    for (let round = 0; round < nodes.length; round++) {
      const a = nodes[round]!;
      const b = nodes[(round + 1) % nodes.length]!;
      const subscribers = [
        { name: `node ${b.index}`, sse: await openSse(`${b.rest}${roomPath(room!.id, '/events')}`) },
        { name: 'nginx', sse: await openSse(`${cluster.lb}${roomPath(room!.id, '/events')}`) },
      ];
      try {
        // Each stream opens with the whole room (reset) at the current version.
        for (const s of subscribers) await s.sse.waitFor((m) => m.event === 'reset', 5000);
        value = value === 1 ? -1 : 1;
        const sent = performance.now();
        const voted: Reply<{ version: number }> = await call<{ version: number }>(
          a.rest,
          'PUT',
          roomPath(room!.id, `/queue/${entryId}/vote`),
          {
            token: voter.token,
            body: { value },
          },
        );
        assert.equal(voted.status, 200, JSON.stringify(voted.body));
        for (const s of subscribers) {
          const m = await s.sse.waitFor(
            (msg) =>
              msg.event === 'change' &&
              (msg.data as { events: RoomEvent[] }).events.some(
                // Events name no voter (issue 20): the vote's own version marks its event.
                (e) => e.type === 'voteChanged' && e.entryId === entryId && e.version === voted.body.version,
              ),
            5000,
          );
          const ms = m.at - sent;
          latencies.push(ms);
          assert.equal(m.id, String(voted.body.version), 'the SSE id is the version the vote produced');
          assert.ok(ms < 1000, `${s.name} got the vote taken on node ${a.index} after ${ms.toFixed(1)} ms`);
        }
      } finally {
        for (const s of subscribers) s.sse.close();
      }
    }
    console.log(
      `cross-node SSE: ${latencies.length} deliveries, vote sent -> event received p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `max ${percentile(latencies, 100).toFixed(1)} ms`,
    );
  });

  void test('SIGTERM stops the whole cluster and leaves no process behind', async () => {
    const report = await lifecycle.stopInTest();
    assert.equal(report.exitCode, 0);
    console.log(`cluster stopped in ${report.stopMs} ms; ${report.pidsChecked.length} pids checked gone`);
  });
});

/** Per node: GET /v1/rooms/:roomId requests answered 200 so far (from its Prometheus metrics). */
async function readsServed(c: StartedCluster, _roomId: string): Promise<number[]> {
  return Promise.all(
    c.nodes().map(async (node) => {
      const reply = await call<string>(node.rest, 'GET', '/metrics');
      assert.equal(reply.status, 200);
      const line = String(reply.body)
        .split('\n')
        .find(
          (l) =>
            l.startsWith('chorus_http_request_duration_seconds_count{') &&
            l.includes('method="GET"') &&
            l.includes('route="/v1/rooms/:roomId"') &&
            l.includes('status="200"'),
        );
      return line ? Number(line.split(' ').at(-1)) : 0;
    }),
  );
}
