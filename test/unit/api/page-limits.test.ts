// Page sizes: REST's schemas and gRPC's checks read one table (src/api/page-limits.ts), so a limit
// one API accepts the other accepts too, and both default alike.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PAGE_LIMITS, type PageLimit } from '../../../src/api/page-limits.ts';
import { pageLimit } from '../../../src/api/grpc/validate.ts';
import { HistoryQuery, ListQuery, RoomQuery, SearchQuery } from '../../../src/api/rest/schemas.ts';
import { ChorusError } from '../../../src/domain/index.ts';

const REST = {
  queue: RoomQuery.properties.limit,
  history: HistoryQuery.properties.limit,
  rooms: ListQuery.properties.limit,
  search: SearchQuery.properties.limit,
};

void test('each REST limit parameter has the bounds and default of the table', () => {
  for (const [name, limit] of Object.entries(PAGE_LIMITS) as [keyof typeof REST, PageLimit][]) {
    const schema = REST[name] as unknown as { minimum: number; maximum: number; default: number };
    assert.deepEqual(
      [schema.minimum, schema.maximum, schema.default],
      [limit.min, limit.max, limit.fallback],
      name,
    );
  }
});

void test('gRPC takes the same bounds, and reads 0 (unset) as the default where 0 is not a page', () => {
  for (const [name, limit] of Object.entries(PAGE_LIMITS)) {
    assert.equal(pageLimit(limit.max, limit), limit.max, name);
    assert.throws(() => pageLimit(limit.max + 1, limit), ChorusError, name);
    assert.equal(pageLimit(0, limit), limit.min > 0 ? limit.fallback : 0, name);
  }
});
