// ReadIndex bookkeeping on the leader (after etcd-io/raft read_only.go, ReadOnlySafe only).
//
// A linearizable read records the commit index at the moment it arrives, then the leader confirms
// it is still leader by a heartbeat round carrying the read's context; once a quorum of voters has
// answered that round (or any later one: responses are cumulative because requests are queued in
// order), every request up to it is released with its recorded index. The caller answers the read
// after it has applied that index. Contexts are chosen by the store and must be unique cluster-wide
// (a node id prefix does it), since followers' reads are confirmed by the same leader.

import type { NodeId } from './types.ts';

export interface ReadRequest {
  readonly context: string;
  readonly index: number;
  /** Who asked: the leader itself or a follower that forwarded it. */
  readonly from: NodeId;
}

export class ReadOnly {
  private readonly pending = new Map<string, { req: ReadRequest; acks: Set<NodeId> }>();
  private queue: string[] = [];

  add(req: ReadRequest, self: NodeId): void {
    if (this.pending.has(req.context)) return;
    this.pending.set(req.context, { req, acks: new Set([self]) });
    this.queue.push(req.context);
  }

  /** Records a heartbeat response for `context`; returns how many voters have acknowledged it. */
  ack(from: NodeId, context: string, voters: ReadonlySet<NodeId>): number {
    const p = this.pending.get(context);
    if (p === undefined) return 0;
    p.acks.add(from);
    let n = 0;
    for (const id of p.acks) if (voters.has(id)) n++;
    return n;
  }

  /** Releases every request queued up to and including `context`. */
  release(context: string): ReadRequest[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return done.map((ctx) => {
      const p = this.pending.get(ctx)!;
      this.pending.delete(ctx);
      return p.req;
    });
  }

  /** The newest pending request, for the heartbeat round that confirms all of them. */
  last(): string | undefined {
    return this.queue[this.queue.length - 1];
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
