// The room session's consistency rules, with a fake EventSource and a fake API: the next version is
// applied, a gap or a reset refetches the room with my token at minVersion, my vote shows at once
// and a refusal takes it back, and going offline and online resumes after the version held.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { RoomEvent, RoomEventBody } from '../../src/domain/types.ts';
import type { QueueItemView, RoomView } from '../../src/domain/view.ts';
import { ApiError, type Api, type VoteAnswer } from '../src/api.ts';
import { ServerClock } from '../src/clock.ts';
import { forgetIdentity, loadIdentity, saveIdentity } from '../src/identity.ts';
import { RoomSession } from '../src/session.ts';
import { until } from '../../test/helpers/until.ts';

// ---- Browser stand-ins ---------------------------------------------------------------------------

class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static all: FakeEventSource[] = [];
  readonly url: string;
  readyState = FakeEventSource.CONNECTING;

  constructor(url: string) {
    super();
    this.url = url;
    FakeEventSource.all.push(this);
  }

  close(): void {
    this.readyState = FakeEventSource.CLOSED;
  }

  open(): void {
    this.readyState = FakeEventSource.OPEN;
    this.dispatchEvent(new Event('open'));
  }

  send(type: 'change' | 'reset' | 'removed', data: unknown): void {
    this.dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
}

const g = globalThis as unknown as Record<string, unknown>;
let online = true;
beforeEach(() => {
  FakeEventSource.all = [];
  online = true;
  g['EventSource'] = FakeEventSource;
  g['window'] = new EventTarget();
  Object.defineProperty(globalThis.navigator, 'onLine', { get: () => online, configurable: true });
});
afterEach(() => {
  delete g['EventSource'];
  delete g['window'];
});

// ---- A fake API over a room the test changes -------------------------------------------------------

const ME = 'm_me';

const item = (n: number, ups = 0, myVote: -1 | 0 | 1 = 0): QueueItemView => ({
  position: n,
  entryId: `e${n}`,
  track: { trackId: `t${n}`, title: `Track ${n}`, artist: 'A', album: '', durationMs: 180_000 },
  addedBy: { memberId: ME, name: 'Me' },
  addedAt: 0,
  seq: n,
  score: ups,
  ups,
  downs: 0,
  etaMs: 0,
  myVote,
});

function roomView(version: number, queue: QueueItemView[]): RoomView {
  return {
    id: 'r1',
    name: 'Room',
    hostId: ME,
    createdAt: 0,
    settings: {
      public: true,
      maxQueueLength: 500,
      maxEntriesPerMember: 10,
      maxTrackDurationMs: 1_200_000,
      voteOffThreshold: 5,
      skipVotes: 3,
      replayProtectionMinutes: 0,
      historyRetention: 1000,
      autoplay: true,
      skipShare: 0.5,
      joinPolicy: 'open',
      maxMembers: 0,
      joinsPerMinute: 0,
    },
    locked: false,
    version,
    memberCount: 1,
    queueLength: queue.length,
    playCount: 0,
    nowPlaying: null,
    queue,
    queueOffset: 0,
    me: { memberId: ME, name: 'Me', isHost: true, role: 'host', joinedAt: 0 },
    present: [],
    presentCount: 0,
    joinPending: false,
    pendingJoins: [],
  };
}

interface Calls {
  getRoom: { token: string | null; minVersion: number | undefined }[];
}

function fakeApi(server: { room: RoomView }, vote?: () => Promise<VoteAnswer>): { api: Api; calls: Calls } {
  const calls: Calls = { getRoom: [] };
  const api = {
    getRoom: async (_id: string, token: string | null, minVersion?: number) => {
      calls.getRoom.push({ token, minVersion });
      return server.room;
    },
    history: async () => ({ records: [], nextBefore: null, version: server.room.version }),
    vote: vote ?? (async () => Promise.reject(new Error('no vote expected'))),
  } as unknown as Api;
  return { api, calls };
}

const change = (version: number, ...bodies: RoomEventBody[]) => ({
  version,
  events: bodies.map((b): RoomEvent => ({ ...b, roomId: 'r1', version, at: 1 })),
});

const order = (s: RoomSession): string[] => s.getState().room!.queue.map((e) => e.entryId);

