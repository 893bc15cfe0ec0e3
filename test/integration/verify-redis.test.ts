// The fault harness in CI, Redis store (issue 15): three real nodes behind fault proxies to one
// Redis, concurrent REST clients, and every nemesis (kill, pause, partition, Redis restart) for a few
// seconds per seed; the history must be linearizable and the nodes must agree at the end. Fixed seeds
// plus one random seed, printed in the failure message (rerun: npm run verify -- --seed N ...).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runHarness } from '../../bench/fault-harness.ts';

const SEEDS = [1, 2, Math.floor(Math.random() * 1e9)];

void describe('fault harness, redis store', () => {
  for (const seed of SEEDS) {
    void test(`seed ${seed}: 3 nodes under kill, pause, partition and Redis restart stay linearizable`, async () => {
      const out = mkdtempSync(path.join(tmpdir(), 'chorus-verify-'));
      try {
        const result = await runHarness({
          store: 'redis',
          nodes: 3,
          seconds: 12,
          nemesis: ['kill', 'pause', 'partition', 'redis-restart'],
          seed,
          rooms: 2,
          clients: 3,
          out,
        });
        const why = `seed ${seed}: ${JSON.stringify({ verdict: result.verdict, problems: result.problems }, null, 1)}`;
        assert.equal(result.verdict.result, 'ok', why);
        assert.deepEqual(result.problems, [], why);
        assert.ok(result.faults.length >= 1, `seed ${seed}: no fault was injected`);
        assert.ok(result.operations > 50, `seed ${seed}: only ${result.operations} operations`);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
});
