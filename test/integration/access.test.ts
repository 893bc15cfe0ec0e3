// Issue 20 part A on a real node, over REST and gRPC: a private room answers a stranger exactly as a
// room that does not exist (reads, history, SSE, Watch, joins) and opens with its invite; a recovery
// key restores a lost host; the host lists members, makes co-hosts, hands over, removes and bans.

import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { after, before, test } from 'node:test';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import path from 'node:path';
import { cleanupChorus, makeTempDir, runChorus } from '../helpers/chorus-process.ts';
import { call, md, rejectsWith, soon, watch, type Watcher } from '../helpers/grpc-calls.ts';
import { startGrpcNode, type GrpcNode } from '../helpers/grpc-node.ts';
import { Http, isSse, ok, openSse, type Json, type SseMessage, type SseStream } from '../helpers/http.ts';

let node: GrpcNode;
let api: Http;

before(async () => {
  node = await startGrpcNode();
  api = new Http(node.restUrl);
});
after(async () => {
  await node.stop();
  await cleanupChorus();
});

let counter = 0;
async function privateRoom(): Promise<{ id: string; token: string; invite: string; recoveryKey: string }> {
  const id = `private-${++counter}`;
  const body = ok(
    await api.post('/v1/rooms', { roomId: id, name: 'Secret', hostName: 'Ann', settings: { public: false } }),
    201,
  );
  return { id, token: body.token, invite: body.invite, recoveryKey: body.recoveryKey };
}

interface Identity {
  readonly token: string;
  readonly memberId: string;
}

/** Status and body with the one part that must differ (the room id in it) made alike. */
function shape(res: { status: number; body: Json }, id: string): string {
  return `${res.status} ${JSON.stringify(res.body).replaceAll(id, 'ROOM')}`;
}

void test('a private room: 404 for reads, history, SSE and joins without its invite, exactly as no room', async () => {
  const room = await privateRoom();
  assert.match(room.invite, /^[A-Za-z0-9_-]{22}$/, '128 random bits');
  const missing = 'no-such-room-here';
  const pairs: Array<[string, (id: string) => Promise<{ status: number; body: Json }>]> = [
    ['GET room', (id) => api.get(`/v1/rooms/${id}`)],
    ['GET history', (id) => api.get(`/v1/rooms/${id}/history`)],
    ['join', (id) => api.post(`/v1/rooms/${id}/members`, { name: 'Eve' })],
    [
      'join, wrong invite',
      (id) => api.post(`/v1/rooms/${id}/members`, { name: 'Eve', invite: 'x'.repeat(22) }),
    ],
    ['GET room, wrong invite', (id) => api.get(`/v1/rooms/${id}?invite=${'y'.repeat(22)}`)],
  ];
  for (const [what, request] of pairs) {
    const hidden = await request(room.id);
    assert.equal(hidden.status, 404, `${what}: ${JSON.stringify(hidden.body)}`);
    assert.equal(shape(hidden, room.id), shape(await request(missing), missing), what);
  }
  const sse = await openSse(`${node.restUrl}/v1/rooms/${room.id}/events`);
  assert.ok(!isSse(sse), 'no stream without the invite');
  const none = await openSse(`${node.restUrl}/v1/rooms/${missing}/events`);
  assert.ok(!isSse(none));
  assert.equal(shape(sse, room.id), shape(none, missing));

  // With the invite: everything opens; a member then reads with their token alone.
  ok(await api.get(`/v1/rooms/${room.id}?invite=${room.invite}`), 200);
  ok(await api.get(`/v1/rooms/${room.id}/history?invite=${room.invite}`), 200);
  const stream = await openSse(`${node.restUrl}/v1/rooms/${room.id}/events?invite=${room.invite}`);
  assert.ok(isSse(stream));
  assert.equal((await stream.next()).event, 'reset');
  stream.close();
  const joined = ok(await api.post(`/v1/rooms/${room.id}/members`, { name: 'Bo', invite: room.invite }), 201);
  const seen = ok(await api.get(`/v1/rooms/${room.id}`, { token: joined.token }), 200);
  assert.equal(seen.me.role, 'member');
  assert.equal(seen.invite, undefined, 'members do not see the invite');
  assert.equal(ok(await api.get(`/v1/rooms/${room.id}`, { token: room.token }), 200).invite, room.invite);
  // Not listed either.
  const listed = ok(await api.get('/v1/rooms?limit=500'), 200).rooms as Json[];
  assert.ok(!listed.some((r) => r.id === room.id));

  // A new invite closes the old link.
  const fresh = ok(await api.post(`/v1/rooms/${room.id}/invite`, undefined, { token: room.token }), 200);
  assert.notEqual(fresh.invite, room.invite);
  assert.equal((await api.get(`/v1/rooms/${room.id}?invite=${room.invite}`)).status, 404);
  ok(await api.get(`/v1/rooms/${room.id}?invite=${fresh.invite}`), 200);
});

