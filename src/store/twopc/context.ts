// What the parts of one node share: its identity and limits, the tick clock, the outbox, the rooms,
// the decisions it knows, and its counters. Owned by TwoPcNode; the parts only read and append.
// Invariant: a decision, once known for a transaction, never changes (a contradiction throws, so a
// bug stops the node instead of diverging a room).

import type { Outbox } from './outbox.ts';
import type { RoomLog } from './room-log.ts';
import type { AbortReason, Counters, Limits, NodeId, Outcome, TxnId } from './types.ts';

export interface Decision {
  readonly outcome: Outcome;
  /** The record that makes it durable here; 0 for an abort nobody needs to see durable (PA). */
  readonly lsn: number;
}

export class Decisions {
  private readonly known = new Map<TxnId, Decision>();
  last: { txn: TxnId; outcome: Outcome } | null = null;

  get(txn: TxnId): Decision | undefined {
    return this.known.get(txn);
  }

  set(txn: TxnId, outcome: Outcome, lsn: number): void {
    const before = this.known.get(txn);
    if (before !== undefined && before.outcome !== outcome) {
      throw new Error(`twopc: ${txn} decided ${before.outcome}, then ${outcome}`);
    }
    if (before === undefined || (before.lsn === 0 && lsn !== 0)) this.known.set(txn, { outcome, lsn });
    this.last = { txn, outcome };
  }
}

export interface Context {
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  readonly limits: Limits;
  /** The current tick. */
  now(): number;
  readonly out: Outbox;
  readonly rooms: RoomLog;
  readonly decisions: Decisions;
  readonly counters: Counters;
}

export function emptyCounters(): Counters {
  const reasons: AbortReason[] = [
    'locked',
    'in-doubt',
    'version',
    'prepared-table-full',
    'catching-up',
    'aborted',
    'timeout',
    'asked',
    'restart',
  ];
  return {
    prepares: 0,
    votesNo: 0,
    commits: 0,
    aborts: Object.fromEntries(reasons.map((r) => [r, 0])) as Record<AbortReason, number>,
    retries: 0,
    inDoubt: 0,
    catchUpEntries: 0,
  };
}
