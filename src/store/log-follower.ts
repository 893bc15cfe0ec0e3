// Following a committed log: apply its entries in order on this node, notice a gap (the log was
// cut past this node: it was away, lagged, or its source lost writes), install a snapshot then,
// and settle this node's own pending commands as they come back. A store whose order comes from
// elsewhere (redis streams today; a Raft follower installing a snapshot, a 2PC participant
// catching up, later) reads entries its own way and hands them here, so every such store applies,
// resyncs and answers alike.
//
// Positions count entries from 1; `position` is the last one applied (0: none, or a snapshot's).
// An entry at or below it is already applied and skipped; one past position + 1 is a gap.

import type { Envelope, RoomState } from '../domain/index.ts';
import type { StoreLogger } from './logger.ts';
import type { PendingCommands, RoomReplica } from './replica.ts';
import { Slicer } from './slicer.ts';

/** Where one followed log stands on this node (a store keeps it beside the room). */
export interface FollowedLog {
  readonly id: string;
  readonly replica: RoomReplica;
  /** Position of the last entry applied here. */
  position: number;
  /** Command id of the entry at `position`; null when not known (a snapshot's, or not a command). */
  lastCommandId: string | null;
  /** Position covered by the newest snapshot this node knows of. */
  snapshotAt: number;
}

export interface LogFollowerOptions<E> {
  readonly pending: PendingCommands;
  readonly logger: StoreLogger;
  /** The command an entry carries, or null when it carries none this store can read. */
  readonly decode: (entry: E) => Envelope | null;
  /** How the store names itself in log lines ("redis store"). */
  readonly label: string;
}

export type Offered = 'applied' | 'behind' | 'gap';

export class LogFollower<E extends { readonly seq: number }> {
  private readonly opts: LogFollowerOptions<E>;

  constructor(options: LogFollowerOptions<E>) {
    this.opts = options;
  }

  /** A log starting from a snapshot (null: from nothing) at `seq`. */
  static start(id: string, replica: RoomReplica, seq: number): FollowedLog {
    return { id, replica, position: seq, lastCommandId: null, snapshotAt: seq };
  }

  /** Applies the entry right after the log's position and settles whoever here waits for it. */
  apply(log: FollowedLog, entry: E): void {
    log.position = entry.seq;
    const env = this.opts.decode(entry);
    log.lastCommandId = env?.commandId ?? null;
    if (env === null) {
      // Every node skips it alike, so replicas stay identical.
      this.opts.logger.warn(
        { roomId: log.id, seq: entry.seq },
        `${this.opts.label}: room ${log.id} log entry ${entry.seq} is not a command; skipped`,
      );
      return;
    }
    const outcome = log.replica.applyCommitted(env);
    this.opts.pending.settle(log.id, env.commandId, outcome);
  }

  /** Applies the entry if it is the next one: `behind` when already applied, `gap` when past it. */
  offer(log: FollowedLog, entry: E): Offered {
    if (entry.seq <= log.position) return 'behind';
    if (entry.seq > log.position + 1) return 'gap';
    this.apply(log, entry);
    return 'applied';
  }

  /** Offers entries in order; false when it stopped at a gap (the caller resyncs). */
  applyInOrder(log: FollowedLog, entries: readonly E[]): boolean {
    for (const entry of entries) if (this.offer(log, entry) === 'gap') return false;
    return true;
  }

  /**
   * Applies the entries that continue the log (others are skipped), yielding to the event loop
   * when it takes long. Only for a log nobody else applies to meanwhile: one being loaded, or the
   * caller's own resync.
   */
  async catchUp(log: FollowedLog, entries: readonly E[]): Promise<void> {
    const slice = new Slicer();
    for (const entry of entries) {
      if (entry.seq !== log.position + 1) continue;
      this.apply(log, entry);
      await slice.yieldIfLong();
    }
  }

  /**
   * Starts the log again from a snapshot: subscribers get a `reset`, and this node's own commands
   * among the entries skipped are settled from the room's recent commands (a refused one is not
   * there; its submitter's wait ends as a timeout, which says "retry"). `rewound`: the source lost
   * entries this node had applied, so the snapshot this node knew of may be gone as well.
   */
  install(log: FollowedLog, base: RoomState | null, seq: number, rewound: boolean): void {
    log.replica.reset(base);
    log.position = seq;
    log.lastCommandId = null;
    log.snapshotAt = rewound ? seq : Math.max(log.snapshotAt, seq);
    for (const recent of base?.recent ?? []) {
      this.opts.pending.settle(log.id, recent.commandId, {
        result: { ok: true, value: recent.result },
        state: base,
      });
    }
  }
}
