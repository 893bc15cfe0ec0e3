// The coordinator side: the node that takes a write runs it, one attempt (transaction) at a time.
// Rules:
// - A node runs one write per room at a time (the others wait their turn, in order), so its own
//   writes never race each other for the room's lock.
// - An attempt sends RequestVote to every node (itself included) with the room's next position.
// - All YES: force the COMMIT record, then (gated on it) send COMMIT, apply here, answer the client;
//   re-send COMMIT to whoever has not ACKed every resendTicks; after the last ACK write END lazily.
// - Any NO, the vote deadline, or a GetDecision while voting: abort (presumed abort: a lazy ABORT
//   record, ABORT sent to all, no ACKs). A lock race or a position mismatch is retried after a
//   jittered backoff, at most maxAttempts times, then answered ABORTED (retryable); a node down,
//   blocked, full or catching up is answered UNAVAILABLE at once.
// - On restart: a COMMIT without END is re-sent; a transaction it coordinated that has a PREPARED
//   and no decision is aborted (no COMMIT record means it never sent COMMIT).

import type { Context } from './context.ts';
import type { Participant } from './participant.ts';
import type { AbortReason, ClientWrite, Message, NodeId, RoomId, TxnId } from './types.ts';
import { refusal, type Reason } from '../../domain/reasons.ts';

interface Voting {
  readonly write: ClientWrite;
  readonly attempt: number;
  readonly txn: TxnId;
  readonly version: number;
  readonly participants: readonly NodeId[];
  readonly yes: Set<NodeId>;
  readonly deadline: number;
}

interface Committing {
  readonly txn: TxnId;
  readonly participants: readonly NodeId[];
  readonly acks: Set<NodeId>;
  readonly lsn: number;
  nextResendAt: number;
}

interface Backoff {
  readonly write: ClientWrite;
  readonly attempt: number;
  readonly at: number;
}

type Vote = Extract<Message, { type: 'Vote' }>;

