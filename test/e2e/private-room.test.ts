// End-to-end: a private room opens only with its invite. The host unlists the room on the page; its
// share link then carries the invite; a guest who opens that link sees and joins the room (and a
// reload still opens it); a guest with the bare room address gets "no room", as for a room that
// does not exist.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRoom, launchChromium, startNode } from './helpers.ts';
import { until } from '../helpers/until.ts';

void test('a private room: the share link carries the invite, a guest joins with it, the bare address shows no room', async (t) => {
  const node = await startNode();
  t.after(() => node.close());
  const url = `http://127.0.0.1:${node.port}`;
  const browser = await launchChromium();
  t.after(() => browser.close());

  const [host, roomId] = await createRoom(browser, url, 'Secret party');
  await host.getByRole('button', { name: 'Room settings…' }).click();
  await host.getByLabel('Listed on the home page').uncheck();
  await host.getByRole('button', { name: 'Save settings' }).click();
  const link = await until(
    'a share link with the invite',
    async () => {
      const text = (await host.getByTestId('share-link').textContent()) ?? '';
      return text.includes('?invite=') ? text : false;
    },
    { intervalMs: 50 },
  );
  assert.equal(new URL(link).pathname, `/r/${roomId}`);

  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(`${url}/r/${roomId}`);
  await stranger.getByText(`There is no room ${roomId} here`).waitFor();

  const guest = await (await browser.newContext()).newPage();
  await guest.goto(`${url}${new URL(link).pathname}${new URL(link).search}`);
  await guest.getByRole('heading', { name: 'Secret party', level: 1 }).waitFor();
  await guest.locator('#join-name').fill('Bea');
  await guest.getByRole('button', { name: 'Join', exact: true }).click();
  await guest
    .getByText(/you are Bea/)
    .first()
    .waitFor();
  await guest.goto(`${url}/r/${roomId}`); // the invite is kept for this room in this browser
  await guest.getByRole('heading', { name: 'Secret party', level: 1 }).waitFor();
});
