// TwoPcNode: one node of the two-phase-commit store as a pure, deterministic state machine
// (presumed abort, as in R* and PostgreSQL's PREPARE TRANSACTION: Mohan, Lindsay and Obermarck,
// "Transaction Management in the R* Distributed Database Management System", 1986). It does
// no I/O, reads no clock and draws no randomness: time comes as tick(), retry jitter inside each
// write, messages through step(), durability through persisted(). Every node coordinates the
// writes it takes and is a participant of every write.
//
// The contract the store follows (and the simulation in test/unit/twopc/ follows too):
// 1. Inputs: write(), step(), tick() (every node ticks at about the same rate; all timeouts are
//    counted in ticks), persisted(lsn). After any input, takeOutput() and act on it in this order:
// 2. Persist `persist` in lsn order, appending to one log. Records with force=true must be fsynced
//    (PREPARED before a YES vote, COMMIT before a COMMIT message, an apply or an ACK, CAUGHT_UP
//    before its apply, a participant's ABORT that settles a peer's question); lazy ones (ABORT,
//    END) may ride the next fsync. Then call persisted(L) with the last lsn durable (an fsync covers
//    every record before it), and take the output again: what waited for L is released then.
// 3. Send `messages` (best effort: the node re-sends what matters; duplicates, loss and reordering
//    are all fine). Messages a node sends to itself never leave it.
// 4. Apply `apply` in order: each room's commands in position order, each once per life of the
//    node. restart() gives every committed command again from position 1, so the store rebuilds
//    rooms from the log (or skips what its snapshot already holds, by position).
// 5. Deliver `answers` to the waiting clients (a committed answer follows its apply).
// On a crash whatever was not persisted is lost; restart(config, records) with the durable records
// in order resumes: in-doubt transactions ask again, COMMITs without END are re-sent, transactions
// this node coordinated without a decision are aborted, and it catches up from a peer before it
// votes again.
// Not yet (the store's step): the log is replayed whole (lsn = index + 1), since PREPARED + COMMIT
// are also the room's data; compaction needs a snapshot per position first. Known decisions and
// room histories stay in memory for the node's life. A position is the room's count of committed
// commands (refused ones included), not the domain's room version, which the store still derives
// from apply().

import { CatchUp } from './catch-up.ts';
import { Decisions, emptyCounters, type Context } from './context.ts';
import { Coordinator } from './coordinator.ts';
import { Outbox } from './outbox.ts';
import { Participant } from './participant.ts';
import { RoomLog } from './room-log.ts';
import {
  DEFAULT_LIMITS,
  type ClientWrite,
  type LogRecord,
  type Message,
  type TwoPcConfig,
  type NodeId,
  type Output,
  type Status,
} from './types.ts';

export class TwoPcNode {
  private tickCount = 0;
  private readonly local: Message[] = [];
  private readonly heard = new Map<NodeId, number>();
  private readonly pinged = new Map<NodeId, number>();
  private readonly ctx: Context;
  private readonly participant: Participant;
  private readonly coordinator: Coordinator;
  private readonly catchUp: CatchUp;

  private constructor(config: TwoPcConfig, lastLsn: number) {
    if (!config.nodes.includes(config.id)) throw new Error(`twopc: ${config.id} is not in its node list`);
    this.ctx = {
      self: config.id,
      nodes: [...config.nodes],
      limits: { ...DEFAULT_LIMITS, ...config.limits },
      now: () => this.tickCount,
      out: new Outbox(config.id, lastLsn, (m) => this.local.push(m)),
      rooms: new RoomLog(),
      decisions: new Decisions(),
      counters: emptyCounters(),
    };
    this.participant = new Participant(this.ctx);
    this.coordinator = new Coordinator(this.ctx, this.participant);
    this.catchUp = new CatchUp(this.ctx, this.participant);
    this.participant.canVote = () => this.catchUp.done;
    this.coordinator.canCoordinate = () => this.catchUp.done;
    this.participant.onBehind = (peer) => this.catchUp.ask(peer);
    this.coordinator.onBehind = (peer) => this.catchUp.ask(peer);
  }

  /** A node with an empty log. */
  static create(config: TwoPcConfig): TwoPcNode {
    return TwoPcNode.restart(config, []);
  }

  /** A node resumed from its durable records, in log order (lsn = index + 1). */
  static restart(config: TwoPcConfig, records: readonly LogRecord[]): TwoPcNode {
    const node = new TwoPcNode(config, records.length);
    node.recover(records);
    return node;
  }

  get id(): NodeId {
    return this.ctx.self;
  }

  write(w: ClientWrite): void {
    this.coordinator.write(w);
    this.drain();
  }

