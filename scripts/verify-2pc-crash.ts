// The full seeded random-crash run of the 2PC store (issue 17), beyond what CI runs:
//   npm run verify:2pc-crash -- --transactions 1000 --seed 7 [--nodes 5] [--clients 6] [--rooms 4]
//     [--compact-every N]   (records between snapshots on every node: compaction under the crashes)
// Starts N real `chorus serve --store 2pc` processes on loopback, writes while SIGKILLing and
// restarting them (test/helpers/twopc-crash-run.ts says what it checks), prints its figures as JSON
// and exits 1 when a check failed. Without --seed it draws one and prints it.

import { parseArgs } from 'node:util';
import { cleanupChorus } from '../test/helpers/chorus-process.ts';
import { runTwoPcCrash } from '../test/helpers/twopc-crash-run.ts';

const { values } = parseArgs({
  options: {
    transactions: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    nodes: { type: 'string', default: '5' },
    clients: { type: 'string', default: '6' },
    rooms: { type: 'string', default: '4' },
    'compact-every': { type: 'string' },
  },
});
const int = (name: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number from 1 (got ${text})`);
  return n;
};
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int('seed', values.seed);
console.log(`2pc crash run: seed ${seed}`);
try {
  const report = await runTwoPcCrash({
    seed,
    transactions: int('transactions', values.transactions),
    nodes: int('nodes', values.nodes),
    clients: int('clients', values.clients),
    rooms: int('rooms', values.rooms),
    ...(values['compact-every'] === undefined
      ? {}
      : { compactEvery: int('compact-every', values['compact-every']) }),
    log: (line) => console.log(`  ${line}`),
  });
  console.log(JSON.stringify(report, null, 2));
  if (report.problems.length > 0) {
    console.log(`FAILED (seed ${seed}): ${report.problems.length} problems`);
    process.exitCode = 1;
  } else {
    console.log(
      `passed (seed ${seed}): every node agrees, no acknowledged write missing, no refused write applied`,
    );
  }
} finally {
  await cleanupChorus();
}
