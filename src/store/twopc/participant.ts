// The participant side of every node (the coordinator of a write is a participant of it too).
// Rules:
// - RequestVote: take the room's lock without waiting (a locked room votes NO), check the version
//   follows this node's position, force PREPARED, and only then vote YES (the vote is gated on it).
// - After YES, never decide alone: ask the coordinator (GetDecision), then every other participant
//   (cooperative termination); while nobody reachable knows, stay blocked with the room locked.
// - COMMIT: force the participant's COMMIT record, then apply and ACK (both gated on it); a COMMIT
//   seen again is ACKed again and applied once. ABORT: drop the PREPARED and the lock (lazy record).
// - Asked about a transaction it never voted YES for, a participant settles it as aborted, forcing
//   an ABORT record first, so that a late RequestVote for it is refused even after a restart.

import type { Context } from './context.ts';
import type { CommittedEntry, LogRecord, Message, NodeId, NoReason, Outcome, TxnId } from './types.ts';

/** A PREPARED record held in memory, with its room's lock, until its decision is known. */
export interface Prepared extends Omit<Extract<LogRecord, { kind: 'PREPARED' }>, 'kind'> {
  /** The PREPARED record's lsn: the YES vote waits for it. */
  readonly lsn: number;
  /** The tick it was prepared (or restored) at. */
  readonly since: number;
  nextAskAt: number;
  asks: number;
}

type RequestVote = Extract<Message, { type: 'RequestVote' }>;
type GetDecision = Extract<Message, { type: 'GetDecision' }>;

export class Participant {
  private readonly prepared = new Map<TxnId, Prepared>();

  /** Whether votes may be YES yet (false until a restarted node has caught up). */
  canVote: () => boolean = () => true;
  /** Called when a RequestVote shows this node is behind in a room. */
  onBehind: (peer: NodeId) => void = () => {};

  private readonly ctx: Context;

  constructor(ctx: Context) {
    this.ctx = ctx;
  }

  get size(): number {
    return this.prepared.size;
  }

  get(txn: TxnId): Prepared | undefined {
    return this.prepared.get(txn);
  }

  /** Prepared transactions, oldest first. */
  list(): Prepared[] {
    return [...this.prepared.values()];
  }

  onRequestVote(m: RequestVote): void {
    const { ctx } = this;
    const decided = ctx.decisions.get(m.txn);
    const again = this.prepared.get(m.txn);
    if (decided?.outcome === 'abort') return this.voteNo(m, 'aborted');
    if (decided !== undefined) return this.voteYes(m, decided.lsn); // a duplicate, already committed
    if (again !== undefined) return this.voteYes(m, again.lsn); // a duplicate, still prepared
    if (!this.canVote()) return this.voteNo(m, 'catching-up');
    const holder = ctx.rooms.holder(m.room);
    if (holder !== undefined) {
      // Blocked: the holder's coordinator has not answered a whole ask interval (a lock that is
      // merely slow to hear its decision is a race, retried; a blocked one is UNAVAILABLE).
      const blocked = (this.prepared.get(holder)?.asks ?? 0) >= 2;
      return this.voteNo(m, blocked ? 'in-doubt' : 'locked');
    }
    if (this.prepared.size >= ctx.limits.maxPrepared) return this.voteNo(m, 'prepared-table-full');
    const position = ctx.rooms.position(m.room);
    if (m.version !== position + 1) {
      if (m.version > position + 1) this.onBehind(m.from);
      return this.voteNo(m, 'version');
    }
    const lsn = ctx.out.append(
      {
        kind: 'PREPARED',
        txn: m.txn,
        coordinator: m.from,
        participants: m.participants,
        room: m.room,
        version: m.version,
        command: m.command,
      },
      true,
    );
    this.hold({ ...m, coordinator: m.from, lsn });
    ctx.counters.prepares++;
    this.voteYes(m, lsn);
  }

