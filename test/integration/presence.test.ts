// Presence and votes that count people, on real processes: `chorus cluster` (redis-server and three
// `chorus serve` nodes). Members stream (SSE with their token) from different nodes; every node
// answers the same present set; three fake joins (no connection) no longer skip a track in a room
// of ten present members; a closed stream leaves after the grace; a SIGKILLed node's members leave
// when its lease runs out. Join control over REST: passcode, approval, member cap.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { callMetadata, connect } from '../../src/api/grpc/client.ts';
import type { RoomView } from '../../src/domain/index.ts';
import { watch } from '../helpers/grpc-calls.ts';
import {
  call,
  openSse,
  roomPath,
  startCluster,
  type SseStream,
  type StartedCluster,
} from '../helpers/cluster.ts';
import { until } from '../helpers/until.ts';

const GRACE_MS = 300;
const LEASE_MS = 4_000;

let cluster: StartedCluster;
const streams: SseStream[] = [];

before(async () => {
  cluster = await startCluster({
    nodes: 3,
    nodeArgs: ['--log-level=warn', `--presence-grace-ms=${GRACE_MS}`, `--presence-lease-ms=${LEASE_MS}`],
  });
});

after(async () => {
  for (const s of streams) s.close();
  await cluster.stop();
});

interface Joined {
  readonly memberId: string;
  readonly token: string;
}

async function ok<T>(p: Promise<{ status: number; body: unknown }>, status = 200): Promise<T> {
  const reply = await p;
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  return reply.body as T;
}

async function roomOn(node: number, roomId: string): Promise<RoomView> {
  return ok<RoomView>(call(cluster.node(node).rest, 'GET', roomPath(roomId, '?limit=5')));
}

