// The room scenario, as two people live it in two browsers. It takes two base URLs so that the same
// steps run against one node (both URLs the same) or a cluster (each person pinned to another node,
// the room shared through the store): the page must be right wherever its requests land.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';

import { until } from '../helpers/until.ts';

export interface ScenarioOptions {
  readonly browser: Browser;
  /** Where A, the host, opens the page. */
  readonly urlA: string;
  /** Where B, a member, opens the page (another node behind the same store, in a cluster). */
  readonly urlB: string;
  /** Stops and starts again what B is connected to (same address, same data). Skipped when absent. */
  readonly restartB?: () => Promise<void>;
  /** Where to write screenshots of the room (phone and desktop), when given. */
  readonly screenshots?: string;
  /** Runs one named step (node:test's t.test), so a failure names the step. */
  readonly step: (name: string, fn: () => Promise<void>) => Promise<unknown>;
}

interface CatalogTrack {
  readonly trackId: string;
  readonly title: string;
  readonly artist: string;
}

/**
 * How long a check waits for another person's page to show a change. A deadline to poll against,
 * not a promise about speed: issue 6's "within a second" is a latency, and latencies are measured by
 * benchmarks, never asserted by tests (a loaded CI machine would make such a test fail at random).
 */
const LIVE_MS = 10_000;

