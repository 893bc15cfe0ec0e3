// The fault harness in CI, embedded memory store (issue 15): one real node, killed (SIGKILL) and
// restarted on its data dir under concurrent REST clients, for a few
// seconds per seed; the history must be linearizable and the nodes must agree at the end. Fixed seeds
// plus one random seed, printed in the failure message (rerun: npm run verify -- --seed N ...).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runHarness } from '../../bench/fault-harness.ts';

const SEEDS = [1, 2, Math.floor(Math.random() * 1e9)];

void describe('fault harness, memory store', () => {
  for (const seed of SEEDS) {
    void test(`seed ${seed}: one node killed and restarted on its log stays linearizable`, async () => {
      const out = mkdtempSync(path.join(tmpdir(), 'chorus-verify-'));
      try {
        const result = await runHarness({
          store: 'memory',
          nodes: 1,
          seconds: 12,
          nemesis: ['kill'],
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
