// This node's side of presence (src/domain/presence.ts holds the rules): it counts the live
// connections (SSE with a token, gRPC Watch with a token) of each member in each room, and reports
// transitions to the room as `presence` commands, so every node answers "who is here" alike.
//
// Invariants and bounds:
// - A member arrives when their first connection on this node opens and departs `graceMs` after
//   their last one closed (a reload or a reconnect within the grace changes nothing).
// - Changes are batched per room: at most one command per room every `batchMs` however many
//   members come and go (ids beyond PRESENCE_MAX_IDS go in further commands of the same flush).
// - While this node reports anyone in a room it renews its lease every leaseMs / 3 with a command
//   without ids; a node that dies stops renewing, and its report runs out at most leaseMs later.
// - The first report per room after this process started, and the first after a failed one, is a
//   reset carrying every member present here: it replaces whatever this node id reported before
//   (before a crash, or a report that may or may not have been applied).
// - Telemetry (metrics.ts): the gauges are counted when scraped (one walk over the rooms this node
//   holds presence in); a lapse is a report applied more than leaseMs after this node's previous
//   applied one in a room where it held members: its members looked gone in between.

import { ChorusError, type Command } from '../domain/index.ts';
import { PRESENCE_MAX_IDS } from '../domain/presence.ts';

export interface PresenceOptions {
  /** This node's id in presence reports (the store's node id, or its name). */
  readonly node: string;
  readonly graceMs: number;
  readonly leaseMs: number;
  /** How long changes gather before one command carries them (default 200 ms). */
  readonly batchMs?: number;
  readonly submit: (roomId: string, command: Extract<Command, { type: 'presence' }>) => Promise<void>;
  readonly onError?: (roomId: string, err: unknown) => void;
  /** Where the node's metrics learn what presence does (none in tests that do not look). */
  readonly telemetry?: PresenceTelemetry;
  /** The time, for lapses (default Date.now). */
  readonly now?: () => number;
}

/** What this node holds now: members present through it (connected or within the grace), streams. */
export interface PresenceCounts {
  readonly members: number;
  readonly streams: number;
}

export interface PresenceTelemetry {
  /** Called once, with what the gauges read when scraped. */
  readonly source: (read: () => PresenceCounts) => void;
  /** A presence command this node sent; `renewal` when its lease was due. */
  readonly sent: (outcome: 'applied' | 'failed', renewal: boolean) => void;
  /** This node's report in a room ran out before the next one was applied. */
  readonly lapsed: () => void;
}

interface RoomPresence {
  /** Open connections per member on this node. */
  readonly counts: Map<string, number>;
  /** Members whose last connection closed, departing when their timer fires. */
  readonly leaving: Map<string, NodeJS.Timeout>;
  /** What the room holds from this node after the last report that was applied. */
  reported: Set<string>;
  /** False until a reset was applied (and again after a failed report). */
  synced: boolean;
  dirty: boolean;
  /** The lease is due for renewal: the next flush sends a command even without changes. */
  renewDue: boolean;
  flushTimer: NodeJS.Timeout | null;
  renewTimer: NodeJS.Timeout | null;
  flushing: boolean;
  /** When this node's last report in the room was applied (null: none yet). */
  appliedAt: number | null;
}

export class PresenceTracker {
  private readonly options: PresenceOptions;
  private readonly batchMs: number;
  private readonly rooms = new Map<string, RoomPresence>();
  private readonly now: () => number;
  private stopped = false;

  constructor(options: PresenceOptions) {
    this.options = options;
    this.batchMs = options.batchMs ?? 200;
    this.now = options.now ?? Date.now;
    options.telemetry?.source(() => this.counts());
  }

  /** Members present through this node (connected or within the grace) and their open streams. */
  counts(): PresenceCounts {
    let members = 0;
    let streams = 0;
    for (const room of this.rooms.values()) {
      members += room.counts.size + room.leaving.size;
      for (const n of room.counts.values()) streams += n;
    }
    return { members, streams };
  }

  /** A live connection of `memberId` opened in `roomId`; call the answer when it closes (once). */
  connect(roomId: string, memberId: string): () => void {
    const room = this.room(roomId);
    room.counts.set(memberId, (room.counts.get(memberId) ?? 0) + 1);
    const timer = room.leaving.get(memberId);
    if (timer) {
      // Back within the grace: still reported, nothing to say.
      clearTimeout(timer);
      room.leaving.delete(memberId);
    } else if (!room.reported.has(memberId)) {
      this.schedule(roomId, room);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.disconnect(roomId, memberId);
    };
  }

  /** Ends every timer (a stopping node); the reports run out with their lease. */
  stop(): void {
    this.stopped = true;
    for (const room of this.rooms.values()) {
      for (const t of room.leaving.values()) clearTimeout(t);
      if (room.flushTimer) clearTimeout(room.flushTimer);
      if (room.renewTimer) clearInterval(room.renewTimer);
    }
    this.rooms.clear();
  }

