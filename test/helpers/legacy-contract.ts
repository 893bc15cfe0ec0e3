// The earlier system's API, table of issue 13, as tests: the legacy REST routes driven the way its
// own scripts drove them (Python `requests`: `json=` bodies with Content-Type application/json,
// `params={"up": True}` sent as `?up=True`) and the legacy gRPC service with proto3-default fields
// (no duration, no votes, `up` unset). The same suites run against one node and against a cluster
// through nginx; there a GET may reach a node that has not applied the last write yet (the legacy
// API has no minVersion), so reads that follow writes poll until they show it. Every write's own
// answer is asserted at once.

/* eslint-disable @typescript-eslint/no-unsafe-argument --
   Answers are parsed JSON: the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { after, beforeEach, describe, test } from 'node:test';
import { callMetadata as md, connect, unaryCall as call, type Stubs } from '../../src/api/grpc/client.ts';
import type * as legacy from '../../src/api/grpc/generated/queue/index.ts';
import type { LegacyTrack } from '../../src/api/rest/legacy.ts';
import { until } from './until.ts';

export type { LegacyTrack };

export interface PyResponse {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, asserted by shape
  readonly body: any;
  readonly text: string;
}

/** requests.get/post as the earlier scripts used them. */
export class PyRequests {
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async post(
    path: string,
    options: { json?: unknown; params?: Record<string, string | number | boolean>; data?: string } = {},
  ): Promise<PyResponse> {
    // Python's str(True) is "True": that is what requests puts in the query string.
    const query = options.params
      ? '?' +
        Object.entries(options.params)
          .map(
            ([k, v]) =>
              `${k}=${encodeURIComponent(typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v))}`,
          )
          .join('&')
      : '';
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.data !== undefined) {
      headers['content-type'] = 'application/json';
      body = options.data;
    }
    return this.send('POST', `${path}${query}`, headers, body);
  }

  get(path: string): Promise<PyResponse> {
    return this.send('GET', path, {}, undefined);
  }

  private async send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<PyResponse> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body ?? null,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the assertions on status and shape say so
    }
    return { status: res.status, body: parsed, text };
  }
}

export function track(id: number, duration = 180, extra: Partial<LegacyTrack> = {}): LegacyTrack {
  return { id, title: `Song ${id}`, artist: `Band ${id}`, duration, votes: 0, ...extra };
}

const ids = (tracks: readonly { id: unknown }[]) => tracks.map((t) => t.id);

/** Asserts a 200 answer and returns its body. */
export function ok(res: PyResponse): PyResponse['body'] {
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** FastAPI's 422: `detail` is a list of {loc, msg, type}; Chorus's `error` rides beside it. */
export function assert422(res: PyResponse, loc?: readonly (string | number)[]): void {
  assert.equal(res.status, 422, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ['detail', 'error'], res.text);
  assert.ok(Array.isArray(res.body.detail) && res.body.detail.length > 0, res.text);
  for (const d of res.body.detail as { loc: unknown; msg: unknown; type: unknown }[]) {
    assert.deepEqual(Object.keys(d).sort(), ['loc', 'msg', 'type'], res.text);
    assert.ok(Array.isArray(d.loc) && typeof d.msg === 'string' && typeof d.type === 'string', res.text);
  }
  assert.equal(res.body.error.code, 'INVALID_ARGUMENT', res.text);
  if (loc) assert.deepEqual(res.body.detail[0].loc, loc, res.text);
}

/** `{"detail": "<text>"}` with the status, and Chorus's error beside it. */
export function assertDetail(res: PyResponse, status: number, detail: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body.detail, detail, res.text);
  assert.equal(typeof res.body.error?.code, 'string', res.text);
}

/**
 * Polls a GET until `check` passes (at once on one node; within moments through a cluster): an
 * assertion retried by the one poll, `until`, until it stops throwing.
 */
