// End-to-end: the web page in real headless Chromium against a real `chorus serve` process.
// The scenario lives in scenario.ts and takes two base URLs; here both are the one node. The cluster
// variant (two contexts pinned to different nodes behind nginx) calls the same roomScenario.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium, SCREENSHOTS, startNode } from './helpers.ts';
import { roomScenario } from './scenario.ts';

void test('the node serves the page: index revalidated, hashed assets cached for a year', async (t) => {
  const node = await startNode();
  t.after(() => node.close());

  for (const path of ['/', '/r/some-room']) {
    const res = await fetch(`${node.url}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const html = await res.text();
    const script = /src="(\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/assets\/main-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    assert.ok(script && style, 'index.html points at the hashed bundle');

    const asset = await fetch(`${node.url}${script}`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    await asset.arrayBuffer();
  }
  const missing = await fetch(`${node.url}/assets/main-NOPE.js`);
  assert.equal(missing.status, 404);
  await missing.arrayBuffer();
});

void test('a live room in two browsers on one node', { timeout: 240_000 }, async (t) => {
  const node = await startNode();
  t.after(() => node.close());
  const browser = await launchChromium();
  t.after(() => browser.close());

  await roomScenario({
    browser,
    urlA: node.url,
    urlB: node.url,
    restartB: () => node.restart(),
    screenshots: SCREENSHOTS,
    step: (name, fn) => t.test(name, fn),
  });
});
