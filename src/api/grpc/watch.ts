// The Watch stream: a room's changes, one message per room version, exactly like the SSE feed
// (sse.ts). `version` on every message is what a client passes back as `after_version` to resume:
// the store replays what came after it (or sends the whole room when that is gone), so a resumed
// watcher misses nothing and sees nothing twice. A member's own Watch ends when the room removes
// them: one `removed` message (its `version` the last one sent), then the stream ends with OK.

import type { MethodDefinition, ServerWritableStream, ServiceDefinition } from '@grpc/grpc-js';
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { ChorusError, RoomEvent } from '../../domain/index.ts';
import { viewRoom, type RoomState, chorusError } from '../../domain/index.ts';
import type { RoomService, Visitor } from '../../node/service.ts';
import type { Subscription } from '../../store/types.ts';
import { changeJson } from '../event-json.ts';
import { batchByVersion, FEED_COUNTS, PerVersion, RESET_QUEUE_LIMIT, StreamSet } from '../feed.ts';
import type { StreamAccount, StreamBudget } from '../stream-budget.ts';
import { failStream, type MalformedRequest } from './call.ts';
import { toPbEvent } from './convert-events.ts';
import { toPbRoom } from './convert.ts';
import type { ErrorLogger } from './errors.ts';
import type * as pb from './generated/chorus/v1/index.ts';

export interface WatchOptions {
  /** An idle stream gets a heartbeat this often, so proxies do not cut it. */
  readonly heartbeatMs: number;
  /** A watcher that lets this many messages pile up unread is cut off (it resumes by itself). */
  readonly maxBufferedMessages: number;
  /** What a stream may keep waiting for its client, in bytes (shared with SSE). */
  readonly budget: StreamBudget;
  readonly logger: ErrorLogger;
}

type WatchCall = ServerWritableStream<pb.WatchRequest__Output | MalformedRequest, pb.WatchResponse>;

/** How long a cut-off watcher has to read its backlog and its status before its stream is reset. */
const CUT_OFF_GRACE_MS = 5000;

/**
 * Resets `call`'s HTTP/2 stream (RST_STREAM CANCEL) unless it finishes within `graceMs`, and drops
 * what it still buffers. grpc-js has no public way to reset a server stream: its call keeps the
 * HTTP/2 stream as `call.call.stream` (grpc-js 1.14, no interceptors); without it, the stream is
 * only destroyed on our side.
 */
function dropAfterGrace(call: WatchCall, graceMs: number): void {
  const timer = setTimeout(() => {
    const stream = (call as unknown as { call?: { stream?: ServerHttp2Stream } }).call?.stream;
    if (stream && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    call.destroy();
  }, graceMs);
  timer.unref();
  const done = (): void => clearTimeout(timer);
  call.once('finish', done);
  call.once('cancelled', done);
}

/**
 * A change's message, made once per version and written as the same object to every watcher, with
 * its size (by its JSON, cached per event) for the stream budget.
 */
const CHANGE_MESSAGES = new PerVersion<{ message: pb.WatchResponse; bytes: number }>();

function changeMessage(version: number, events: readonly RoomEvent[]) {
  return CHANGE_MESSAGES.get(events, () => ({
    message: { version, change: { events: events.map(toPbEvent) } },
    bytes: changeJson(version, events).length,
  }));
}

/**
 * The service definition with each server-streaming method's encoder remembering what it encoded
 * last for each message object: a change message written to every watcher of a room is encoded
 * once, not once per watcher (grpc-js asks the encoder on every write).
 */
export function encodeOnce(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    if (!method.responseStream) {
      out[name] = method;
      continue;
    }
    const encode = method.responseSerialize;
    const encoded = new WeakMap<object, Buffer>();
    out[name] = {
      ...method,
      responseSerialize: (message: unknown): Buffer => {
        if (typeof message !== 'object' || message === null) return encode(message);
        let bytes = encoded.get(message);
        if (bytes === undefined) {
          bytes = encode(message);
          encoded.set(message, bytes);
          if ('change' in message && message.change) FEED_COUNTS.grpc.encoded++;
        }
        return bytes;
      },
    };
  }
  return out;
}

