// End-to-end: the host's controls of issue 20 on the page, with a host and guests in separate
// browser contexts on one real node. The host saves the recovery key (downloaded as a file), sets a
// passcode: a guest is refused with a wrong one and let in with the right one; the host makes her a
// co-host, and she sees the members panel with only what a co-host may do; in an approval room a
// guest waits until the host lets him in; the host kicks him, then bans the co-host (each page says
// so plainly, and the banned browser cannot join again); "N people here" follows presence; finally a
// fresh browser pastes the saved key and is the host again, while the old host page says it is not;
// that host hands the room over, the new host makes a new key, and the old key is refused as retired.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { launchChromium, SCREENSHOTS, startNode } from './helpers.ts';
import { until } from '../helpers/until.ts';

const ROOM = 'Trust party';

async function guest(browser: Browser, url: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(url);
  await page.getByRole('heading', { name: ROOM, level: 1 }).waitFor();
  return page;
}

/** The host's settings dialog: pick a join policy (and a passcode), save, wait for the toast. */
async function joinPolicy(host: Page, label: string, passcode?: string): Promise<void> {
  await host.getByRole('button', { name: 'Room settings…' }).click();
  await host.getByLabel(label).check();
  if (passcode !== undefined) await host.getByRole('textbox', { name: /^Passcode/ }).fill(passcode);
  await host.getByRole('button', { name: 'Save settings' }).click();
  await host.locator('.toast').filter({ hasText: 'Settings saved' }).waitFor();
}

const peopleHere = (page: Page): Promise<string> =>
  page
    .locator('.room-who')
    .textContent()
    .then((t) => t ?? '');

