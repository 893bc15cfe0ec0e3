// The REST answers' serialisers (src/api/rest/serializer.ts): the lean copy of a response schema has
// no union left for fast-json-stringify to validate per value, and it writes exactly what the
// route's own schema writes, for null and non-null fields and every literal.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fastJson from 'fast-json-stringify';
import { Type } from 'typebox';
import { DEFAULT_SETTINGS } from '../../../src/domain/settings.ts';
import { leanSchema, leanSerializerCompiler } from '../../../src/api/rest/serializer.ts';
import {
  HistoryPageSchema,
  QueueItemSchema,
  RoomListingSchema,
  RoomViewSchema,
} from '../../../src/api/rest/schemas.ts';

function unions(schema: unknown, at = ''): string[] {
  if (Array.isArray(schema)) return schema.flatMap((s, i) => unions(s, `${at}[${i}]`));
  if (typeof schema !== 'object' || schema === null) return [];
  return Object.entries(schema).flatMap(([key, value]) =>
    key === 'anyOf' || key === 'oneOf' ? [at || '(root)'] : unions(value, `${at}.${key}`),
  );
}

/** Both serialisers of `schema` give the same JSON for `value`. */
function same(schema: unknown, value: unknown): void {
  const original = fastJson(schema as Parameters<typeof fastJson>[0])(value);
  const lean = leanSerializerCompiler({ schema })(value);
  assert.deepEqual(JSON.parse(lean), JSON.parse(original));
}

const track = { trackId: 't1', title: 'Song', artist: 'Band', album: 'Record', durationMs: 180_000 };
const member = { memberId: 'm1', name: 'Ann' };
const item = (myVote: 1 | -1 | 0, etaMs: number | null) => ({
  position: 1,
  entryId: 'e1',
  track,
  addedBy: member,
  addedAt: 5,
  seq: 1,
  score: 2,
  ups: 3,
  downs: 1,
  etaMs,
  myVote,
});
const room = (playing: boolean, me: boolean) => ({
  id: 'r1',
  name: 'Room',
  hostId: 'm1',
  createdAt: 1,
  settings: DEFAULT_SETTINGS,
  locked: false,
  version: 7,
  memberCount: 1,
  queueLength: 2,
  playCount: 0,
  nowPlaying: playing
    ? {
        entryId: 'e0',
        track,
        addedBy: member,
        startedAt: 3,
        paused: false,
        positionMs: 10,
        remainingMs: null,
        score: 0,
        ups: 0,
        downs: 0,
        myVote: -1,
      }
    : null,
  queue: [item(1, 20), item(0, null), item(-1, 0)],
  queueOffset: 0,
  me: me ? { memberId: 'm1', name: 'Ann', isHost: true, role: 'cohost', joinedAt: 2 } : null,
  present: [member],
  presentCount: 1,
  joinPending: false,
  pendingJoins: [],
});

void test('the lean response schemas have no union left', () => {
  for (const schema of [RoomViewSchema, QueueItemSchema, HistoryPageSchema, RoomListingSchema]) {
    assert.ok(unions(schema).length > 0, 'the route schema has unions to rewrite');
    assert.deepEqual(unions(leanSchema(schema)), []);
  }
});

void test('a lean serialiser writes what the route schema writes', () => {
  for (const [playing, me] of [
    [true, true],
    [false, false],
    [true, false],
  ] as const)
    same(RoomViewSchema, room(playing, me));
  same(HistoryPageSchema, { records: [], nextBefore: null, version: 3 });
  same(HistoryPageSchema, { records: [], nextBefore: 9, version: 3 });
  const vote = Type.Object({
    effect: Type.Union([Type.Literal('none'), Type.Literal('votedOff'), Type.Literal('skipped')]),
    position: Type.Union([Type.Integer(), Type.Null()]),
    entry: Type.Union([QueueItemSchema, Type.Null()], { description: 'kept' }),
  });
  for (const effect of ['none', 'votedOff', 'skipped'])
    for (const position of [null, 0, 4])
      for (const entry of [null, item(1, 3)]) same(vote, { effect, position, entry });
});

void test('other unions and the original schema are left as they are', () => {
  const either = Type.Union([Type.Object({ a: Type.String() }), Type.Object({ b: Type.Integer() })]);
  assert.deepEqual(unions(leanSchema(either)), ['(root)']);
  const mixed = Type.Union([Type.Literal('x'), Type.Literal(1)]);
  assert.deepEqual(unions(leanSchema(mixed)), ['(root)']);
  const before = JSON.stringify(RoomViewSchema);
  leanSchema(RoomViewSchema);
  assert.equal(JSON.stringify(RoomViewSchema), before);
});
