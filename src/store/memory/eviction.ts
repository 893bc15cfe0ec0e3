// Idle rooms of the embedded store leave memory (issue 21 item 3). The rules of when a room may go
// and how it comes back are in src/store/room-evictor.ts and LocalRooms.evictQuiet; this is the
// store's side: a sweep every so often, never while a snapshot is being written (a room evicted
// into the file a new snapshot is about to replace would lose its place), never for a room with a
// command in flight, and the metrics.

import type { MetricSpec, StoreTelemetry } from '../telemetry.ts';
import type { LocalRooms } from '../room-table.ts';

export const MEMORY_METRICS: readonly MetricSpec[] = [
  {
    name: 'chorus_memory_rooms_evicted',
    help: 'Rooms of the embedded store evicted from memory',
    kind: 'gauge',
  },
  { name: 'chorus_memory_rooms_loaded', help: 'Rooms of the embedded store held in memory', kind: 'gauge' },
  { name: 'chorus_memory_evictions_total', help: 'Idle rooms evicted from memory', kind: 'counter' },
  { name: 'chorus_memory_reloads_total', help: 'Evicted rooms reloaded from the snapshot', kind: 'counter' },
  {
    name: 'chorus_memory_heap_bytes_per_loaded_room',
    help: 'V8 heap in use divided by the rooms held in memory (an upper bound: the heap holds more than rooms)',
    kind: 'gauge',
  },
];

/** Longest pause between two sweeps. */
const MAX_SWEEP_EVERY_MS = 30_000;

export interface EvictionOptions {
  readonly rooms: LocalRooms;
  /** Quiet time before a room may leave memory; 0: never evict. */
  readonly idleMs: number;
  readonly telemetry: StoreTelemetry;
  /** A snapshot is being written (no eviction meanwhile). */
  readonly snapshotting: () => boolean;
  /** A command of this room is submitted and not yet answered. */
  readonly inFlight: (roomId: string) => boolean;
}

export class IdleEviction {
  private readonly opts: EvictionOptions;
  private timer: NodeJS.Timeout | null = null;
  private reported = { evictions: 0, reloads: 0 };

  constructor(options: EvictionOptions) {
    this.opts = options;
  }

  start(): void {
    // Never evicting (0), the timer only reports the gauges: at the slowest pace, not every 10 ms.
    const { idleMs } = this.opts;
    const every = idleMs === 0 ? MAX_SWEEP_EVERY_MS : Math.min(Math.max(idleMs / 4, 10), MAX_SWEEP_EVERY_MS);
    this.timer ??= setInterval(() => void this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Evicts what may go now (quiet for `idleMs`: the option unless given); how many rooms went. */
  sweep(idleMs?: number): number {
    const { rooms } = this.opts;
    let evicted = 0;
    if ((idleMs !== undefined || this.opts.idleMs > 0) && !this.opts.snapshotting()) {
      const quiet = idleMs ?? this.opts.idleMs;
      evicted = rooms.evictQuiet(quiet, (room) => this.opts.inFlight(room.id));
    }
    this.report();
    return evicted;
  }

  private report(): void {
    const { rooms, telemetry } = this.opts;
    const { evictor } = rooms;
    telemetry.set('chorus_memory_rooms_evicted', evictor.size);
    telemetry.set('chorus_memory_rooms_loaded', rooms.roomCount);
    telemetry.count('chorus_memory_evictions_total', undefined, evictor.evictions - this.reported.evictions);
    telemetry.count('chorus_memory_reloads_total', undefined, evictor.reloads - this.reported.reloads);
    this.reported = { evictions: evictor.evictions, reloads: evictor.reloads };
    const loaded = rooms.roomCount;
    if (loaded > 0) {
      telemetry.set('chorus_memory_heap_bytes_per_loaded_room', process.memoryUsage().heapUsed / loaded);
    }
  }
}