void test('gRPC: GetRoom, GetHistory, Watch and Join answer NOT_FOUND without the invite', async () => {
  const room = await privateRoom();
  const s = node.stubs;
  const getRoom = (invite = '') =>
    call<pb.Room__Output>((done) => s.rooms.GetRoom({ roomId: room.id, invite }, md(), soon(), done));
  const missing = await rejectsWith(
    call((done) => s.rooms.GetRoom({ roomId: 'no-such-room-here' }, md(), soon(), done)),
    status.NOT_FOUND,
  );
  const hidden = await rejectsWith(getRoom(), status.NOT_FOUND);
  assert.deepEqual(
    JSON.stringify(hidden).replaceAll(room.id, 'ROOM'),
    JSON.stringify(missing).replaceAll('no-such-room-here', 'ROOM'),
  );
  await rejectsWith(
    call((done) => s.rooms.GetHistory({ roomId: room.id }, md(), soon(), done)),
    status.NOT_FOUND,
  );
  await rejectsWith(
    call((done) => s.sessions.Join({ roomId: room.id, name: 'Eve' }, md(), soon(), done)),
    status.NOT_FOUND,
  );
  const watcher = watch(s, { roomId: room.id }, md(), soon());
  const ended = await watcher.ended;
  assert.equal(ended?.code, status.NOT_FOUND);
  const resumed = watch(s, { roomId: room.id, afterVersion: 1 }, md(), soon());
  assert.equal((await resumed.ended)?.code, status.NOT_FOUND, 'resuming needs the invite too');

  assert.equal((await getRoom(room.invite)).id, room.id);
  const joined = await call<pb.JoinResponse__Output>((done) =>
    s.sessions.Join({ roomId: room.id, name: 'Bo', invite: room.invite }, md(), soon(), done),
  );
  const open = watch(s, { roomId: room.id }, md(joined.token), soon());
  await open.reach(2);
  open.cancel();
});

void test('a recovery key restores a lost host over REST and gRPC; the lost token opens nothing', async () => {
  const room = await privateRoom();
  const member = ok(await api.post(`/v1/rooms/${room.id}/members`, { name: 'Bo', invite: room.invite }), 201);
  const wrong = await api.post(`/v1/rooms/${room.id}/recover`, { recoveryKey: 'not-the-key-at-all' });
  assert.equal(wrong.status, 403, JSON.stringify(wrong.body));
  const back = ok(await api.post(`/v1/rooms/${room.id}/recover`, { recoveryKey: room.recoveryKey }), 200);
  assert.equal(back.room.hostId, back.memberId);
  assert.equal(back.room.me.role, 'host');
  assert.equal(back.room.me.name, 'Ann');
  ok(await api.put(`/v1/rooms/${room.id}/lock`, { locked: true }, { token: back.token }), 200);
  const old = await api.put(`/v1/rooms/${room.id}/lock`, { locked: false }, { token: room.token });
  assert.equal(old.status, 403, `the lost host token: ${JSON.stringify(old.body)}`);
  const asMember = await api.put(`/v1/rooms/${room.id}/lock`, { locked: false }, { token: member.token });
  assert.equal(asMember.status, 403);

  // gRPC: the key again, a new identity again.
  const s = node.stubs;
  await rejectsWith(
    call((done) =>
      s.rooms.RecoverHost({ roomId: room.id, recoveryKey: 'nope-nope-nope' }, md(), soon(), done),
    ),
    status.PERMISSION_DENIED,
  );
  const viaGrpc = await call<pb.JoinResponse__Output>((done) =>
    s.rooms.RecoverHost({ roomId: room.id, recoveryKey: room.recoveryKey }, md(), soon(), done),
  );
  assert.equal(viaGrpc.room?.hostId, viaGrpc.memberId);
  assert.equal(viaGrpc.room?.me?.role, 'host');
  assert.equal(
    (await api.put(`/v1/rooms/${room.id}/lock`, { locked: false }, { token: back.token })).status,
    403,
  );
  // CreateRoom over gRPC returns a key too.
  const created = await call<pb.JoinResponse__Output>((done) =>
    s.rooms.CreateRoom({ roomId: `grpc-made-${counter}`, name: 'G', hostName: 'Gil' }, md(), soon(), done),
  );
  assert.match(created.recoveryKey, /^[A-Za-z0-9_-]{32}$/);
});