export async function roomScenario(o: ScenarioOptions): Promise<void> {
  const tracks = await pickTracks(o.urlA, 5);
  const [t1, t2, t3, t4, t5] = tracks as [
    CatalogTrack,
    CatalogTrack,
    CatalogTrack,
    CatalogTrack,
    CatalogTrack,
  ];
  let ctxA!: BrowserContext;
  let ctxB!: BrowserContext;
  let a!: Page;
  let b!: Page;
  let roomId = '';
  let broken = false;

  // Later steps build on earlier ones: after a failure they are reported as not run.
  const step = (name: string, fn: () => Promise<void>): Promise<unknown> =>
    o.step(name, async () => {
      if (broken) throw new Error('not run: an earlier step failed');
      try {
        await fn();
      } catch (err) {
        broken = true;
        throw err;
      }
    });

  try {
    await step('the host creates a room', async () => {
      ctxA = await o.browser.newContext({ viewport: { width: 1280, height: 800 } });
      a = await ctxA.newPage();
      await a.goto(`${o.urlA}/`);
      await a.getByLabel('Room name').fill('E2E party');
      await a.getByRole('region', { name: 'Start a room' }).getByLabel('Your name').fill('Ann');
      await a.getByRole('button', { name: 'Create room' }).click();
      await a.waitForURL(/\/r\/[a-z0-9-]+$/);
      await a.getByRole('button', { name: 'I saved it' }).click();
      roomId = new URL(a.url()).pathname.split('/')[2]!;
      await live(a);
      await a.getByRole('heading', { name: 'Host controls' }).waitFor();
    });

    await step('a member joins from the shared link', async () => {
      ctxB = await o.browser.newContext({ viewport: { width: 1280, height: 800 } });
      b = await ctxB.newPage();
      await b.goto(`${o.urlB}/r/${roomId}`);
      await b.getByLabel('Your name').fill('Ben');
      await b.getByRole('button', { name: 'Join', exact: true }).click();
      await b.getByLabel('Search the catalog').waitFor();
      await live(b);
      // Members do not get host controls.
      assert.equal(await b.getByRole('heading', { name: 'Host controls' }).count(), 0);
      assert.equal(await b.getByRole('button', { name: 'Skip now' }).count(), 0);
    });

    await step('tracks one person adds appear for the other', async () => {
      for (const t of [t1, t2, t3, t4]) await addTrack(a, t);
      await expectNowPlaying(a, t1);
      await expectOrder(a, [t2, t3, t4]);
      await expectNowPlaying(b, t1);
      await expectOrder(b, [t2, t3, t4]);
      const row = b.locator(`ol.queue > li[data-track-id="${t2.trackId}"]`);
      assert.match((await row.textContent()) ?? '', /added by Ann/);
    });

    await step('a vote reorders the other person’s queue, live', async () => {
      await vote(a, t4, 'up');
      await expectOrder(b, [t4, t2, t3], LIVE_MS);

      // B: up on t3 ties it with t4, and the older entry (t3) goes first; a second tap withdraws,
      // which ties t3 with t2 at 0, and the older t2 goes first.
      // This vote by keyboard: the row climbs to the top, and the focus stays on its button.
      const up = b.locator(`ol.queue > li[data-track-id="${t3.trackId}"] .vote-up`);
      await up.focus();
      await b.keyboard.press('Enter');
      await expectMyVote(b, t3, 1);
      await expectOrder(a, [t3, t4, t2], LIVE_MS);
      await expectOrder(b, [t3, t4, t2]);
      const focused = await b.evaluate(
        () =>
          (
            globalThis as unknown as {
              document: { activeElement: { getAttribute(n: string): string | null } | null };
            }
          ).document.activeElement?.getAttribute('aria-label') ?? null,
      );
      assert.equal(focused, `Withdraw upvote for “${t3.title}”`);
      await b.keyboard.press('Space');
      await expectMyVote(b, t3, 0);
      await expectOrder(a, [t4, t2, t3], LIVE_MS);
      await vote(b, t3, 'up');
      await vote(b, t2, 'down');
      await expectMyVote(b, t2, -1);
      await expectOrder(a, [t3, t4, t2], LIVE_MS);
      // A's page shows A's own votes, not B's.
      await expectMyVote(a, t3, 0);
      await expectMyVote(a, t4, 1);
      await expectConsistent(b, o.urlB, roomId);
    });

    await step('a queued search result says "In the queue" and offers no Add', async () => {
      await b.getByLabel('Search the catalog').fill(t4.title);
      const result = b.locator(`#search-results li[data-track-id="${t4.trackId}"]`);
      await result.locator('[data-status="In the queue"]').waitFor();
      assert.equal(await result.getByRole('button', { name: /^Add/ }).count(), 0, 'no Add button');
      // The one playing says so too.
      await b.getByLabel('Search the catalog').fill(t1.title);
      const playing = b.locator(`#search-results li[data-track-id="${t1.trackId}"]`);
      await playing.locator('[data-status="Playing now"]').waitFor();
      assert.equal(await playing.getByRole('button', { name: /^Add/ }).count(), 0, 'no Add button');
      await expectOrder(b, [t3, t4, t2]);
    });

    await step('the host skips and the history shows it', async () => {
      await a.getByRole('button', { name: 'Skip now' }).click();
      await expectNowPlaying(a, t3);
      await expectNowPlaying(b, t3, LIVE_MS);
      await expectOrder(b, [t4, t2]);
      const played = b.locator(`ol.history > li[data-reason="skipped"]`).filter({ hasText: t1.title });
      await played.waitFor();
      assert.match((await played.textContent()) ?? '', /Skipped by the host/);
    });

    await step('a member who goes offline catches up when back', async () => {
      await ctxB.setOffline(true);
      await b.locator('[data-connection="offline"]').waitFor();
      // Meanwhile: A turns t4 down (ties t2 at -1: the older t2 first) and adds t5.
      await vote(a, t4, 'down');
      await addTrack(a, t5);
      await expectOrder(a, [t5, t2, t4]);
      await ctxB.setOffline(false);
      await live(b);
      await expectOrder(b, [t5, t2, t4], 5000);
      await expectMyVote(b, t2, -1);
      await expectConsistent(b, o.urlB, roomId);
    });

    await step('a track of unknown length shows "—" for the ETA of what follows it', async () => {
      // Added as a client's own metadata (a stream: no duration), by the host over REST; score 0 puts
      // it after t5 (0, older) and before t2 and t4 (both -1).
      const token = await hostToken(a, roomId);
      const res = await fetch(`${o.urlA}/v1/rooms/${roomId}/queue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          track: {
            trackId: 'e2e:stream',
            title: 'Endless stream',
            artist: 'Radio',
            album: '',
            durationMs: 0,
          },
        }),
      });
      const text = await res.text();
      assert.equal(res.status, 201, text);
      const { entry } = JSON.parse(text) as { entry: { entryId: string } };
      for (const page of [a, b]) {
        await expectOrder(page, [t5, { trackId: 'e2e:stream' } as CatalogTrack, t2, t4], LIVE_MS);
        const eta = (t: { trackId: string }) =>
          page.locator(`ol.queue > li[data-track-id="${t.trackId}"] .eta`);
        assert.notEqual(await eta(t5).textContent(), '—', 'ahead of it: known');
        assert.notEqual(await eta({ trackId: 'e2e:stream' }).textContent(), '—', 'its own start: known');
        assert.equal(await eta(t2).textContent(), '—');
        assert.equal(await eta(t4).textContent(), '—');
        const stream = page.locator('ol.queue > li[data-track-id="e2e:stream"] .row-meta');
        assert.match((await stream.textContent()) ?? '', /^—/, 'its length: unknown');
      }
      const removed = await fetch(`${o.urlA}/v1/rooms/${roomId}/queue/${entry.entryId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(removed.status, 200, await removed.text());
      await expectOrder(b, [t5, t2, t4], LIVE_MS);
    });

    if (o.restartB) {
      const restart = o.restartB;
      await step('after the node restarts, the pages resume by themselves', async () => {
        await restart();
        // The browser reconnects on its own (retry: 2000) and resumes after the last version it saw.
        await live(b, 15_000);
        await live(a, 15_000);
        // Resumed = a change made on one page reaches the other over the new stream, polled until
        // a deadline (how fast is not this test's question).
        await vote(a, t4, 'up');
        await expectOrder(b, [t4, t5, t2], LIVE_MS);
        await expectMyVote(b, t2, -1);
        await expectConsistent(b, o.urlB, roomId);
        await expectConsistent(a, o.urlA, roomId);
      });
    }

    if (o.screenshots) {
      const dir = o.screenshots;
      await step('screenshots of the room on a phone and a desktop', async () => {
        await mkdir(dir, { recursive: true });
        await b.getByLabel('Search the catalog').fill(t1.artist);
        await b.locator('#search-results li').first().waitFor();
        for (const [page, who] of [
          [b, 'member'],
          [a, 'host'],
        ] as const) {
          for (const scheme of ['light', 'dark'] as const) {
            await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
            await page.setViewportSize({ width: 390, height: 844 });
            await page.screenshot({ path: join(dir, `room-${who}-phone-${scheme}.png`) });
            await page.screenshot({
              path: join(dir, `room-${who}-phone-${scheme}-full.png`),
              fullPage: true,
            });
            await page.setViewportSize({ width: 1280, height: 800 });
            await page.screenshot({ path: join(dir, `room-${who}-desktop-${scheme}.png`) });
          }
        }
      });
    }
  } finally {
    await ctxA?.close();
    await ctxB?.close();
  }
}

// ---- Steps a person takes ----------------------------------------------------------------------

async function pickTracks(baseUrl: string, n: number): Promise<CatalogTrack[]> {
  const res = await fetch(`${baseUrl}/v1/catalog/search?q=&limit=50`);
  const { tracks } = (await res.json()) as { tracks: CatalogTrack[] };
  // Distinct titles, so that searching a title finds the track and the assertions are unambiguous.
  const seen = new Set<string>();
  const picked = tracks.filter((t) => !seen.has(t.title) && seen.add(t.title)).slice(0, n);
  assert.equal(picked.length, n, 'the catalog has too few tracks for the scenario');
  return picked;
}

/** Searches the catalog by title and taps Add on that track; waits for the confirmation if `ok`. */
async function addTrack(page: Page, track: CatalogTrack, ok = true): Promise<void> {
  await page.getByLabel('Search the catalog').fill(track.title);
  await page.locator(`#search-results li[data-track-id="${track.trackId}"]`).getByRole('button').click();
  if (ok) {
    const queued = page.locator(`ol.queue > li[data-track-id="${track.trackId}"]`);
    const playing = page.getByTestId('now-playing-title').filter({ hasText: track.title });
    await queued.or(playing).first().waitFor();
  }
}

async function vote(page: Page, track: CatalogTrack, dir: 'up' | 'down'): Promise<void> {
  await page.locator(`ol.queue > li[data-track-id="${track.trackId}"] .vote-${dir}`).click();
  // Then the hand moves on: the page holds a voted row's place while the pointer stays on it.
  await page.mouse.move(0, 0);
}

async function live(page: Page, ms = 10_000): Promise<void> {
  await page.locator('[data-connection="live"]').waitFor({ timeout: ms });
}

/** Waits (in the page, polling every frame) until the queue shows exactly these tracks in order. */
async function expectOrder(page: Page, tracks: readonly CatalogTrack[], ms = 10_000): Promise<void> {
  const want = tracks.map((t) => t.trackId);
  try {
    await page.waitForFunction(
      (ids) =>
        Array.from((globalThis as unknown as InPage).document.querySelectorAll('ol.queue > li'), (li) =>
          li.getAttribute('data-track-id'),
        ).join(',') === ids.join(','),
      want,
      { timeout: ms, polling: 'raf' },
    );
  } catch {
    const shown = await page.evaluate(() =>
      Array.from((globalThis as unknown as InPage).document.querySelectorAll('ol.queue > li'), (li) =>
        li.getAttribute('data-track-id'),
      ),
    );
    assert.fail(`queue order after ${ms} ms: ${shown.join(', ')}; expected ${want.join(', ')}`);
  }
}

/**
 * The little of the DOM the in-page checks use (the tests are typed without the DOM library).
 * Functions passed to page.evaluate are sent to the browser as source: they must be self-contained.
 */
interface InPage {
  document: { querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }> };
}

async function expectMyVote(page: Page, track: CatalogTrack, value: -1 | 0 | 1): Promise<void> {
  const row = page.locator(`ol.queue > li[data-track-id="${track.trackId}"]`);
  await row.and(page.locator(`[data-my-vote="${value}"]`)).waitFor();
  const up = await row.locator('.vote-up').getAttribute('aria-pressed');
  const down = await row.locator('.vote-down').getAttribute('aria-pressed');
  assert.deepEqual([up, down], [String(value === 1), String(value === -1)]);
}

async function expectNowPlaying(page: Page, track: CatalogTrack, ms = 10_000): Promise<void> {
  await page.getByTestId('now-playing-title').filter({ hasText: track.title }).waitFor({ timeout: ms });
}

/** The token a page keeps for a room (in localStorage). */
async function hostToken(page: Page, roomId: string): Promise<string> {
  const token = await page.evaluate(
    (id) => (JSON.parse(localStorage.getItem(`chorus:room:${id}`) ?? '{}') as { token?: string }).token,
    roomId,
  );
  assert.ok(token, 'the page keeps its token in localStorage');
  return token;
}

/** The page shows what the server says, from this member's point of view (order, scores, my votes). */
async function expectConsistent(page: Page, baseUrl: string, roomId: string): Promise<void> {
  const token = await page.evaluate(
    (id) => (JSON.parse(localStorage.getItem(`chorus:room:${id}`) ?? '{}') as { token?: string }).token,
    roomId,
  );
  assert.ok(token, 'the page keeps its token in localStorage');
  await until(
    'the page to match the server',
    async () => {
      const res = await fetch(`${baseUrl}/v1/rooms/${roomId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const room = (await res.json()) as {
        queue: { entryId: string; score: number; myVote: number }[];
        nowPlaying: { entryId: string } | null;
      };
      const want = {
        queue: room.queue.map((q) => `${q.entryId}:${q.score}:${q.myVote}`),
        nowPlaying: room.nowPlaying?.entryId ?? null,
      };
      const shown = {
        queue: await page.evaluate(() =>
          Array.from(
            (globalThis as unknown as InPage).document.querySelectorAll('ol.queue > li'),
            (li) =>
              `${li.getAttribute('data-entry-id')}:${li.getAttribute('data-score')}:${li.getAttribute('data-my-vote')}`,
          ),
        ),
        nowPlaying: await page.locator('.now-playing').getAttribute('data-entry-id'),
      };
      assert.deepEqual(shown, want);
      return true;
    },
    { timeoutMs: 5000, intervalMs: 50 },
  );
}