async function started(server: { room: RoomView }, vote?: () => Promise<VoteAnswer>) {
  saveIdentity('r1', { memberId: ME, token: 'tok', name: 'Me', version: 3 });
  const { api, calls } = fakeApi(server, vote);
  const session = new RoomSession('r1', api, new ServerClock());
  await session.start();
  const source = FakeEventSource.all.at(-1)!;
  source.open();
  return { session, calls, source };
}

// ---- Tests ------------------------------------------------------------------------------------------

void test('loads with my token at the version I joined, then streams after the version it holds', async () => {
  const server = { room: roomView(5, [item(1), item(2)]) };
  const { session, calls, source } = await started(server);
  assert.deepEqual(calls.getRoom[0], { token: 'tok', minVersion: 3 });
  assert.equal(
    source.url,
    '/v1/rooms/r1/events?after=5&token=tok',
    'streams with my token: I count as present',
  );
  assert.equal(session.getState().connection, 'live');

  source.send('change', change(6, { type: 'voteChanged', entryId: 'e2', ups: 1, downs: 0, score: 1 }));
  assert.deepEqual(order(session), ['e2', 'e1']);
  assert.equal(session.getState().room!.version, 6);
  source.send('change', change(6, { type: 'voteChanged', entryId: 'e2', ups: 1, downs: 0, score: 1 }));
  assert.equal(session.getState().room!.version, 6, 'an old version is dropped');
  session.stop();
});

void test('a version gap refetches with my token at minVersion, then applies what came after', async () => {
  const server = { room: roomView(5, [item(1), item(2)]) };
  const { session, calls, source } = await started(server);

  // Version 6 never arrives; 7 and 8 do. The server is at 7 when asked.
  server.room = roomView(7, [item(2, 1, 1), item(1)]);
  source.send('change', change(7, { type: 'lockChanged', locked: true }));
  source.send('change', change(8, { type: 'lockChanged', locked: false }));
  await until('the refetch', () => calls.getRoom.length === 2);
  assert.deepEqual(calls.getRoom[1], { token: 'tok', minVersion: 7 });
  await until('version 8', () => session.getState().room?.version === 8);
  assert.deepEqual(order(session), ['e2', 'e1']);
  assert.equal(session.getState().room!.queue[0]!.myVote, 1, 'my vote, from the refetch with my token');
  assert.equal(session.getState().room!.locked, false, 'version 8, buffered during the refetch, applied');
  session.stop();
});

void test('a reset refetches the room with my token (the reset itself has no viewer)', async () => {
  const server = { room: roomView(5, [item(1)]) };
  const { session, calls, source } = await started(server);
  server.room = roomView(20, [item(1, 1, 1)]);
  source.send('reset', { version: 20, room: { ...server.room, me: null } });
  await until('the refetch', () => session.getState().room?.version === 20);
  assert.deepEqual(calls.getRoom.at(-1), { token: 'tok', minVersion: 20 });
  assert.equal(session.getState().room!.queue[0]!.myVote, 1);
  session.stop();
});

void test('my vote shows at once; a refusal takes it back and says why', async () => {
  const server = { room: roomView(5, [item(1), item(2)]) };
  let refuse!: (err: unknown) => void;
  const { session } = await started(server, () => new Promise<VoteAnswer>((_, reject) => (refuse = reject)));
  session.vote('e2', 1);
  assert.deepEqual(order(session), ['e2', 'e1'], 'optimistic');
  assert.equal(session.getState().room!.queue[0]!.myVote, 1);
  await until('the request', () => refuse !== undefined);
  refuse(new ApiError('NOT_FOUND', 'no entry e2 in the queue', 404));
  await until('the refusal', () => session.getState().toasts.length > 0);
  assert.deepEqual(order(session), ['e1', 'e2'], 'taken back');
  assert.equal(session.getState().toasts[0]!.text, 'No entry e2 in the queue');
  session.stop();
});

void test('the answer to my vote corrects the counts before the stream brings them', async () => {
  const server = { room: roomView(5, [item(1), item(2)]) };
  const { session } = await started(server, async () => ({
    entryId: 'e2',
    ups: 3,
    downs: 0,
    score: 3,
    effect: 'none',
    position: 1,
    version: 9,
  }));
  session.vote('e2', 1);
  await until('the answer', () => session.getState().room!.queue[0]!.ups === 3);
  assert.deepEqual(order(session), ['e2', 'e1']);
  session.stop();
});