void test('a hand-over retires the recovery key; the new host makes a new one (REST and gRPC)', async () => {
  const room = await privateRoom();
  const bo = ok(
    await api.post(`/v1/rooms/${room.id}/members`, { name: 'Bo', invite: room.invite }),
    201,
  ) as Identity;
  const cy = ok(
    await api.post(`/v1/rooms/${room.id}/members`, { name: 'Cy', invite: room.invite }),
    201,
  ) as Identity;
  ok(await api.post(`/v1/rooms/${room.id}/hand-over`, { memberId: bo.memberId }, { token: room.token }), 200);
  const retired = await api.post(`/v1/rooms/${room.id}/recover`, { recoveryKey: room.recoveryKey });
  assert.equal(retired.status, 403, JSON.stringify(retired.body));
  assert.equal(retired.body.error.details.reason, 'RECOVERY_KEY_RETIRED');
  // Only the host makes a key: not the old host (a co-host now), not a member.
  for (const token of [room.token, cy.token]) {
    const refused = await api.post(`/v1/rooms/${room.id}/recovery-key`, undefined, { token });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error.details.reason, 'HOST_ONLY');
  }
  const made = ok(await api.post(`/v1/rooms/${room.id}/recovery-key`, undefined, { token: bo.token }), 200);
  assert.match(String(made.recoveryKey), /^[A-Za-z0-9_-]{32}$/);
  // A retry with the same idempotency key answers the same key; the key works.
  const headers = { 'idempotency-key': 'new-key-1' };
  const first = ok(
    await api.post(`/v1/rooms/${room.id}/recovery-key`, undefined, { token: bo.token, headers }),
    200,
  );
  const retry = ok(
    await api.post(`/v1/rooms/${room.id}/recovery-key`, undefined, { token: bo.token, headers }),
    200,
  );
  assert.equal(retry.recoveryKey, first.recoveryKey);
  assert.equal(retry.version, first.version);
  const stale = await api.post(`/v1/rooms/${room.id}/recover`, { recoveryKey: made.recoveryKey });
  assert.equal(stale.body.error.details.reason, 'RECOVERY_KEY_RETIRED', 'a newer key retires the one before');
  const firstKey = String(first.recoveryKey);
  const back = ok(await api.post(`/v1/rooms/${room.id}/recover`, { recoveryKey: firstKey }), 200);
  assert.equal(back.room.me.role, 'host');
  assert.equal(back.room.me.name, 'Bo');

  // gRPC: hand over again (the key is retired), NewRecoveryKey by the new host only.
  const s = node.stubs;
  await call((done) =>
    s.rooms.HandOver({ roomId: room.id, memberId: cy.memberId }, md(String(back.token)), soon(), done),
  );
  const trailer = await rejectsWith(
    call((done) => s.rooms.RecoverHost({ roomId: room.id, recoveryKey: firstKey }, md(), soon(), done)),
    status.PERMISSION_DENIED,
  );
  assert.equal(trailer?.details?.['reason'], 'RECOVERY_KEY_RETIRED');
  await rejectsWith(
    call((done) => s.rooms.NewRecoveryKey({ roomId: room.id }, md(String(back.token)), soon(), done)),
    status.PERMISSION_DENIED,
  );
  const viaGrpc = await call<pb.NewRecoveryKeyResponse__Output>((done) =>
    s.rooms.NewRecoveryKey({ roomId: room.id }, md(cy.token), soon(), done),
  );
  assert.match(viaGrpc.recoveryKey, /^[A-Za-z0-9_-]{32}$/);
  const recovered = await call<pb.JoinResponse__Output>((done) =>
    s.rooms.RecoverHost({ roomId: room.id, recoveryKey: viaGrpc.recoveryKey }, md(), soon(), done),
  );
  assert.equal(recovered.room?.me?.name, 'Cy');
});

