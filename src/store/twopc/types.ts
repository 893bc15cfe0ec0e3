// The vocabulary of the two-phase-commit core: ids, the messages nodes exchange, the records a node
// persists, what it hands to its store, and its limits. Plain data only, so the store can encode it
// for gRPC and disk as it likes, and the simulation can copy, drop and replay it.
//
// Names follow the earlier system's phases (VotePhase.RequestVote for prepare, DecisionPhase.
// GlobalDecision) so the gRPC transport can keep them. A "position" is a room's count of committed
// commands on this node: the command a transaction carries takes position `version` in its room.

import type { ErrorInfo } from '../../domain/errors.ts';

export type NodeId = string;
/** One attempt of a write: `${writeId}#${attempt}`. Unique per coordinator, so per cluster. */
export type TxnId = string;
export type RoomId = string;
export type Outcome = 'commit' | 'abort';

/** Why a participant voted NO. Each maps to one answer at the coordinator (see coordinator.ts). */
export type NoReason =
  | 'locked' // another transaction holds the room's lock: a race, retried with backoff
  | 'in-doubt' // the lock is held by a transaction in doubt: the room is blocked
  | 'version' // the room's position differs: whoever is behind catches up, then a retry
  | 'prepared-table-full' // the bounded prepared table is full
  | 'catching-up' // this node restarted and has not caught up from a peer yet
  | 'aborted'; // this node already settled this transaction as aborted

export type Message =
  | {
      readonly type: 'RequestVote';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly txn: TxnId;
      readonly participants: readonly NodeId[];
      readonly room: RoomId;
      readonly version: number;
      readonly command: Uint8Array;
    }
  | {
      readonly type: 'Vote';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly txn: TxnId;
      readonly yes: boolean;
      readonly reason?: NoReason;
      /** The voter's position in the room, so a coordinator that is behind knows it. */
      readonly position: number;
    }
  | {
      readonly type: 'GlobalDecision';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly txn: TxnId;
      readonly outcome: Outcome;
    }
  | { readonly type: 'Ack'; readonly from: NodeId; readonly to: NodeId; readonly txn: TxnId }
  | {
      readonly type: 'GetDecision';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly txn: TxnId;
      /** The transaction's coordinator: it answers "abort" for a transaction it has no record of. */
      readonly coordinator: NodeId;
      /**
       * Where the transaction would commit: a node that has compacted its decision away can still
       * answer from the entry it holds at that position (see Participant.onGetDecision).
       */
      readonly room: RoomId;
      readonly version: number;
    }
  | {
      readonly type: 'DecisionReply';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly txn: TxnId;
      /** 'unknown': the answerer is in doubt too (it voted YES and has no decision). */
      readonly outcome: Outcome | 'unknown';
    }
  | {
      readonly type: 'CatchUpRequest';
      readonly from: NodeId;
      readonly to: NodeId;
      /** The requester's position in each room it knows; rooms it does not know are at 0. */
      readonly positions: Readonly<Record<RoomId, number>>;
    }
  | {
      readonly type: 'CatchUpReply';
      readonly from: NodeId;
      readonly to: NodeId;
      /** Committed commands after the requester's positions, each room in order. */
      readonly entries: readonly CommittedEntry[];
      /** False when the reply was cut at the size limit: ask again from the new positions. */
      readonly complete: boolean;
    }
  | {
      /** Sent to a peer not heard from for resendTicks, so the status knows who is reachable. */
      readonly type: 'Ping';
      readonly from: NodeId;
      readonly to: NodeId;
      /** True on the answer to a ping (which is not answered again). */
      readonly reply: boolean;
    };

export type MessageType = Message['type'];

/** A committed command at its place in its room. */
export interface CommittedEntry {
  readonly txn: TxnId;
  readonly room: RoomId;
  readonly version: number;
  readonly command: Uint8Array;
}

/**
 * What a node carries over from the log it compacts (the 2PC part of a snapshot; the store keeps the
 * rooms' states beside it). Records up to `lsn` may be deleted once it is durable, because nothing
 * in them is needed any more beyond what this holds: each room's last committed entry (its position,
 * and the one transaction a peer in doubt can still ask about there), the prepared transactions
 * still undecided (never compacted away: they hold their rooms' locks), the COMMITs this node
 * coordinated that not every node has ACKed (undelivered decisions, re-sent after a restart), and
 * the decisions of the last two compaction periods (forced aborts must keep refusing late votes).
 */
export interface Checkpoint {
  readonly lsn: number;
  readonly rooms: readonly CommittedEntry[];
  readonly prepared: readonly Omit<Extract<LogRecord, { kind: 'PREPARED' }>, 'kind'>[];
  readonly committing: readonly { readonly txn: TxnId; readonly participants: readonly NodeId[] }[];
  readonly decisions: readonly { readonly txn: TxnId; readonly outcome: Outcome }[];
}

/**
 * What a node persists, in order, in one append-only log. `force` in an Output says which must be
 * fsynced before anything that depends on them leaves the node; the others may be written lazily.
 */
