// A 2PC group of node processes: group-processes.ts with `--store 2pc` (the 2PC tests' names).

import { groupProcesses, type GroupProcesses, type GroupProcessOptions } from './group-processes.ts';

export { metric } from './group-processes.ts';
export type TwoPcProcesses = GroupProcesses;

/** Ports and data dirs for n 2PC nodes (n1…nN); no process is started yet. */
export function twoPcProcesses(n: number, options: GroupProcessOptions = {}): Promise<TwoPcProcesses> {
  return groupProcesses('2pc', n, options);
}
