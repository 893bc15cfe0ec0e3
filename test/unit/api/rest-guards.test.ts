// The REST hook that refuses ill-formed Unicode (src/api/rest/guards.ts): it passes well-formed
// requests on without building any field path, and refuses a lone surrogate anywhere (a value, a
// key, deep in arrays and objects, in the body, the query or the params) naming the first one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { illFormedText, refuseIllFormedText } from '../../../src/api/rest/guards.ts';

/** What the hook passes to `done`: undefined, or the refusal's field. */
function hook(parts: { body?: unknown; query?: unknown; params?: unknown }): string | undefined {
  const calls: (Error | undefined)[] = [];
  refuseIllFormedText(parts as FastifyRequest, {} as FastifyReply, (err) => calls.push(err));
  assert.equal(calls.length, 1, 'done is called once');
  const err = calls[0] as (Error & { details?: { field?: string } }) | undefined;
  return err === undefined ? undefined : String(err.details?.field);
}

const LONE = '\ud800';

void test('well-formed requests pass, pairs (emoji) included', () => {
  assert.equal(hook({}), undefined);
  assert.equal(
    hook({
      body: { track: { title: 'Party \ud83c\udf89', tags: ['a', { b: [1, null, true] }] } },
      query: { q: 'x' },
      params: { roomId: 'r' },
    }),
    undefined,
  );
});

void test('a lone surrogate anywhere is refused, naming the first one as illFormedText does', () => {
  const cases: [Parameters<typeof hook>[0], string][] = [
    [{ body: { name: `a${LONE}` } }, 'body.name'],
    [{ body: { track: { tags: ['ok', ['x', LONE]] } } }, 'body.track.tags[1][1]'],
    [{ body: { [`k${LONE}`]: 1 } }, `body.k${LONE}`],
    [{ body: [{ a: 'ok' }, { b: LONE }] }, 'body.[1].b'],
    [{ body: LONE }, 'body.(value)'],
    [{ body: { a: 'ok' }, query: { q: LONE } }, 'query.q'],
    [{ params: { roomId: LONE } }, 'params.roomId'],
  ];
  for (const [parts, field] of cases) {
    assert.equal(hook(parts), field, JSON.stringify(field));
    const part = field.split(/[.[]/)[0] as 'body' | 'query' | 'params';
    assert.equal(`${part}.${illFormedText(parts[part])}`, field);
  }
});
