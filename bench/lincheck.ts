// Timing benchmark of the linearizability checker (issue 15): generated histories of 10,000
// operations over 10 rooms (src/verify/simulate.ts: concurrent clients on 3 nodes, lagging and
// minVersion reads, unknown, failed and retried writes), checked by src/verify/checker.ts. Prints
// the time per history; the target is under 30 s on the 2-core machine.
//
//   npx node bench/lincheck.ts [--ops 10000] [--rooms 10] [--unknown 0.05,0.1] [--seeds 1,2,3]

import { parseArgs } from 'node:util';
import { checkHistory } from '../src/verify/checker.ts';
import { simulate } from '../src/verify/simulate.ts';

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '10000' },
    rooms: { type: 'string', default: '10' },
    unknown: { type: 'string', default: '0.05,0.1' },
    seeds: { type: 'string', default: '1,2,3' },
    timeout: { type: 'string', default: '120000' },
  },
});
const rooms = Number(values.rooms);
const opsPerRoom = Math.round(Number(values.ops) / rooms);

for (const unknownRate of values.unknown.split(',').map(Number)) {
  for (const seed of values.seeds.split(',').map(Number)) {
    const { ops } = simulate({ seed, rooms, opsPerRoom, unknownRate, failRate: 0.03, clients: 5 });
    const verdict = checkHistory(ops, { timeoutMs: Number(values.timeout) });
    const explored = verdict.rooms.reduce((n, r) => n + r.explored, 0);
    console.log(
      `seed ${seed}, unknown ${unknownRate * 100}%: ${ops.length} operations, ${rooms} rooms: ` +
        `${verdict.result} in ${(verdict.elapsedMs / 1000).toFixed(2)} s (${explored} configurations)`,
    );
    if (verdict.result !== 'ok') process.exitCode = 1;
  }
}
