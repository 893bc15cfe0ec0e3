// A short probe of the Raft store's write path (issue 16), for profiling, not for the results:
// starts a fresh Raft group, `--clients` clients add tracks (each to its own room) for `--seconds`
// after a warm-up, and prints writes/s, p50/p99, the CPU per write of each node (leader marked) and
// the load average. `--to leader|all` sends every write to the leader, or spreads the clients over
// the nodes as bench/groups.ts does. `--cpu-prof DIR` runs every node under `node --cpu-prof`
// (profiles written when the nodes stop; the leader's pid is printed to find its file).
// `--node-options='...'` starts every node with these NODE_OPTIONS (V8 flags, say; the = is needed).
//
//   flock /work/bench.lock npx node bench/raft-probe.ts --clients 20 --seconds 10 --cpu-prof /tmp/prof

import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { processTicks, TICK_US, withCpu } from './lib/cpu.ts';
import { makeRooms } from './lib/rooms.ts';
import { round } from './lib/stats.ts';
import { agreedLeader, startChorusGroup } from './lib/systems.ts';
import { chorusAdds, writeLoad } from './lib/write-load.ts';
import { Workload } from './lib/workload.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    clients: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    to: { type: 'string', default: 'all' },
    'cpu-prof': { type: 'string' },
    'node-options': { type: 'string' },
    logs: { type: 'boolean', default: false },
  },
});
const nodes = Number(values.nodes);
const clients = Number(values.clients);
const profDir = values['cpu-prof'];

/** Context switches (voluntary and not) of every thread of a process so far. */
function switches(pid: number): number {
  let n = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      for (const m of status.matchAll(/ctxt_switches:\s+(\d+)/g)) n += Number(m[1]);
    }
  } catch {
    // the process or a thread is gone
  }
  return n;
}

