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

/**
 * Decisions known on this node, in two generations: those of the current compaction period and
 * those of the one before. Compaction (rotate) forgets the older generation, so memory holds two
 * periods' worth; what it forgets is answered from the rooms' positions instead (participant.ts).
 */
export class Decisions {
  private known = new Map<TxnId, Decision>();
  private older = new Map<TxnId, Decision>();
  last: { txn: TxnId; outcome: Outcome } | null = null;

  get(txn: TxnId): Decision | undefined {
    return this.known.get(txn) ?? this.older.get(txn);
  }

  set(txn: TxnId, outcome: Outcome, lsn: number): void {
    const before = this.get(txn);
    if (before !== undefined && before.outcome !== outcome) {
      throw new Error(`twopc: ${txn} decided ${before.outcome}, then ${outcome}`);
    }
    if (before === undefined || (before.lsn === 0 && lsn !== 0)) this.known.set(txn, { outcome, lsn });
    this.last = { txn, outcome };
  }

  /** Every decision still remembered (both generations). */
  all(): { txn: TxnId; outcome: Outcome }[] {
    const out = new Map<TxnId, Outcome>();
    for (const [txn, d] of this.older) out.set(txn, d.outcome);
    for (const [txn, d] of this.known) out.set(txn, d.outcome);
    return [...out].map(([txn, outcome]) => ({ txn, outcome }));
  }

  /** A compaction: the older generation is forgotten, the current one becomes the older. */
  rotate(): void {
    this.older = this.known;
    this.known = new Map();
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
    catchUpRefused: 0,
  };
}
