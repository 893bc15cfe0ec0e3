// The fault harness in CI, Redis store (issue 15): three real nodes behind fault proxies to one
// Redis, concurrent REST and gRPC clients, and every nemesis (kill, pause, partition, slow links, Redis restart) for a few
// seconds per seed; the history must be linearizable and the nodes must agree at the end. Fixed seeds
// plus one random seed, printed in the failure message (rerun: npm run verify -- --seed N ...).

import { verifySuite } from '../helpers/verify-run.ts';

verifySuite(
  {
    store: 'redis',
    nodes: 3,
    seconds: 12,
    nemesis: ['kill', 'pause', 'partition', 'slow', 'redis-restart'],
    rooms: 2,
    clients: 3,
  },
  (seed) =>
    `seed ${seed}: 3 nodes under kill, pause, partition, slow Redis links and Redis restart stay linearizable`,
  { grpc: true },
);
