// What live streams (SSE and gRPC Watch) may hold in this node's memory. A subscriber that stops
// reading keeps receiving changes, and everything written to it waits in the process until the
// client reads: without a bound, enough never-read streams exhaust the heap. Each stream has a cap
// of its own, and all streams together share one node-wide budget; a stream over either is cut off
// (its client resumes from its last version, as after any disconnect). The number of open streams
// is capped too. Both transports account here, so one budget holds whatever mix of them is open.

import { chorusError } from '../domain/index.ts';

export interface StreamLimits {
  /** Bytes one stream may have waiting for its client. */
  readonly perStreamBytes: number;
  /** Bytes all streams together may have waiting. */
  readonly totalBytes: number;
  /** Streams open at once on this node. */
  readonly maxStreams: number;
}

export const STREAM_LIMITS: StreamLimits = {
  perStreamBytes: 1024 * 1024,
  totalBytes: 64 * 1024 * 1024,
  maxStreams: 10_000,
};

/**
 * A stream whose own backlog is below this is never blamed for the node-wide budget: the budget is
 * spent by the streams that do not read, and those are the ones cut.
 */
const INNOCENT_BYTES = 64 * 1024;

/** One stream's account: what it has waiting, as the transport reports it. */
export interface StreamAccount {
  /** Records the stream's backlog now; returns false when the stream must be cut off. */
  update(waitingBytes: number): boolean;
  /** The stream ended: its backlog is released. Idempotent. */
  close(): void;
}

export class StreamBudget {
  readonly limits: StreamLimits;
  private streams = 0;
  private waiting = 0;

  constructor(limits: Partial<StreamLimits> = {}) {
    this.limits = { ...STREAM_LIMITS, ...limits };
  }

  get open(): number {
    return this.streams;
  }

  /** Bytes waiting in all streams now. */
  get waitingBytes(): number {
    return this.waiting;
  }

  /** Opens an account, or refuses with RESOURCE_EXHAUSTED when the node has all the streams it takes. */
  account(): StreamAccount {
    if (this.streams >= this.limits.maxStreams) {
      throw chorusError('STREAMS_FULL', { maxStreams: this.limits.maxStreams });
    }
    this.streams++;
    let mine = 0;
    let closed = false;
    return {
      update: (waitingBytes) => {
        if (closed) return false;
        this.waiting += waitingBytes - mine;
        mine = waitingBytes;
        if (mine > this.limits.perStreamBytes) return false;
        return !(this.waiting > this.limits.totalBytes && mine > INNOCENT_BYTES);
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.waiting -= mine;
        mine = 0;
        this.streams--;
      },
    };
  }
}