/** Deterministic jitter in [0, span] from the write's seed: the core draws no randomness. */
export function jitter(seed: number, attempt: number, span: number): number {
  let h = Math.imul(seed ^ (attempt * 0x9e3779b1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) % (span + 1);
}

export class Coordinator {
  private readonly voting = new Map<TxnId, Voting>();
  private readonly committing = new Map<TxnId, Committing>();
  private readonly backoff = new Map<string, Backoff>();
  /** Writes being worked on (voting, backing off or waiting their turn), by write id. */
  private readonly writes = new Set<string>();
  /**
   * Each room's writes on this node, first in the list the one being worked on: a node runs one
   * write per room at a time, so its own writes never race each other for the room's lock.
   */
  private readonly turns = new Map<RoomId, ClientWrite[]>();

  canCoordinate: () => boolean = () => true;
  /** Called when a voter's position shows this node is behind in a room. */
  onBehind: (peer: NodeId) => void = () => {};

  private readonly ctx: Context;
  private readonly participant: Participant;

  constructor(ctx: Context, participant: Participant) {
    this.ctx = ctx;
    this.participant = participant;
  }

  coordinates(txn: TxnId): boolean {
    return this.voting.has(txn) || this.committing.has(txn);
  }

  write(w: ClientWrite): void {
    if (this.writes.has(w.id)) {
      const error = refusal('TWOPC_WRITE_IN_PROGRESS', { writeId: w.id });
      return this.ctx.out.answer({ id: w.id, ok: false, error, attempts: 0 });
    }
    if (!this.canCoordinate()) {
      return this.fail(w, 0, 'catching-up', []);
    }
    this.writes.add(w.id);
    const turn = this.turns.get(w.room) ?? [];
    turn.push(w);
    this.turns.set(w.room, turn);
    if (turn.length === 1) this.begin(w, 1);
  }

  onVote(m: Vote): void {
    const v = this.voting.get(m.txn);
    if (v === undefined) {
      if (!m.yes) return;
      // A late YES for an attempt no longer voting. Committed and not ACKed by everyone: the commit
      // again (a compaction may have forgotten the decision, never the transaction it still
      // re-sends). Aborted: the abort again, rather than leave the voter asking. Forgotten: say
      // nothing; a voter in doubt asks, with the room and position that answer it
      // (Participant.onGetDecision). Presuming abort here contradicted a commit (seed 900607).
      const c = this.committing.get(m.txn);
      if (c !== undefined) return this.sendDecision(m.from, m.txn, 'commit', c.lsn);
      if (this.ctx.decisions.get(m.txn)?.outcome === 'abort') this.sendDecision(m.from, m.txn, 'abort', 0);
      return;
    }
    if (!m.yes) {
      if (m.reason === 'version' && m.position > this.ctx.rooms.position(v.write.room)) {
        this.onBehind(m.from);
      }
      return this.abort(v, m.reason ?? 'locked', [m.from]);
    }
    v.yes.add(m.from);
    if (v.yes.size === v.participants.length) this.commit(v);
  }

  onAck(txn: TxnId, from: NodeId): void {
    const c = this.committing.get(txn);
    if (c === undefined) return;
    c.acks.add(from);
    this.endIfDone(c);
  }

  /** A GetDecision for a transaction this node is coordinating now. */
  onGetDecision(m: Extract<Message, { type: 'GetDecision' }>): void {
    const v = this.voting.get(m.txn);
    // Undecided: abort it now, or a COMMIT after this answer would contradict it.
    if (v !== undefined) this.abort(v, 'asked', []);
    this.participant.onGetDecision(m);
  }

  tick(): void {
    const now = this.ctx.now();
    for (const v of [...this.voting.values()]) {
      if (now < v.deadline) continue;
      this.abort(
        v,
        'timeout',
        v.participants.filter((p) => !v.yes.has(p)),
      );
    }
    for (const c of this.committing.values()) {
      if (now < c.nextResendAt) continue;
      for (const p of c.participants) if (!c.acks.has(p)) this.sendDecision(p, c.txn, 'commit', c.lsn);
      c.nextResendAt = now + this.ctx.limits.resendTicks;
    }
    for (const [id, b] of [...this.backoff]) {
      if (now < b.at) continue;
      this.backoff.delete(id);
      this.ctx.counters.retries++;
      this.begin(b.write, b.attempt);
    }
  }

  /** From the log on restart: a COMMIT this node coordinated, not yet ENDed. */
  restoreCommitting(txn: TxnId, participants: readonly NodeId[], lsn: number): void {
    this.committing.set(txn, {
      txn,
      participants,
      acks: new Set([this.ctx.self]),
      lsn,
      nextResendAt: this.ctx.now(),
    });
  }

  /** Committed transactions not yet ACKed by every node (a checkpoint carries them). */
  committingList(): { txn: TxnId; participants: readonly NodeId[] }[] {
    return [...this.committing.values()].map((c) => ({ txn: c.txn, participants: c.participants }));
  }

  forget(txn: TxnId): void {
    this.committing.delete(txn);
  }

  /** On restart: a transaction it coordinated with no decision in the log never committed. */
  abortOrphan(txn: TxnId, participants: readonly NodeId[]): void {
    this.ctx.out.append({ kind: 'ABORT', txn }, false);
    this.ctx.decisions.set(txn, 'abort', 0);
    this.ctx.counters.aborts.restart++;
    this.participant.decide(txn, 'abort', null);
    for (const p of participants) if (p !== this.ctx.self) this.sendDecision(p, txn, 'abort', 0);
  }

  writesInProgress(): number {
    return this.writes.size;
  }

  /** Transactions waiting for ACKs, for the status view. */
  pendingAcks(): number {
    return this.committing.size;
  }

  private begin(w: ClientWrite, attempt: number): void {
    const { ctx } = this;
    const txn = `${w.id}#${attempt}`;
    const version = ctx.rooms.position(w.room) + 1;
    const participants = ctx.nodes;
    const v: Voting = {
      write: w,
      attempt,
      txn,
      version,
      participants,
      yes: new Set(),
      deadline: ctx.now() + ctx.limits.voteTimeoutTicks,
    };
    this.voting.set(txn, v);
    for (const to of participants) {
      ctx.out.send({
        type: 'RequestVote',
        from: ctx.self,
        to,
        txn,
        participants,
        room: w.room,
        version,
        command: w.command,
      });
    }
  }

  private commit(v: Voting): void {
    const { ctx } = this;
    this.voting.delete(v.txn);
    const lsn = ctx.out.append(
      { kind: 'COMMIT', txn: v.txn, coordinator: ctx.self, participants: v.participants },
      true,
    );
    const prepared = this.participant.get(v.txn);
    if (prepared === undefined) throw new Error(`twopc: ${v.txn} commits without this node's PREPARED`);
    this.participant.commitPrepared(prepared, lsn);
    const c: Committing = {
      txn: v.txn,
      participants: v.participants,
      acks: new Set([ctx.self]),
      lsn,
      nextResendAt: ctx.now() + ctx.limits.resendTicks,
    };
    this.committing.set(v.txn, c);
    for (const p of v.participants) if (p !== ctx.self) this.sendDecision(p, v.txn, 'commit', lsn);
    ctx.out.answer(
      { id: v.write.id, ok: true, txn: v.txn, room: v.write.room, version: v.version, attempts: v.attempt },
      lsn,
    );
    this.finished(v.write);
    this.endIfDone(c);
  }

  private abort(v: Voting, reason: AbortReason, nodes: readonly NodeId[]): void {
    const { ctx } = this;
    this.voting.delete(v.txn);
    ctx.out.append({ kind: 'ABORT', txn: v.txn }, false);
    ctx.decisions.set(v.txn, 'abort', 0);
    ctx.counters.aborts[reason]++;
    this.participant.decide(v.txn, 'abort', null);
    for (const p of v.participants) if (p !== ctx.self) this.sendDecision(p, v.txn, 'abort', 0);
    const retryable = reason === 'locked' || reason === 'version';
    if (retryable && v.attempt < ctx.limits.maxAttempts) {
      const base = ctx.limits.backoffBaseTicks * 2 ** Math.min(v.attempt - 1, 10);
      const at = ctx.now() + base + jitter(v.write.jitterSeed, v.attempt, base);
      this.backoff.set(v.write.id, { write: v.write, attempt: v.attempt + 1, at });
      return;
    }
    this.fail(v.write, v.attempt, reason, nodes);
    this.finished(v.write);
  }

  /** A write is answered: the room's next write on this node (if any) starts. */
  private finished(w: ClientWrite): void {
    this.writes.delete(w.id);
    const turn = this.turns.get(w.room) ?? [];
    turn.shift();
    const next = turn[0];
    if (next === undefined) this.turns.delete(w.room);
    else this.begin(next, 1);
  }

  private fail(w: ClientWrite, attempts: number, reason: AbortReason, nodes: readonly NodeId[]): void {
    const error = refusal(FAILURES[reason], { cause: reason, room: w.room, nodes, attempts });
    this.ctx.out.answer({ id: w.id, ok: false, error, attempts });
  }

  private sendDecision(to: NodeId, txn: TxnId, outcome: 'commit' | 'abort', lsn: number): void {
    this.ctx.out.send({ type: 'GlobalDecision', from: this.ctx.self, to, txn, outcome }, lsn);
  }

  private endIfDone(c: Committing): void {
    if (!c.participants.every((p) => c.acks.has(p))) return;
    this.committing.delete(c.txn);
    this.ctx.out.append({ kind: 'END', txn: c.txn }, false);
  }
}

/**
 * The registry's reason for each way an attempt ends unanswered (the cause itself rides in
 * `details.cause`): lost races are ABORTED (retryable), the rest UNAVAILABLE.
 */
const FAILURES = {
  locked: 'TWOPC_RACES_LOST',
  version: 'TWOPC_RACES_LOST',
  timeout: 'TWOPC_VOTE_TIMEOUT',
  'in-doubt': 'TWOPC_ROOM_IN_DOUBT',
  'prepared-table-full': 'TWOPC_PREPARED_TABLE_FULL',
  'catching-up': 'TWOPC_CATCHING_UP',
  aborted: 'TWOPC_WRITE_ABORTED',
  asked: 'TWOPC_WRITE_ABORTED',
  restart: 'TWOPC_WRITE_ABORTED',
} as const satisfies Record<AbortReason, Reason>;
