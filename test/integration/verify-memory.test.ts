// The fault harness in CI, embedded memory store (issue 15): one real node, killed (SIGKILL) and
// restarted on its data dir under concurrent REST and gRPC clients, for a few
// seconds per seed; the history must be linearizable and the nodes must agree at the end. Fixed seeds
// plus one random seed, printed in the failure message (rerun: npm run verify -- --seed N ...).

import { verifySuite } from '../helpers/verify-run.ts';

verifySuite(
  {
    store: 'memory',
    nodes: 1,
    seconds: 12,
    nemesis: ['kill'],
    rooms: 2,
    clients: 3,
  },
  (seed) => `seed ${seed}: one node killed and restarted on its log stays linearizable`,
  { grpc: true },
);
