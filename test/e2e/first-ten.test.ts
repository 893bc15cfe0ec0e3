// End-to-end checks of the page's first ten minutes (issue 22) in real Chromium against a real node:
// at most one toast at a time, and never over the page's controls.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createRoom, launchChromium, startNode, type NodeProcess } from './helpers.ts';
import { until } from '../helpers/until.ts';

/** A node and a browser for one test, both closed after it. */
async function setUp(t: { after(fn: () => Promise<void>): void }): Promise<[NodeProcess, Browser]> {
  const node = await startNode();
  t.after(() => node.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  return [node, browser];
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** What the toast test reads of a control in the page (these tests have no DOM types). */
interface InPageControl {
  getBoundingClientRect(): Box;
  readonly classList: { contains(name: string): boolean };
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
}

const overlaps = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

void test('one toast at a time, never over a control', { timeout: 120_000 }, async (t) => {
  const [node, browser] = await setUp(t);
  const tracks = (
    (await (await fetch(`${node.url}/v1/catalog/search?limit=4`)).json()) as {
      tracks: { trackId: string; title: string }[];
    }
  ).tracks;

  for (const viewport of [
    { width: 390, height: 844 },
    { width: 1280, height: 800 },
  ]) {
    const [page] = await createRoom(browser, node.url, `Toasts ${viewport.width}`, viewport);

    // Count toasts in the page on every animation frame while four tracks are added in a burst.
    await page.evaluate(() => {
      const w = globalThis as unknown as { maxToasts: number; requestAnimationFrame(f: () => void): void };
      const d = (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } })
        .document;
      w.maxToasts = 0;
      const look = (): void => {
        w.maxToasts = Math.max(w.maxToasts, d.querySelectorAll('.toast').length);
        w.requestAnimationFrame(look);
      };
      look();
    });
    for (const track of tracks) {
      await page.getByLabel('Search the catalog').fill(track.title);
      await page.locator(`#search-results li[data-track-id="${track.trackId}"]`).getByRole('button').click();
    }
    const last = tracks.at(-1)!;
    await page.locator('.toast').filter({ hasText: last.title }).waitFor();
    assert.equal(await page.locator('.toast').count(), 1, 'the newest toast replaced the others');
    const most = await page.evaluate(() => (globalThis as unknown as { maxToasts: number }).maxToasts);
    assert.equal(most, 1, `at most one toast was ever shown (saw ${most}) at ${viewport.width} px`);

    // Nothing one can press lies under it (its own close button aside).
    const toast = (await page.locator('.toast').boundingBox())!;
    // Every control's box at once: one by one, a loaded machine may outlast the toast mid-loop.
    const controls = await page.locator('button:visible, input:visible, a:visible').evaluateAll((els) =>
      (els as unknown as InPageControl[]).map((el) => {
        const r = el.getBoundingClientRect();
        return {
          box: { x: r.x, y: r.y, width: r.width, height: r.height },
          close: el.classList.contains('toast-close'),
          name: el.getAttribute('aria-label') ?? el.textContent ?? '?',
        };
      }),
    );
    const covered = controls.filter((c) => !c.close && overlaps(toast, c.box)).map((c) => c.name);
    assert.deepEqual(covered, [], `the toast covers controls at ${viewport.width} px`);
    await until('the toast to go by itself', async () => (await page.locator('.toast').count()) === 0, {
      timeoutMs: 15_000,
      intervalMs: 50,
    });
    await page.context().close();
  }
});

