// `npx node bench/raft-core.ts`: the Raft core alone, with no disk and no network, so its own cost
// is measured: committed proposals per second through a 3- and a 5-node group in one process, with
// proposals batched as the store will batch them (every proposal that arrives between two Readies
// shares the appends of the next one). Messages are delivered at once, in order; every node
// "persists" by keeping the Ready's entries in an array and applies by counting. It reports wall
// time per configuration, proposals/s (per wall and per CPU second), and appends sent per proposal. It checks that every node
// applied every proposal, so a run that loses one fails (exit 1).

import { parseArgs } from 'node:util';
import { prng } from './lib/stats.ts';
import { RaftNode } from '../src/store/raft/node.ts';
import type { Entry, Message } from '../src/store/raft/types.ts';

const HELP = `Usage: npx node bench/raft-core.ts [--quick] [--proposals N] [--payload BYTES]

  --quick          20,000 proposals per configuration instead of 200,000
  --proposals N    proposals per configuration
  --payload BYTES  size of each proposal (default 256, a typical command envelope)

Configurations: 3 and 5 voters x batches of 1, 16 and 256 proposals per Ready round.`;

interface Result {
  voters: number;
  batch: number;
  proposals: number;
  seconds: number;
  perSecond: number;
  /** Proposals per second of CPU: steadier than wall time on a shared machine. */
  perCpuSecond: number;
  appendsPerProposal: number;
}

function run(voters: number, batch: number, proposals: number, payload: string): Result {
  const ids = Array.from({ length: voters }, (_, i) => `n${i + 1}`);
  const rand = prng(7);
  const nodes = new Map(
    ids.map((id) => [
      id,
      new RaftNode(
        { id, random: rand, maxSizePerMsg: 1024 * 1024, maxInflightMsgs: 256 },
        { hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [] },
        { voters: ids, learners: [] },
      ),
    ]),
  );
  const disks = new Map<string, Entry[]>(ids.map((id) => [id, []]));
  const applied = new Map<string, number>(ids.map((id) => [id, 0]));
  let queue: Message[] = [];
  let appends = 0;
  const pump = (): void => {
    for (let guard = 0; guard < 10_000; guard++) {
      let any = false;
      for (const [id, node] of nodes) {
        if (!node.hasReady()) continue;
        any = true;
        const rd = node.ready();
        const disk = disks.get(id)!;
        if (rd.entries.length > 0) {
          disk.length = rd.entries[0]!.index - 1; // no compaction here: disk[i] holds index i + 1
          disk.push(...rd.entries);
        }
        for (const m of rd.messages) {
          if (m.type === 'app' && m.entries.length > 0) appends++;
          queue.push(m);
        }
        for (const e of rd.committedEntries)
          if (e.type === 'normal' && e.data !== '') applied.set(id, applied.get(id)! + 1);
        node.advance();
      }
      const batchOfMessages = queue;
      queue = [];
      for (const m of batchOfMessages) {
        nodes.get(m.to)!.step(m);
        any = true;
      }
      if (!any) return;
    }
    throw new Error('the group never went quiet');
  };
  const first = nodes.get('n1')!;
  pump(); // apply the bootstrap membership first
  first.campaign();
  pump();
  if (first.role !== 'leader') throw new Error('n1 did not become leader');
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let sent = 0; sent < proposals;) {
    const n = Math.min(batch, proposals - sent);
    for (let i = 0; i < n; i++) {
      const res = first.propose(payload);
      if (!res.ok) throw new Error(res.error.message);
    }
    sent += n;
    pump();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  for (const [id, count] of applied) {
    if (count !== proposals) throw new Error(`${id} applied ${count} of ${proposals} proposals`);
  }
  return {
    voters,
    batch,
    proposals,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round(proposals / seconds),
    perCpuSecond: Math.round(proposals / cpuSeconds),
    appendsPerProposal: Math.round((appends / proposals) * 1000) / 1000,
  };
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    proposals: { type: 'string' },
    payload: { type: 'string', default: '256' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
} else {
  const proposals = Number(values.proposals ?? (values.quick ? 20_000 : 200_000));
  const payload = 'x'.repeat(Number(values.payload));
  const results: Result[] = [];
  for (const voters of [3, 5])
    for (const batch of [1, 16, 256]) results.push(run(voters, batch, proposals, payload));
  console.log(
    '| voters | proposals per round | proposals | seconds | proposals/s | per CPU-second | appends per proposal |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.voters} | ${r.batch} | ${r.proposals} | ${r.seconds} | ${r.perSecond} | ${r.perCpuSecond} | ${r.appendsPerProposal} |`,
    );
  }
}
