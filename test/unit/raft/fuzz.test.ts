// Random fuzz of the Raft core over many seeds, bounded by time (one run: fuzz.ts).
//
// RAFT_FUZZ_SECONDS sets the budget (default 5); RAFT_FUZZ_SEED=N runs one seed. A failing seed is
// printed, and belongs in REGRESSIONS below once fixed; with RAFT_FUZZ_MINIMISE=1 the failure also
// prints a shrunk list of the faults that still make it fail.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ddmin, fuzzOne, minimise } from './fuzz.ts';

/** Seeds that once failed, with the generator version they failed under (kept so they keep passing). */
const REGRESSIONS: readonly { seed: number; version: number; why: string }[] = [
  { seed: 694172, version: 1, why: 'a node added later rebuilt its membership without the founders' },
  { seed: 802696, version: 1, why: 'the same: the bootstrap membership was kept outside the log' },
  { seed: 977149, version: 1, why: 'a follower whose appends were all lost stayed paused (full inflights)' },
  { seed: 892376, version: 1, why: 'the harness expected agreement from a member just removed' },
  { seed: 3002074, version: 2, why: 'the harness kept proposing to a removed leader that never steps down' },
];

void describe('raft fuzz', () => {
  void test('ddmin shrinks a failing set to what makes it fail', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const fails = (xs: readonly number[]): boolean => xs.includes(17) && xs.includes(42);
    assert.deepEqual(ddmin(items, fails, Date.now() + 10_000), [17, 42]);
  });

  void test('the minimiser finds nothing to shrink in a passing seed', () => {
    assert.deepEqual(minimise(1, undefined, 1), []);
  });

  void test('regression seeds still pass', () => {
    for (const { seed, version } of REGRESSIONS) fuzzOne(seed, version);
  });

  void test('random seeds, bounded by RAFT_FUZZ_SECONDS', () => {
    const only = process.env['RAFT_FUZZ_SEED'];
    if (only !== undefined) {
      fuzzOne(Number(only));
      return;
    }
    const seconds = Number(process.env['RAFT_FUZZ_SECONDS'] ?? '5');
    const base = Number(process.env['RAFT_FUZZ_BASE'] ?? String(Date.now() % 1_000_000));
    const until = Date.now() + seconds * 1000;
    let seed = base;
    let runs = 0;
    while (Date.now() < until) {
      try {
        fuzzOne(seed);
      } catch (err) {
        const shrunk = process.env['RAFT_FUZZ_MINIMISE'] === '1' ? `\n${minimise(seed).join('\n')}` : '';
        assert.fail(
          `RAFT_FUZZ_SEED=${seed} fails: ${err instanceof Error ? err.message : String(err)}${shrunk}`,
        );
      }
      seed++;
      runs++;
    }
    console.log(`raft fuzz: ${runs} seeds from ${base} in ${seconds} s`);
    assert.ok(runs > 0);
  });
});