  /** Takes the lock for a PREPARED (when voting, or when restoring one from the log). */
  hold(p: Omit<Prepared, 'since' | 'nextAskAt' | 'asks'>, askNow = false): void {
    const now = this.ctx.now();
    // The first ask waits out the coordinator's whole vote deadline: asking earlier would abort
    // a transaction whose votes are merely slow (a GetDecision during voting forces abort).
    const firstAsk = askNow ? now : now + this.ctx.limits.voteTimeoutTicks + this.ctx.limits.askIntervalTicks;
    this.prepared.set(p.txn, {
      txn: p.txn,
      coordinator: p.coordinator,
      participants: p.participants,
      room: p.room,
      version: p.version,
      command: p.command,
      lsn: p.lsn,
      since: now,
      nextAskAt: firstAsk,
      asks: 0,
    });
    this.ctx.rooms.lock(p.room, p.txn);
  }

  /**
   * A decision learned from the coordinator or a peer. Commit forces this node's COMMIT record
   * (unless `commitLsn` is the coordinator's own, already forced), then applies and ACKs.
   */
  decide(txn: TxnId, outcome: Outcome, from: NodeId | null, commitLsn?: number): void {
    const { ctx } = this;
    const p = this.prepared.get(txn);
    const known = ctx.decisions.get(txn);
    if (outcome === 'commit') {
      if (p === undefined) {
        if (from === null || known?.outcome === 'abort') return;
        // Applied already: ACK again once its record is durable. Unknown here: this node voted YES
        // (a commit needs every node's), so it committed the transaction and compaction has since
        // forgotten it (its ACK was lost): ACK, or the coordinator would re-send forever. Ask the
        // sender for anything newer too, in case this node lost its disk instead.
        if (known !== undefined) this.ack(txn, from, known.lsn);
        else {
          this.ack(txn, from, 0);
          this.onBehind(from);
        }
        return;
      }
      const lsn =
        commitLsn ??
        ctx.out.append(
          { kind: 'COMMIT', txn, coordinator: p.coordinator, participants: p.participants },
          true,
        );
      this.commitPrepared(p, lsn);
      if (p.coordinator !== ctx.self) this.ack(txn, p.coordinator, lsn);
      return;
    }
    if (known?.outcome === 'commit') return; // a stale abort for a committed txn: impossible, ignored
    if (p !== undefined) {
      this.drop(txn);
      if (p.coordinator !== ctx.self) ctx.out.append({ kind: 'ABORT', txn }, false);
    }
    // Remembered so that a RequestVote arriving after its abort is refused.
    ctx.decisions.set(txn, 'abort', known?.lsn ?? 0);
  }

  /** Forgets a prepared transaction and frees its room (an abort, or replaying one). */
  drop(txn: TxnId): void {
    const p = this.prepared.get(txn);
    if (p === undefined) return;
    this.prepared.delete(txn);
    this.ctx.rooms.unlock(p.room, txn);
  }

  /** Applies a prepared transaction as committed, its COMMIT durable at `lsn` on this node. */
  commitPrepared(p: Prepared, lsn: number): void {
    const { ctx } = this;
    this.prepared.delete(p.txn);
    ctx.rooms.unlock(p.room, p.txn);
    const entry: CommittedEntry = { txn: p.txn, room: p.room, version: p.version, command: p.command };
    if (!ctx.rooms.commit(entry)) {
      throw new Error(`twopc: ${p.txn} commits at ${p.room}@${p.version} out of order`);
    }
    ctx.decisions.set(p.txn, 'commit', lsn);
    ctx.counters.commits++;
    ctx.out.applyEntry(entry, lsn);
  }