  step(m: Message): void {
    if (m.to !== this.ctx.self) return;
    this.heard.set(m.from, this.tickCount);
    this.dispatch(m);
    this.drain();
  }

  tick(): void {
    this.tickCount++;
    this.ping();
    this.coordinator.tick();
    this.participant.tick();
    this.catchUp.tick();
    this.drain();
  }

  persisted(lsn: number): void {
    this.ctx.out.persisted(lsn);
    this.drain();
  }

  takeOutput(): Output {
    return this.ctx.out.take();
  }

  status(): Status {
    const { ctx } = this;
    const now = this.tickCount;
    const window = ctx.limits.resendTicks * 2;
    return {
      node: ctx.self,
      peersReachable: ctx.nodes.filter(
        (n) => n === ctx.self || now - (this.heard.get(n) ?? -Infinity) <= window,
      ),
      caughtUp: this.catchUp.done,
      inDoubt: this.participant
        .list()
        .filter((p) => p.asks > 0)
        .map((p) => ({ txn: p.txn, room: p.room, coordinator: p.coordinator, waitingTicks: now - p.since })),
      preparedCount: this.participant.size,
      writesInProgress: this.coordinator.writesInProgress(),
      awaitingAcks: this.coordinator.pendingAcks(),
      lastDecision: ctx.decisions.last,
      counters: structuredClone(ctx.counters),
    };
  }

  /** The room's committed position on this node. */
  position(room: string): number {
    return this.ctx.rooms.position(room);
  }

  private dispatch(m: Message): void {
    switch (m.type) {
      case 'RequestVote':
        return this.participant.onRequestVote(m);
      case 'Vote':
        return this.coordinator.onVote(m);
      case 'GlobalDecision':
        return this.participant.decide(m.txn, m.outcome, m.from);
      case 'Ack':
        return this.coordinator.onAck(m.txn, m.from);
      case 'GetDecision':
        if (this.coordinator.coordinates(m.txn)) return this.coordinator.onGetDecision(m);
        return this.participant.onGetDecision(m);
      case 'DecisionReply':
        if (m.outcome === 'unknown' || this.participant.get(m.txn) === undefined) return;
        return this.participant.decide(m.txn, m.outcome, m.outcome === 'commit' ? m.from : null);
      case 'CatchUpRequest':
        return this.catchUp.serve(m);
      case 'CatchUpReply':
        return this.catchUp.onReply(m);
      case 'Ping':
        if (!m.reply) this.ctx.out.send({ type: 'Ping', from: this.ctx.self, to: m.from, reply: true });
        return;
    }
  }

  /** Pings each peer not heard from for resendTicks (at most once per resendTicks). */
  private ping(): void {
    const { ctx } = this;
    for (const peer of ctx.nodes) {
      if (peer === ctx.self) continue;
      const quiet = this.tickCount - Math.max(this.heard.get(peer) ?? 0, this.pinged.get(peer) ?? 0);
      if (quiet < ctx.limits.resendTicks) continue;
      this.pinged.set(peer, this.tickCount);
      ctx.out.send({ type: 'Ping', from: ctx.self, to: peer, reply: false });
    }
  }

  /** Messages to itself are handled after the input that caused them, in order. */
  private drain(): void {
    for (let m = this.local.shift(); m !== undefined; m = this.local.shift()) this.dispatch(m);
  }

  private recover(records: readonly LogRecord[]): void {
    const { ctx, participant, coordinator } = this;
    records.forEach((r, i) => {
      const lsn = i + 1;
      switch (r.kind) {
        case 'PREPARED':
          participant.hold({ ...r, lsn }, true);
          break;
        case 'COMMIT': {
          const p = participant.get(r.txn);
          if (p !== undefined) participant.commitPrepared(p, lsn);
          if (r.coordinator === ctx.self) coordinator.restoreCommitting(r.txn, r.participants, lsn);
          break;
        }
        case 'ABORT':
          participant.drop(r.txn);
          ctx.decisions.set(r.txn, 'abort', lsn);
          break;
        case 'END':
          coordinator.forget(r.txn);
          break;
        case 'CAUGHT_UP':
          ctx.rooms.commit(r.entry);
          ctx.decisions.set(r.entry.txn, 'commit', lsn);
          ctx.out.applyEntry(r.entry, lsn);
          break;
      }
    });
    // Counters count this life only; replay is not new work.
    Object.assign(ctx.counters, emptyCounters());
    // Transactions it coordinated but never decided: no COMMIT record, so never committed.
    for (const p of participant.list()) {
      if (p.coordinator === ctx.self) coordinator.abortOrphan(p.txn, p.participants);
    }
    this.drain();
  }
}