void test('offline closes the stream; online resumes after the version held', async () => {
  const server = { room: roomView(5, [item(1)]) };
  const { session, source } = await started(server);
  source.send('change', change(6, { type: 'lockChanged', locked: true }));
  online = false;
  (g['window'] as EventTarget).dispatchEvent(new Event('offline'));
  assert.equal(session.getState().connection, 'offline');
  assert.equal(source.readyState, FakeEventSource.CLOSED);
  online = true;
  (g['window'] as EventTarget).dispatchEvent(new Event('online'));
  const again = FakeEventSource.all.at(-1)!;
  assert.notEqual(again, source);
  assert.equal(again.url, '/v1/rooms/r1/events?after=6&token=tok');
  assert.equal(session.getState().connection, 'reconnecting');
  again.open();
  assert.equal(session.getState().connection, 'live');
  session.stop();
});

// ---- Membership: removed, banned, waiting for the host (issue 20) ----------------------------------

void test('the host removes me with a ban: the page says so, forgets my token and closes the stream', async () => {
  const server = { room: roomView(5, [item(1)]) };
  const { session, source } = await started(server);
  source.send('change', change(6, { type: 'memberRemoved', memberId: ME, banned: true }));
  assert.deepEqual(session.getState().removed, { banned: true, replacedAsHost: false });
  assert.equal(session.getState().identity, null);
  assert.equal(source.readyState, FakeEventSource.CLOSED, 'stops acting: no stream with that token');
  assert.equal(loadIdentity('r1'), null);
  session.stop();
});

void test('the stream’s last `removed` event says at once that I was removed, and closes the stream', async () => {
  for (const banned of [false, true]) {
    const server = { room: roomView(5, [item(1)]) };
    const { session, source, calls } = await started(server);
    const reads = calls.getRoom.length;
    source.send('removed', { version: 6, memberId: ME, banned });
    assert.deepEqual(session.getState().removed, { banned, replacedAsHost: !banned });
    assert.equal(session.getState().identity, null);
    assert.equal(loadIdentity('r1'), null, 'the token is forgotten');
    assert.equal(source.readyState, FakeEventSource.CLOSED, 'no reconnect with that token');
    assert.equal(calls.getRoom.length, reads, 'nothing asked of the server: the event said it all');
    session.stop();
  }
});

void test('a room read that no longer shows me asks whether I am banned, and says which', async () => {
  const server = { room: { ...roomView(5, [item(1)]), me: null } };
  saveIdentity('r1', { memberId: 'm_gone', token: 'tok', name: 'Me', version: 3 });
  const { api } = fakeApi(server);
  let asked = 0;
  (api as unknown as Record<string, unknown>)['members'] = async () => {
    asked++;
    throw new ApiError('PERMISSION_DENIED', 'you are banned from room r1', 403, { reason: 'MEMBER_BANNED' });
  };
  const session = new RoomSession('r1', api, new ServerClock());
  await session.start();
  await until('the removal', () => session.getState().removed !== null);
  assert.equal(asked, 1);
  assert.deepEqual(session.getState().removed, { banned: true, replacedAsHost: false });
  assert.equal(FakeEventSource.all.length, 0, 'no stream is opened for a removed member');
  session.stop();
});

void test('a waiting join request becomes membership when the stream says the host let me in', async () => {
  const waiting = { ...roomView(5, []), hostId: 'm_host', me: null, joinPending: true };
  const server: { room: RoomView } = { room: waiting };
  saveIdentity('r1', { memberId: ME, token: 'tok', name: 'Me', version: 5, pending: true });
  const { api } = fakeApi(server);
  const session = new RoomSession('r1', api, new ServerClock());
  await session.start();
  const source = FakeEventSource.all.at(-1)!;
  assert.equal(source.url, '/v1/rooms/r1/events?after=5', 'a waiting request streams as a visitor');
  assert.equal(session.getState().identity?.pending, true);
  source.open();
  const member = { memberId: ME, name: 'Me', isHost: false, role: 'member' as const, joinedAt: 1 };
  server.room = { ...roomView(6, []), hostId: 'm_host', me: member };
  source.send('change', change(6, { type: 'memberJoined', member: { ...member } }));
  await until('admitted', () => session.getState().identity?.pending === undefined);
  assert.equal(loadIdentity('r1')?.pending, undefined, 'kept as an ordinary identity');
  assert.equal(
    FakeEventSource.all.at(-1)!.url,
    '/v1/rooms/r1/events?after=6&token=tok',
    'streams with my token now',
  );
  session.stop();
});

