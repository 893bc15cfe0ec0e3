// Bad input against a real `chorus serve`, property-based (fast-check; the seed is printed, set
// CHORUS_FC_SEED to replay): random methods, paths (every route, with random and hostile segments),
// query strings, headers (content types, Authorization shapes, forged tokens, tokens of another
// room, idempotency keys) and bodies (random JSON, near-valid objects with wrong types, huge and
// control-character strings, broken JSON, prototype-pollution attempts). Then:
//   - never a 5xx (a 504 DEADLINE_EXCEEDED only for a read asking a minVersion ahead of the room);
//   - every error is the one error shape with the status of its code, and no stack trace;
//   - no room changes, except the room a request addressed when that request was accepted (2xx);
//   - the process never crashes and still answers /healthz.
// A second property throws raw, malformed HTTP at the socket.

/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call --
   Answers are parsed JSON (Json = any): the tests assert their shape rather than declare it. */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { cleanupChorus, startChorus, type ChorusProcess } from '../helpers/chorus-process.ts';
import { assertError, assertNoInternals, Http, ok, type HttpResponse, type Json } from '../helpers/http.ts';

const SEED = process.env['CHORUS_FC_SEED'] ? Number(process.env['CHORUS_FC_SEED']) : Date.now() % 2 ** 31;
const RUNS = Number(process.env['CHORUS_FC_RUNS'] ?? 300);
const RAW_RUNS = Math.max(20, Math.round(RUNS / 3));

const STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  INTERNAL: 500,
};

let node: ChorusProcess;
let api: Http;

interface Fixture {
  readonly roomA: string;
  readonly roomB: string;
  readonly hostA: string;
  readonly memberA: string;
  readonly hostB: string;
  readonly entriesA: string[];
  readonly catalogId: string;
}
let fx: Fixture;

before(async () => {
  console.log(`fast-check seed ${SEED} (replay with CHORUS_FC_SEED=${SEED}), ${RUNS} runs`);
  // The playback clock looks only once a minute: a random legacy request may start a track of a few
  // seconds, and the clock ending it between two looks at a room would read as a refused request
  // having changed the room. This file's requests take a few seconds.
  // No presence reports: a random stream with a valid token would change the room (a presence
  // command), and this test checks that no bad request does.
  node = await startChorus({
    args: ['--read-timeout-ms', '200', '--clock-interval-ms', '60000', '--presence-lease-ms', '0'],
  });
  api = new Http(node.restUrl);
  const settings = { autoplay: false, maxEntriesPerMember: 0 };
  const roomA = `bad-a-${randomUUID().slice(0, 6)}`;
  const roomB = `bad-b-${randomUUID().slice(0, 6)}`;
  const a = ok(await api.post('/v1/rooms', { name: 'Target', hostName: 'H', roomId: roomA, settings }), 201);
  const b = ok(await api.post('/v1/rooms', { name: 'Other', hostName: 'H', roomId: roomB, settings }), 201);
  const m = ok(await api.post(`/v1/rooms/${roomA}/members`, { name: 'M' }), 201);
  const entriesA: string[] = [];
  for (let i = 0; i < 3; i++) {
    const added = ok(
      await api.post(
        `/v1/rooms/${roomA}/queue`,
        { track: { trackId: `t${i}`, title: `T${i}`, artist: 'A', album: '', durationMs: 600_000 } },
        { token: m.token as string },
      ),
      201,
    );
    entriesA.push(added.entry.entryId as string);
  }
  const catalog = ok(await api.get('/v1/catalog/search?limit=1'), 200);
  fx = {
    roomA,
    roomB,
    hostA: a.token,
    memberA: m.token,
    hostB: b.token,
    entriesA,
    catalogId: catalog.tracks[0].trackId,
  };
});

after(async () => {
  try {
    if (node?.running) assert.equal(await node.stop(), 0, node.stderr());
  } finally {
    await cleanupChorus();
  }
});

// ---- Generators ----------------------------------------------------------------------------------

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});

