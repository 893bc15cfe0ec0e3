// End-to-end: guests can reach the room. A node bound to 0.0.0.0 and a page opened on its loopback
// address (as on the speaker laptop): the share link and its QR code point at an address others
// can open, and the room code is shown.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium, startNode } from './helpers.ts';
import { until } from '../helpers/until.ts';

const LOOPBACK = /^(localhost|127\.|\[::1\]|0\.0\.0\.0)/;

void test('the share link of a page served on --host 0.0.0.0 is not a loopback address', async (t) => {
  const node = await startNode(['--host', '0.0.0.0']);
  t.after(() => node.close());
  const local = `http://127.0.0.1:${node.port}`;
  const share = (await (await fetch(`${local}/v1/share`)).json()) as { lanUrls: string[] };
  assert.ok(share.lanUrls.length > 0, 'this machine has a non-loopback address');
  const created = await fetch(`${local}/v1/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ roomId: 'reach-me', name: 'Reach me', hostName: 'Ann' }),
  });
  assert.equal(created.status, 201);
  await created.arrayBuffer();

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${local}/r/reach-me`);
  const link = await until(
    'a share link off loopback',
    async () => {
      const text = (await page.getByTestId('share-link').textContent()) ?? '';
      return text !== '' && !LOOPBACK.test(new URL(text).host) ? text : false;
    },
    { intervalMs: 50 },
  );
  assert.equal(link, `${share.lanUrls[0]}/r/reach-me`);
  assert.equal(await page.getByTestId('share-link').getAttribute('href'), link);
  assert.match((await page.getByTestId('share-qr').getAttribute('src')) ?? '', /^data:image\/gif;base64,/);
  assert.equal(await page.getByTestId('room-code').textContent(), 'reach-me');
  // The LAN address really serves the room.
  const there = await fetch(`${share.lanUrls[0]}/v1/rooms/reach-me`);
  assert.equal(there.status, 200);
  await there.arrayBuffer();
});
