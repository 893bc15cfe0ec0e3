// The page's service worker (served as /sw.js): keeps the page shell, that is index.html and this
// build's hashed script and stylesheet, so that a reload while the server cannot be reached shows the
// page instead of the browser's error page. The page then shows the room as this device last saw it,
// read-only, and reconnects by itself (session.ts, offline.ts).
//
// Invariants:
// - Never a stale shell while the server answers: a page load goes to the network first and the
//   cached shell answers only when the network fails, times out (NETWORK_WAIT_MS) or a proxy says
//   the node is gone (5xx). Every load that reaches the server refreshes the cached shell.
// - One cache per build: the build writes its version and file list into this file (CHORUS_SHELL,
//   scripts/build-web.ts), so every new build is a byte-different sw.js. Browsers check sw.js (served
//   `no-cache`) on every page load; a changed one installs, takes over at once (skipWaiting, claim)
//   and deletes the older builds' caches.
// - The API is never cached or answered here: only page loads and /assets/ are handled, so the page
//   sees a failed request as failed and its own offline state takes over.
//
// Typed without the WebWorker library (it clashes with the DOM one the rest of web/src uses): the
// few service-worker types used are declared below. A module (the export below) so that none of its
// names become globals of the page's code; the build bundles it as a classic script.
export {};

declare const CHORUS_SHELL: { readonly version: string; readonly files: readonly string[] };

interface SwEvent extends Event {
  waitUntil(work: Promise<unknown>): void;
}
interface SwFetchEvent extends SwEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface SwScope {
  addEventListener(type: 'install' | 'activate', listener: (event: SwEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: SwFetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: { readonly origin: string };
}

const sw = self as unknown as SwScope;
const PREFIX = 'chorus-shell-';
const CACHE = `${PREFIX}${CHORUS_SHELL.version}`;
/** index.html is one file for every page path; it is kept under one key. */
const SHELL = '/';
/** How long a page load waits for the network before the kept shell answers (a silent network). */
const NETWORK_WAIT_MS = 5000;

/** The paths the page answers itself (main.tsx): `/` and room links. */
const isPage = (path: string): boolean => path === '/' || /^\/r\/[a-z0-9-]+\/?$/.test(path);

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([SHELL, ...CHORUS_SHELL.files]);
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  if (request.mode === 'navigate' && isPage(url.pathname)) event.respondWith(page(request));
  else if (url.pathname.startsWith('/assets/')) event.respondWith(asset(request));
});

/** Network first; the kept shell when the server cannot be reached. */
async function page(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), NETWORK_WAIT_MS);
  try {
    const response = await fetch(request, { signal: abort.signal });
    if (response.ok) {
      await cache.put(SHELL, response.clone());
      return response;
    }
    // A proxy answering for a node that is gone (502, 503, 504): the kept shell is better.
    if (response.status >= 500) return (await cache.match(SHELL)) ?? response;
    return response;
  } catch (err) {
    const kept = await cache.match(SHELL);
    if (kept) return kept;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Hashed names never change content: the cache first, else the network (and keep it). */
async function asset(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
