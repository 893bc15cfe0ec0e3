// One short fault-harness run for the integration tests (test/integration/verify-*.test.ts): runs
// bench/fault-harness.ts into a temp dir and asserts the verdict is ok, no problem was found, a
// fault was injected and the workload did something (over gRPC too, and linearizable reads, when
// asked). The seed is in every failure message. `verifySuite` is such a file's whole body: one
// cluster shared by the seeds, a test per seed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runHarness, type HarnessOptions } from '../../bench/fault-harness.ts';
import { startVerifyCluster, type VerifyCluster } from '../../bench/lib/verify-cluster.ts';
import { cleanupChorus } from './chorus-process.ts';

/** Two fixed seeds and a random one (printed in the test name and on failure). */
export const VERIFY_SEEDS = [1, 2, Math.floor(Math.random() * 1e9)];

export async function assertVerifyRunOk(
  options: Omit<HarnessOptions, 'out'>,
  /** Also require answered gRPC calls and (Raft) linearizable reads in the history. */
  expect: { readonly grpc?: boolean; readonly linearizableReads?: boolean } = {},
): Promise<void> {
  const shared = options.cluster ? ' (on a cluster shared with the other seeds)' : '';
  const out = mkdtempSync(path.join(tmpdir(), 'chorus-verify-'));
  const seed = options.seed;
  try {
    const result = await runHarness({ ...options, out });
    const why = `seed ${seed}${shared}: ${JSON.stringify({ verdict: result.verdict, problems: result.problems }, null, 1)}`;
    assert.equal(result.verdict.result, 'ok', why);
    assert.deepEqual(result.problems, [], why);
    assert.ok(result.faults.length >= 1, `seed ${seed}: no fault was injected`);
    assert.ok(result.operations > 50, `seed ${seed}: only ${result.operations} operations`);
    if (expect.grpc) assert.ok(result.answered.grpc > 0, `seed ${seed}: no gRPC call was answered`);
    if (expect.linearizableReads)
      assert.ok(result.answered.linearizableReads > 0, `seed ${seed}: no linearizable read was answered`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The fault-harness suite of one store: one cluster for every seed (each seed has rooms of its own;
 * starting nodes is the slow part), and a test per seed of VERIFY_SEEDS named by `title`.
 */
export function verifySuite(
  run: Omit<HarnessOptions, 'out' | 'seed' | 'cluster'>,
  title: (seed: number) => string,
  expect: Parameters<typeof assertVerifyRunOk>[1] = {},
): void {
  void describe(`fault harness, ${run.store} store`, () => {
    let cluster: VerifyCluster | undefined;
    before(async () => {
      cluster = await startVerifyCluster(run.store, run.nodes);
    });
    after(async () => {
      await cluster?.stop();
      await cleanupChorus();
    });
    for (const seed of VERIFY_SEEDS) {
      void test(title(seed), () =>
        assertVerifyRunOk({ ...run, seed, ...(cluster ? { cluster } : {}) }, expect),
      );
    }
  });
}
