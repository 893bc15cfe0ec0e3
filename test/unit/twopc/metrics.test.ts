// The 2PC metrics reporter: counters move by what the core counted since the last report (never
// backwards, never twice), every abort reason is a series from the first report, gauges follow the
// status, and every name it reports is one the registry entry declares.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyCounters } from '../../../src/store/twopc/context.ts';
import { TWOPC_METRICS, TwoPcMetrics } from '../../../src/store/twopc/metrics.ts';
import type { Status } from '../../../src/store/twopc/types.ts';
import type { MetricLabels, StoreTelemetry } from '../../../src/store/telemetry.ts';

function recorder(): { telemetry: StoreTelemetry; values: Map<string, number> } {
  const declared = new Set(TWOPC_METRICS.map((m) => m.name));
  const values = new Map<string, number>();
  const key = (name: string, labels: MetricLabels = {}): string => {
    assert.ok(declared.has(name), `${name} is declared`);
    const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    return l.length === 0 ? name : `${name}{${l.join(',')}}`;
  };
  return {
    values,
    telemetry: {
      count: (name, labels, by = 1) => {
        assert.ok(by >= 0, `${name} never goes backwards`);
        values.set(key(name, labels), (values.get(key(name, labels)) ?? 0) + by);
      },
      set: (name, value, labels) => values.set(key(name, labels), value),
      observe: (name, value, labels) => values.set(key(name, labels), value),
    },
  };
}

function status(counters: ReturnType<typeof emptyCounters>, extra: Partial<Status> = {}): Status {
  return {
    node: 'n1',
    peersReachable: ['n1', 'n2'],
    caughtUp: true,
    inDoubt: [],
    preparedCount: 0,
    writesInProgress: 0,
    awaitingAcks: 0,
    lastDecision: null,
    counters,
    ...extra,
  };
}

void test('counters move by the difference since the last report; gauges follow the status', () => {
  const { telemetry, values } = recorder();
  const metrics = new TwoPcMetrics(telemetry);
  const c = emptyCounters();
  metrics.report(status(c));
  assert.equal(values.get('chorus_2pc_aborts_total{reason="timeout"}'), 0, 'every reason from the start');
  assert.equal(values.get('chorus_2pc_prepares_total'), undefined);
  c.prepares = 3;
  c.commits = 2;
  c.aborts.locked = 1;
  metrics.report(
    status(c, {
      preparedCount: 1,
      inDoubt: [{ txn: 't', room: 'r', coordinator: 'n2', waitingTicks: 30 }],
      awaitingAcks: 1,
    }),
  );
  metrics.report(status(c, { preparedCount: 1 })); // nothing new: nothing counted twice
  assert.equal(values.get('chorus_2pc_prepares_total'), 3);
  assert.equal(values.get('chorus_2pc_commits_total'), 2);
  assert.equal(values.get('chorus_2pc_aborts_total{reason="locked"}'), 1);
  assert.equal(values.get('chorus_2pc_prepared'), 1);
  assert.equal(values.get('chorus_2pc_in_doubt'), 0);
  assert.equal(values.get('chorus_2pc_peers_reachable'), 2);
  c.prepares = 5;
  metrics.report(status(c));
  assert.equal(values.get('chorus_2pc_prepares_total'), 5);
  metrics.committed(0.25);
  assert.equal(values.get('chorus_2pc_commit_duration_seconds'), 0.25);
});
