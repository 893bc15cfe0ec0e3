// deploy/compose/rest.yml for real (npm run test:deploy): Redis, Chorus nodes and nginx in
// containers, driven over REST through nginx; see scenario.ts for the steps.

import { test } from 'node:test';
import { restApi } from './apis.ts';
import { composeScenario } from './scenario.ts';

void test(
  'compose rest.yml: 3 nodes, a crash, scale to 5 and back to 2, over REST',
  { timeout: 300_000 },
  (t) =>
    composeScenario(t, {
      file: 'rest.yml',
      name: 'rest',
      portVariables: ['CHORUS_REST_PORT'],
      api: (ports) => restApi(`http://127.0.0.1:${ports['CHORUS_REST_PORT']}`),
      readyUrl: (ports) => `http://127.0.0.1:${ports['CHORUS_REST_PORT']}/readyz`,
      writeMetric:
        /^chorus_http_request_duration_seconds_count\{method="POST",route="\/v1\/rooms\/:roomId\/queue",status="201"\}/,
    }),
);
