// End-to-end on a cluster: the same room scenario as room.test.ts, but the two browsers are pinned
// to different nodes of a 3-node Redis cluster (behind nginx), so every change one person makes
// reaches the other through the store and the other node's event stream.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../helpers/cluster.ts';
import { launchChromium } from './helpers.ts';
import { roomScenario } from './scenario.ts';

void test(
  'a live room in two browsers on two nodes of a 3-node Redis cluster',
  { timeout: 300_000 },
  async (t) => {
    const cluster = await startCluster({ nodes: 3 });
    t.after(async () => {
      await cluster.stop();
    });
    const [a, b] = cluster.nodes();
    assert.ok(a && b && a.rest !== b.rest, 'two distinct nodes');
    // The load balancer serves the page too.
    const page = await fetch(`${cluster.lb}/`);
    assert.equal(page.status, 200);
    await page.arrayBuffer();

    const browser = await launchChromium();
    t.after(() => browser.close());
    await roomScenario({ browser, urlA: a.rest, urlB: b.rest, step: (name, fn) => t.test(name, fn) });
  },
);
