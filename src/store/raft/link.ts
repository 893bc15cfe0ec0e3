// One peer's outbound link (after etcd rafthttp's stream writer): a long-lived client stream
// (`chorus.raft.v1.Raft/Stream`) that carries every core message to that peer, in order, batched,
// with no call per message and no wait for an answer (answers come back on the peer's own link).
// Clients' commands forwarded to the leader, and the leader's answers to them, ride the same
// batches (forwarding.ts).
//
// Invariants:
// - Messages leave in the order the core produced them (one stream, written in order).
// - Bounded: while the stream pushes back (HTTP/2 flow control: `write()` returned false) messages
//   wait in a queue of at most MAX_QUEUED, the oldest dropped first (Raft retransmits what is lost;
//   the core's own flow control bounds appends in flight per peer; a forward whose answer never
//   comes runs out of time at its sender).
// - A broken stream drops what it carried and what waits, reports the peer unreachable (the core
//   then probes it, and a follower that loses its leader campaigns sooner), and the link reopens
//   after a back-off (50 ms doubling to 1 s, reset by a stream that lived a second); grpc-js
//   reconnects the channel itself.
// - The stream is authenticated once, when opened (the `chorus-peer-auth` metadata); the server
//   checks every batch's sender against it. Its metadata also says whether this node answers
//   forwards sent on the link back (forwarding.ts, FORWARDS_KEY).

import { connectivityState, type ClientWritableStream } from '@grpc/grpc-js';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import { authMetadata } from './auth.ts';
import { FORWARDS_KEY } from './forwarding.ts';
import { dataText } from './storage.ts';
import type { Message, NodeId } from './types.ts';
import { toWire } from './wire.ts';

/** What a link carries: core messages, forwarded commands, answers to them. */
export type Outgoing =
  | { readonly message: Message }
  | { readonly forward: { readonly id: number; readonly command: string } }
  | { readonly answer: pb.ForwardAnswer };

/** A link holds at most this many items while its stream pushes back or it backs off. */
const MAX_QUEUED = 4096;
/** Payload bytes per batch written to the stream (one message at least). */
const MAX_BATCH_BYTES = 512 * 1024;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1000;
/** A stream that lived this long before breaking starts the back-off again from its minimum. */
const HEALTHY_MS = 1000;

export interface Peer {
  readonly id: NodeId;
  readonly address: string;
}

export interface LinkOwner {
  readonly id: NodeId;
  readonly secret: string;
  /** This node proposes the forwards its peers send on their links, and answers them on its own. */
  readonly takesForwards: boolean;
  /** The stream to `to` broke: what it carried may be lost (or was never sent: `sentNothing`). */
  unreachable(to: NodeId, sentNothing: boolean): void;
}

export class PeerLink {
  readonly peer: Peer;
  readonly client: pb.RaftClient;
  private readonly owner: LinkOwner;
  private queue: Outgoing[] = [];
  private stream: ClientWritableStream<pb.MessageBatch> | null = null;
  private openedAt = 0;
  /** The stream's buffer is full: wait for 'drain'. */
  private blocked = false;
  private backoff: NodeJS.Timeout | null = null;
  /** A flush is scheduled for this turn's end (pushLater). */
  private later = false;
  private failures = 0;
  private closed = false;

  constructor(peer: Peer, client: pb.RaftClient, owner: LinkOwner) {
    this.peer = peer;
    this.client = client;
    this.owner = owner;
  }

  push(messages: readonly Message[]): void {
    this.pushItems(messages.map((message) => ({ message })));
  }

  pushItems(items: readonly Outgoing[]): void {
    this.enqueue(items);
    this.flush();
  }

  /**
   * Queues an item to leave at the end of this event-loop turn (or sooner, with the core's next
   * messages): the forwards or answers of one turn share one batch.
   */
  pushLater(item: Outgoing): void {
    this.enqueue([item]);
    if (this.later || this.closed) return;
    this.later = true;
    setImmediate(() => {
      this.later = false;
      this.flush();
    });
  }

  private enqueue(items: readonly Outgoing[]): void {
    if (this.closed) return;
    for (const item of items) this.queue.push(item);
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    if (this.backoff) clearTimeout(this.backoff);
    const stream = this.stream;
    this.stream = null;
    stream?.end();
    this.client.close();
  }

  private flush(): void {
    if (this.closed || this.blocked || this.backoff !== null) return;
    while (this.queue.length > 0) {
      const stream = this.stream ?? this.open();
      const ok = stream.write(this.takeBatch());
      if (!ok) {
        this.blocked = true;
        stream.once('drain', () => {
          if (stream !== this.stream) return;
          this.blocked = false;
          this.flush();
        });
        return;
      }
    }
  }

  private open(): ClientWritableStream<pb.MessageBatch> {
    const md = authMetadata(this.owner.secret, this.owner.id);
    if (this.owner.takesForwards) md.set(FORWARDS_KEY, '1');
    const stream = this.client.Stream(md, (err) => {
      // grpc-js fails a call whose connection never opened so: nothing it carried left this node.
      const neverSent = err !== null && /No connection established/.test(err.details);
      this.broken(stream, err !== null, neverSent);
    });
    this.stream = stream;
    this.openedAt = Date.now();
    this.endOnGoaway(stream);
    return stream;
  }

  /**
   * A peer shutting down gracefully (its gRPC server's tryShutdown) sends GOAWAY and then waits for
   * every open call to end, ours too: when the channel goes from READY to anything else, this stream is ended, so the
   * peer can close (and the next message opens a new stream wherever the peer is then).
   */
  private endOnGoaway(stream: ClientWritableStream<pb.MessageBatch>): void {
    const channel = this.client.getChannel();
    const watch = (seen: connectivityState): void => {
      channel.watchConnectivityState(seen, Infinity, () => {
        if (stream !== this.stream) return;
        const now = channel.getConnectivityState(false);
        // Only a connection that was up and went away: while connecting, the call waits on its own.
        if (seen === connectivityState.READY && now !== connectivityState.READY) stream.end();
        else if (now !== connectivityState.SHUTDOWN) watch(now);
      });
    };
    watch(channel.getConnectivityState(false));
  }

  /** The stream ended (with an error or not): forget it, and back off before the next one. */
  private broken(stream: ClientWritableStream<pb.MessageBatch>, failed: boolean, neverSent: boolean): void {
    if (stream !== this.stream || this.closed) return;
    this.stream = null;
    this.blocked = false;
    this.queue = [];
    this.failures = Date.now() - this.openedAt >= HEALTHY_MS ? 1 : this.failures + 1;
    if (failed) this.owner.unreachable(this.peer.id, neverSent);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.failures - 1));
    this.backoff = setTimeout(() => {
      this.backoff = null;
      this.flush();
    }, delay);
    this.backoff.unref();
  }

  /** The queued items that fit in one batch of MAX_BATCH_BYTES (one at least), on the wire. */
  private takeBatch(): pb.MessageBatch {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length) {
      const item = this.queue[n]!;
      if ('message' in item) for (const e of item.message.entries) bytes += dataText(e.data).length;
      else if ('forward' in item) bytes += item.forward.command.length;
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      n++;
    }
    const messages: pb.Message[] = [];
    const forwards: pb.Forward[] = [];
    const answers: pb.ForwardAnswer[] = [];
    for (const item of this.queue.splice(0, n)) {
      if ('message' in item) messages.push(toWire(item.message));
      else if ('forward' in item) forwards.push(item.forward);
      else answers.push(item.answer);
    }
    return { messages, forwards, answers };
  }
}
