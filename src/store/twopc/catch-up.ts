// Catch-up: a node that (re)starts asks its peers for the committed commands it does not have and
// votes NO ('catching-up') until one peer has answered completely; a node that learns it is behind
// in a room (a RequestVote or a vote ahead of its position) asks that peer. Serving is read-only.
// Invariant: entries are learned in each room's order and only at the next position (participant
// learnCommitted checks), so a reply that is stale, duplicated or reordered changes nothing wrong.
// A peer serves from what it keeps since its last compaction (at least each room's last entry,
// which is all a node that was down can lack: every commit needs every node's durable YES). A
// request from below that is refused (counted in catchUpRefused) and never marked complete: only
// a node that lost its data dir asks it, and it stays out of the votes rather than diverge.

import type { Context } from './context.ts';
import type { Participant } from './participant.ts';
import type { Message, NodeId } from './types.ts';

export class CatchUp {
  private readonly ctx: Context;
  private readonly participant: Participant;
  private nextAt: number;
  done: boolean;

  constructor(ctx: Context, participant: Participant) {
    this.ctx = ctx;
    this.participant = participant;
    this.done = ctx.nodes.every((n) => n === ctx.self);
    this.nextAt = ctx.now();
  }

  /** Asks one peer for what it has beyond this node's positions. */
  ask(peer: NodeId): void {
    if (peer === this.ctx.self) return;
    this.ctx.out.send({
      type: 'CatchUpRequest',
      from: this.ctx.self,
      to: peer,
      positions: this.ctx.rooms.positions(),
    });
  }

  tick(): void {
    if (this.done || this.ctx.now() < this.nextAt) return;
    for (const peer of this.ctx.nodes) this.ask(peer);
    this.nextAt = this.ctx.now() + this.ctx.limits.resendTicks;
  }

  serve(m: Extract<Message, { type: 'CatchUpRequest' }>): void {
    const { entries, complete, refused } = this.ctx.rooms.after(m.positions, this.ctx.limits.catchUpBatch);
    if (refused.length > 0) this.ctx.counters.catchUpRefused++;
    this.ctx.out.send({ type: 'CatchUpReply', from: this.ctx.self, to: m.from, entries, complete });
  }

  onReply(m: Extract<Message, { type: 'CatchUpReply' }>): void {
    for (const entry of m.entries) this.participant.learnCommitted(entry);
    if (m.complete) this.done = true;
    // Cut at the size limit: ask for the rest at once. Nothing served (refused): the tick asks again.
    else if (m.entries.length > 0) this.ask(m.from);
  }
}