/** Polls every live node until each answers `expected` present members (by id), or fails at the deadline. */
async function presentEverywhere(
  roomId: string,
  expected: readonly string[],
  nodes: readonly number[],
  timeoutMs: number,
): Promise<void> {
  const want = [...expected].sort();
  await until(
    `${want.length} present members on nodes ${nodes.join(', ')}`,
    async () => {
      for (const n of nodes) {
        const room = await roomOn(n, roomId);
        const got = room.present.map((p) => p.memberId).sort();
        if (room.presentCount !== want.length || JSON.stringify(got) !== JSON.stringify(want))
          return undefined;
      }
      return true;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

void describe('presence across nodes', () => {
  void test('ten people streaming from three nodes; three fake joins cannot skip; a stream closes; a node dies', async () => {
    const lb = cluster.lb;
    const created = await ok<Joined & { room: RoomView }>(
      call(lb, 'POST', '/v1/rooms', {
        body: {
          name: 'Presence party',
          hostName: 'Host',
          settings: { skipVotes: 3, skipShare: 0.5, public: true },
        },
      }),
      201,
    );
    const roomId = created.room.id;
    const join = (name: string): Promise<Joined> =>
      ok<Joined>(call(lb, 'POST', roomPath(roomId, '/members'), { body: { name } }), 201);
    const people: Joined[] = [];
    for (let i = 0; i < 10; i++) people.push(await join(`Person ${i}`));
    const fakes: Joined[] = [];
    for (let i = 0; i < 3; i++) fakes.push(await join(`Fake ${i}`));

    // People 0-4 stream from node 1, 5-7 from node 2, 8-9 from node 3.
    const nodeOf = (i: number): number => (i < 5 ? 1 : i < 8 ? 2 : 3);
    const byPerson = new Map<string, SseStream>();
    for (const [i, p] of people.entries()) {
      const url = `${cluster.node(nodeOf(i)).rest}${roomPath(roomId, `/events?token=${encodeURIComponent(p.token)}`)}`;
      const stream = await openSse(url);
      streams.push(stream);
      byPerson.set(p.memberId, stream);
    }
    const ids = people.map((p) => p.memberId);
    await presentEverywhere(roomId, ids, [1, 2, 3], 20_000);

    // A track plays; the three fakes vote it down: three is not half of ten people.
    const added = await ok<{ entry: unknown; started: boolean }>(
      call(lb, 'POST', roomPath(roomId, '/queue'), { token: created.token, body: { trackId: 'demo:0001' } }),
      201,
    );
    assert.equal(added.started, true);
    const playing = (await roomOn(1, roomId)).nowPlaying!.entryId;
    for (const f of fakes) {
      const vote = await ok<{ effect: string }>(
        call(lb, 'PUT', roomPath(roomId, `/queue/${playing}/vote`), { token: f.token, body: { value: -1 } }),
      );
      assert.equal(vote.effect, 'none');
    }
    for (const n of [1, 2, 3]) assert.equal((await roomOn(n, roomId)).nowPlaying?.entryId, playing);
    // Two real people more: five of ten present, the track is skipped.
    await ok(
      call(lb, 'PUT', roomPath(roomId, `/queue/${playing}/vote`), {
        token: people[0]!.token,
        body: { value: -1 },
      }),
    );
    const fifth = await ok<{ effect: string }>(
      call(lb, 'PUT', roomPath(roomId, `/queue/${playing}/vote`), {
        token: people[1]!.token,
        body: { value: -1 },
      }),
    );
    assert.equal(fifth.effect, 'skipped');

    // Person 9 closes their page: gone after the grace, on every node.
    byPerson.get(ids[9]!)!.close();
    await presentEverywhere(roomId, ids.slice(0, 9), [1, 2, 3], 20_000);

    // Node 2 dies without a word: its members (5-7) leave when its report's lease runs out.
    const victim = cluster.node(2).pid;
    process.kill(victim, 'SIGKILL');
    const stillHere = [...ids.slice(0, 5), ids[8]!];
    // The deadline is the lease and a generous margin (a loaded machine), not a measurement.
    await presentEverywhere(roomId, stillHere, [1, 3], LEASE_MS + 20_000);
    // Whoever restarts node 2 (the supervisor) finds the same answer there.
    await cluster.waitForNodeRestart(2, victim, 30_000);
    await presentEverywhere(roomId, stillHere, [1, 2, 3], 20_000);

    // A gRPC Watch with a token counts too (a fake who now really is here), until it is cancelled.
    const grpcAddress = cluster.node(3).grpc;
    assert.ok(grpcAddress, 'node 3 names its gRPC address');
    const stubs = connect(grpcAddress);
    try {
      const watcher = watch(stubs, { roomId }, callMetadata(fakes[0]!.token));
      await presentEverywhere(roomId, [...stillHere, fakes[0]!.memberId], [1, 2, 3], 20_000);
      watcher.cancel();
      await presentEverywhere(roomId, stillHere, [1, 2, 3], 20_000);
    } finally {
      stubs.close();
    }
  });
});

void describe('join control over REST', () => {
  void test('passcode, approval, member cap', async () => {
    const lb = cluster.lb;
    const created = await ok<Joined & { room: RoomView }>(
      call(lb, 'POST', '/v1/rooms', {
        body: {
          name: 'Door party',
          hostName: 'Host',
          settings: { joinPolicy: 'passcode', maxMembers: 3, public: true },
          passcode: 'open sesame',
        },
      }),
      201,
    );
    const roomId = created.room.id;
    const members = roomPath(roomId, '/members');
    const refused = await call(lb, 'POST', members, { body: { name: 'No code' } });
    assert.equal(refused.status, 403);
    const wrong = await call(lb, 'POST', members, { body: { name: 'Wrong', passcode: 'open barley' } });
    assert.equal(wrong.status, 403);
    // Any node hashes alike: join through each.
    await ok(
      call(cluster.node(1).rest, 'POST', members, { body: { name: 'A', passcode: 'open sesame' } }),
      201,
    );
    await ok(
      call(cluster.node(3).rest, 'POST', members, { body: { name: 'B', passcode: 'open sesame' } }),
      201,
    );
    const full = await call(lb, 'POST', members, { body: { name: 'C', passcode: 'open sesame' } });
    assert.equal(full.status, 409, JSON.stringify(full.body));
    assert.ok(!JSON.stringify(await roomOn(1, roomId)).includes('sesame'));

    // Approval: the join waits; the host admits.
    await ok(
      call(lb, 'PATCH', roomPath(roomId, '/settings'), {
        token: created.token,
        body: { joinPolicy: 'approval', maxMembers: 0 },
      }),
    );
    const waiting = await ok<Joined & { pending: boolean; room: RoomView }>(
      call(lb, 'POST', members, { body: { name: 'Waiting' } }),
      201,
    );
    assert.equal(waiting.pending, true);
    assert.equal(waiting.room.joinPending, true);
    const asHost = await ok<RoomView>(call(lb, 'GET', roomPath(roomId), { token: created.token }));
    assert.deepEqual(
      asHost.pendingJoins.map((p) => p.name),
      ['Waiting'],
    );
    const early = await call(lb, 'POST', roomPath(roomId, '/queue'), {
      token: waiting.token,
      body: { trackId: 'demo:0002' },
    });
    assert.equal(early.status, 403);
    await ok(
      call(lb, 'POST', roomPath(roomId, `/join-requests/${waiting.memberId}`), {
        token: created.token,
        body: { approve: true },
      }),
    );
    const me = await ok<RoomView>(
      call(cluster.node(2).rest, 'GET', roomPath(roomId), { token: waiting.token }),
    );
    assert.equal(me.me?.name, 'Waiting');
    assert.equal(me.joinPending, false);
  });
});
