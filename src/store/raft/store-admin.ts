// The Raft store's administrative operations (`chorus raft add-member|remove-member|promote|
// transfer-leader`), kept out of store.ts: a membership change proposed through the log, and a
// leader transfer. Either runs on the leader; a follower passes the call on to the leader it knows.
//
// Invariants:
// - A membership change answers once the leader has applied its entry (`applied(index, term)`,
//   called by the store's Ready loop), or DEADLINE_EXCEEDED / UNAVAILABLE (lost to a new leader).
// - A transfer answers once this node names the target as leader (bounded: three election timeouts);
//   a leader closing hands over the same way first (handOver), bounded alike.
// - Inputs to the core go through the store's `input` (never between ready() and advance()).

import { ChorusError, chorusError } from '../../domain/index.ts';
import type { StoreLogger } from '../logger.ts';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import { confChangeOf, membershipOf, type AddressBook } from './membership.ts';
import type { RaftNode } from './node.ts';
import { handOverLeadership, unavailableWithHint } from './store-helpers.ts';
import type { RaftTransport } from './transport.ts';
import { NONE, type NodeId } from './types.ts';

export interface AdminContext {
  /** The core, once the store is open and has not failed (else throws its UNAVAILABLE). */
  readonly openCore: () => RaftNode;
  /** The core now (null once closed). */
  readonly core: () => RaftNode | null;
  readonly input: (fn: (core: RaftNode) => void) => void;
  readonly book: AddressBook;
  readonly transport: RaftTransport;
  readonly submitTimeoutMs: number;
  /** One election timeout at most, in ms (a transfer gets three). */
  readonly electionMs: number;
}

export class RaftAdmin {
  private readonly ctx: AdminContext;
  /** Membership changes proposed here, by index: called with the term of the entry applied there. */
  private readonly confWaits = new Map<number, (term: number) => void>();

  constructor(ctx: AdminContext) {
    this.ctx = ctx;
  }

  /** A conf change entry at `index` was applied here (with `term`). */
  applied(index: number, term: number): void {
    const waiting = this.confWaits.get(index);
    this.confWaits.delete(index);
    waiting?.(term);
  }

  /** The store is closing: every change still waiting is lost. */
  closeAll(): void {
    for (const w of this.confWaits.values()) w(-1);
    this.confWaits.clear();
  }

  /** One membership change, on the leader (a follower passes it on); answers once applied there. */
  async changeMembership(req: pb.MembershipChange__Output): Promise<pb.Membership> {
    const { book } = this.ctx;
    const core = this.ctx.openCore();
    if (core.role !== 'leader') return this.toLeader(core, { change: req });
    const cc = confChangeOf(req, book);
    const at = await new Promise<{ index: number; term: number }>((resolve, reject) => {
      this.ctx.input((c) => {
        const r = c.proposeConfChange(cc);
        if (r.ok) resolve({ index: r.index, term: r.term });
        else if (r.error.code === 'UNAVAILABLE')
          reject(unavailableWithHint(c, book.peers(), r.error.message));
        else reject(ChorusError.from(r.error));
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.confWaits.delete(at.index);
        reject(chorusError('RAFT_CHANGE_TIMEOUT', { index: at.index }));
      }, this.ctx.submitTimeoutMs);
      this.confWaits.set(at.index, (term) => {
        clearTimeout(timer);
        if (term === at.term) resolve();
        else reject(chorusError('RAFT_CHANGE_LOST'));
      });
    });
    return membershipOf(this.ctx.core() ?? core, book, at.index);
  }

  /** Hands leadership to `to` (empty: the most up-to-date voter); answers once a new leader is known. */
  async transferLeader(to: NodeId): Promise<pb.Membership> {
    const { book } = this.ctx;
    const core = this.ctx.openCore();
    if (core.role !== 'leader') return this.toLeader(core, { transferTo: to });
    let target = to;
    if (target === '') {
      let best = -1;
      for (const [id, pr] of core.status().progress)
        if (id !== core.id && core.tracker.voters.has(id) && pr.match > best) [target, best] = [id, pr.match];
      if (target === '')
        throw chorusError('RAFT_TRANSFER_REFUSED', { problem: 'there is no other voter to hand over to' });
    }
    if (target === core.id) return membershipOf(core, book, 0);
    const err = await new Promise<ChorusError | null>((resolve) =>
      this.ctx.input((c) => {
        const e = c.transferLeadership(target);
        resolve(e === null ? null : ChorusError.from(e));
      }),
    );
    if (err !== null) throw err;
    const deadline = Date.now() + 3 * this.ctx.electionMs;
    for (let now = this.ctx.core(); Date.now() < deadline && now !== null; now = this.ctx.core()) {
      if (now.lead === target) return membershipOf(now, book, 0);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw chorusError('RAFT_TRANSFER_TIMEOUT', { target, leader: this.ctx.core()?.lead ?? null });
  }

  /** A leader stopped gracefully hands over to its most up-to-date follower first (bounded wait). */
  async handOver(logger: StoreLogger): Promise<void> {
    const core = this.ctx.core();
    if (core !== null) await handOverLeadership(core, this.ctx.input, 3 * this.ctx.electionMs, logger);
  }

  private toLeader(
    core: RaftNode,
    call: { change: pb.MembershipChange } | { transferTo: NodeId },
  ): Promise<pb.Membership> {
    if (core.lead === NONE)
      throw unavailableWithHint(core, this.ctx.book.peers(), 'no leader is known (an election is under way)');
    return this.ctx.transport.forwardAdmin(core.lead, call, this.ctx.submitTimeoutMs + 1000);
  }
}
