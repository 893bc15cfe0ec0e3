// What SSE (rest/sse.ts) and gRPC Watch (grpc/watch.ts) share: the set of open streams a stopping
// node ends, the queue window a reset carries, and the batching of a room's feed into one message
// per room version. The transports only frame and write.
//
// Invariants: a store delivers the events of one command one by one but synchronously, so a
// microtask after the first of them sees them all; every event of a version goes out in one
// message, in order; a reset first sends whatever change was gathered before it, so a client never
// sees a version after the state that already contains it.

import type { RoomEvent, RoomState } from '../domain/index.ts';
import type { FeedItem } from '../store/types.ts';
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

export interface FeedWriter {
  /** One room version's events, in order, never empty. */
  change(version: number, events: readonly RoomEvent[]): void;
  /** The whole room: the client's version is too old to replay from, or the stream starts. */
  reset(state: RoomState): void;
}

/** A store feed callback that writes one message per room version (see the invariants above). */
export function batchByVersion(writer: FeedWriter): (item: FeedItem) => void {
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
    if (batch.length === 0) queueMicrotask(flush);
    batch.push(item.event);
  };
}
