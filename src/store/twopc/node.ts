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
// Compaction: at a moment when every record is durable and every apply released, checkpoint()
// returns what the records so far still matter for (types.ts Checkpoint) and trims memory to it
// (each room's last entry, two periods of decisions); the store snapshots its rooms beside it and
// may then delete the records up to checkpoint.lsn. restart(config, records, checkpoint) resumes
// from it: the rooms' states come from the store's snapshot, only records after it are applied.
// A position is the room's count of committed commands (refused ones included), not the domain's
// room version, which the store still derives from apply().

import { CatchUp } from './catch-up.ts';
import { Decisions, emptyCounters, type Context } from './context.ts';
import { Coordinator } from './coordinator.ts';
import { Outbox } from './outbox.ts';
import { Participant } from './participant.ts';
import { RoomLog } from './room-log.ts';
import {
  DEFAULT_LIMITS,
  type Checkpoint,
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

  /**
   * A node resumed from its durable records, in log order: those after the checkpoint when there is
   * one (lsn = checkpoint.lsn + index + 1), else the whole log (lsn = index + 1).
   */
  static restart(
    config: TwoPcConfig,
    records: readonly LogRecord[],
    checkpoint: Checkpoint | null = null,
  ): TwoPcNode {
    const base = checkpoint?.lsn ?? 0;
    const node = new TwoPcNode(config, base + records.length);
    node.recover(checkpoint, records);
    return node;
  }

  /** Whether checkpoint() may be called now: every record durable, the output all taken. */
  canCheckpoint(): boolean {
    return this.ctx.out.durableLsn === this.ctx.out.lastLsn && this.ctx.out.idle;
  }

  /**
   * What a snapshot taken now must carry, and memory trimmed to it. Only when every record is
   * durable and the output taken (the store's apply of everything committed is then done), so that
   * the rooms' states the store saves beside it reflect exactly `lsn`.
   */
  checkpoint(): Checkpoint {
    const { ctx } = this;
    const lsn = ctx.out.lastLsn;
    if (!this.canCheckpoint()) {
      throw new Error(`twopc: checkpoint at ${lsn} with records or output not yet durable and taken`);
    }
    const checkpoint: Checkpoint = {
      lsn,
      rooms: ctx.rooms.lastEntries(),
      prepared: this.participant.list().map((p) => ({
        txn: p.txn,
        coordinator: p.coordinator,
        participants: p.participants,
        room: p.room,
        version: p.version,
        command: p.command,
      })),
      committing: this.coordinator.committingList(),
      decisions: ctx.decisions.all(),
    };
    ctx.rooms.trim();
    ctx.decisions.rotate();
    return checkpoint;
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

  private recover(checkpoint: Checkpoint | null, records: readonly LogRecord[]): void {
    const { ctx, participant, coordinator } = this;
    const base = checkpoint?.lsn ?? 0;
    if (checkpoint !== null) {
      // Every lsn up to the checkpoint's is durable, so what is gated on it goes at once.
      for (const entry of checkpoint.rooms) ctx.rooms.restore(entry);
      for (const d of checkpoint.decisions) ctx.decisions.set(d.txn, d.outcome, base);
      for (const p of checkpoint.prepared) participant.hold({ ...p, lsn: base }, true);
      for (const c of checkpoint.committing) {
        ctx.decisions.set(c.txn, 'commit', base);
        coordinator.restoreCommitting(c.txn, c.participants, base);
      }
    }
    records.forEach((r, i) => {
      const lsn = base + i + 1;
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
