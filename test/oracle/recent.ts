// TEST ORACLE (issue 21): src/domain/recent.ts as it was before the room's structures became persistent,
// kept unchanged so that property tests can check the new structures against it. Not used by src/.
//
// The command ids a room remembers, so that a retry gets the first answer (idempotency). Kept as a
// plain array in the state (oldest first) with an index by id beside it (handed-index.ts), so the
// check on every command costs O(1) rather than a scan of the whole window.

import { HandedIndex } from './handed-index.ts';
import type { RecentCommand } from './types.ts';

/** How many recent command ids a room remembers for idempotent retries. */
export const RECENT_COMMANDS_KEPT = 1024;

type Recent = readonly RecentCommand[];

// A command id enters the window only once (a retry is answered, not remembered again), so ids
// are unique within it.
const indexes = new HandedIndex<Recent, Map<string, RecentCommand>>(
  (recent) => new Map(recent.map((r) => [r.commandId, r])),
);

export function findRecent(recent: Recent, commandId: string): RecentCommand | undefined {
  return indexes.of(recent).get(commandId);
}

/** The window with `command` added, forgetting the oldest beyond RECENT_COMMANDS_KEPT. */
export function remember(recent: Recent, command: RecentCommand): RecentCommand[] {
  const drop = Math.max(0, recent.length + 1 - RECENT_COMMANDS_KEPT);
  const next = recent.slice(drop);
  next.push(command);
  indexes.handOn(recent, next, (index) => {
    for (let i = 0; i < drop; i++) index.delete(recent[i]!.commandId);
    index.set(command.commandId, command);
  });
  return next;
}