export class WatchHub {
  private readonly open = new StreamSet<ChorusError | undefined>();
  private readonly options: WatchOptions;

  constructor(options: WatchOptions) {
    this.options = options;
  }

  get connections(): number {
    return this.open.connections;
  }

  /** Ends every stream with UNAVAILABLE (graceful stop: watchers resume on another node). */
  closeAll(): void {
    const why = chorusError('NODE_STOPPING');
    this.open.closeAll(why);
  }

  /** Streams until the caller goes away, its deadline passes, or the node stops. */
  async stream(
    service: RoomService,
    roomId: string,
    afterVersion: number | null,
    who: Visitor,
    call: WatchCall,
  ): Promise<void> {
    // Refused with RESOURCE_EXHAUSTED before anything is sent when the node has all the streams it takes.
    const account: StreamAccount = this.options.budget.account();
    // Bytes handed to the stream and not yet taken by the transport: what an unread stream holds.
    // A message's size is estimated by its JSON (cached per event, so this costs little).
    let waiting = 0;
    let sent = afterVersion ?? 0;
    let closed = false;
    let subscription: Subscription | null = null;
    let heartbeat: NodeJS.Timeout | null = null;
    // The watcher counts as present (a member's token) while the stream is open.
    let leave = (): void => {};

    const close = (why?: ChorusError): void => {
      if (closed) return;
      closed = true;
      leave();
      if (heartbeat) clearInterval(heartbeat);
      subscription?.close();
      account.close();
      this.open.delete(close);
      if (call.cancelled) return;
      if (why) failStream(call, why, this.options.logger, 'chorus.v1.RoomService/Watch');
      else if (!call.writableEnded) call.end();
      // The status waits behind what the watcher has not read: a slow reader gets it, a client that
      // stopped reading never would, and its stream would hold that backlog until the connection
      // closes. Unless the stream has finished within the grace, it is reset and its backlog dropped.
      if (why?.reason === 'WATCHER_BEHIND') dropAfterGrace(call, CUT_OFF_GRACE_MS);
    };
    const write = (message: pb.WatchResponse, bytes: number): void => {
      if (closed) return;
      waiting += bytes;
      call.write(message, () => {
        waiting -= bytes;
        account.update(waiting);
      });
      sent = Math.max(sent, Number(message.version));
      if (!account.update(waiting) || call.writableLength > this.options.maxBufferedMessages) {
        close(chorusError('WATCHER_BEHIND', { version: sent }));
      }
    };
    const sendReset = (state: RoomState): void => {
      const room = viewRoom(state, { now: Date.now(), viewer: who.memberId, limit: RESET_QUEUE_LIMIT });
      write({ version: state.version, reset: toPbRoom(room) }, JSON.stringify(room).length);
    };

    const onItem = batchByVersion({
      change: (version, events) => {
        FEED_COUNTS.grpc.sent++;
        const { message, bytes } = changeMessage(version, events);
        write(message, bytes);
      },
      reset: sendReset,
      removed: ({ memberId, banned }) => {
        write({ version: sent, removed: { memberId, banned } }, 64);
        close();
      },
    });

    this.open.add(close);
    call.on('cancelled', () => close());
    call.on('close', () => close());
    try {
      let from = afterVersion;
      if (from === null) {
        // Fails with NOT_FOUND before anything is sent.
        const state = await service.enter(roomId, who);
        sendReset(state);
        from = state.version;
      }
      subscription = await service.subscribe(roomId, from, onItem, who);
    } catch (err) {
      // The caller hears the error from serverStream(); only the account is left to release.
      closed = true;
      account.close();
      this.open.delete(close);
      throw err;
    }
    // The caller may have gone (or the node begun stopping) while the subscription was being made.
    if (closed) {
      subscription.close();
      return;
    }
    leave = service.connected(roomId, who.memberId);
    heartbeat = setInterval(() => write({ version: sent, heartbeat: {} }, 16), this.options.heartbeatMs);
    heartbeat.unref();
  }
}