export function eventually(what: string, check: () => Promise<void>, timeoutMs = 10_000): Promise<true> {
  return until(
    what,
    async () => {
      await check();
      return true as const;
    },
    { timeoutMs },
  );
}

/** The REST table of issue 13, against the node or load balancer `target().rest`. */
export function restContract(target: () => { rest: string }): void {
  const api = () => new PyRequests(target().rest);
  const queueIs = (expected: unknown, what = 'GET /queue') =>
    eventually(what, async () => assert.deepEqual(ok(await api().get('/queue')), expected));

  void describe('legacy REST, answer for answer', () => {
    beforeEach(async () => {
      assert.deepEqual(ok(await api().post('/clear')), { message: 'Queue and history cleared' });
      await queueIs([], 'the queue is empty after /clear');
    });

    void test('POST /add_track answers {message, queue}; votes ignored; an id already queued leaves it as it is', async () => {
      assert.deepEqual(ok(await api().post('/add_track', { json: track(1, 200) })), {
        message: 'Track added',
        queue: [track(1, 200)],
      });
      // A string of digits is an integer id; `votes` is ignored; fractional seconds round.
      const second = ok(await api().post('/add_track', { json: { ...track(2, 61.4), id: '2', votes: 99 } }));
      assert.deepEqual(second.queue, [track(1, 200), track(2, 61)]);
      const again = ok(await api().post('/add_track', { json: { ...track(1, 5), title: 'Other' } }));
      assert.deepEqual(
        again,
        { message: 'Track added', queue: [track(1, 200), track(2, 61)] },
        'queued once',
      );
      await queueIs([track(1, 200), track(2, 61)]);
    });

    void test('POST /add_track: duration 0 or absent is a track of unknown length', async () => {
      const { duration: _d, ...noDuration } = track(3);
      ok(await api().post('/add_track', { json: noDuration }));
      const answer = ok(await api().post('/add_track', { json: track(4, 0) }));
      assert.deepEqual(answer.queue, [track(3, 0), track(4, 0)]);
    });

    void test('POST /add_track: an invalid body is 422 with FastAPI detail and the Chorus error', async () => {
      const cases: [unknown, (string | number)[]][] = [
        [{ title: 'No id', artist: 'A', duration: 10 }, ['body', 'id']],
        [{ id: 'abc', title: 'T', artist: 'A', duration: 10 }, ['body', 'id']],
        [{ id: -1, title: 'T', artist: 'A', duration: 10 }, ['body', 'id']],
        [{ id: 1.5, title: 'T', artist: 'A', duration: 10 }, ['body', 'id']],
        [{ id: 3, artist: 'A', duration: 10 }, ['body', 'title']],
        [{ id: 3, title: '', artist: 'A', duration: 10 }, ['body', 'title']],
        [{ id: 3, title: 'T', artist: 7, duration: 10 }, ['body', 'artist']],
        [{ id: 3, title: 'T', artist: 'A', duration: -5 }, ['body', 'duration']],
        [{ id: 3, title: 'T', artist: 'A', duration: 'long' }, ['body', 'duration']],
        [{ id: 3, title: 'T', artist: 'A', duration: 100_000 }, ['body', 'duration']],
        [[track(3)], ['body']],
      ];
      for (const [json, loc] of cases) assert422(await api().post('/add_track', { json }), loc);
      const missing = await api().post('/add_track', { json: {} });
      assert422(missing, ['body', 'id']);
      assert.deepEqual(
        (missing.body.detail as { loc: unknown[] }[]).map((d) => d.loc),
        [
          ['body', 'id'],
          ['body', 'title'],
          ['body', 'artist'],
        ],
        'every missing field is named',
      );
      assert.equal(missing.body.detail[0].msg, 'field required');
      assert.equal(missing.body.detail[0].type, 'value_error.missing');
      assert422(await api().post('/add_track', { data: '{oops' }), ['body', 0]);
      assert422(await api().post('/add_track'), ['body']);
      await queueIs([]);
    });

    void test('POST /vote?up=…: {queue} reordered; up as FastAPI parsed it; missing up is true; queue[0]["id"]', async () => {
      for (const id of [1, 2, 3]) ok(await api().post('/add_track', { json: track(id) }));
      const up = ok(await api().post('/vote', { params: { up: true }, json: { id: 3 } }));
      assert.deepEqual(Object.keys(up), ['queue']);
      assert.equal(up.queue[0].id, 3, 'queue[0]["id"] after a vote');
      assert.deepEqual(
        (up.queue as LegacyTrack[]).map((t) => [t.id, t.votes]),
        [
          [3, 1],
          [1, 0],
          [2, 0],
        ],
      );
      const down = ok(await api().post('/vote', { params: { up: false }, json: { id: 3 } }));
      assert.deepEqual(
        ids(down.queue as LegacyTrack[]),
        [1, 2, 3],
        'up then down nets 0: back in arrival order',
      );
      // No `up` at all: an up vote.
      assert.equal(ok(await api().post('/vote', { json: { id: 2 } })).queue[0].id, 2);
      // Every spelling pydantic took, any case.
      const spellings: [string, number][] = [
        ['true', 1], ['TRUE', 1], ['1', 1], ['yes', 1], ['on', 1], ['t', 1], ['Y', 1],
        ['false', -1], ['False', -1], ['0', -1], ['no', -1], ['off', -1], ['f', -1], ['n', -1],
      ]; // prettier-ignore
      let expected = 0;
      for (const [spelling, delta] of spellings) {
        expected += delta;
        const answer = ok(await api().post(`/vote?up=${spelling}`, { json: { id: 1 } }));
        const one = (answer.queue as LegacyTrack[]).find((t) => t.id === 1)!;
        assert.equal(one.votes, expected, `up=${spelling}`);
      }
      assert422(await api().post('/vote?up=maybe', { json: { id: 1 } }), ['query', 'up']);
      assert422(await api().post('/vote', { params: { up: true }, json: {} }), ['body', 'id']);
      // An id not queued: the same answer, the queue unchanged.
      const before = ok(await api().get('/queue'));
      assert.deepEqual(ok(await api().post('/vote', { params: { up: true }, json: { id: 404 } })), {
        queue: before,
      });
    });

    void test('GET /queue and GET /history are bare arrays; POST /play_next answers {now_playing}', async () => {
      for (const id of [1, 2, 3]) ok(await api().post('/add_track', { json: track(id) }));
      ok(await api().post('/vote', { params: { up: true }, json: { id: 3 } }));
      await queueIs([track(3, 180, { votes: 1 }), track(1), track(2)]);
      assert.deepEqual(ok(await api().post('/play_next')), { now_playing: track(3, 180, { votes: 1 }) });
      assert.deepEqual(ok(await api().post('/play_next')), { now_playing: track(1) });
      await queueIs([track(2)]);
      await eventually('GET /history', async () =>
        assert.deepEqual(ok(await api().get('/history')), [track(3, 180, { votes: 1 }), track(1)]),
      );
      assert.deepEqual(ok(await api().post('/play_next')), { now_playing: track(2) });
      assertDetail(await api().post('/play_next'), 400, 'Queue empty');
      await eventually('GET /history, oldest first', async () =>
        assert.deepEqual(ids(ok(await api().get('/history')) as LegacyTrack[]), [3, 1, 2]),
      );
    });

    void test('GET /metadata/{id}: the track; unknown 404 {"detail":"Track not found"}; not an integer 422', async () => {
      ok(
        await api().post('/add_track', {
          json: { id: 42, title: 'Answer', artist: 'Deep Thought', duration: 42 },
        }),
      );
      await eventually('GET /metadata/42', async () =>
        assert.deepEqual(
          ok(await api().get('/metadata/42')),
          track(42, 42, { title: 'Answer', artist: 'Deep Thought' }),
        ),
      );
      assertDetail(await api().get('/metadata/43'), 404, 'Track not found');
      assertDetail(await api().get('/metadata/-1'), 404, 'Track not found');
      assert422(await api().get('/metadata/not-a-number'), ['path', 'id']);
      assert422(await api().get('/metadata/4.2'), ['path', 'id']);
    });

    void test('POST /remove_track answers {message, queue}; an id not queued: the same answer, unchanged', async () => {
      for (const id of [1, 2, 3]) ok(await api().post('/add_track', { json: track(id) }));
      assert.deepEqual(ok(await api().post('/remove_track', { json: { id: 2 } })), {
        message: 'Track removed',
        queue: [track(1), track(3)],
      });
      assert.deepEqual(ok(await api().post('/remove_track', { json: { id: 2 } })), {
        message: 'Track removed',
        queue: [track(1), track(3)],
      });
      assert422(await api().post('/remove_track', { json: {} }), ['body', 'id']);
      assert422(await api().post('/remove_track', { json: { id: 'two' } }), ['body', 'id']);
      await queueIs([track(1), track(3)]);
    });

    void test('POST /sync replaces the queue in one step: {message, queue}; an invalid list is 422 and changes nothing', async () => {
      for (const id of [1, 2]) ok(await api().post('/add_track', { json: track(id) }));
      const synced = ok(
        await api().post('/sync', {
          json: [track(5), track(6, 0, { votes: 2 }), track(7, 90, { votes: -1 }), track(5)],
        }),
      );
      assert.deepEqual(synced, {
        message: 'Queue synchronized',
        queue: [track(6, 0, { votes: 2 }), track(5), track(7, 90, { votes: -1 })],
      });
      await queueIs(synced.queue);
      assert422(await api().post('/sync', { json: [track(8), { ...track(9), title: '' }] }), [
        'body',
        1,
        'title',
      ]);
      assert422(await api().post('/sync', { json: track(8) }), ['body']);
      await queueIs(synced.queue);
      assert.deepEqual(ok(await api().post('/sync', { json: [] })), {
        message: 'Queue synchronized',
        queue: [],
      });
      await queueIs([]);
    });

    void test('POST /clear answers {"message":"Queue and history cleared"} and empties both', async () => {
      for (const id of [7, 8]) ok(await api().post('/add_track', { json: track(id) }));
      ok(await api().post('/play_next'));
      assert.deepEqual(ok(await api().post('/clear')), { message: 'Queue and history cleared' });
      await queueIs([]);
      await eventually('GET /history', async () => assert.deepEqual(ok(await api().get('/history')), []));
      assertDetail(await api().get('/metadata/7'), 404, 'Track not found');
    });
  });
}

