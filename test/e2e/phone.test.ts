// End-to-end: the room on a phone (390 x 844, issue 22). The top bar stays compact (at most 64 px)
// without losing anything (what does not fit is in the room menu), and every dialog in the room
// shows all its buttons on screen, also with the on-screen keyboard up (a viewport 460 px high).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { join } from 'node:path';
import { createRoom, launchChromium, SCREENSHOTS, startNode } from './helpers.ts';

const PHONE = { width: 390, height: 844 };
/** The same phone with its keyboard up: Chromium resizes the page to what is left. */
const PHONE_KEYBOARD = { width: 390, height: 460 };
const NAME = 'Friday night on the roof terrace';

interface InPage {
  document: {
    querySelectorAll(s: string): ArrayLike<{ showModal(): void; close(): void }>;
    elementFromPoint(x: number, y: number): { closest(s: string): unknown } | null;
  };
}

/** Whether the element's centre is on screen and it, not something over it, gets a tap there. */
async function tappable(page: Page, selector: string, index: number): Promise<string | null> {
  const box = await page.locator(selector).nth(index).boundingBox();
  const size = page.viewportSize()!;
  if (!box) return 'not shown';
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  if (x < 0 || y < 0 || x > size.width || y > size.height) return `off screen at (${x}, ${y})`;
  const hit = await page.evaluate(
    ([s, i, px, py]) => {
      const d = (globalThis as unknown as InPage).document;
      const target = d.elementFromPoint(px, py);
      return target?.closest(s) === (d.querySelectorAll(s) as unknown as unknown[])[i];
    },
    [selector, index, x, y] as const,
  );
  return hit ? null : `covered at (${x}, ${y})`;
}

void test(
  'on a phone the top bar is compact and every dialog keeps its buttons in view',
  { timeout: 120_000 },
  async (t) => {
    const node = await startNode();
    t.after(() => node.close());
    const browser = await launchChromium();
    t.after(() => browser.close());

    const [page] = await createRoom(browser, node.url, NAME, PHONE);
    await page.locator('[data-connection="live"]').waitFor();
    await page.getByRole('heading', { name: 'Host controls' }).waitFor();

    const bar = (await page.locator('header.topbar').boundingBox())!;
    assert.ok(bar.height <= 64, `the top bar is ${bar.height} px high on a phone (at most 64)`);
    // Still there: the way home, the room's name, the connection state.
    for (const what of [
      page.getByRole('link', { name: 'Chorus home' }),
      page.getByRole('heading', { level: 1, name: NAME }),
      page.locator('[data-connection="live"]'),
    ]) {
      assert.equal(await what.isVisible(), true);
    }
    // The room reads top down as a phone user needs it: what plays, adding, the queue, then the rest.
    const tops: number[] = [];
    for (const card of [
      '.now-playing',
      '.add-card',
      '.queue-card',
      '.host-card',
      '.invite',
      '.history-card',
    ]) {
      tops.push((await page.locator(card).first().boundingBox())!.y);
    }
    assert.deepEqual(
      tops,
      [...tops].sort((x, y) => x - y),
      `sections out of order on a phone: now playing, add, queue, host, invite, history at ${tops.join(', ')}`,
    );
    // The rest is one tap away, in the room menu: who I am here, and sharing the room.
    await page.getByRole('button', { name: 'Room menu' }).click();
    const menu = page.locator('#room-menu');
    await menu.getByText('you are Ann (host)').waitFor();
    await menu.getByText(NAME).waitFor();
    assert.equal(await menu.getByRole('button', { name: 'Share' }).isVisible(), true);
    await page.screenshot({ path: join(SCREENSHOTS, 'phone-room-menu.png') });
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'hidden' });

    // Every dialog of the room, opened as its button would, on the phone and with the keyboard up.
    const dialogs = await page.locator('dialog').count();
    assert.ok(dialogs >= 1, 'the host has the settings dialog');
    for (const viewport of [PHONE, PHONE_KEYBOARD]) {
      await page.setViewportSize(viewport);
      for (let d = 0; d < dialogs; d++) {
        await page.evaluate(
          (i) => (globalThis as unknown as InPage).document.querySelectorAll('dialog')[i]!.showModal(),
          d,
        );
        const buttons = page.locator('dialog[open] button');
        const n = await buttons.count();
        assert.ok(n > 0);
        const unreachable: string[] = [];
        for (let b = 0; b < n; b++) {
          const why = await tappable(page, 'dialog[open] button', b);
          if (why) unreachable.push(`${(await buttons.nth(b).textContent())?.trim()}: ${why}`);
        }
        assert.deepEqual(unreachable, [], `dialog ${d} at ${viewport.width} x ${viewport.height}`);
        await page.evaluate(
          (i) => (globalThis as unknown as InPage).document.querySelectorAll('dialog')[i]!.close(),
          d,
        );
      }
    }
    // The settings dialog as a host opens it: Save is in view and saves.
    await page.setViewportSize(PHONE_KEYBOARD);
    await page.getByRole('button', { name: 'Room settings…' }).click();
    await page.getByLabel('Longest queue').fill('150');
    await page.screenshot({ path: join(SCREENSHOTS, 'phone-settings-keyboard.png') });
    await page.getByRole('button', { name: 'Save settings' }).click({ trial: false, noWaitAfter: true });
    await page.locator('.toast').filter({ hasText: 'Settings saved' }).waitFor();
    await page.context().close();
  },
);