void test(
  'a voted row stays under the pointer until the pointer leaves it',
  { timeout: 120_000 },
  async (t) => {
    const [node, browser] = await setUp(t);
    const tracks = (
      (await (await fetch(`${node.url}/v1/catalog/search?limit=4`)).json()) as {
        tracks: { trackId: string; title: string }[];
      }
    ).tracks;
    const [t1, t2, t3, t4] = tracks as [
      (typeof tracks)[0],
      (typeof tracks)[0],
      (typeof tracks)[0],
      (typeof tracks)[0],
    ];

    const [page, roomId] = await createRoom(browser, node.url, 'Hold');
    for (const track of [t1, t2, t3, t4]) {
      await page.getByLabel('Search the catalog').fill(track.title);
      await page.locator(`#search-results li[data-track-id="${track.trackId}"]`).getByRole('button').click();
      await page.locator(`#search-results li[data-track-id="${track.trackId}"] [data-status]`).waitFor();
    }
    const shown = async (): Promise<string[]> => {
      const ids: string[] = [];
      for (const li of await page.locator('ol.queue > li').all())
        ids.push((await li.getAttribute('data-track-id')) ?? '');
      return ids;
    };
    await until(
      'the queue t2, t3, t4',
      async () => (await shown()).join() === [t2, t3, t4].map((x) => x.trackId).join(),
      { intervalMs: 50 },
    );

    // Vote t4 (third) up with the mouse: by score it is first now, but it stays under the pointer.
    const row = (id: string) => page.locator(`ol.queue > li[data-track-id="${id}"]`);
    await row(t4.trackId).locator('.vote-up').click();
    await row(t4.trackId).and(page.locator('[data-score="1"][data-my-vote="1"]')).waitFor();
    assert.deepEqual(
      await shown(),
      [t2, t3, t4].map((x) => x.trackId),
      'the voted row has not moved',
    );

    // Someone else's vote (t3 up) arrives live; the order on screen still holds while the pointer stays.
    const bob = (await (
      await fetch(`${node.url}/v1/rooms/${roomId}/members`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Bob' }),
      })
    ).json()) as { token: string };
    const entryOf = (await (await fetch(`${node.url}/v1/rooms/${roomId}`)).json()) as {
      queue: { entryId: string; track: { trackId: string } }[];
    };
    const t3Entry = entryOf.queue.find((e) => e.track.trackId === t3.trackId)!.entryId;
    const voted = await fetch(`${node.url}/v1/rooms/${roomId}/queue/${t3Entry}/vote`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bob.token}` },
      body: JSON.stringify({ value: 1 }),
    });
    assert.equal(voted.status, 200, await voted.text());
    await row(t3.trackId).and(page.locator('[data-score="1"]')).waitFor();
    assert.deepEqual(
      await shown(),
      [t2, t3, t4].map((x) => x.trackId),
      'still held under the pointer',
    );

    // The pointer leaves: the rows take the room's order (t3 and t4 tie at +1; t3 was added first).
    await page.mouse.move(0, 0);
    await until(
      'the room order after the pointer left',
      async () => (await shown()).join() === [t3, t4, t2].map((x) => x.trackId).join(),
      { intervalMs: 50 },
    );
    await page.context().close();
  },
);

void test(
  'offline: after a few seconds the writing controls are disabled, and come back by themselves',
  { timeout: 120_000 },
  async (t) => {
    const [node, browser] = await setUp(t);
    const [page] = await createRoom(browser, node.url, 'Offline');
    await page.locator('[data-connection="live"]').waitFor();
    const search = page.getByLabel('Search the catalog');
    const enabledButtons = page.locator('main.room-grid button:enabled');
    assert.equal(await search.isEnabled(), true);

    await node.restart(async () => {
      await page.locator('[data-connection="offline"]').waitFor({ timeout: 20_000 });
      await page.locator('[data-offline-banner]').waitFor();
      assert.equal(await search.isDisabled(), true, 'search-and-add is disabled offline');
      assert.equal(await enabledButtons.count(), 0, 'no button in the room works offline');
    });
    // The server is back: the page goes live and the controls work again, with no reload.
    await page.locator('[data-connection="live"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('[data-offline-banner]').count(), 0);
    assert.equal(await search.isEnabled(), true);
    assert.ok((await enabledButtons.count()) > 0, 'the buttons work again');
    await page.context().close();
  },
);