void test(
  'host controls: recovery key, passcode, approval, co-host, kick, ban, presence, hand-over',
  { timeout: 120_000 },
  async (t) => {
    // A short presence grace, so that a closed page leaves "people here" within the test's wait.
    const node = await startNode(['--presence-grace-ms', '300']);
    t.after(() => node.close());
    const url = `http://127.0.0.1:${node.port}`;
    const browser = await launchChromium();
    t.after(() => browser.close());

    // ---- The host creates the room and saves the recovery key as a file ----
    const hostContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const host = await hostContext.newPage();
    await host.goto(`${url}/`);
    await host.getByLabel('Room name').fill(ROOM);
    await host.getByRole('region', { name: 'Start a room' }).getByLabel('Your name').fill('Ann');
    await host.getByRole('button', { name: 'Create room' }).click();
    await host.waitForURL(/\/r\/[a-z0-9-]+$/);
    const roomUrl = host.url();
    const key = await host.getByTestId('recovery-key').inputValue();
    assert.ok(key.length >= 32, `a recovery key is shown (${key})`);
    const [download] = await Promise.all([
      host.waitForEvent('download'),
      host.getByRole('button', { name: 'Download' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /host-recovery-key\.txt$/);
    assert.ok((await readFile(await download.path(), 'utf8')).includes(key), 'the file holds the key');
    await host.getByRole('button', { name: 'I saved it' }).click();
    await host.getByRole('heading', { name: 'Members' }).waitFor();
    await host.locator('[data-connection="live"]').waitFor();

    // ---- Passcode: refused with a wrong one, admitted with the right one ----
    await joinPolicy(host, 'With a passcode', 'tulip-42');
    const bea = await guest(browser, roomUrl);
    await bea.locator('#join-name').fill('Bea');
    await bea.getByLabel('Passcode').fill('tulip-41');
    await bea.getByRole('button', { name: 'Join', exact: true }).click();
    await bea.getByRole('alert').filter({ hasText: 'That passcode is not right.' }).waitFor();
    await bea.getByLabel('Passcode').fill('tulip-42');
    await bea.getByRole('button', { name: 'Join', exact: true }).click();
    await bea
      .getByText(/you are Bea/)
      .first()
      .waitFor();
    // Presence: the host's page sees her arrive, in the header and the members list.
    await until('two people here', async () => (await peopleHere(host)).startsWith('2 people here'), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    await host.locator('[data-member="Bea"]').getByText('member · here').waitFor({ timeout: 20_000 });

    // ---- Co-host: she sees the members panel, with only what a co-host may do ----
    await host.getByRole('button', { name: 'Make Bea a co-host' }).click();
    await bea.getByRole('heading', { name: 'Members' }).waitFor({ timeout: 20_000 });
    await bea
      .getByText(/you are Bea \(co-host\)/)
      .first()
      .waitFor();
    await bea.locator('[data-member="Ann"]').waitFor();
    assert.equal(await bea.getByRole('button', { name: /^Make / }).count(), 0, 'a co-host changes no roles');
    assert.equal(await bea.getByRole('button', { name: 'Remove Ann' }).count(), 0, 'nor removes the host');

    // ---- Approval: a guest waits for the host, and gets in when let in ----
    await joinPolicy(host, 'Only people I let in');
    const cal = await guest(browser, roomUrl);
    await cal.locator('#join-name').fill('Cal');
    await cal.getByRole('button', { name: 'Ask to join' }).click();
    await cal.getByRole('heading', { name: 'Waiting for the host' }).waitFor();
    // The co-host sees the request too; the host lets him in.
    await bea.getByRole('button', { name: 'Let Cal in' }).waitFor({ timeout: 20_000 });
    // How the panel looks on a phone, with a request waiting (test/e2e/screenshots, not checked in).
    await host.setViewportSize({ width: 390, height: 844 });
    await host.locator('.members-card').screenshot({ path: join(SCREENSHOTS, 'phone-members.png') });
    await host.setViewportSize({ width: 1280, height: 800 });
    await host.getByRole('button', { name: 'Let Cal in' }).click();
    await cal
      .getByText(/you are Cal/)
      .first()
      .waitFor({ timeout: 20_000 });
    await until('three people here', async () => (await peopleHere(host)).startsWith('3 people here'), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });

    // ---- Kick: his page says so, and he may join again (no ban) ----
    await host.getByRole('button', { name: 'Remove Cal' }).click();
    await host.getByRole('button', { name: 'Remove', exact: true }).click();
    await cal.getByRole('heading', { name: `You were removed from “${ROOM}”` }).waitFor({ timeout: 20_000 });
    assert.equal(await cal.getByRole('button', { name: 'Join again' }).count(), 1);
    await until(
      'Cal gone from the host page',
      async () => (await host.locator('[data-member="Cal"]').count()) === 0,
      { timeoutMs: 20_000, intervalMs: 50 },
    );

    // ---- Ban: her page says so; a reload and a new join from that browser are refused ----
    await host.getByRole('button', { name: 'Remove Bea' }).click();
    await host.getByLabel('Ban them').check();
    await host.getByRole('button', { name: 'Remove', exact: true }).click();
    await bea.getByRole('heading', { name: `You are banned from “${ROOM}”` }).waitFor({ timeout: 20_000 });
    assert.equal(await bea.getByRole('button', { name: 'Join again' }).count(), 0);
    await host.getByText('Banned: Bea').waitFor({ timeout: 20_000 });
    await bea.reload();
    await bea.locator('#join-name').fill('Bea again');
    await bea.getByRole('button', { name: 'Ask to join' }).click();
    await bea.getByRole('alert').filter({ hasText: 'You are banned from this room.' }).waitFor();
    // Both left: "people here" follows presence down to the host alone.
    await until('one person here', async () => (await peopleHere(host)).startsWith('1 person here'), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });

    // ---- Recovery: a fresh browser pastes the saved key and is the host again ----
    const fresh = await guest(browser, roomUrl);
    await fresh.getByText('Recover host').click();
    await fresh.getByLabel('Recovery key').fill(key);
    await fresh.getByRole('button', { name: 'Recover', exact: true }).click();
    await fresh.getByRole('heading', { name: 'Host controls' }).waitFor({ timeout: 20_000 });
    await fresh
      .getByText(/you are Ann \(host\)/)
      .first()
      .waitFor();
    await host
      .getByRole('heading', { name: `You are no longer the host of “${ROOM}”` })
      .waitFor({ timeout: 20_000 });
    await fresh.reload(); // the new host token was stored for the room
    await fresh.getByRole('heading', { name: 'Host controls' }).waitFor();

    // ---- Hand-over: Cal comes back and is made the host; he makes a new key, the old one is retired ----
    await cal.getByRole('button', { name: 'Join again' }).click();
    await cal.locator('#join-name').fill('Cal');
    await cal.getByRole('button', { name: 'Ask to join' }).click();
    await fresh.getByRole('button', { name: 'Let Cal in' }).click({ timeout: 20_000 });
    await cal
      .getByText(/you are Cal/)
      .first()
      .waitFor({ timeout: 20_000 });
    await fresh.getByRole('button', { name: 'Make Cal the host' }).click({ timeout: 20_000 });
    await fresh.getByText('your recovery key stops working').waitFor();
    await fresh.getByRole('button', { name: 'Hand over' }).click();
    await cal
      .getByText(/you are Cal \(host\)/)
      .first()
      .waitFor({ timeout: 20_000 });
    await cal.getByRole('button', { name: 'Make a new recovery key' }).click();
    const calKey = await cal.getByTestId('recovery-key').inputValue();
    assert.ok(calKey.length >= 32 && calKey !== key, `a new key is shown (${calKey})`);
    await cal.getByRole('button', { name: 'I saved it' }).click();
    const stranger = await guest(browser, roomUrl);
    await stranger.getByText('Recover host').click();
    await stranger.getByLabel('Recovery key').fill(key);
    await stranger.getByRole('button', { name: 'Recover', exact: true }).click();
    await stranger.getByRole('alert').filter({ hasText: 'This recovery key was retired' }).waitFor();
  },
);