/** Values of every kind, biased towards the ones that trip validation. */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer(),
  fc.integer({ min: -2, max: 2 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\nb',
    '\u202e\u200b',
    'é',
    '🎵🎶',
    '\ud800',
    '__proto__',
    'constructor',
    '1',
    '-1',
    '0',
    'true',
    '1e309',
    'x'.repeat(5_000),
    '<script>alert(1)</script>',
    '../../etc/passwd',
  ),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

const BODY_KEYS = [
  'name',
  'hostName',
  'roomId',
  'settings',
  'trackId',
  'track',
  'value',
  'locked',
  'expectedEntryId',
  'id',
  'title',
  'artist',
  'duration',
  'votes',
  'public',
  'maxQueueLength',
  'autoplay',
  '__proto__',
  'constructor',
];

const trackish = fc.record(
  { trackId: weird, title: weird, artist: weird, album: weird, durationMs: weird, year: weird, genre: weird },
  { requiredKeys: [] },
);

const bodyArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 4,
    arbitrary: fc
      .dictionary(fc.constantFrom(...BODY_KEYS), weird, { maxKeys: 5 })
      .map((v) => JSON.stringify(v)),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: trackish.map((t) => JSON.stringify({ track: t })) },
  {
    weight: 1,
    arbitrary: fc
      .dictionary(
        fc.constantFrom('settings'),
        fc.dictionary(
          fc.constantFrom('public', 'maxQueueLength', 'historyRetention', 'bogus', '__proto__'),
          weird,
          { maxKeys: 3 },
        ),
      )
      .map((v) => JSON.stringify(v)),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{',
      '{"name":',
      '[',
      'null',
      '""',
      '0',
      '{"__proto__":{"isHost":true},"name":"x","value":1}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '\u0000',
      '{"name":"a","name":"b"}',
      '{"value":1e999}',
      'x'.repeat(70_000),
      JSON.stringify({ name: 'é'.repeat(40_000) }),
      JSON.stringify({ track: { trackId: 'x', title: 'y'.repeat(100_000) } }),
    ),
  },
);

const contentTypes = [
  undefined,
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'application/json; charset=latin1',
  'application/JSON',
  '*/*',
  'garbage',
];

const QUERY_KEYS = ['limit', 'offset', 'before', 'after', 'minVersion', 'q', 'up', 'id', 'x'];

const queryArb = fc.option(
  fc.dictionary(
    fc.oneof(fc.constantFrom(...QUERY_KEYS), printable),
    fc.oneof(
      fc.integer().map(String),
      fc.integer({ min: -3, max: 5 }).map(String),
      fc.constantFrom(
        '',
        'true',
        'false',
        'NaN',
        '1e3',
        '-0',
        '99999999999999999999',
        'é',
        '%',
        '%00',
        'x'.repeat(300),
      ),
      fc.string({ maxLength: 20 }),
    ),
    { maxKeys: 4 },
  ),
  { nil: undefined },
);

