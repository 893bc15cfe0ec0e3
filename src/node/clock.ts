// The playback clock (docs/architecture.md section 2): the server owns time. Every node looks at the rooms it
// holds and, when a track has run out, proposes `advance(expected = that entry, 'finished')`. The
// advance is conditional, so when several nodes propose it, exactly one takes effect and the rest
// are no-ops; no leader is needed.

import { playingEndsAt } from '../domain/index.ts';
import type { Store } from '../store/types.ts';
import type { RoomService } from './service.ts';

export interface ClockOptions {
  readonly store: Store;
  readonly service: RoomService;
  readonly intervalMs: number;
  readonly now?: () => number;
  readonly onAdvance?: () => void;
  readonly onError?: (roomId: string, err: unknown) => void;
}

export class PlaybackClock {
  private readonly options: ClockOptions;
  private timer: NodeJS.Timeout | null = null;
  /** room -> entry this node already proposed to finish (one proposal per track per node). */
  private readonly proposed = new Map<string, string>();
  private ticking = false;

  constructor(options: ClockOptions) {
    this.options = options;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass over the loaded rooms. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = (this.options.now ?? Date.now)();
      const due: Promise<void>[] = [];
      for (const roomId of this.options.store.loadedRooms()) {
        due.push(this.check(roomId, now));
      }
      await Promise.all(due);
    } finally {
      this.ticking = false;
    }
  }

  private async check(roomId: string, now: number): Promise<void> {
    try {
      const state = await this.options.store.read(roomId, 0, 1);
      const endsAt = state ? playingEndsAt(state) : null;
      const entryId = state?.nowPlaying?.entry.entryId;
      if (endsAt === null || entryId === undefined || now < endsAt) {
        this.proposed.delete(roomId);
        return;
      }
      if (this.proposed.get(roomId) === entryId) return;
      this.proposed.set(roomId, entryId);
      await this.options.service.finish(roomId, entryId);
      this.options.onAdvance?.();
    } catch (err) {
      // Store unavailable and the like: forget the proposal so the next tick tries again.
      this.proposed.delete(roomId);
      this.options.onError?.(roomId, err);
    }
  }
}
