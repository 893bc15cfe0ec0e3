// CPU time per request, read from /proc (Linux): of the servers under test (Chorus nodes or echo
// processes) and of the whole machine (load generator, nginx and Redis included). Throughput
// ratios move with the machine's mood; CPU per request says what each request costs.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CpuUse {
  /** CPU time of the server processes per successful request, µs. */
  readonly serversUsPerRequest: number;
  /** CPU time of the whole machine per successful request, µs. */
  readonly machineUsPerRequest: number;
  /** Share of all cores busy over the run, %. */
  readonly machineBusyPct: number;
}

interface Sample {
  /** Clock ticks. */
  readonly servers: number;
  readonly machineBusy: number;
  readonly machineIdle: number;
}

/** One clock tick of process and machine CPU time, in µs. */
export const TICK_US = 1e6 / clockTicks();

function clockTicks(): number {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(out.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

/** utime + stime of a process, in ticks; 0 once it has gone. */
export function processTicks(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the command name (which may hold spaces) start at "state", field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function sample(pids: readonly number[]): Sample {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  return {
    servers: pids.reduce((sum, pid) => sum + processTicks(pid), 0),
    machineBusy: user + nice + system + irq + softirq + steal,
    machineIdle: idle + iowait,
  };
}

/** Runs `work` and tells the CPU it cost per successful request (`ok` of its result). */
export async function withCpu<T extends { readonly ok: number }>(
  pids: readonly number[],
  work: () => Promise<T>,
): Promise<{ result: T; cpu: CpuUse }> {
  const before = sample(pids);
  const result = await work();
  const after = sample(pids);
  const per = (ticks: number): number => (result.ok > 0 ? (ticks * TICK_US) / result.ok : 0);
  const busy = after.machineBusy - before.machineBusy;
  const total = busy + after.machineIdle - before.machineIdle;
  return {
    result,
    cpu: {
      serversUsPerRequest: per(after.servers - before.servers),
      machineUsPerRequest: per(busy),
      machineBusyPct: total > 0 ? (busy / total) * 100 : 0,
    },
  };
}
