// The fault harness in CI, embedded memory store (issue 15): one real node, killed (SIGKILL) and
// restarted on its data dir under concurrent REST and gRPC clients, for a few
// seconds per seed; the history must be linearizable and the nodes must agree at the end. Fixed seeds
// plus one random seed, printed in the failure message (rerun: npm run verify -- --seed N ...).

import { after, before, describe, test } from 'node:test';
import { startVerifyCluster, type VerifyCluster } from '../../bench/lib/verify-cluster.ts';
import { cleanupChorus } from '../helpers/chorus-process.ts';
import { assertVerifyRunOk, VERIFY_SEEDS } from '../helpers/verify-run.ts';

void describe('fault harness, memory store', () => {
  // One cluster for every seed (each seed has rooms of its own): starting nodes is the slow part.
  let cluster: VerifyCluster | undefined;
  before(async () => {
    cluster = await startVerifyCluster('memory', 1);
  });
  after(async () => {
    await cluster?.stop();
    await cleanupChorus();
  });
  for (const seed of VERIFY_SEEDS) {
    void test(`seed ${seed}: one node killed and restarted on its log stays linearizable`, () =>
      assertVerifyRunOk(
        {
          store: 'memory',
          nodes: 1,
          seconds: 12,
          nemesis: ['kill'],
          seed,
          rooms: 2,
          clients: 3,
        },
        { grpc: true },
      ));
  }
});
