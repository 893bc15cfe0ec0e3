// The tailer on a Redis Cluster: the same hooks and the same promise as tailer.ts (it reads, the
// store applies, each room has one path by which commands reach its replica after loading).
//
// One XREAD may only name keys of one slot, so the rooms are grouped by the slot of their log, and
// the slots by the primary that owns them (the cluster client's slot map). Each primary is read on a
// connection of its own (a lane); a round reads every lane at once:
//   - when every lane has rooms of one slot only, each blocks (XREAD BLOCK), and the first lane that
//     brings entries cuts the others short (CLIENT UNBLOCK), so the round ends as soon as anything
//     arrives anywhere;
//   - otherwise no single read can wait on all of a lane's slots: each lane sends one pipeline of
//     non-blocking XREADs, one per slot, and a round that brought nothing waits tailPollMs (or until
//     the store wakes it, which it does for its own writes).
// A read refused because its slot moved (MOVED, or ASK/TRYAGAIN while it migrates) is made again at
// once through the cluster client, which follows redirections, and the slot map is refreshed, so the
// next round reads the slot on its new owner. A lane that fails (its primary is down) backs off alone:
// the other primaries' rooms go on being read.
//
// Nothing here can apply a command twice or skip one: positions only move through the store's
// LogFollower, which skips entries behind a room's position and reloads a room at a gap. A read that
// is repeated, redirected or answered by a new primary only costs time. The loop, wake, back-off
// and stop are tail-loop.ts's, shared with tailer.ts.

import type { Cluster, Redis } from 'ioredis';
import { keySlot } from './keys.ts';
import { messageOf } from './link.ts';
import { idOf, parseXread, type StreamBatch } from './stream.ts';
import { nextBackoff, TailLoop, type TailerHooks, type TailTarget } from './tail-loop.ts';

export interface ClusterTailerOptions {
  /** The cluster client: its slot map says who owns what; reads of moved slots go through it. */
  readonly cluster: Cluster;
  /** A plain connection to one node (a lane). */
  readonly connect: (host: string, port: number) => Redis;
  readonly blockMs: number;
  readonly batch: number;
  readonly lingerMs: number;
  readonly pollMs: number;
  readonly hooks: TailerHooks;
}

/** A primary's connection and what the tailer knows of it. */
interface Lane {
  readonly conn: Redis;
  /** CLIENT ID of conn, for CLIENT UNBLOCK; null until read (again, after a reconnect). */
  clientId: number | null;
  /** A read of this lane failed: it is skipped until then. */
  retryAt: number;
  backoff: number;
}

/** The rooms of one slot: what one XREAD names. */
type SlotGroup = readonly TailTarget[];

/** Replies that say the slot is (being) served elsewhere: read through the cluster client instead. */
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/;

export class ClusterTailer extends TailLoop {
  private readonly opts: ClusterTailerOptions;
  /** By node key (`host:port`, as the slot map names it). */
  private readonly lanes = new Map<string, Lane>();

  constructor(opts: ClusterTailerOptions) {
    super(opts.hooks, opts.blockMs);
    this.opts = opts;
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.lanes.clear();
  }

  /** A blocking round that misses a room (or any, when positions moved) is cut short on every lane. */
  protected interrupt(): void {
    this.unblockAll();
  }

  protected disconnect(): void {
    for (const lane of this.lanes.values()) lane.conn.disconnect();
    this.opts.cluster.disconnect();
  }

  protected override afterFailure(): void {
    this.opts.cluster.refreshSlotsCache();
  }

  protected async round(targets: readonly TailTarget[]): Promise<void> {
    const { batch, lingerMs, pollMs, hooks } = this.opts;
    const plan = this.plan(targets);
    // Every lane on one slot: all may block. Otherwise none does (see the top of this file).
    const block = [...plan.values()].every((groups) => groups.length === 1);
    this.inFlight = block ? new Set(targets.map((t) => t.key)) : null;
    const readAt = Date.now();
    const reads = await Promise.all(
      [...plan].map(([node, groups]) =>
        this.readLane(node, groups, block).then((read) => {
          if (block && read.batches.length > 0) this.unblockAll();
          return read;
        }),
      ),
    );
    this.inFlight = null;
    const batches = reads.flatMap((r) => r.batches);
    await hooks.deliver(batches);
    const failure = reads.find((r) => r.failed !== null)?.failed;
    if (failure !== undefined) {
      hooks.failed(failure);
      this.opts.cluster.refreshSlotsCache();
    } else if (batches.every((b) => b.entries.length < batch)) {
      // A full batch means that stream may hold more: not known to be in sync yet.
      hooks.synced(readAt);
    }
    if (batches.length > 0) {
      if (lingerMs > 0) await this.pause(lingerMs);
    } else if (!block || failure !== undefined) {
      await this.pause(pollMs);
    }
  }