export type LogRecord =
  | {
      /** A participant's promise: forced before it votes YES. Holds the room's lock on restart. */
      readonly kind: 'PREPARED';
      readonly txn: TxnId;
      readonly coordinator: NodeId;
      readonly participants: readonly NodeId[];
      readonly room: RoomId;
      readonly version: number;
      readonly command: Uint8Array;
    }
  | {
      /**
       * The commit decision. Written by the coordinator (forced before any COMMIT is sent) and by
       * each participant (forced before it applies and ACKs). The command is in its PREPARED.
       */
      readonly kind: 'COMMIT';
      readonly txn: TxnId;
      readonly coordinator: NodeId;
      readonly participants: readonly NodeId[];
    }
  | {
      /** Lazy under presumed abort, except when a non-voter settles an abort for a peer (forced). */
      readonly kind: 'ABORT';
      readonly txn: TxnId;
    }
  | {
      /** The coordinator saw every ACK: it may forget the transaction (written lazily). */
      readonly kind: 'END';
      readonly txn: TxnId;
    }
  | {
      /** A committed command learned from a peer (catch-up); forced before it is applied. */
      readonly kind: 'CAUGHT_UP';
      readonly entry: CommittedEntry;
    };

export interface PersistRequest {
  /** Log sequence number: records are appended in lsn order; persisted(lsn) covers all before. */
  readonly lsn: number;
  readonly record: LogRecord;
  /** Must be fsynced before persisted(lsn) is reported; lazy records may wait for the next fsync. */
  readonly force: boolean;
}

/** A write the node coordinates. */
export interface ClientWrite {
  /** The write's id (the store uses the command id); attempts are `${id}#${n}`. */
  readonly id: string;
  readonly room: RoomId;
  readonly command: Uint8Array;
  /** Randomness for retry jitter, drawn by the store: the core draws none. */
  readonly jitterSeed: number;
}

export type ClientAnswer =
  | {
      readonly id: string;
      readonly ok: true;
      readonly txn: TxnId;
      readonly room: RoomId;
      readonly version: number;
      readonly attempts: number;
    }
  | { readonly id: string; readonly ok: false; readonly error: ErrorInfo; readonly attempts: number };

/**
 * One batch of work for the store, taken with takeOutput(). Order matters:
 * 1. append `persist` in order (fsync those with force; then call persisted(lastLsn)),
 * 2. send `messages` (they never depend on a record of this batch that is not yet persisted:
 *    those wait inside the node until persisted() releases them in a later batch),
 * 3. apply `apply` in order (each room's entries come in position order, each exactly once per
 *    life of the node; after restart() every committed entry comes again from position 1),
 * 4. deliver `answers` (a committed answer comes after its entry was in `apply`).
 */
export interface Output {
  readonly persist: readonly PersistRequest[];
  readonly messages: readonly Message[];
  readonly apply: readonly CommittedEntry[];
  readonly answers: readonly ClientAnswer[];
}

export interface Limits {
  /** Ticks a coordinator waits for every vote before it aborts (UNAVAILABLE). */
  readonly voteTimeoutTicks: number;
  /** Ticks an in-doubt participant waits before it asks the coordinator, and between asks. */
  readonly askIntervalTicks: number;
  /** Ticks between re-sends of a COMMIT that is not ACKed yet, and of catch-up requests. */
  readonly resendTicks: number;
  /** First retry backoff after a lock race; doubles per attempt, with jitter up to as much again. */
  readonly backoffBaseTicks: number;
  /** Attempts of one write before it is answered ABORTED. */
  readonly maxAttempts: number;
  /** Transactions prepared and undecided at once on a node; beyond it the node votes NO. */
  readonly maxPrepared: number;
  /** Committed entries in one catch-up reply. */
  readonly catchUpBatch: number;
}

export const DEFAULT_LIMITS: Limits = {
  voteTimeoutTicks: 20,
  askIntervalTicks: 10,
  resendTicks: 10,
  backoffBaseTicks: 2,
  maxAttempts: 6,
  maxPrepared: 1024,
  catchUpBatch: 256,
};

export interface TwoPcConfig {
  readonly id: NodeId;
  /** Every node of the cluster, this one included, in one agreed order. */
  readonly nodes: readonly NodeId[];
  readonly limits?: Partial<Limits>;
}

/** Counters since this node (re)started. */
export interface Counters {
  prepares: number;
  votesNo: number;
  commits: number;
  aborts: Record<AbortReason, number>;
  retries: number;
  /** Prepared transactions that outlived the vote deadline here and had to ask for their decision. */
  inDoubt: number;
  catchUpEntries: number;
  /**
   * Catch-up requests for rooms whose history this node has compacted past the requester's
   * position. Never expected: every commit needs every node's durable YES, so a node can miss at
   * most the one transaction per room it is in doubt about, which is kept. A node that lost its
   * data dir asks this (see the README's 2PC section).
   */
  catchUpRefused: number;
}

/** Why a coordinator aborted an attempt. */
export type AbortReason = NoReason | 'timeout' | 'asked' | 'restart';

export interface Status {
  readonly node: NodeId;
  /** Peers heard from within the last 2 * resendTicks ticks (this node included; idle peers are pinged). */
  readonly peersReachable: readonly NodeId[];
  readonly caughtUp: boolean;
  /** Prepared transactions without a decision, oldest first, with how long they have waited. */
  readonly inDoubt: readonly {
    readonly txn: TxnId;
    readonly room: RoomId;
    readonly coordinator: NodeId;
    readonly waitingTicks: number;
  }[];
  readonly preparedCount: number;
  /** Writes this node is coordinating (voting or backing off before a retry). */
  readonly writesInProgress: number;
  /** Committed transactions it coordinated whose COMMIT is not ACKed by every node yet. */
  readonly awaitingAcks: number;
  readonly lastDecision: { readonly txn: TxnId; readonly outcome: Outcome } | null;
  readonly counters: Readonly<Counters>;
}
