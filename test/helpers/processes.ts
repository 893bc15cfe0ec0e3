// What the cluster tests ask the operating system: whether a pid is alive, a process's descendants,
// the processes whose command line names a path (a leaked node, a data dir still in use).

import { readdirSync, readFileSync } from 'node:fs';
import { childEnv } from './chorus-process.ts';

// ---- Processes ------------------------------------------------------------------------------------

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly cmdline: string;
}

function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z') continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(name), ppid: Number(rest[1]), cmdline });
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Every live descendant of pid. */
export function descendantsOf(pid: number): number[] {
  const procs = listProcesses();
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop()!;
    for (const p of procs) {
      if (p.ppid === parent && !found.includes(p.pid)) {
        found.push(p.pid);
        frontier.push(p.pid);
      }
    }
  }
  return found;
}

/** Live processes (other than this one) whose command line names `text`. */
export function processesNaming(text: string): ProcInfo[] {
  return listProcesses().filter((p) => p.pid !== process.pid && p.cmdline.includes(text));
}

/** Environment without inherited CHORUS_* variables (one definition, in chorus-process.ts). */
export { childEnv };