const EMPTY: legacy.Track__Output = { id: '', title: '', artist: '', votes: 0, duration: 0 };

/** The gRPC table of issue 13, against `target().grpc` (REST beside it for the same room). */
export function grpcContract(target: () => { rest: string; grpc: string }): void {
  let stubs: Stubs | null = null;
  const q = () => (stubs ??= connect(target().grpc)).legacy;
  const deadline = () => ({ deadline: Date.now() + 15_000 });
  const add = (t: legacy.Track) =>
    call<legacy.QueueResponse__Output>((d) => q().AddTrack(t, md(), deadline(), d));
  const vote = (v: legacy.VoteRequest) =>
    call<legacy.QueueResponse__Output>((d) => q().VoteTrack(v, md(), deadline(), d));
  const remove = (id: string) =>
    call<legacy.QueueResponse__Output>((d) => q().RemoveTrack({ id }, md(), deadline(), d));
  const getQueue = () => call<legacy.QueueList__Output>((d) => q().GetQueue({}, md(), deadline(), d));
  const metadata = (id: string) =>
    call<legacy.Track__Output>((d) => q().GetMetadata({ id }, md(), deadline(), d));
  const playNext = () => call<legacy.Track__Output>((d) => q().PlayNext({}, md(), deadline(), d));
  const history = () => call<legacy.QueueList__Output>((d) => q().GetHistory({}, md(), deadline(), d));
  const pb = (id: number, duration = 0, votes = 0): legacy.Track__Output => ({
    id: String(id),
    title: `Song ${id}`,
    artist: `Band ${id}`,
    votes,
    duration,
  });
  // What the earlier clients sent: proto3 defaults left out (no duration, no votes).
  const bare = (id: number): legacy.Track => ({ id: String(id), title: `Song ${id}`, artist: `Band ${id}` });
  const queueIs = (expected: legacy.Track__Output[]) =>
    eventually('GetQueue', async () => assert.deepEqual((await getQueue()).queue, expected));

  void describe('legacy gRPC queue.QueueService, as the earlier server answered', () => {
    beforeEach(async () => {
      assert.equal(
        ok(await new PyRequests(target().rest).post('/clear')).message,
        'Queue and history cleared',
      );
      await queueIs([]);
    });
    after(() => stubs?.close());

    void test('AddTrack with proto3 defaults (no duration, no votes): "Track added", unknown length; votes ignored', async () => {
      assert.deepEqual(await add(bare(1)), { message: 'Track added', queue: [pb(1)] });
      const second = await add({ ...bare(2), duration: 200, votes: 42 });
      assert.deepEqual(second, { message: 'Track added', queue: [pb(1), pb(2, 200)] });
      assert.deepEqual(await add({ ...bare(1), duration: 9 }), second, 'already queued: unchanged');
    });

    void test('VoteTrack answers "Vote updated"; up unset is a down vote; an id not queued is OK, unchanged', async () => {
      await add(bare(1));
      await add(bare(2));
      const up = await vote({ id: '2', up: true });
      assert.equal(up.message, 'Vote updated');
      assert.equal(up.queue[0]!.id, '2');
      const down = await vote({ id: '2' });
      assert.deepEqual(down, { message: 'Vote updated', queue: [pb(1), pb(2)] });
      assert.deepEqual(await vote({ id: '77', up: true }), down);
    });

    void test('RemoveTrack answers "Track removed"; an id not queued is OK with the queue unchanged', async () => {
      await add(bare(1));
      await add(bare(2));
      assert.deepEqual(await remove('1'), { message: 'Track removed', queue: [pb(2)] });
      assert.deepEqual(await remove('1'), { message: 'Track removed', queue: [pb(2)] });
    });

    void test('GetMetadata of an unknown id and PlayNext on an empty queue answer an empty Track; GetHistory oldest first', async () => {
      assert.deepEqual(await playNext(), EMPTY);
      assert.deepEqual(await metadata('999'), EMPTY);
      for (const id of [1, 2, 3]) await add(bare(id));
      await eventually('GetMetadata', async () => assert.deepEqual(await metadata('2'), pb(2)));
      assert.deepEqual(await playNext(), pb(1));
      assert.deepEqual(await playNext(), pb(2));
      await eventually('GetHistory', async () => assert.deepEqual((await history()).queue, [pb(1), pb(2)]));
      assert.deepEqual(await playNext(), pb(3));
      assert.deepEqual(await playNext(), EMPTY);
    });

    void test('a track id is the same string in REST and gRPC', async () => {
      const rest = new PyRequests(target().rest);
      ok(await rest.post('/add_track', { json: track(10, 100) }));
      await add({ ...bare(11), duration: 50 });
      await eventually('both transports', async () => {
        const viaRest = ok(await rest.get('/queue')) as LegacyTrack[];
        const viaGrpc = (await getQueue()).queue;
        assert.deepEqual(
          viaGrpc.map((t) => t.id),
          viaRest.map((t) => String(t.id)),
        );
        assert.deepEqual(
          viaRest.map((t) => t.id),
          [10, 11],
        );
      });
    });
  });
}