  /** A committed entry from a peer's catch-up reply. */
  learnCommitted(entry: CommittedEntry): void {
    const { ctx } = this;
    if (ctx.rooms.position(entry.room) + 1 !== entry.version) return; // known already, or a gap
    const holder = ctx.rooms.holder(entry.room);
    if (holder !== undefined) {
      // The entry at our prepared position is either our transaction (so it committed) or proof
      // that ours was not the one committed there; the latter cannot happen while we hold the
      // lock (every commit needs our vote), so only the former is acted on.
      if (holder === entry.txn) this.decide(entry.txn, 'commit', null);
      return;
    }
    const lsn = ctx.out.append({ kind: 'CAUGHT_UP', entry }, true);
    ctx.rooms.commit(entry);
    ctx.decisions.set(entry.txn, 'commit', lsn);
    ctx.counters.catchUpEntries++;
    ctx.out.applyEntry(entry, lsn);
  }

  /** Answers a GetDecision for a transaction this node does not coordinate right now. */
  onGetDecision(m: GetDecision): void {
    const { ctx } = this;
    const known = ctx.decisions.get(m.txn);
    if (known !== undefined) return this.reply(m, known.outcome, known.lsn);
    if (this.prepared.has(m.txn)) return this.reply(m, 'unknown', 0);
    if (m.version > 0 && m.version <= ctx.rooms.position(m.room)) {
      // Settled here, its decision compacted away (recent ones are in `decisions`, so this entry's
      // COMMIT is durable). Only one transaction commits at a position, with this node's vote, so
      // the entry there says: this one committed, or another did and this one never will. An entry
      // compacted away too: unknown (the asker's position keeps it, so no in-doubt asker gets this).
      const there = ctx.rooms.txnAt(m.room, m.version);
      if (there === undefined) return this.reply(m, 'unknown', 0);
      return this.reply(m, there === m.txn ? 'commit' : 'abort', 0);
    }
    if (m.coordinator === ctx.self) {
      // Presumed abort: the coordinator has no record of it, so it never committed.
      ctx.decisions.set(m.txn, 'abort', 0);
      return this.reply(m, 'abort', 0);
    }
    // Never voted YES: this node may abort it, durably, and so settle it for the asker.
    const lsn = ctx.out.append({ kind: 'ABORT', txn: m.txn }, true);
    ctx.decisions.set(m.txn, 'abort', lsn);
    this.reply(m, 'abort', lsn);
  }

  /** In-doubt transactions whose ask is due: the coordinator first, then everyone. */
  tick(): void {
    const { ctx } = this;
    const now = ctx.now();
    for (const p of this.prepared.values()) {
      if (now < p.nextAskAt || p.coordinator === ctx.self) continue;
      const askAll = p.asks > 0;
      for (const to of p.participants) {
        if (to === ctx.self || (to !== p.coordinator && !askAll)) continue;
        ctx.out.send({
          type: 'GetDecision',
          from: ctx.self,
          to,
          txn: p.txn,
          coordinator: p.coordinator,
          room: p.room,
          version: p.version,
        });
      }
      if (p.asks === 0) ctx.counters.inDoubt++;
      p.asks++;
      p.nextAskAt = now + ctx.limits.askIntervalTicks;
    }
  }

  private voteYes(m: RequestVote, lsn: number): void {
    const { ctx } = this;
    ctx.out.send(
      {
        type: 'Vote',
        from: ctx.self,
        to: m.from,
        txn: m.txn,
        yes: true,
        position: m.version - 1,
      },
      lsn,
    );
  }

  private voteNo(m: RequestVote, reason: NoReason): void {
    const { ctx } = this;
    ctx.counters.votesNo++;
    ctx.out.send({
      type: 'Vote',
      from: ctx.self,
      to: m.from,
      txn: m.txn,
      yes: false,
      reason,
      position: ctx.rooms.position(m.room),
    });
  }

  private ack(txn: TxnId, to: NodeId, lsn: number): void {
    if (to === this.ctx.self) return;
    this.ctx.out.send({ type: 'Ack', from: this.ctx.self, to, txn }, lsn);
  }

  private reply(m: GetDecision, outcome: Outcome | 'unknown', lsn: number): void {
    this.ctx.out.send({ type: 'DecisionReply', from: this.ctx.self, to: m.from, txn: m.txn, outcome }, lsn);
  }
}
