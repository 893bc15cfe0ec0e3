// Issue 20 part A across real processes: a banned member is refused by each of 3 nodes (the ban is
// room state, replicated like any command) and their open stream of a private room ends with a last `removed` event; a
// rotated token secret accepts old tokens during its grace and refuses them after; and a
// `chorus cluster` restart on the same folder keeps every host token valid on the Raft and 2PC stores
// too (the Redis store's case is in cluster-secrets.test.ts).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { TokenSigner } from '../../src/node/tokens.ts';
import { cleanupChorus, startChorus } from '../helpers/chorus-process.ts';
import { call, roomPath, startCluster } from '../helpers/cluster.ts';
import { isSse, openSse, type SseMessage } from '../helpers/http.ts';
import { until } from '../helpers/until.ts';

after(() => cleanupChorus());

interface Joined {
  readonly memberId: string;
  readonly token: string;
  readonly invite?: string;
}

void test('a banned member is refused on each of 3 nodes, and their stream ends with a last `removed` event', async () => {
  const cluster = await startCluster({ nodes: 3 });
  try {
    const created = await call<Joined>(cluster.lb, 'POST', '/v1/rooms', {
      body: {
        roomId: 'banned-room',
        name: 'Ban',
        hostName: 'Ann',
        settings: { public: false, autoplay: false },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const host = created.body;
    const invite = host.invite!;
    const eve = await call<Joined>(cluster.node(2).rest, 'POST', roomPath('banned-room', '/members'), {
      body: { name: 'Eve', invite, clientKey: 'eves-browser-key-0001' },
    });
    assert.equal(eve.status, 201, JSON.stringify(eve.body));
    // Eve writes through every node before the ban (each node has her in its copy of the room).
    for (const n of cluster.nodes()) {
      const wrote = await until(
        `node ${n.index} knows Eve`,
        async () => {
          const r = await call(n.rest, 'PUT', roomPath('banned-room', '/queue/x/vote'), {
            token: eve.body.token,
            body: { value: 1 },
          });
          return r.status === 404 ? r : undefined; // no entry x: NOT_FOUND, so she got as far as the room
        },
        { timeoutMs: 10_000 },
      );
      assert.equal(wrote.status, 404);
    }
    // Eve watches through node 3.
    const stream = await openSse(`${cluster.node(3).rest}/v1/rooms/banned-room/events?invite=${invite}`, {
      authorization: `Bearer ${eve.body.token}`,
    });
    assert.ok(isSse(stream));
    assert.equal((await stream.next()).event, 'reset');

    const ban = await call(
      cluster.node(1).rest,
      'DELETE',
      `${roomPath('banned-room', '/members/')}${eve.body.memberId}?ban=true`,
      {
        token: host.token,
      },
    );
    assert.equal(ban.status, 200, JSON.stringify(ban.body));
    for (const n of cluster.nodes()) {
      const refused = await until(
        `node ${n.index} refuses Eve's token`,
        async () => {
          const r = await call<{ error: { details: { reason: string } } }>(
            n.rest,
            'POST',
            roomPath('banned-room', '/queue'),
            {
              token: eve.body.token,
              body: { trackId: 'demo:0001' },
            },
          );
          return r.status === 403 && r.body.error.details.reason === 'MEMBER_BANNED' ? r : undefined;
        },
        { timeoutMs: 10_000 },
      );
      assert.equal(refused.status, 403);
      const rejoin = await call<{ error: { details: { reason: string } } }>(
        n.rest,
        'POST',
        roomPath('banned-room', '/members'),
        {
          body: { name: 'Eve again', invite, clientKey: 'eves-browser-key-0001' },
        },
      );
      assert.equal(rejoin.status, 403, `node ${n.index}: ${JSON.stringify(rejoin.body)}`);
      assert.equal(rejoin.body.error.details.reason, 'MEMBER_BANNED');
    }
    const lock = await call(cluster.lb, 'PUT', roomPath('banned-room', '/lock'), {
      token: host.token,
      body: { locked: true },
    });
    assert.equal(lock.status, 200);
    // The host's own stream shows the lock arrived on node 3; Eve's got nothing of it.
    const hostStream = await openSse(`${cluster.node(3).rest}/v1/rooms/banned-room/events?invite=${invite}`);
    assert.ok(isSse(hostStream));
    const reset = await hostStream.next();
    assert.equal((reset.data as { room: { locked: boolean } }).room.locked, true);
    hostStream.close();
    // Her stream's last message says she was banned; the server then closed it, so nothing of the
    // change that removed her, nor of any after it, reached her.
    const seen: SseMessage[] = [];
    while (seen.at(-1)?.event !== 'removed') seen.push(await stream.next(30_000));
    assert.deepEqual(seen.at(-1)!.data, {
      version: (seen.at(-1)!.data as { version: number }).version,
      memberId: eve.body.memberId,
      banned: true,
    });
    await assert.rejects(stream.next(30_000), /ended/, 'the server closed the banned member’s stream');
    const types = seen.flatMap((m) =>
      m.event === 'change' ? (m.data as { events: { type: string }[] }).events.map((e) => e.type) : [],
    );
    assert.ok(!types.includes('memberRemoved') && !types.includes('lockChanged'), types.join(', '));
    stream.close();
  } finally {
    await cluster.stop();
  }
});

void test('a rotated secret accepts old tokens during its grace and refuses them after', async () => {
  const OLD = 'the-old-secret-0123456789';
  const NEW = 'the-new-secret-9876543210';
  // The grace ends 15 s from now (node start included): an absolute date, the same for every node.
  const graceEnds = Date.now() + 15_000;
  const node = await startChorus({
    env: { CHORUS_SECRET: NEW, CHORUS_PREVIOUS_SECRET: `${OLD}@${new Date(graceEnds).toISOString()}` },
  });
  try {
    const created = await call<Joined>(node.restUrl, 'POST', '/v1/rooms', {
      body: { roomId: 'rotated', name: 'R', hostName: 'Ann' },
    });
    assert.equal(created.status, 201);
    // The same host as a node still on the old secret would have signed it.
    const oldToken = new TokenSigner(OLD).sign({ roomId: 'rotated', memberId: created.body.memberId });
    const lock = (locked: boolean, t: string) =>
      call(node.restUrl, 'PUT', roomPath('rotated', '/lock'), { token: t, body: { locked } });
    const during = await lock(true, oldToken);
    assert.ok(Date.now() < graceEnds, 'the node answered within the grace period');
    assert.equal(during.status, 200, `the old token during the grace: ${JSON.stringify(during.body)}`);
    const refused = await until(
      'the old token refused after the grace',
      async () => {
        const r = await lock(false, oldToken);
        return r.status === 401 ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.ok(Date.now() >= graceEnds, 'refused only once the grace is over');
    assert.equal(refused.status, 401);
    const forged = new TokenSigner('some-other-secret-000000').sign({
      roomId: 'rotated',
      memberId: created.body.memberId,
    });
    assert.equal((await lock(false, forged)).status, 401, 'a secret never configured never worked');
    // Tokens signed with the new secret keep working.
    assert.equal((await lock(false, created.body.token)).status, 200);
  } finally {
    assert.equal(await node.stop(), 0, node.stderr());
  }
});

for (const store of ['raft', '2pc'] as const) {
  void test(`a ${store} cluster restarted on its folder keeps every host token valid`, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), `chorus-${store}-restart-`));
    const start = () =>
      startChorus({
        command: ['cluster'],
        dataDir,
        logLevel: null,
        startTimeoutMs: 120_000,
        args: ['--store', store, '--nodes', '3', '--api', 'rest'],
        ready: (lines) => lines.some((l) => l.startsWith('members ')),
      });
    try {
      const first = await start();
      let token: string;
      try {
        const created = await call<Joined>(first.restUrl, 'POST', '/v1/rooms', {
          body: { roomId: 'kept', name: 'Kept', hostName: 'Ann' },
          timeoutMs: 30_000,
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        token = created.body.token;
      } finally {
        assert.equal(await first.stop(30_000), 0, first.stderr());
      }
      const second = await start();
      try {
        for (const n of second.nodes()) {
          const locked = await until(
            `node ${n.n} answers`,
            async () => {
              const r = await call(n.restUrl!, 'PUT', roomPath('kept', '/lock'), {
                token,
                body: { locked: true },
                timeoutMs: 30_000,
              });
              return r.status === 200 || r.status === 401 || r.status === 403 ? r : undefined;
            },
            { timeoutMs: 60_000, intervalMs: 200 },
          );
          assert.equal(
            locked.status,
            200,
            `node ${n.n}, the host token from before: ${JSON.stringify(locked.body)}`,
          );
        }
      } finally {
        assert.equal(await second.stop(30_000), 0, second.stderr());
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}