void test('a read made before I recovered the host place says nothing about me: it reads again with my token', async () => {
  forgetIdentity('r1'); // a visitor of this room
  const visitor = { ...roomView(5, []), hostId: 'm_old', me: null };
  const server: { room: RoomView } = { room: visitor };
  const { api, calls } = fakeApi(server);
  // The read after the start's is held, as a slow answer would be, until the recovery is done.
  let release = (): void => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const plain = api.getRoom.bind(api);
  const fake = api as unknown as Record<string, unknown>;
  fake['getRoom'] = async (id: string, token: string | null, minVersion?: number) => {
    if (calls.getRoom.length === 1) {
      const view = await plain(id, token, minVersion); // the room as it was: me null
      await held;
      return view;
    }
    return plain(id, token, minVersion);
  };
  const host = { memberId: 'm_new', name: 'Ann', isHost: true, role: 'host' as const, joinedAt: 1 };
  fake['recoverHost'] = async () => {
    server.room = { ...roomView(7, []), hostId: 'm_new', me: host };
    return { memberId: 'm_new', token: 'new', room: server.room };
  };
  fake['members'] = async () => ({ members: [], banned: [], version: 7 });
  const session = new RoomSession('r1', api, new ServerClock());
  await session.start();
  const source = FakeEventSource.all.at(-1)!;
  source.open();
  // A role change makes the page read the room again (without a token: I am a visitor yet).
  server.room = { ...visitor, version: 6 };
  source.send('change', change(6, { type: 'roleChanged', memberId: 'm_x', role: 'cohost' }));
  await until('the held read', () => calls.getRoom.length === 2);
  const recovered = session.recover('the-key');
  release();
  assert.equal(await recovered, null);
  await until('me as host', () => session.getState().room?.me?.memberId === 'm_new');
  assert.equal(session.getState().removed, null, 'not taken for a removal');
  assert.equal(calls.getRoom.at(-1)!.token, 'new');
  session.stop();
});

// ---- Recovery keys after a hand-over ---------------------------------------------------------------

void test('handed the room, the page says I am the host now and asks me to make a recovery key', async () => {
  const member = { memberId: ME, name: 'Me', isHost: false, role: 'member' as const, joinedAt: 0 };
  const server: { room: RoomView } = { room: { ...roomView(5, []), hostId: 'm_old', me: member } };
  const { session, source } = await started(server);
  assert.equal(session.getState().room?.me?.role, 'member');
  server.room = { ...roomView(6, []), me: { ...member, isHost: true, role: 'host' } };
  source.send(
    'change',
    change(
      6,
      { type: 'roleChanged', memberId: ME, role: 'host' },
      { type: 'roleChanged', memberId: 'm_old', role: 'cohost' },
    ),
  );
  await until('me as host', () => session.getState().room?.me?.role === 'host');
  assert.ok(
    session.getState().toasts.some((t) => /host now\. Make a recovery key/.test(t.text)),
    JSON.stringify(session.getState().toasts),
  );
  session.stop();
});

void test('a host from the start is not told they were handed the room', async () => {
  const server = { room: roomView(5, []) };
  const { session } = await started(server);
  assert.equal(session.getState().toasts.length, 0, 'the host from the start is not told');
  session.stop();
});

void test('the host makes a new recovery key with their token; the key is answered to the page', async () => {
  const server = { room: roomView(5, []) };
  const { api } = fakeApi(server);
  const tokens: string[] = [];
  (api as unknown as Record<string, unknown>)['newRecoveryKey'] = async (_id: string, token: string) => {
    tokens.push(token);
    return { recoveryKey: 'the-new-key', version: 5 };
  };
  saveIdentity('r1', { memberId: ME, token: 'tok', name: 'Me', version: 3 });
  const session = new RoomSession('r1', api, new ServerClock());
  await session.start();
  assert.equal(await session.newRecoveryKey(), 'the-new-key');
  assert.deepEqual(tokens, ['tok']);
  (api as unknown as Record<string, unknown>)['newRecoveryKey'] = async () => {
    throw new ApiError('PERMISSION_DENIED', 'only the host can make a recovery key', 403, {
      reason: 'HOST_ONLY',
    });
  };
  assert.equal(await session.newRecoveryKey(), null);
  assert.ok(session.getState().toasts.some((t) => t.kind === 'error' && /Only the host/.test(t.text)));
  session.stop();
});
