// What SSE (rest/sse.ts) and gRPC Watch (grpc/watch.ts) share: the set of open streams a stopping
// node ends, the queue window a reset carries, and the batching of a room's feed into one message
// per room version. The transports only frame and write.
//
// A change is made into a message once per room version and node, however many streams send it:
// every subscriber of a room receives the same event objects from the store (RoomReplica), so the
// message is cached by the version's first event (PerVersion). What each stream then does alone
// is frame-free: SSE writes the same bytes to every socket, gRPC the same frame to every HTTP/2
// stream (or, through grpc-js, the same message object, whose encoding grpc-js asks for once:
// grpc/watch.ts, encodeOnce). FEED_COUNTS says how many messages were made
// and how many sent, so a test and /metrics can see that the cost does not grow with subscribers.
//
// Invariants: a store delivers the events of one command one by one but synchronously, so a
// microtask after the first of them sees them all; every event of a version goes out in one
// message, in order; a reset first sends whatever change was gathered before it, so a client never
// sees a version after the state that already contains it.

import type { RoomEvent, RoomState } from '../domain/index.ts';
import type { RemovedItem, StreamItem } from '../node/service.ts';
import { PAGE_LIMITS } from './page-limits.ts';

/** The queue window a reset carries: a room view's default page. */
export const RESET_QUEUE_LIMIT = PAGE_LIMITS.queue.fallback;

/** The open streams of one transport on this node; a stopping node closes them all. */
export class StreamSet<Why = void> {
  private readonly open = new Set<(why: Why) => void>();

  get connections(): number {
    return this.open.size;
  }

  add(close: (why: Why) => void): void {
    this.open.add(close);
  }

  delete(close: (why: Why) => void): void {
    this.open.delete(close);
  }

  /** Ends every stream (graceful stop: clients reconnect to another node and resume). */
  closeAll(why: Why): void {
    for (const close of [...this.open]) close(why);
  }
}

/**
 * Messages made (encoded) and sent, per transport, in this process; for gRPC also the change frames
 * made for writing straight to the HTTP/2 streams (grpc/watch.ts), once per version too.
 */
export const FEED_COUNTS = {
  sse: { encoded: 0, sent: 0 },
  grpc: { encoded: 0, sent: 0, framed: 0 },
};

/**
 * One value per room version, made by the first stream that needs it and shared by the rest. Keyed
 * weakly by the version's first event (so it lives as long as the room keeps that event), and
 * checked against the last one and the count: a stream always receives a version's events whole
 * (batchByVersion), but a stale or foreign batch must never be answered from the cache.
 */
export class PerVersion<T> {
  private readonly made = new WeakMap<RoomEvent, { last: RoomEvent; count: number; value: T }>();

  get(events: readonly RoomEvent[], make: () => T): T {
    const first = events[0]!;
    const last = events[events.length - 1]!;
    const hit = this.made.get(first);
    if (hit && hit.last === last && hit.count === events.length) return hit.value;
    const value = make();
    this.made.set(first, { last, count: events.length, value });
    return value;
  }
}

export interface FeedWriter {
  /** One room version's events, in order, never empty. */
  change(version: number, events: readonly RoomEvent[]): void;
  /** The whole room: the client's version is too old to replay from, or the stream starts. */
  reset(state: RoomState): void;
  /** The room removed the member whose stream this is: the last message (then the stream closes). */
  removed(item: RemovedItem): void;
}

/**
 * A feed callback that writes one message per room version (see the invariants above). A removal
 * goes out after whatever change was gathered before it, like a reset.
 */
export function batchByVersion(writer: FeedWriter): (item: StreamItem) => void {
  let batch: RoomEvent[] = [];
  const flush = (): void => {
    const events = batch;
    batch = [];
    let i = 0;
    while (i < events.length) {
      const version = events[i]!.version;
      const from = i;
      while (i < events.length && events[i]!.version === version) i++;
      writer.change(version, events.slice(from, i));
    }
  };
  return (item) => {
    if (item.kind === 'reset') {
      flush();
      writer.reset(item.state);
      return;
    }
    if (item.kind === 'removed') {
      flush();
      writer.removed(item);
      return;
    }
    if (batch.length === 0) queueMicrotask(flush);
    batch.push(item.event);
  };
}