  /**
   * The rooms by owner and slot; '' for slots the slot map does not know yet (read through the
   * cluster client). Lanes of primaries that own none of them are closed.
   */
  private plan(targets: readonly TailTarget[]): Map<string, SlotGroup[]> {
    const bySlot = new Map<number, TailTarget[]>();
    for (const t of targets) {
      const slot = keySlot(t.key);
      const group = bySlot.get(slot);
      if (group) group.push(t);
      else bySlot.set(slot, [t]);
    }
    const plan = new Map<string, SlotGroup[]>();
    for (const [slot, group] of bySlot) {
      const owner = this.opts.cluster.slots[slot]?.[0] ?? '';
      const groups = plan.get(owner);
      if (groups) groups.push(group);
      else plan.set(owner, [group]);
    }
    for (const [node, lane] of this.lanes) {
      if (plan.has(node)) continue;
      lane.conn.disconnect();
      this.lanes.delete(node);
    }
    return plan;
  }

  /** One lane's read: what it brought, and the error of the part that could not be read. */
  private async readLane(
    node: string,
    groups: readonly SlotGroup[],
    block: boolean,
  ): Promise<{ batches: StreamBatch[]; failed: unknown }> {
    if (node === '') return this.readThroughCluster(groups);
    const lane = this.laneOf(node);
    if (Date.now() < lane.retryAt) return { batches: [], failed: null };
    try {
      if (lane.conn.status === 'wait') await lane.conn.connect();
      const replies = block
        ? [await this.blockingRead(lane, groups[0]!)]
        : await this.pipelinedRead(lane, groups);
      const batches: StreamBatch[] = [];
      const moved: SlotGroup[] = [];
      replies.forEach((reply, i) => {
        if (reply.err === null) batches.push(...parseXread(reply.value));
        else if (REDIRECTED.test(reply.err.message)) moved.push(groups[i]!);
        else throw reply.err;
      });
      lane.backoff = 0;
      if (moved.length === 0) return { batches, failed: null };
      this.opts.cluster.refreshSlotsCache();
      const more = await this.readThroughCluster(moved);
      return { batches: [...batches, ...more.batches], failed: more.failed };
    } catch (err) {
      if (this.stopped) return { batches: [], failed: null };
      lane.backoff = nextBackoff(lane.backoff);
      lane.retryAt = Date.now() + lane.backoff;
      return { batches: [], failed: new Error(`reading the rooms on ${node} failed: ${messageOf(err)}`) };
    }
  }

  private async blockingRead(lane: Lane, group: SlotGroup): Promise<{ err: Error | null; value: unknown }> {
    const { batch, blockMs } = this.opts;
    if (lane.clientId === null) lane.clientId = Number(await lane.conn.call('CLIENT', 'ID'));
    try {
      return {
        err: null,
        value: await lane.conn.call('XREAD', 'COUNT', batch, 'BLOCK', blockMs, ...streams(group)),
      };
    } catch (err) {
      if (err instanceof Error && err.name === 'ReplyError') return { err, value: null };
      throw err;
    }
  }

  private async pipelinedRead(
    lane: Lane,
    groups: readonly SlotGroup[],
  ): Promise<Array<{ err: Error | null; value: unknown }>> {
    const pipeline = lane.conn.pipeline();
    for (const group of groups) pipeline.call('XREAD', 'COUNT', this.opts.batch, ...streams(group));
    const replies = await pipeline.exec();
    return groups.map((_, i) => {
      const [err, value] = replies?.[i] ?? [new Error('Redis gave no reply for a pipelined XREAD'), null];
      return { err, value };
    });
  }

  /** Non-blocking reads through the cluster client, which follows MOVED and ASK and retries TRYAGAIN. */
  private async readThroughCluster(
    groups: readonly SlotGroup[],
  ): Promise<{ batches: StreamBatch[]; failed: unknown }> {
    const reads = await Promise.allSettled(
      groups.map(async (group) =>
        parseXread(await this.opts.cluster.call('XREAD', 'COUNT', this.opts.batch, ...streams(group))),
      ),
    );
    const batches = reads.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    const failed = reads.find((r) => r.status === 'rejected');
    return { batches, failed: failed === undefined ? null : failed.reason };
  }

  private laneOf(node: string): Lane {
    let lane = this.lanes.get(node);
    if (lane) return lane;
    const colon = node.lastIndexOf(':');
    const conn = this.opts.connect(
      node.slice(0, colon).replace(/^\[|\]$/g, ''),
      Number(node.slice(colon + 1)),
    );
    const made: Lane = { conn, clientId: null, retryAt: 0, backoff: 0 };
    conn.on('error', () => {
      // Reported by the read that fails; the connection reconnects by itself.
    });
    conn.on('close', () => {
      made.clientId = null;
    });
    this.lanes.set(node, made);
    lane = made;
    return lane;
  }

  /** Ends every blocked read now (from the cluster client's connection to each lane's primary). */
  private unblockAll(): void {
    for (const [node, lane] of this.lanes) {
      if (lane.clientId === null) continue;
      const control = this.opts.cluster.nodes('master').find((r) => nodeKey(r) === node);
      control?.call('CLIENT', 'UNBLOCK', lane.clientId).catch(() => {
        // That primary is away; the block ends by itself within blockMs.
      });
    }
  }
}

/** `STREAMS key… id…` of one slot's rooms. */
function streams(group: SlotGroup): Array<string | number> {
  return ['STREAMS', ...group.map((t) => t.key), ...group.map((t) => idOf(t.position))];
}

function nodeKey(r: Redis): string {
  return `${r.options.host ?? ''}:${r.options.port ?? ''}`;
}
