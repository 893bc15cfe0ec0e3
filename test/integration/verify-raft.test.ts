// The fault harness in CI, Raft store (issue 15): three real `chorus serve --store raft` nodes, a
// fault proxy on every node-to-node link, clients over REST and gRPC (linearizable reads among
// them), and kill, pause, partition (cut or black-hole) and slow links, aimed at the leader or at a
// random node, for a few seconds per seed; the history must be linearizable and the nodes must
// agree at the end. Fixed seeds plus one random seed, printed in the test name and the failure
// message (rerun: npm run verify -- --store raft --nodes 3 --seed N ...).

import { verifySuite } from '../helpers/verify-run.ts';

verifySuite(
  {
    store: 'raft',
    nodes: 3,
    seconds: 10,
    nemesis: ['kill', 'pause', 'partition', 'slow'],
    rooms: 2,
    clients: 3,
    timeline: false,
  },
  (seed) => `seed ${seed}: 3 raft nodes under kill, pause, partition and slow links stay linearizable`,
  { grpc: true, linearizableReads: true },
);
