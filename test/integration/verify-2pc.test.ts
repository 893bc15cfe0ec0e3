// The fault harness in CI, two-phase commit store (issue 15): three real `chorus serve --store 2pc`
// nodes, a fault proxy on every node-to-node link, clients over REST and gRPC, and kill, pause,
// partition (cut or black-hole) and slow links for a few seconds per seed; the history must be
// linearizable and the nodes must agree at the end. While a node is down or cut off, writes answer
// UNAVAILABLE (every node must vote): the store's documented limit, recorded as writes that did not
// happen, not as failures. Fixed seeds plus one random seed, printed in the test name and the
// failure message (rerun: npm run verify -- --store 2pc --nodes 3 --seed N ...).

import { verifySuite } from '../helpers/verify-run.ts';

verifySuite(
  {
    store: '2pc',
    nodes: 3,
    seconds: 10,
    nemesis: ['kill', 'pause', 'partition', 'slow'],
    rooms: 2,
    clients: 3,
    timeline: false,
  },
  (seed) => `seed ${seed}: 3 2pc nodes under kill, pause, partition and slow links stay linearizable`,
  { grpc: true },
);
