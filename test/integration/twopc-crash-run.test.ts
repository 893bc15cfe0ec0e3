// The seeded random-crash run of the 2PC store over 5 real processes (test/helpers/twopc-crash-run.ts
// says what it does and checks), shortened to fit CI: 120 write attempts under random SIGKILLs,
// restarts and failpoints, every node compacting its log every 40 records meanwhile (so restarts
// come from snapshots, and nodes down while the others compact catch up). The seed is printed; CHORUS_2PC_CRASH_SEED repeats a run's choices. The
// full 1,000-transaction run is `npm run verify:2pc-crash -- --transactions 1000 --seed N`.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cleanupChorus } from '../helpers/chorus-process.ts';
import { runTwoPcCrash } from '../helpers/twopc-crash-run.ts';

after(cleanupChorus);

void test('2PC random-crash run on 5 processes: every node agrees, nothing acknowledged lost, nothing refused applied', async (t) => {
  const fromEnv = process.env['CHORUS_2PC_CRASH_SEED'];
  const seed = fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  t.diagnostic(`seed ${seed} (repeat with CHORUS_2PC_CRASH_SEED=${seed})`);
  console.log(`2pc crash run seed ${seed}`);
  const report = await runTwoPcCrash({
    seed,
    transactions: 120,
    compactEvery: 40,
    log: (line) => t.diagnostic(line),
  });
  t.diagnostic(JSON.stringify({ ...report, problems: report.problems.length }));
  assert.deepEqual(report.problems, [], `seed ${seed}`);
  assert.ok(report.kills + report.failpointKills >= 1, `seed ${seed}: the run killed no node`);
  assert.ok(report.acknowledged >= 1, `seed ${seed}: no write was acknowledged`);
  assert.ok(
    report.snapshotLsns.some((lsn) => lsn > 0),
    `seed ${seed}: no node compacted its log: ${JSON.stringify(report.snapshotLsns)}`,
  );
});
