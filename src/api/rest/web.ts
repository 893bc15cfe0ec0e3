// The web page, served by every node: the built files of web/dist (scripts/build-web.ts makes them).
// Assets have content-hashed names, so browsers may keep them for a year without asking again;
// index.html is revalidated on every load, so a new build reaches everyone on their next visit.
// The same index.html answers `/` and every room link `/r/<roomId>` (the page routes itself).
// /sw.js, the page's service worker (web/src/sw.ts), is revalidated on every load too: that is how a
// browser learns of a new build while the worker keeps the last one for offline reloads.

import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import type { RestApp } from './server.ts';

const DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
const ASSETS = fileURLToPath(new URL('../../../web/dist/assets/', import.meta.url));

/** The page may load only from this node (no CDNs, no trackers); artwork may come from anywhere. */
const CSP = [
  "default-src 'self'",
  "img-src 'self' data: https: http:",
  // Style attributes carry the placeholder artwork's colours and the progress bar's width.
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chorus: web page not built</title>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>The Chorus web page has not been built</h1>
<p>This node is running and its API works (see <a href="/docs">/docs</a>), but the page's files are missing
from <code>web/dist</code>. Build them with</p>
<pre><code>npm run build:web</code></pre>
<p>then reload this page. (<code>npm start</code> builds them by itself.)</p>
</body></html>
`;

export async function registerWeb(app: RestApp): Promise<void> {
  if (!existsSync(`${DIST}index.html`)) {
    app.log.warn('web/dist is missing: the web page answers with a hint to run `npm run build:web`');
    const hint = async (_request: unknown, reply: FastifyReply): Promise<FastifyReply> =>
      reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    app.get('/', { schema: { hide: true } }, hint);
    app.get('/r/:roomId', { schema: { hide: true } }, hint);
    return;
  }

  await app.register(fastifyStatic, {
    root: ASSETS,
    prefix: '/assets/',
    // Serves main-HASH.js.br / .gz (written by the build) to browsers that accept them.
    preCompressed: true,
    immutable: true,
    maxAge: '365d',
    index: false,
    // sendFile is used below for index.html (the swagger UI keeps its own, encapsulated).
    decorateReply: true,
    setHeaders: (reply) => void reply.header('x-content-type-options', 'nosniff'),
  });

  const page = async (_request: unknown, reply: FastifyReply): Promise<FastifyReply> =>
    reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .sendFile('index.html', DIST, { cacheControl: false });
  app.get('/', { schema: { hide: true } }, page);
  app.get('/r/:roomId', { schema: { hide: true } }, page);
  app.get('/sw.js', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type('text/javascript; charset=utf-8')
      .sendFile('sw.js', DIST, { cacheControl: false }),
  );
}