const dir = await mkdtemp(join(os.tmpdir(), 'raft-probe-'));
const nodeOptions = [
  ...(profDir === undefined ? [] : [`--cpu-prof --cpu-prof-dir=${profDir}`]),
  ...(values['node-options'] === undefined ? [] : [values['node-options']]),
];
const env = nodeOptions.length === 0 ? undefined : { NODE_OPTIONS: nodeOptions.join(' ') };
const group = await startChorusGroup('raft', nodes, dir, env);
try {
  const all = Array.from({ length: nodes }, (_, i) => i);
  const leader = await agreedLeader(group, all, 60_000);
  const workload = new Workload('probe', []);
  const urls = values.to === 'leader' ? [group.urls()[leader]!] : group.urls();
  const rooms = await makeRooms(urls, clients, 1, workload);
  const call = chorusAdds(rooms, workload);
  await writeLoad({ concurrency: clients, nodes: () => urls, call, durationS: Number(values.warmup) });
  // A scrape resets prom-client's event-loop lag monitor: the stalls reported are the run's own,
  // not start-up's (loading the protos, compiling the schemas).
  for (const url of group.urls()) await (await fetch(`${url}/metrics`)).text();
  const pids = group.pids();
  const before = pids.map(processTicks);
  const switchesBefore = pids.map(switches);
  const load = os.loadavg()[0]!;
  const { result: r, cpu } = await withCpu(pids, () =>
    writeLoad({ concurrency: clients, nodes: () => urls, call, durationS: Number(values.seconds) }),
  );
  const used = pids.map((pid, i) => processTicks(pid) - before[i]!);
  const switched = pids.reduce((sum, pid, i) => sum + switches(pid) - switchesBefore[i]!, 0);
  // Every node's metrics, scraped once (a second scrape would find the lag monitor reset).
  const texts = await Promise.all(group.urls().map(async (url) => (await fetch(`${url}/metrics`)).text()));
  // How well proposals batch: entries per append the leader sent, and its commit latency.
  const metrics = texts[leader]!;
  const sample = (name: string): number =>
    Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  // Raft messages every node sent over the whole run, by type, per entry committed (warm-up and room
  // creation included on both sides).
  const sentByType = new Map<string, number>();
  for (const text of texts)
    for (const m of text.matchAll(/^chorus_raft_messages_sent_total\{type="(\w+)"\} ([0-9.e+-]+)$/gm))
      sentByType.set(m[1]!, (sentByType.get(m[1]!) ?? 0) + Number(m[2]));
  const committed = sample('chorus_raft_commit_index');
  const perEntry = [...sentByType]
    .filter(([, n]) => n / committed >= 0.01)
    .map(([type, n]) => `${type} ${round(n / committed, 2)}`)
    .join(', ');
  let elections = 0;
  const snapshots: string[] = [];
  const logWrites: string[] = [];
  const stalls: string[] = [];
  for (const [i, text] of texts.entries()) {
    // Log writes over the whole run (warm-up and room creation included), fsynced and not.
    const writes = (synced: boolean): number =>
      Number(
        new RegExp(`^chorus_raft_log_writes_total\\{synced="${synced}"\\} ([0-9.e+-]+)$`, 'm').exec(
          text,
        )?.[1] ?? 0,
      );
    logWrites.push(`n${i + 1} ${writes(true)} + ${writes(false)}`);
    // The longest the node's event loop was held during the run (prom-client's lag monitor, reset by
    // the scrape before it; nothing else scrapes these nodes) and its major GCs (since start).
    const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
    const lagMs = 1000 * num(/^nodejs_eventloop_lag_max_seconds ([0-9.e+-]+)$/m);
    const majors = num(/^nodejs_gc_duration_seconds_count\{kind="major"\} ([0-9.e+-]+)$/m);
    const majorMs = 1000 * num(/^nodejs_gc_duration_seconds_sum\{kind="major"\} ([0-9.e+-]+)$/m);
    stalls.push(
      `n${i + 1} ${round(lagMs)} ms, major GC ${majors} × ${round(majorMs / Math.max(1, majors), 1)} ms`,
    );
    elections += Number(/^chorus_raft_elections_started_total ([0-9.e+-]+)$/m.exec(text)?.[1] ?? 0);
    // Compaction on this node: how many snapshots, their mean size and the mean time each held the loop.
    const of = (name: string): number =>
      Number(new RegExp(`^${name}\\{kind="written"\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
    const n = of('chorus_raft_snapshot_duration_seconds_count');
    if (n > 0)
      snapshots.push(
        `n${i + 1} ${n} × ${round(of('chorus_raft_snapshot_bytes_sum') / n / 1e6, 1)} MB, ${round((1000 * of('chorus_raft_snapshot_duration_seconds_sum')) / n)} ms each`,
      );
  }
  const others = Object.entries(r.statuses).filter(([status]) => !status.startsWith('2'));
  const perAppend = sample('chorus_raft_append_entries_sum') / sample('chorus_raft_append_entries_count');
  const commitMs =
    (1000 * sample('chorus_raft_commit_latency_seconds_sum')) /
    sample('chorus_raft_commit_latency_seconds_count');
  const us = (t: number): number => round((t * TICK_US) / Math.max(1, r.ok));
  console.log(
    `raft-${nodes}, ${clients} clients to ${values.to}: ${round(r.throughput)} writes/s, p50 ${round(r.latency.p50, 2)} ms, p99 ${round(r.latency.p99, 2)} ms, ${r.ok} ok of ${r.ok + r.failed + r.refused}; CPU µs per write: ${used.map((t, i) => `n${i + 1}${i === leader ? ' (leader)' : ''} ${us(t)}`).join(', ')}, total ${round(cpu.serversUsPerRequest)}; machine busy ${round(cpu.machineBusyPct)}%; nodes' context switches per write ${round(switched / Math.max(1, r.ok), 1)}; messages sent per committed entry (whole run): ${perEntry}; load ${round(load, 2)} → ${round(os.loadavg()[0]!, 2)}; leader pid ${pids[leader]}; entries per append ${round(perAppend, 2)}, commit latency ${round(commitMs, 2)} ms (whole run); elections started ${elections}; snapshots written: ${snapshots.join(', ') || 'none'}; log writes fsynced + not (whole run): ${logWrites.join(', ')}; longest loop stall: ${stalls.join(', ')}; max latency ${round(r.latency.max, 1)} ms; not 2xx ${JSON.stringify(Object.fromEntries(others))}`,
  );
  if (values.logs)
    for (let i = 0; i < nodes; i++) console.log(`--- n${i + 1}\n${group.stderr(i).slice(-4000)}`);
} finally {
  await group.stop();
  await rm(dir, { recursive: true, force: true });
}
