// A/B of a REST write's CPU on the embedded node: the saturation part's mixed load (votes 60%, adds
// 20%, reads 15%, removes 5%, 10 rooms of 20 members and 30 entries) against `chorus serve` from one
// or more source trees, alternating them round by round so that each comparison shares the
// machine's mood. Reports the node's CPU per successful request (utime + stime from /proc, as the
// saturation part does) and its requests per second. For measuring one cut at a time: a change that
// does not move these figures beyond the rounds' spread is not kept.
//
//   npx node bench/rest-cpu.ts --roots A_DIR,B_DIR [--clients 20,100] [--seconds 8] [--rounds 3]
//   (each root a Chorus checkout with node_modules; default: this tree only)

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stopProcess } from '../src/cluster/process.ts';
import { startEmbeddedNode } from './lib/embedded.ts';
import { withCpu } from './lib/cpu.ts';
import { restMixed } from './lib/rest-load.ts';
import { makeRoom } from './lib/rooms.ts';
import { round } from './lib/stats.ts';
import { Workload, type BenchRoom } from './lib/workload.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Row {
  readonly root: string;
  readonly clients: number;
  readonly round: number;
  readonly reqPerS: number;
  readonly nodeUs: number;
}

async function measure(root: string, clients: number, seconds: number, seed: number): Promise<Row> {
  const data = await mkdtemp(join(os.tmpdir(), 'chorus-rest-cpu-'));
  const { process: node, rest } = await startEmbeddedNode(root, data);
  try {
    const setup = new Workload('rest-cpu', []);
    const rooms: BenchRoom[] = [];
    for (let i = 0; i < 10; i++) rooms.push(await makeRoom(rest, 20, 30, setup));
    const workload = new Workload('rest-cpu-load', []);
    workload.useRooms(rooms);
    // A short warm-up (JIT, first snapshot), then the measured run.
    await restMixed({ url: rest, rooms, durationS: 4, connections: clients, workload, seed: seed + 1 });
    const { result, cpu } = await withCpu([node.child.pid ?? 0], () =>
      restMixed({ url: rest, rooms, durationS: seconds, connections: clients, workload, seed }),
    );
    return {
      root,
      clients,
      round: 0,
      reqPerS: round(result.throughput, 0),
      nodeUs: round(cpu.serversUsPerRequest, 1),
    };
  } finally {
    await stopProcess(node, 30_000);
    await rm(data, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      roots: { type: 'string', default: ROOT },
      clients: { type: 'string', default: '20,100' },
      seconds: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const roots = values.roots.split(',');
  const counts = values.clients.split(',').map(Number);
  const seconds = Math.min(30, Number(values.seconds));
  const rounds = Math.min(10, Number(values.rounds));
  const rows: Row[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const clients of counts) {
      // Alternate the order each round, so neither tree always runs on a warmer machine.
      for (const root of r % 2 === 0 ? roots : [...roots].reverse()) {
        const row = { ...(await measure(root, clients, seconds, 43 + r)), round: r + 1 };
        rows.push(row);
        process.stdout.write(
          `round ${row.round} ${clients} clients ${root}: ${row.reqPerS} req/s, node ${row.nodeUs} µs/req (load ${os.loadavg()[0]!.toFixed(2)})\n`,
        );
      }
    }
  }
  process.stdout.write('\nmedian over rounds:\n');
  for (const clients of counts) {
    for (const root of roots) {
      const mine = rows.filter((row) => row.root === root && row.clients === clients);
      const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
      process.stdout.write(
        `${clients} clients ${root}: node ${median(mine.map((m) => m.nodeUs))} µs/req, ${median(mine.map((m) => m.reqPerS))} req/s\n`,
      );
    }
  }
}

await main();
