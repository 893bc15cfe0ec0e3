// The web page, served by every node. (A placeholder until the web page lands: it points at the API.)

import type { RestApp } from './server.ts';

export async function registerWeb(app: RestApp): Promise<void> {
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><title>Chorus</title><h1>Chorus</h1><p>The API is documented at <a href="/docs">/docs</a>.</p>',
      ),
  );
}
