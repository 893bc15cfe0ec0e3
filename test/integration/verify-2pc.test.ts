// The fault harness in CI, two-phase commit store (issue 15): three real `chorus serve --store 2pc`
// nodes, a fault proxy on every node-to-node link, clients over REST and gRPC, and kill, pause,
// partition (cut or black-hole) and slow links for a few seconds per seed; the history must be
// linearizable and the nodes must agree at the end. While a node is down or cut off, writes answer
// UNAVAILABLE (every node must vote): the store's documented limit, recorded as writes that did not
// happen, not as failures. Fixed seeds plus one random seed, printed in the test name and the
// failure message (rerun: npm run verify -- --store 2pc --nodes 3 --seed N ...).

import { after, before, describe, test } from 'node:test';
import { startVerifyCluster, type VerifyCluster } from '../../bench/lib/verify-cluster.ts';
import { cleanupChorus } from '../helpers/chorus-process.ts';
import { assertVerifyRunOk, VERIFY_SEEDS } from '../helpers/verify-run.ts';

void describe('fault harness, 2pc store', () => {
  // One cluster for every seed (each seed has rooms of its own): starting nodes is the slow part.
  let cluster: VerifyCluster | undefined;
  before(async () => {
    cluster = await startVerifyCluster('2pc', 3);
  });
  after(async () => {
    await cluster?.stop();
    await cleanupChorus();
  });
  for (const seed of VERIFY_SEEDS) {
    void test(`seed ${seed}: 3 2pc nodes under kill, pause, partition and slow links stay linearizable`, () =>
      assertVerifyRunOk(
        {
          store: '2pc',
          nodes: 3,
          seconds: 10,
          nemesis: ['kill', 'pause', 'partition', 'slow'],
          seed,
          rooms: 2,
          clients: 3,
          timeline: false,
          ...(cluster ? { cluster } : {}),
        },
        { grpc: true },
      ));
  }
});