interface Generated {
  readonly method: string;
  readonly path: string;
  /** Which room the path addresses, if any (an accepted write may change only that one). */
  readonly target: string | null;
  readonly query: Record<string, string> | undefined;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/** Every route, as method and path template: R room, E entry, T catalog track, I legacy id. */
const ROUTES: readonly (readonly [string, string])[] = [
  ['POST', '/v1/rooms'],
  ['GET', '/v1/rooms'],
  ['GET', '/v1/rooms/R'],
  ['POST', '/v1/rooms/R/members'],
  ['POST', '/v1/rooms/R/queue'],
  ['POST', '/v1/rooms/R/queue'],
  ['DELETE', '/v1/rooms/R/queue/E'],
  ['PUT', '/v1/rooms/R/queue/E/vote'],
  ['PUT', '/v1/rooms/R/queue/E/vote'],
  ['POST', '/v1/rooms/R/advance'],
  ['PATCH', '/v1/rooms/R/settings'],
  ['PATCH', '/v1/rooms/R/settings'],
  ['PUT', '/v1/rooms/R/lock'],
  ['GET', '/v1/rooms/R/history'],
  ['GET', '/v1/rooms/R/events'],
  ['GET', '/v1/catalog/search'],
  ['GET', '/v1/catalog/tracks/T'],
  ['GET', '/v1/catalog/tracks/T/artwork'],
  ['POST', '/add_track'],
  ['POST', '/remove_track'],
  ['POST', '/vote'],
  ['GET', '/queue'],
  ['GET', '/metadata/I'],
  ['POST', '/play_next'],
  ['GET', '/history'],
  ['POST', '/clear'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/docs/json'],
];

const LEGACY_PATHS = new Set([
  '/add_track',
  '/remove_track',
  '/vote',
  '/queue',
  '/metadata/I',
  '/play_next',
  '/history',
  '/clear',
]);

function requestArb(f: Fixture): fc.Arbitrary<Generated> {
  const room = fc.oneof(
    { weight: 6, arbitrary: fc.constant(f.roomA) },
    { weight: 2, arbitrary: fc.constantFrom(f.roomB, 'legacy') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        '.',
        '..',
        '%2e%2e',
        '%00',
        '%ZZ',
        'UPPER',
        '-x-',
        'x'.repeat(200),
        'a b',
        '🎵',
        'nope',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: printable.map((s) => s.replace(/[/?#]/g, '')) },
  );
  const entry = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...f.entriesA) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'e_missing',
        '',
        '%00',
        'x'.repeat(200),
        '..',
        'constructor',
        '__proto__',
        '%E2%82',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map(encodeURIComponent) },
  );
  const trackId = fc.oneof(
    fc.constantFrom(f.catalogId, 'none', '%00', 'x'.repeat(400)),
    fc.string({ maxLength: 30 }).map(encodeURIComponent),
  );
  const legacyId = fc.oneof(
    fc.constant(''),
    fc.integer().map(String),
    fc.string({ maxLength: 10 }).map(encodeURIComponent),
  );
  const routed = fc
    .tuple(fc.constantFrom(...ROUTES), room, entry, trackId, legacyId)
    .map(([[method, template], r, e, t, i]) => ({
      method,
      template,
      path: template.replace('R', r).replace('E', e).replace('T', t).replace('I', i),
      target: template.includes('R') ? r : LEGACY_PATHS.has(template) ? 'legacy' : null,
    }));
  const anyMethod = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE');
  const mismatched = fc.tuple(anyMethod, routed).map(([method, r]) => ({ ...r, method }));
  const randomPath = fc
    .tuple(
      anyMethod,
      fc.oneof(
        fc.constantFrom(
          '/',
          '/nope',
          '//',
          '/v1//rooms',
          '/v1/rooms/',
          '/docs',
          '/v1/rooms/../../etc/passwd',
        ),
        fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
      ),
    )
    .map(([method, path]) => ({ method, template: '', path, target: null as string | null }));
  const request = fc.oneof(
    { weight: 8, arbitrary: routed },
    { weight: 2, arbitrary: mismatched },
    { weight: 1, arbitrary: randomPath },
  );
  const auth = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(`Bearer ${f.memberA}`, `Bearer ${f.hostA}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        `Bearer ${f.hostB}`,
        'Bearer garbage',
        'Bearer ',
        'Bearer',
        `Basic ${f.hostA}`,
        `bearer ${f.memberA} extra`,
        `Bearer ${f.hostA.slice(0, -3)}abc`,
        `Bearer v1.${Buffer.from('{"r":"x","m":"y"}').toString('base64url')}.AAAA`,
        `Bearer ${'x'.repeat(4_000)}`,
        'Bearer ..',
        `Bearer ${f.memberA}${f.memberA}`,
      ),
    },
    { weight: 1, arbitrary: printable.map((t) => `Bearer ${t}`) },
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: fc.constantFrom(...contentTypes) },
  );
  const headers = fc
    .record(
      {
        contentType,
        authorization: auth,
        idempotencyKey: fc.option(fc.oneof(printable, fc.constantFrom('k1', 'k1', 'same-key')), {
          nil: undefined,
        }),
        lastEventId: fc.option(fc.oneof(fc.integer().map(String), printable), { nil: undefined }),
        extra: fc.option(
          fc.tuple(
            fc.constantFrom(
              'x-forwarded-for',
              'accept',
              'accept-encoding',
              'x-http-method-override',
              'content-encoding',
            ),
            printable,
          ),
          { nil: undefined },
        ),
      },
      { requiredKeys: ['contentType', 'authorization'] },
    )
    .map((h) => {
      const out: Record<string, string> = {};
      if (h.contentType !== undefined) out['content-type'] = h.contentType;
      if (h.authorization !== undefined) out['authorization'] = h.authorization;
      if (h.idempotencyKey !== undefined) out['idempotency-key'] = h.idempotencyKey;
      if (h.lastEventId !== undefined) out['last-event-id'] = h.lastEventId;
      if (h.extra !== undefined) out[h.extra[0]] = h.extra[1];
      return out;
    });
  // Bodies that pass the route's JSON schema, so authentication and the room's rules get their turn.
  const name = fc.string({ minLength: 1, maxLength: 80 });
  const trackBody = fc.record({
    track: fc.record({
      trackId: fc.oneof(fc.constantFrom('t0', 't1'), fc.string({ minLength: 1, maxLength: 20 })),
      title: fc.string({ minLength: 1, maxLength: 20 }),
      artist: fc.string({ minLength: 1, maxLength: 20 }),
      album: fc.string({ maxLength: 5 }),
      durationMs: fc.integer({ min: 1, max: 86_400_000 }),
    }),
  });
  const schemaValid: Record<string, fc.Arbitrary<unknown>> = {
    '/v1/rooms': fc.record(
      { name, hostName: name, roomId: fc.constantFrom(f.roomA, f.roomB, 'legacy', 'fresh-room') },
      { requiredKeys: ['name', 'hostName'] },
    ),
    '/v1/rooms/R/members': fc.record({ name }),
    '/v1/rooms/R/queue': fc.oneof(
      fc.record({ trackId: fc.constantFrom(f.catalogId, 'nope', 't0') }),
      trackBody,
    ),
    '/v1/rooms/R/queue/E/vote': fc.record({ value: fc.constantFrom(1, -1, 0) }),
    '/v1/rooms/R/advance': fc.record(
      { expectedEntryId: fc.constantFrom(null, ...f.entriesA, 'e_x') },
      { requiredKeys: [] },
    ),
    '/v1/rooms/R/settings': fc.dictionary(
      fc.constantFrom(
        'maxQueueLength',
        'maxEntriesPerMember',
        'voteOffThreshold',
        'skipVotes',
        'historyRetention',
        'replayProtectionMinutes',
        'maxTrackDurationMs',
      ),
      fc.integer({ min: -1, max: 2_000_000 }),
      { maxKeys: 2 },
    ),
    '/v1/rooms/R/lock': fc.record({ locked: fc.boolean() }),
    '/add_track': fc.record({
      id: fc.integer({ min: 0, max: 5 }),
      title: name,
      artist: name,
      duration: fc.double({ min: 0, max: 100_000, noNaN: true }),
    }),
    '/remove_track': fc.record({ id: fc.integer({ min: 0, max: 5 }) }),
    '/vote': fc.record({ id: fc.integer({ min: 0, max: 5 }) }),
  };
  const withBody = request.chain((r) => {
    const valid = schemaValid[r.template];
    const body: fc.Arbitrary<string | undefined> = valid
      ? fc.oneof(
          { weight: 3, arbitrary: bodyArb },
          { weight: 2, arbitrary: valid.map((v) => JSON.stringify(v)) },
        )
      : bodyArb;
    return body.map((b) => ({ ...r, body: b }));
  });
  return fc.record({ request: withBody, query: queryArb, headers }).map((g) => ({
    method: g.request.method,
    path: g.request.path,
    target: g.request.target,
    query: g.query,
    headers: g.headers,
    // Fetch sends no body with GET and HEAD.
    body: g.request.method === 'GET' || g.request.method === 'HEAD' ? undefined : g.request.body,
  }));
}

// ---- Checks --------------------------------------------------------------------------------------

function timeless(room: Json): Json {
  if (!room) return room;
  const copy = structuredClone(room);
  if (copy.nowPlaying) {
    delete copy.nowPlaying.positionMs;
    delete copy.nowPlaying.remainingMs;
  }
  for (const q of (copy.queue as Json[] | undefined) ?? []) delete q.etaMs;
  return copy;
}

type Rooms = Record<string, Json>;

async function roomsNow(): Promise<Rooms> {
  const ids = [fx.roomA, fx.roomB, 'legacy'];
  const views = await Promise.all(
    ids.map(async (id) => ok(await api.get(`/v1/rooms/${id}?limit=1000`), 200)),
  );
  return Object.fromEntries(ids.map((id, i) => [id, timeless(views[i])]));
}

function describeRequest(g: Generated): string {
  const body =
    g.body === undefined
      ? ''
      : ` body ${JSON.stringify(g.body.slice(0, 300))}${g.body.length > 300 ? `... (${g.body.length} chars)` : ''}`;
  return `${g.method} ${g.path}${g.query ? ` query ${JSON.stringify(g.query)}` : ''} headers ${JSON.stringify(g.headers).slice(0, 300)}${body}`;
}

async function send(g: Generated): Promise<HttpResponse> {
  const url = new URL(`${node.restUrl}${g.path.startsWith('/') ? '' : '/'}${g.path}`);
  if (g.query) for (const [k, v] of Object.entries(g.query)) url.searchParams.append(k, v);
  const abort = AbortSignal.timeout(10_000);
  const response = await fetch(url, {
    method: g.method,
    headers: g.headers,
    ...(g.body !== undefined ? { body: g.body } : {}),
    signal: abort,
    redirect: 'manual',
  });
  let text = '';
  if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    await response.body?.cancel();
  } else {
    text = await response.text();
  }
  let body: Json;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return {
    status: response.status,
    headers: response.headers,
    text,
    body,
    method: g.method,
    path: url.pathname + url.search,
  };
}

const counts = new Map<number, number>();

async function checkOne(g: Generated, before: Rooms): Promise<Rooms> {
  let res: HttpResponse;
  try {
    res = await send(g);
  } catch (err) {
    // A request fetch itself refuses to build is not the server's doing.
    if (err instanceof TypeError && !/fetch failed/.test(err.message)) return before;
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    throw new Error(`no answer to ${describeRequest(g)}: ${String(err)}${cause}`, { cause: err });
  }
  counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
  const what = `${describeRequest(g)}\n  -> ${res.status} ${res.text.slice(0, 500)}`;

  const deadline =
    res.status === 504 &&
    res.body?.error?.code === 'DEADLINE_EXCEEDED' &&
    g.query !== undefined &&
    'minVersion' in g.query;
  assert.ok(res.status < 500 || deadline, `a 5xx: ${what}`);
  assertNoInternals(res);
  if (res.status >= 400 && g.method !== 'HEAD') {
    const error = res.body?.error;
    assert.ok(error && typeof error === 'object', `an error without the error object: ${what}`);
    assert.equal(typeof error.code, 'string', what);
    // The legacy routes answer a bad request as FastAPI did: 422 with its `detail` list (issue 13).
    const legacy422 =
      res.status === 422 &&
      g.target === 'legacy' &&
      error.code === 'INVALID_ARGUMENT' &&
      Array.isArray(res.body.detail);
    assert.equal(
      legacy422 ? 422 : STATUS[error.code as string],
      res.status,
      `code ${String(error.code)} with status ${res.status}: ${what}`,
    );
    assert.ok(typeof error.message === 'string' && error.message.trim().length > 0, `no message: ${what}`);
  }

  const now = await roomsNow();
  const accepted = res.status >= 200 && res.status < 300 && !['GET', 'HEAD', 'OPTIONS'].includes(g.method);
  for (const id of Object.keys(before)) {
    if (accepted && g.target === id) continue; // an accepted write may change the room it addressed
    assert.deepEqual(now[id], before[id], `room ${id} changed after ${what}`);
  }
  return now;
}

// ---- Examples the properties found (kept as plain tests, so each has its own name) ----------------

void test('a path with broken percent-encoding is INVALID_ARGUMENT 400 with the error body', async () => {
  for (const path of ['/v1/rooms/%ZZ', `/v1/rooms/${fx.roomA}/queue/%E2%82/vote`, '/v1/catalog/tracks/50%']) {
    const res = await api.request(
      path.endsWith('vote') ? 'PUT' : 'GET',
      path,
      path.endsWith('vote') ? { json: { value: 1 } } : {},
    );
    assertError(res, 400, 'INVALID_ARGUMENT');
  }
});

void test('an over-long path parameter is INVALID_ARGUMENT 400 with the error body', async () => {
  assertError(await api.get(`/v1/rooms/${'x'.repeat(200)}`), 400, 'INVALID_ARGUMENT');
  assertError(await api.post(`/v1/rooms/${'x'.repeat(200)}/members`, { name: 'x' }), 400, 'INVALID_ARGUMENT');
  // A catalog id may be up to 300 characters; longer is a bad request, not a URI error of another shape.
  assertError(await api.get(`/v1/catalog/tracks/${'x'.repeat(400)}`), 400, 'INVALID_ARGUMENT');
});

void test('HEAD on the events route answers at once', async () => {
  const res = await fetch(`${node.restUrl}/v1/rooms/${fx.roomA}/events`, {
    method: 'HEAD',
    signal: AbortSignal.timeout(5_000),
  }).catch((err: unknown) => err as Error);
  assert.ok(
    !(res instanceof Error),
    `HEAD /v1/rooms/:id/events got no answer within 5 s: ${res instanceof Error ? res.message : ''}`,
  );
  assert.ok(res.status < 500, `status ${res.status}`);
});

// ---- Properties ----------------------------------------------------------------------------------

void test('random requests against every route: never a 5xx, one error shape, no room changes', async (t) => {
  t.diagnostic(`fast-check seed ${SEED}, ${RUNS} runs`);
  let state = await roomsNow();
  const initialVersion = state[fx.roomA].version as number;
  await fc.assert(
    fc.asyncProperty(requestArb(fx), async (g) => {
      state = await checkOne(g, state);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...counts].sort((a, b) => a[0] - b[0])))}`);
  const fourXX = [...counts].filter(([s]) => s >= 400 && s < 500).reduce((n, [, c]) => n + c, 0);
  assert.ok(fourXX > RUNS / 2, 'the generators mostly produce bad requests');
  assert.ok(node.running, 'the node is still running');
  assert.deepEqual(ok(await api.get('/healthz'), 200), { status: 'ok' });
  assert.ok((await roomsNow())[fx.roomA].version >= initialVersion);
});

/** Writes raw bytes on a fresh connection; resolves with the status line answered, or null if none. */
function rawRequest(bytes: Buffer): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(node.restUrl);
    const socket = net.connect(Number(port), hostname);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      // Nothing came back for an incomplete request: the server waits for the rest. Fine.
      resolve(data ? (data.split('\r\n')[0] ?? null) : null);
    }, 1_000);
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      if (data.includes('\r\n\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data.split('\r\n')[0] ?? null);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE')
        resolve(data ? (data.split('\r\n')[0] ?? null) : null);
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data ? (data.split('\r\n')[0] ?? null) : null);
    });
    socket.write(bytes);
  });
}