void test('members, co-hosts, hand-over, kick with or without entries, ban with the client key', async () => {
  const room = await privateRoom();
  const join = async (name: string, clientKey?: string): Promise<{ token: string; memberId: string }> =>
    ok(
      await api.post(`/v1/rooms/${room.id}/members`, {
        name,
        invite: room.invite,
        ...(clientKey ? { clientKey } : {}),
      }),
      201,
    ) as { token: string; memberId: string };
  const bo = await join('Bo');
  const cy = await join('Cy', 'client-key-of-cy-123');
  const dee = await join('Dee');
  assert.equal((await api.get(`/v1/rooms/${room.id}/members`, { token: bo.token })).status, 403);
  ok(
    await api.put(
      `/v1/rooms/${room.id}/members/${bo.memberId}/role`,
      { role: 'cohost' },
      { token: room.token },
    ),
    200,
  );
  const list = ok(await api.get(`/v1/rooms/${room.id}/members`, { token: bo.token }), 200);
  assert.deepEqual(
    (list.members as Json[]).map((m) => `${m.name}:${m.role}`),
    ['Ann:host', 'Bo:cohost', 'Cy:member', 'Dee:member'],
  );

  // Dee's entries go with her; Cy is banned and cannot come back from the same client.
  for (const [who, trackId] of [
    [dee, 'demo:0001'],
    [dee, 'demo:0002'],
    [cy, 'demo:0003'],
  ] as const) {
    ok(await api.post(`/v1/rooms/${room.id}/queue`, { trackId }, { token: who.token }), 201);
  }
  const kicked = ok(
    await api.delete(`/v1/rooms/${room.id}/members/${dee.memberId}?removeEntries=true`, { token: bo.token }),
    200,
  );
  assert.equal(kicked.removedEntries, 1, 'the playing one plays on; the waiting one goes');
  assert.equal(
    (await api.post(`/v1/rooms/${room.id}/queue`, { trackId: 'demo:0004' }, { token: dee.token })).status,
    403,
    'a removed member cannot write',
  );
  const banned = ok(
    await api.delete(`/v1/rooms/${room.id}/members/${cy.memberId}?ban=true`, { token: room.token }),
    200,
  );
  assert.equal(banned.banned, true);
  const refused = await api.post(`/v1/rooms/${room.id}/queue`, { trackId: 'demo:0005' }, { token: cy.token });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.details.reason, 'MEMBER_BANNED');
  const again = await api.post(`/v1/rooms/${room.id}/members`, {
    name: 'Cy',
    invite: room.invite,
    clientKey: 'client-key-of-cy-123',
  });
  assert.equal(again.status, 403);
  assert.equal(again.body.error.details.reason, 'MEMBER_BANNED');
  const after = ok(await api.get(`/v1/rooms/${room.id}/members`, { token: room.token }), 200);
  assert.deepEqual(
    (after.banned as Json[]).map((b) => String(b.name)),
    ['Cy'],
  );
  const queue = ok(await api.get(`/v1/rooms/${room.id}`, { token: room.token }), 200);
  assert.deepEqual(
    (queue.queue as Json[]).map((e) => String(e.track.trackId)),
    ['demo:0003'],
    "Cy's entry stays (entries go only when asked)",
  );

  // Hand-over: Bo becomes host, Ann a co-host who can no longer change roles.
  ok(await api.post(`/v1/rooms/${room.id}/hand-over`, { memberId: bo.memberId }, { token: room.token }), 200);
  const roles = ok(await api.get(`/v1/rooms/${room.id}/members`, { token: bo.token }), 200);
  assert.deepEqual(
    (roles.members as Json[]).map((m) => `${m.name}:${m.role}`),
    ['Ann:cohost', 'Bo:host'],
  );
  assert.equal(
    (
      await api.put(
        `/v1/rooms/${room.id}/members/${bo.memberId}/role`,
        { role: 'member' },
        { token: room.token },
      )
    ).status,
    403,
  );
});

void test('the CLI: a private room prints its invite and recovery key; join needs --invite; a ban sticks', async () => {
  const home = await makeTempDir('chorus-cli-access-');
  const cli = (who: string, ...args: string[]) =>
    runChorus(args, {
      env: { CHORUS_SERVER: node.restUrl, CHORUS_CREDENTIALS: path.join(home, `${who}.json`) },
    });
  const made = await cli('ann', 'create-room', 'Hush', '--id', 'cli-hush', '--private', '--host-name', 'Ann');
  assert.equal(made.code, 0, made.stderr);
  const invite = /^invite (\S+)/m.exec(made.stdout)?.[1];
  assert.ok(invite, made.stdout);
  assert.match(made.stdout, /^recovery-key [A-Za-z0-9_-]{32}$/m);
  const refused = await cli('bob', 'join', 'cli-hush', 'Bob');
  assert.notEqual(refused.code, 0, 'no invite, no room');
  const joined = await cli('bob', 'join', 'cli-hush', 'Bob', '--invite', invite);
  assert.equal(joined.code, 0, joined.stderr);
  const bob = /member (\S+)\)/.exec(joined.stdout)![1]!;
  const hostToken = /^token (\S+)/m.exec(made.stdout)![1]!;
  ok(await api.delete(`/v1/rooms/cli-hush/members/${bob}?ban=true`, { token: hostToken }), 200);
  // The same CLI profile (its client key) is refused a second identity; another profile is not.
  const again = await cli('bob', 'join', 'cli-hush', 'Bobby', '--invite', invite, '--as', 'second');
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /banned/);
  const other = await cli('cat', 'join', 'cli-hush', 'Cat', '--invite', invite);
  assert.equal(other.code, 0, other.stderr);
});

