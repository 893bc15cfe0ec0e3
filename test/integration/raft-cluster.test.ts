// The earlier system's five Raft scenarios on five real `chorus serve --store raft` processes,
// observed only through GET /v1/cluster and the REST API; a leader stopped (SIGTERM) under writes
// that hands over in one election; then a single node that loses no acknowledged write across SIGKILL.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanupChorus, type ChorusProcess } from '../helpers/chorus-process.ts';
import { groupProcesses, type GroupProcessOptions } from '../helpers/group-processes.ts';
import { Http, type HttpResponse } from '../helpers/http.ts';
import { until } from '../helpers/until.ts';

after(cleanupChorus);

interface Cluster {
  readonly store: string;
  readonly nodeId: string;
  readonly role: string;
  readonly leaderId: string | null;
  readonly details: { term: number; commitIndex: number; appliedIndex: number };
}

async function status(node: ChorusProcess): Promise<Cluster | null> {
  try {
    const res = await fetch(`${node.restUrl}/v1/cluster`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? ((await res.json()) as Cluster) : null;
  } catch {
    return null;
  }
}

/** The leader every live node names, once they all agree and it says it leads. */
async function agreedLeader(nodes: readonly ChorusProcess[]): Promise<{ id: string; term: number }> {
  return until(
    'one leader named by every node',
    async () => {
      const all = await Promise.all(nodes.map(status));
      if (all.some((s) => s === null)) return undefined;
      const ids = new Set(all.map((s) => s!.leaderId));
      const [id] = ids;
      if (ids.size !== 1 || !id) return undefined;
      const leader = all.find((s) => s!.nodeId === id);
      return leader?.role === 'leader' ? { id, term: leader.details.term } : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** A POST's status and JSON body (the shared client's, test/helpers/http.ts). */
const post = (node: ChorusProcess, path: string, body: object): Promise<HttpResponse> =>
  new Http(node.restUrl).post(path, body, { timeoutMs: 10_000 });

/** Every node answers the room at `version` or later (each applied the write). */
async function seenEverywhere(nodes: readonly ChorusProcess[], room: string, version: number): Promise<void> {
  for (const node of nodes) {
    const res = await fetch(`${node.restUrl}/v1/rooms/${room}?minVersion=${version}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `${node.restUrl}: ${text}`);
    const view = JSON.parse(text) as { version: number };
    assert.ok(view.version >= version);
  }
}

/** A Raft group of n node processes (test/helpers/group-processes.ts), every node started at once. */
async function startGroup(
  n: number,
  options: GroupProcessOptions = {},
): Promise<{ nodes: ChorusProcess[]; ids: readonly string[] }> {
  const group = await groupProcesses('raft', n, {
    startTimeoutMs: 120_000,
    ...options,
    args: ['--no-legacy', ...(options.args ?? [])],
  });
  const nodes = await Promise.all(group.ids.map((_, i) => group.start(i)));
  return { nodes, ids: group.ids };
}

void describe('raft: five chorus serve processes', () => {
  void test('leader election, a stable leader, replication, forwarding, failover after SIGKILL', async (t) => {
    const { nodes, ids } = await startGroup(5);
    const byId = (id: string): ChorusProcess => nodes[ids.indexOf(id)]!;

    // 1. A leader is elected.
    const first = await agreedLeader(nodes);
    await t.test('a leader is elected', () => assert.ok(ids.includes(first.id)));

    // 2. Heartbeats keep it: no election for 5 s, every node names the same leader in the same term.
    const quietUntil = Date.now() + 5_000;
    while (Date.now() < quietUntil) {
      for (const s of await Promise.all(nodes.map(status))) {
        assert.equal(s?.leaderId, first.id);
        assert.equal(s?.details.term, first.term);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    // 3. A client command on the leader is replicated to all five.
    const leader = byId(first.id);
    const created = await post(leader, '/v1/rooms', { roomId: 'raft-five', name: 'Five', hostName: 'Ann' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const v1 = (created.body as { room: { version: number } }).room.version;
    await seenEverywhere(nodes, 'raft-five', v1);

    // 4. A command sent to a follower is forwarded to the leader and committed everywhere.
    const follower = nodes.find((n) => n !== leader)!;
    const joined = await post(follower, '/v1/rooms/raft-five/members', { name: 'Bob' });
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    const v2 = (joined.body as { room: { version: number } }).room.version;
    assert.ok(v2 > v1);
    await seenEverywhere(nodes, 'raft-five', v2);

    // 5. The leader is SIGKILLed: the four others elect a new one, which takes writes.
    await leader.kill();
    const rest = nodes.filter((n) => n !== leader);
    const second = await agreedLeader(rest);
    assert.notEqual(second.id, first.id);
    assert.ok(second.term > first.term);
    const again = await until(
      'a write accepted after failover',
      async () => {
        const res = await post(rest[0]!, '/v1/rooms/raft-five/members', { name: 'Cy' }).catch(() => null);
        return res?.status === 201 ? (res.body as { room: { version: number } }).room : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await seenEverywhere(rest, 'raft-five', again.version);
    await Promise.all(rest.map((n) => n.stop()));
  });
});

void describe('raft: SIGTERM of the leader under writes', () => {
  void test('it hands over: one election, no write needs more than one retry, none is lost', async () => {
    // Every join comes from 127.0.0.1: no per-address limit in the way.
    const { nodes, ids } = await startGroup(3, {
      args: ['--joins-per-address', '1000000'],
      logLevel: 'info',
    });
    const first = await agreedLeader(nodes);
    const leader = nodes[ids.indexOf(first.id)]!;
    const followers = nodes.filter((n) => n !== leader);
    const created = await post(followers[0]!, '/v1/rooms', {
      roomId: 'hand-over',
      name: 'H',
      hostName: 'Ann',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    // Four writers on the followers (the leader's own REST port closes with it), each one join at a
    // time; a failed join is retried once, 500 ms later, with the same Idempotency-Key.
    let stopped = false;
    let acked = 0;
    const failures: string[] = [];
    const join = (node: ChorusProcess, key: string) =>
      fetch(`${node.restUrl}/v1/rooms/hand-over/members`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ name: key }),
        signal: AbortSignal.timeout(15_000),
      }).then(
        async (res) => ({ status: res.status, text: await res.text() }),
        (err: unknown) => ({ status: 0, text: String(err) }),
      );
    const writer = async (node: ChorusProcess, w: number): Promise<void> => {
      for (let i = 0; !stopped && i < 2_000; i++) {
        const key = `w${w}-${i}`;
        let res = await join(node, key);
        if (res.status !== 201) {
          await new Promise((r) => setTimeout(r, 500));
          res = await join(node, key);
        }
        if (res.status === 201) acked++;
        else failures.push(`${key}: ${res.status} ${res.text}`);
      }
    };
    const writers = [0, 1, 2, 3].map((w) => writer(followers[w % 2]!, w));
    try {
      await until('writes before the stop', async () => (acked >= 20 ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      assert.equal(await leader.stop(60_000), 0, 'the leader exits cleanly');
      // It heard its successor before it closed (its peer service stays up until then).
      assert.match(
        leader.stdout() + leader.stderr(),
        /"handedOver":true[^\n]*raft leadership transfer on stop/,
      );
      const before = acked;
      await until('writes after the stop', async () => (acked >= before + 20 ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
    } finally {
      stopped = true;
      await Promise.all(writers);
    }
    assert.deepEqual(failures, [], 'every write succeeded, at most on its one retry');
    const second = await agreedLeader(followers);
    assert.notEqual(second.id, first.id);
    assert.equal(second.term, first.term + 1, 'leadership moved in one election: the hand-over');
    // Every acknowledged join is on both survivors (joins with the same key count once).
    for (const node of followers) {
      const view = await until(
        'every join applied',
        async () => {
          const res = await fetch(`${node.restUrl}/v1/rooms/hand-over`);
          const v = (await res.json()) as { memberCount: number };
          return v.memberCount === 1 + acked ? v : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      assert.equal(view.memberCount, 1 + acked);
    }
    await Promise.all(followers.map((n) => n.stop()));
  });
});

void describe('raft: one node', () => {
  void test('loses no acknowledged write across SIGKILL', async () => {
    const group = await groupProcesses('raft', 1, { startTimeoutMs: 120_000 });
    const node = await group.start(0);
    await agreedLeader([node]);
    const created = await post(node, '/v1/rooms', { roomId: 'solo', name: 'Solo', hostName: 'Ann' });
    assert.equal(created.status, 201);
    const names = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const answers = await Promise.all(names.map((name) => post(node, '/v1/rooms/solo/members', { name })));
    let last = 0;
    for (const res of answers) {
      assert.equal(res.status, 201, JSON.stringify(res.body));
      last = Math.max(last, (res.body as { room: { version: number } }).room.version);
    }
    await group.kill(0);
    const again = await group.start(0); // on its data dir and gRPC port
    await agreedLeader([again]);
    const res = await fetch(`${again.restUrl}/v1/rooms/solo?minVersion=${last}`);
    assert.equal(res.status, 200);
    const view = (await res.json()) as { version: number; memberCount: number };
    assert.equal(view.version, last);
    assert.equal(view.memberCount, 1 + names.length, 'every acknowledged join is still there');
    await again.stop();
  });
});