void test('malformed HTTP on the socket: never a 5xx, the node keeps serving', async (t) => {
  t.diagnostic(`fast-check seed ${SEED}, ${RAW_RUNS} runs`);
  const before = await roomsNow();
  const line = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'BREW', 'G\u0000T', ''),
        fc.oneof(
          fc.constantFrom(`/v1/rooms/${fx.roomA}`, '/queue', '/add_track', '*', '/%', '/\u00ff'),
          fc.string({ maxLength: 30 }),
        ),
        fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1 extra', ''),
      )
      .map(([m, p, v]) => `${m} ${p} ${v}`),
  );
  const headerLines = fc.array(
    fc.oneof(
      fc.constantFrom(
        'Host: x',
        'Content-Length: -1',
        'Content-Length: 5',
        'Content-Length: 99999999999999999999',
        'Content-Length: 1\r\nContent-Length: 2',
        'Transfer-Encoding: chunked',
        'Transfer-Encoding: gzip, chunked',
        'Content-Type: application/json',
        `Authorization: Bearer ${fx.hostA}`,
        `X-Big: ${'x'.repeat(20_000)}`,
        'Bad Header',
        ': empty',
      ),
      fc.string({ unit: 'binary', maxLength: 40 }),
    ),
    { maxLength: 4 },
  );
  const tail = fc.oneof(
    fc.constant(''),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.constantFrom('{"id":1,"title":"t","artist":"a","duration":1}', '0\r\n\r\n', 'zz\r\n'),
  );
  const statuses: string[] = [];
  await fc.assert(
    fc.asyncProperty(line, headerLines, tail, async (l, hs, body) => {
      const bytes = Buffer.from(`${l}\r\n${hs.join('\r\n')}${hs.length ? '\r\n' : ''}\r\n${body}`, 'utf8');
      const status = await rawRequest(bytes);
      if (status !== null) {
        statuses.push(status);
        const code = Number(/^HTTP\/1\.[01] (\d{3})/.exec(status)?.[1] ?? 'NaN');
        assert.ok(
          Number.isInteger(code) && code < 500,
          `answered ${status} to ${JSON.stringify(bytes.toString('latin1').slice(0, 300))}`,
        );
      }
    }),
    { seed: SEED, numRuns: RAW_RUNS, endOnFailure: true },
  );
  t.diagnostic(`status lines: ${JSON.stringify([...new Set(statuses)])}`);
  assert.ok(node.running, 'the node is still running');
  assert.deepEqual(ok(await api.get('/healthz'), 200), { status: 'ok' });
  const after = await roomsNow();
  assert.deepEqual(after[fx.roomB], before[fx.roomB], 'the other room is unchanged');
  if (!statuses.some((s) => / 2\d\d\b/.test(s))) assert.deepEqual(after, before, 'no room changed');
});
