// The bridge from a store's declared metrics to the node's Prometheus registry.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { storeTelemetry } from '../../../src/node/metrics.ts';

void test('declared metrics are registered and fed; an undeclared name throws', async () => {
  const registry = new Registry();
  const telemetry = storeTelemetry(registry, [
    { name: 'chorus_test_commits_total', help: 'commits', kind: 'counter', labels: ['outcome'] },
    { name: 'chorus_test_term', help: 'term', kind: 'gauge' },
    { name: 'chorus_test_batch_entries', help: 'batch', kind: 'histogram', buckets: [1, 10, 100] },
  ]);
  telemetry.count('chorus_test_commits_total', { outcome: 'ok' });
  telemetry.count('chorus_test_commits_total', { outcome: 'ok' }, 2);
  telemetry.set('chorus_test_term', 7);
  telemetry.observe('chorus_test_batch_entries', 5);
  const text = await registry.metrics();
  assert.match(text, /chorus_test_commits_total\{outcome="ok"\} 3/);
  assert.match(text, /chorus_test_term 7/);
  assert.match(text, /chorus_test_batch_entries_bucket\{le="10"\} 1/);
  assert.match(text, /chorus_test_batch_entries_bucket\{le="1"\} 0/);
  assert.throws(() => telemetry.count('chorus_test_unknown_total'), /does not declare/);
  assert.throws(() => telemetry.set('chorus_test_commits_total', 1), /does not declare/);
});