/** Takes SSE messages until one of `event`; fails if the stream ends or stays silent first. */
async function nextOf(stream: SseStream, event: string): Promise<SseMessage> {
  for (;;) {
    const message = await stream.next(30_000);
    if (message.event === event) return message;
  }
}

void test('a removed member’s own streams (SSE and Watch) get one `removed` event, then end; others see today’s events', async () => {
  for (const visibility of ['public', 'private'] as const) {
    const id = `streams-${visibility}`;
    const made = ok(
      await api.post('/v1/rooms', {
        roomId: id,
        name: 'Streams',
        hostName: 'Ann',
        settings: { public: visibility === 'public' },
      }),
      201,
    );
    const invite = made.invite === undefined ? {} : { invite: String(made.invite) };
    const join = async (name: string) =>
      ok(await api.post(`/v1/rooms/${id}/members`, { name, ...invite }), 201) as Identity;
    const [bo, cy, dee] = [await join('Bo'), await join('Cy'), await join('Dee')];
    const sseOf = async (who: Identity) => {
      const stream = await openSse(`${node.restUrl}/v1/rooms/${id}/events?token=${who.token}`);
      assert.ok(isSse(stream), `${visibility}: SSE opens with a member token`);
      assert.equal((await stream.next(30_000)).event, 'reset');
      return stream;
    };
    const boSse = await sseOf(bo);
    const cySse = await sseOf(cy);
    const deeSse = await sseOf(dee);
    const s = node.stubs;
    const boWatch = watch(s, { roomId: id }, md(bo.token), soon(60_000));
    const deeWatch = watch(s, { roomId: id }, md(dee.token), soon(60_000));
    await boWatch.reach(0);
    await deeWatch.reach(0);
    const removedOf = (w: Watcher) => w.messages.find((m) => m.kind === 'removed');

    // Bo is banned: his own streams say so and end; Dee's stream sees the event as every watcher does.
    ok(await api.delete(`/v1/rooms/${id}/members/${bo.memberId}?ban=true`, { token: made.token }), 200);
    const last = await nextOf(boSse, 'removed');
    assert.deepEqual(last.data, { version: last.data.version, memberId: bo.memberId, banned: true });
    assert.equal(last.id, null, 'no id: a resume does not skip the version it names');
    await assert.rejects(boSse.next(30_000), /ended/, 'the server closes the removed member’s SSE');
    assert.equal(await boWatch.ended, null, 'the Watch ends with OK');
    const grpcRemoved = removedOf(boWatch);
    assert.deepEqual(
      { memberId: grpcRemoved?.removed?.memberId, banned: grpcRemoved?.removed?.banned },
      { memberId: bo.memberId, banned: true },
    );
    assert.equal(boWatch.messages.at(-1), grpcRemoved, 'the last message');
    assert.ok(
      !boWatch.messages.some((m) => m.change?.events.some((e) => e.memberRemoved?.memberId === bo.memberId)),
      'the removal reaches him once, as `removed`',
    );
    const removal = (m: SseMessage, memberId: string): Json =>
      m.event === 'change' &&
      (m.data.events as Json[]).find((e) => e.type === 'memberRemoved' && e.memberId === memberId);
    const seen = await deeSse.waitFor((m) => Boolean(removal(m, bo.memberId)), 30_000);
    assert.equal(removal(seen, bo.memberId).banned, true, 'as today: the event, with its ban');
    assert.equal(removedOf(deeWatch), undefined);

    // Cy is kicked without a ban: told so (banned false); Dee's streams stay open and live.
    ok(await api.delete(`/v1/rooms/${id}/members/${cy.memberId}`, { token: made.token }), 200);
    assert.deepEqual((await nextOf(cySse, 'removed')).data.banned, false);
    await assert.rejects(cySse.next(30_000), /ended/);
    await deeSse.waitFor((m) => Boolean(removal(m, cy.memberId)), 30_000);
    ok(await api.put(`/v1/rooms/${id}/lock`, { locked: true }, { token: made.token }), 200);
    await deeSse.waitFor(
      (m) => m.event === 'change' && (m.data.events as Json[]).some((e) => e.type === 'lockChanged'),
      30_000,
    );
    assert.ok(!deeSse.messages.some((m) => m.event === 'removed'));
    assert.equal(removedOf(deeWatch), undefined);
    deeSse.close();
    deeWatch.cancel();
  }
});
