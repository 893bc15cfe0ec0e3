// The Watch stream: a room's changes, one message per room version, exactly like the SSE feed
// (sse.ts). `version` on every message is what a client passes back as `after_version` to resume:
// the store replays what came after it (or sends the whole room when that is gone), so a resumed
// watcher misses nothing and sees nothing twice. A member's own Watch ends when the room removes
// them: one `removed` message (its `version` the last one sent), then the stream ends with OK.
//
// Messages are written straight to the call's HTTP/2 stream as gRPC frames (a change's frame made
// once per version and the same Buffer written to every watcher), not through grpc-js's call: its
// object-mode stream, interceptors and per-message copy cost more than the write itself when a
// vote goes to thousands of watchers. grpc-js still sends the headers (before the first message)
// and the status (after the last one, behind what was written). Where the HTTP/2 stream cannot be
// reached (see http2StreamOf), every message goes through the call as before.

import {
  Metadata,
  type MethodDefinition,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { ChorusError, RoomEvent } from '../../domain/index.ts';
import { viewRoom, type RoomState, chorusError } from '../../domain/index.ts';
import type { RoomService, Visitor } from '../../node/service.ts';
import type { Subscription } from '../../store/types.ts';
import { changeJson } from '../event-json.ts';
import { batchByVersion, FEED_COUNTS, PerVersion, RESET_QUEUE_LIMIT, StreamSet } from '../feed.ts';
import { Heartbeat, idlePing } from '../heartbeat.ts';
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
  /** The Watch method's response encoder, as served (encodeOnce's: one encoding per message object). */
  readonly serialize: (message: pb.WatchResponse) => Buffer;
}

type WatchCall = ServerWritableStream<pb.WatchRequest__Output | MalformedRequest, pb.WatchResponse>;

/** How long a cut-off watcher has to read its backlog and its status before its stream is reset. */
const CUT_OFF_GRACE_MS = 5000;

/**
 * The HTTP/2 stream under a grpc-js server call, or null. grpc-js has no public way to it: its call
 * keeps it as `call.call.stream` (grpc-js 1.14, a server without interceptors).
 */
function http2StreamOf(call: WatchCall): ServerHttp2Stream | null {
  const stream = (call as unknown as { call?: { stream?: unknown } }).call?.stream;
  return stream !== null && typeof stream === 'object' && 'respond' in stream
    ? (stream as ServerHttp2Stream)
    : null;
}

/**
 * Resets `call`'s HTTP/2 stream (RST_STREAM CANCEL) unless it closes within `graceMs` (its client
 * read everything, status included), and drops what it still buffers. Without the HTTP/2 stream
 * (http2StreamOf), the call finishing is what counts, and it is only destroyed on our side.
 */
function dropAfterGrace(call: WatchCall, graceMs: number): void {
  const stream = http2StreamOf(call);
  const timer = setTimeout(() => {
    if (stream && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    call.destroy();
  }, graceMs);
  timer.unref();
  const done = (): void => clearTimeout(timer);
  if (stream) {
    // grpc-js's call finishes as soon as its own (empty) buffer is: what waits is in the HTTP/2 stream.
    if (stream.closed) done();
    else stream.once('close', done);
  } else {
    call.once('finish', done);
  }
  call.once('cancelled', done);
}

/** A gRPC message frame: not compressed (0), the length (4 bytes, big-endian), the message. */
function grpcFrame(encoded: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + encoded.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(encoded.length, 1);
  encoded.copy(frame, 5);
  return frame;
}

interface ChangeMessage {
  readonly message: pb.WatchResponse;
  /** Its size by its JSON (cached per event): the budget's estimate where the frame is not made. */
  readonly bytes: number;
  /** Its gRPC frame, made by the first watcher written to directly. */
  frame: Buffer | null;
}

/**
 * A change's message, made once per version and written to every watcher: as the same frame
 * (direct writes), or as the same object, which grpc-js encodes once (encodeOnce).
 */
const CHANGE_MESSAGES = new PerVersion<ChangeMessage>();

function changeMessage(version: number, events: readonly RoomEvent[]): ChangeMessage {
  return CHANGE_MESSAGES.get(events, () => ({
    message: { version, change: { events: events.map(toPbEvent) } },
    bytes: changeJson(version, events).length,
    frame: null,
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
  /** One timer sends every stream its heartbeat message, not one timer per stream. */
  private readonly heartbeat: Heartbeat;

  constructor(options: WatchOptions) {
    this.options = options;
    this.heartbeat = new Heartbeat(options.heartbeatMs);
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
    const serialize = this.options.serialize;
    // Where messages are written: the HTTP/2 stream itself, or (null) grpc-js's call.
    const direct = http2StreamOf(call);
    let headersSent = false;
    // Through the call: bytes handed to it and not yet taken by the transport, estimated by each
    // message's JSON (cached per event, so this costs little). Directly: the HTTP/2 stream's own count.
    let waiting = 0;
    let sent = afterVersion ?? 0;
    let closed = false;
    let subscription: Subscription | null = null;
    // The watcher counts as present (a member's token) while the stream is open.
    let leave = (): void => {};

    const close = (why?: ChorusError): void => {
      if (closed) return;
      closed = true;
      leave();
      this.heartbeat.delete(beat.ping);
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
    /** `frame`: the message's gRPC frame when it is already made (a change's, shared). */
    const write = (message: pb.WatchResponse, bytes: number, frame: Buffer | null = null): void => {
      if (closed) return;
      sent = Math.max(sent, Number(message.version));
      if (direct !== null) {
        // grpc-js ends the HTTP/2 stream itself when the client's deadline passes, before its
        // 'cancelled' reaches close(): a write then would reset the stream instead of its status.
        if (direct.destroyed || direct.writableEnded || direct.closed) return close();
        if (!headersSent) {
          headersSent = true;
          call.sendMetadata(new Metadata());
        }
        direct.write(frame ?? grpcFrame(serialize(message)));
        if (!account.update(direct.writableLength)) close(chorusError('WATCHER_BEHIND', { version: sent }));
        return;
      }
      waiting += bytes;
      call.write(message, () => {
        waiting -= bytes;
        account.update(waiting);
      });
      if (!account.update(waiting) || call.writableLength > this.options.maxBufferedMessages) {
        close(chorusError('WATCHER_BEHIND', { version: sent }));
      }
    };
    direct?.on('drain', () => void account.update(direct.writableLength));
    const beat = idlePing(() => write({ version: sent, heartbeat: {} }, 16));
    const sendReset = (state: RoomState): void => {
      const room = viewRoom(state, { now: Date.now(), viewer: who.memberId, limit: RESET_QUEUE_LIMIT });
      write({ version: state.version, reset: toPbRoom(room) }, JSON.stringify(room).length);
    };

    const onItem = batchByVersion({
      change: (version, events) => {
        beat.busy();
        FEED_COUNTS.grpc.sent++;
        const change = changeMessage(version, events);
        if (direct !== null && change.frame === null) {
          FEED_COUNTS.grpc.framed++;
          change.frame = grpcFrame(serialize(change.message));
        }
        write(change.message, change.bytes, change.frame);
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
    this.heartbeat.add(beat.ping);
  }
}
