// Presence metrics (src/node/metrics.ts presenceTelemetry, fed by src/node/presence.ts): members
// present through the node and their streams as scraped, commands sent by outcome, lease renewals,
// and a report that ran out before the next one was applied.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { Command } from '../../../src/domain/index.ts';
import { presenceTelemetry } from '../../../src/node/metrics.ts';
import { PresenceTracker } from '../../../src/node/presence.ts';
import { until } from '../../helpers/until.ts';

type Report = Extract<Command, { type: 'presence' }>;

/** A metric's value as scraped (the sample with `labels`, or the only one). */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  const sample = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return sample?.value ?? 0;
}

function setup(options: { leaseMs?: number; fail?: () => boolean; now?: () => number } = {}) {
  const registry = new Registry();
  const sent: Report[] = [];
  const tracker = new PresenceTracker({
    node: 'n1',
    graceMs: 50,
    leaseMs: options.leaseMs ?? 60_000,
    batchMs: 10,
    telemetry: presenceTelemetry(registry),
    ...(options.now ? { now: options.now } : {}),
    submit: (_roomId, command) => {
      if (options.fail?.()) return Promise.reject(new Error('the store is down'));
      sent.push(command);
      return Promise.resolve();
    },
  });
  return { registry, tracker, sent };
}

void test('members and streams count what this node holds; commands count as applied', async () => {
  const { registry, tracker, sent } = setup();
  try {
    assert.equal(await value(registry, 'chorus_presence_members'), 0);
    const a1 = tracker.connect('one', 'a');
    tracker.connect('one', 'a'); // a second tab
    const b = tracker.connect('one', 'b');
    tracker.connect('two', 'c');
    assert.equal(await value(registry, 'chorus_presence_members'), 3);
    assert.equal(await value(registry, 'chorus_presence_streams'), 4);
    await until('a report per room', async () => sent.length === 2);
    assert.equal(await value(registry, 'chorus_presence_commands_total', { outcome: 'applied' }), 2);
    assert.equal(await value(registry, 'chorus_presence_commands_total', { outcome: 'failed' }), 0);

    a1(); // a keeps a tab open
    b(); // b is within the grace: still present, no stream
    assert.equal(await value(registry, 'chorus_presence_streams'), 2);
    assert.equal(await value(registry, 'chorus_presence_members'), 3);
    await until(
      'b gone after the grace',
      async () => (await value(registry, 'chorus_presence_members')) === 2,
    );
    await until(
      "b's departure reported",
      async () => (await value(registry, 'chorus_presence_commands_total', { outcome: 'applied' })) === 3,
    );
    assert.equal(await value(registry, 'chorus_presence_lease_renewals_total'), 0, 'no lease was due');
    assert.equal(await value(registry, 'chorus_presence_leases_expired_total'), 0);
  } finally {
    tracker.stop();
  }
});

void test('lease renewals are counted while members stay', async () => {
  // A short lease: renewed every third of it.
  const { registry, tracker, sent } = setup({ leaseMs: 90 });
  try {
    tracker.connect('one', 'a');
    await until(
      'two renewals',
      async () => (await value(registry, 'chorus_presence_lease_renewals_total')) >= 2,
    );
    const renewalsSent = sent.filter((r) => r.arrive.length === 0 && r.depart.length === 0).length;
    assert.ok(renewalsSent >= (await value(registry, 'chorus_presence_lease_renewals_total')));
  } finally {
    tracker.stop();
  }
});

void test('failed reports are counted; a report applied after the lease ran out counts as expired', async () => {
  let now = 1_000_000;
  let failing = false;
  const { registry, tracker } = setup({ fail: () => failing, now: () => now });
  try {
    tracker.connect('one', 'a');
    await until(
      'the first report',
      async () => (await value(registry, 'chorus_presence_commands_total', { outcome: 'applied' })) === 1,
    );
    failing = true;
    tracker.connect('one', 'b');
    await until(
      'a failed report',
      async () => (await value(registry, 'chorus_presence_commands_total', { outcome: 'failed' })) >= 1,
    );
    // The store answers again only after the lease (60 s) has run out: the retry lapses.
    now += 61_000;
    failing = false;
    await until(
      'the lapse counted',
      async () => (await value(registry, 'chorus_presence_leases_expired_total')) === 1,
    );
    assert.equal(await value(registry, 'chorus_presence_commands_total', { outcome: 'applied' }), 2);
  } finally {
    tracker.stop();
  }
});

void test('a report applied within the lease is no lapse', async () => {
  let now = 1_000_000;
  const { registry, tracker } = setup({ now: () => now });
  try {
    tracker.connect('one', 'a');
    await until(
      'the first report',
      async () => (await value(registry, 'chorus_presence_commands_total', { outcome: 'applied' })) === 1,
    );
    now += 59_000;
    tracker.connect('one', 'b');
    await until(
      'the second report',
      async () => (await value(registry, 'chorus_presence_commands_total', { outcome: 'applied' })) === 2,
    );
    assert.equal(await value(registry, 'chorus_presence_leases_expired_total'), 0);
  } finally {
    tracker.stop();
  }
});
