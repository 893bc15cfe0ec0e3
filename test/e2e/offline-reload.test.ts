// End-to-end: the page without its server (issue 22). A reload while the node is down shows the room
// as this browser last saw it, read-only, from the service worker's kept shell (web/src/sw.ts), and
// goes live by itself when the node is back; while the node answers, a reload always gets the page
// the node serves now (network first), never the kept copy.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRoom, launchChromium, startNode } from './helpers.ts';
import { until } from '../helpers/until.ts';

const INDEX = join(import.meta.dirname, '..', '..', 'web', 'dist', 'index.html');

void test(
  'a reload while the server is down shows the last state, read-only, and recovers by itself',
  { timeout: 180_000 },
  async (t) => {
    const node = await startNode();
    t.after(() => node.close());
    const browser = await launchChromium();
    t.after(() => browser.close());

    const sw = await fetch(`${node.url}/sw.js`);
    assert.equal(sw.status, 200);
    assert.equal(sw.headers.get('cache-control'), 'no-cache', 'a new build is seen on the next load');
    assert.match(sw.headers.get('content-type') ?? '', /javascript/);
    await sw.text();

    const tracks = (
      (await (await fetch(`${node.url}/v1/catalog/search?limit=2`)).json()) as {
        tracks: { trackId: string; title: string }[];
      }
    ).tracks;
    const [playing, queued] = tracks as [(typeof tracks)[0], (typeof tracks)[0]];
    const [page, roomId] = await createRoom(browser, node.url, 'Kept');
    for (const track of [playing, queued]) {
      await page.getByLabel('Search the catalog').fill(track.title);
      await page.locator(`#search-results li[data-track-id="${track.trackId}"]`).getByRole('button').click();
    }
    await page.locator(`ol.queue > li[data-track-id="${queued.trackId}"]`).waitFor();
    await page.locator('[data-connection="live"]').waitFor();

    // The worker controls the page, and the page has kept what it shows.
    await until(
      'the service worker to control the page',
      () =>
        page.evaluate(
          () =>
            (globalThis as unknown as { navigator: { serviceWorker: { controller: unknown } } }).navigator
              .serviceWorker.controller !== null,
        ),
      { intervalMs: 50 },
    );
    await until(
      'the page to keep the room',
      () =>
        page.evaluate(
          ([id, trackId]) => (localStorage.getItem(`chorus:last:${id}`) ?? '').includes(trackId),
          [roomId, queued.trackId] as const,
        ),
      { intervalMs: 50 },
    );

    const search = page.getByLabel('Search the catalog');
    await node.restart(async () => {
      // No server: the reload still shows the room, as it was, with every write disabled.
      await page.reload();
      await page.getByRole('heading', { name: 'Kept', level: 1 }).waitFor();
      await page.locator('[data-offline-banner]').filter({ hasText: 'last saw it' }).waitFor();
      await page.locator('[data-connection="offline"]').waitFor();
      await page.locator(`ol.queue > li[data-track-id="${queued.trackId}"]`).waitFor();
      await page.getByTestId('now-playing-title').filter({ hasText: playing.title }).waitFor();
      assert.equal(await search.isDisabled(), true, 'search-and-add is disabled');
      assert.equal(await page.locator('main.room-grid button:enabled').count(), 0, 'no button works');
    });

    // The server is back: live again without a reload, the controls work.
    await page.locator('[data-connection="live"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('[data-offline-banner]').count(), 0);
    assert.equal(await search.isEnabled(), true);
    assert.ok((await page.locator('main.room-grid button:enabled').count()) > 0);

    // Online, a reload gets the page the node serves now, not the kept shell: a changed index.html
    // (as a new build would be) shows at once.
    const original = await readFile(INDEX, 'utf8');
    t.after(() => writeFile(INDEX, original));
    await writeFile(
      INDEX,
      original.replace('<title>Chorus</title>', '<title>Chorus</title><meta name="e2e-build" content="2" />'),
    );
    await page.reload();
    assert.equal(await page.locator('meta[name="e2e-build"]').count(), 1, 'the new page, not the kept one');
    await page.locator('[data-connection="live"]').waitFor();
    await page.context().close();
  },
);
