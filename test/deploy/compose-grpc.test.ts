// deploy/compose/grpc.yml for real (npm run test:deploy): Redis, Chorus nodes and nginx (grpc_pass)
// in containers, driven over gRPC through nginx; see scenario.ts for the steps.

import { test } from 'node:test';
import { grpcApi } from './apis.ts';
import { composeScenario } from './scenario.ts';

void test(
  'compose grpc.yml: 3 nodes, a crash, scale to 5 and back to 2, over gRPC',
  { timeout: 300_000 },
  (t) =>
    composeScenario(t, {
      file: 'grpc.yml',
      name: 'grpc',
      portVariables: ['CHORUS_GRPC_PORT', 'CHORUS_HEALTH_PORT'],
      api: (ports) => grpcApi(`127.0.0.1:${ports['CHORUS_GRPC_PORT']}`),
      readyUrl: (ports) => `http://127.0.0.1:${ports['CHORUS_HEALTH_PORT']}/readyz`,
      writeMetric:
        /^chorus_grpc_request_duration_seconds_count\{method="\/?chorus\.v1\.QueueService\/AddTrack",code="OK"\}/,
    }),
);