  private disconnect(roomId: string, memberId: string): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    const left = (room.counts.get(memberId) ?? 1) - 1;
    if (left > 0) {
      room.counts.set(memberId, left);
      return;
    }
    room.counts.delete(memberId);
    const timer = setTimeout(() => {
      room.leaving.delete(memberId);
      this.schedule(roomId, room);
    }, this.options.graceMs);
    timer.unref();
    room.leaving.set(memberId, timer);
  }

  /** Members this node has here now: connected, or within the grace after. */
  private here(room: RoomPresence): Set<string> {
    return new Set([...room.counts.keys(), ...room.leaving.keys()]);
  }

  private room(roomId: string): RoomPresence {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = {
        counts: new Map(),
        leaving: new Map(),
        reported: new Set(),
        synced: false,
        dirty: false,
        renewDue: false,
        flushTimer: null,
        renewTimer: null,
        flushing: false,
        appliedAt: null,
      };
      this.rooms.set(roomId, room);
    }
    return room;
  }

  private schedule(roomId: string, room: RoomPresence, delayMs = this.batchMs): void {
    room.dirty = true;
    if (room.flushTimer || room.flushing || this.stopped) return;
    room.flushTimer = setTimeout(() => {
      room.flushTimer = null;
      void this.flush(roomId, room);
    }, delayMs);
    room.flushTimer.unref();
  }

  private async flush(roomId: string, room: RoomPresence): Promise<void> {
    if (this.stopped) return;
    room.flushing = true;
    room.dirty = false;
    const renew = room.renewDue;
    room.renewDue = false;
    const here = this.here(room);
    const reset = !room.synced;
    const arrive = [...here].filter((id) => reset || !room.reported.has(id));
    const depart = reset ? [] : [...room.reported].filter((id) => !here.has(id));
    const telemetry = this.options.telemetry;
    let ok = true;
    try {
      // Nothing to say and nothing held: no command (a reset of nothing after a restart is
      // left to the lease).
      if (arrive.length > 0 || depart.length > 0 || (reset && room.reported.size > 0) || renew) {
        const chunks = Math.max(1, Math.ceil(Math.max(arrive.length, depart.length) / PRESENCE_MAX_IDS));
        for (let i = 0; i < chunks; i++) {
          await this.options.submit(roomId, {
            type: 'presence',
            node: this.options.node,
            arrive: arrive.slice(i * PRESENCE_MAX_IDS, (i + 1) * PRESENCE_MAX_IDS),
            depart: depart.slice(i * PRESENCE_MAX_IDS, (i + 1) * PRESENCE_MAX_IDS),
            leaseMs: this.options.leaseMs,
            ...(reset && i === 0 ? { reset: true } : {}),
          });
          telemetry?.sent('applied', renew);
        }
        const at = this.now();
        // Held members, and the last applied report is older than its lease: it ran out meanwhile.
        if (room.reported.size > 0 && room.appliedAt !== null && at - room.appliedAt > this.options.leaseMs)
          telemetry?.lapsed();
        room.appliedAt = at;
      }
      room.reported = here;
      room.synced = true;
    } catch (err) {
      ok = false;
      telemetry?.sent('failed', renew);
      // Applied or not, we cannot tell: the next report is a reset with the whole set.
      room.synced = false;
      if (err instanceof ChorusError && err.code === 'NOT_FOUND') {
        this.forget(roomId, room);
        return;
      }
      this.options.onError?.(roomId, err);
    } finally {
      room.flushing = false;
    }
    if (this.stopped) return;
    if (!ok || room.dirty)
      this.schedule(roomId, room, ok ? this.batchMs : Math.min(1000, this.options.leaseMs / 3));
    this.renewal(roomId, room);
  }

  /** Renews the lease while this node reports anyone here; forgets a room it holds nothing in. */
  private renewal(roomId: string, room: RoomPresence): void {
    if (room.reported.size > 0 || room.counts.size > 0 || room.leaving.size > 0) {
      if (!room.renewTimer) {
        room.renewTimer = setInterval(() => {
          room.renewDue = true;
          this.schedule(roomId, room, 0);
        }, this.options.leaseMs / 3);
        room.renewTimer.unref();
      }
      return;
    }
    if (room.renewTimer) clearInterval(room.renewTimer);
    room.renewTimer = null;
    if (room.counts.size === 0 && room.leaving.size === 0 && !room.dirty) this.forget(roomId, room);
  }

  private forget(roomId: string, room: RoomPresence): void {
    if (room.renewTimer) clearInterval(room.renewTimer);
    if (room.flushTimer) clearTimeout(room.flushTimer);
    for (const t of room.leaving.values()) clearTimeout(t);
    if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
  }
}
