// A node starts quietly: no deprecation warning (Fastify's FSTDEP022 came from giving the router
// option maxParamLength at the top level of the Fastify options instead of in routerOptions).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startInProcess } from '../../helpers/in-process.ts';

void test('starting a node emits no process warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }): void =>
    void warnings.push(`${w.code ?? w.name}: ${w.message}`);
  process.on('warning', onWarning);
  const started = await startInProcess();
  try {
    // Warnings are emitted on the next tick: let them arrive before looking.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
    // The option still holds: a 1000-character path parameter reaches the route.
    const res = await started.api.get(`/v1/catalog/tracks/${'x'.repeat(300)}`);
    assert.equal(res.status, 404, res.text);
  } finally {
    process.off('warning', onWarning);
    await started.close();
  }
});
