// The fault harness in CI, Redis store (issue 15): three real nodes behind fault proxies to one
// Redis, concurrent REST and gRPC clients, and every nemesis (kill, pause, partition, slow links, Redis restart) for a few
// seconds per seed; the history must be linearizable and the nodes must agree at the end. Fixed seeds
// plus one random seed, printed in the failure message (rerun: npm run verify -- --seed N ...).

import { after, before, describe, test } from 'node:test';
import { startVerifyCluster, type VerifyCluster } from '../../bench/lib/verify-cluster.ts';
import { cleanupChorus } from '../helpers/chorus-process.ts';
import { assertVerifyRunOk, VERIFY_SEEDS } from '../helpers/verify-run.ts';

void describe('fault harness, redis store', () => {
  // One cluster for every seed (each seed has rooms of its own): starting nodes is the slow part.
  let cluster: VerifyCluster | undefined;
  before(async () => {
    cluster = await startVerifyCluster('redis', 3);
  });
  after(async () => {
    await cluster?.stop();
    await cleanupChorus();
  });
  for (const seed of VERIFY_SEEDS) {
    void test(`seed ${seed}: 3 nodes under kill, pause, partition, slow Redis links and Redis restart stay linearizable`, () =>
      assertVerifyRunOk(
        {
          store: 'redis',
          nodes: 3,
          seconds: 12,
          nemesis: ['kill', 'pause', 'partition', 'slow', 'redis-restart'],
          seed,
          rooms: 2,
          clients: 3,
        },
        { grpc: true },
      ));
  }
});
