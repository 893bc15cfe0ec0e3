// Server-Sent Events for one room. One SSE message per room version: `id` is the version, so a
// browser's automatic Last-Event-ID resume continues exactly after the last whole change it saw.
// `event: change` carries that version's domain events; `event: reset` carries the whole room
// (sent first on a fresh connection, and whenever the events since the client's version are gone).
// `event: removed` (no id: the version it names was not sent) ends a member's own stream when the
// room removes them: `{version, memberId, banned}`; then the server closes the stream.

import type { FastifyReply } from 'fastify';
import { viewRoom, type RoomEvent, type RoomState } from '../../domain/index.ts';
import type { RoomService, Visitor } from '../../node/service.ts';
import type { Subscription } from '../../store/types.ts';
import { changeJson } from '../event-json.ts';
import { batchByVersion, FEED_COUNTS, PerVersion, RESET_QUEUE_LIMIT, StreamSet } from '../feed.ts';
import { Heartbeat, idlePing } from '../heartbeat.ts';
import type { StreamBudget } from '../stream-budget.ts';

export interface SseOptions {
  readonly heartbeatMs: number;
  /** What a stream may keep waiting for its client (shared with gRPC Watch); over it, it is cut off. */
  readonly budget: StreamBudget;
}

/**
 * One SSE message as bytes, both bare and as an HTTP/1.1 chunk (`<length in hex>\r\n…\r\n`, what
 * a response of unknown length is sent as): a stream writes the bytes straight to its socket, so
 * the same Buffer goes to every socket, framed once.
 */
interface Frame {
  readonly plain: Buffer;
  readonly chunk: Buffer;
}

function frame(text: string): Frame {
  const plain = Buffer.from(text);
  return { plain, chunk: Buffer.concat([Buffer.from(`${plain.length.toString(16)}\r\n`), plain, CRLF]) };
}

const CRLF = Buffer.from('\r\n');
const RETRY = frame('retry: 2000\n\n');
const PING = frame(': ping\n\n');

/**
 * A change's whole SSE message, made once per version for every stream of the node, as bytes: a
 * string would be encoded to UTF-8 again on every socket it is written to.
 */
const CHANGE_FRAMES = new PerVersion<Frame>();

function changeFrame(version: number, events: readonly RoomEvent[]): Frame {
  return CHANGE_FRAMES.get(events, () => {
    FEED_COUNTS.sse.encoded++;
    return frame(`id: ${version}\nevent: change\ndata: ${changeJson(version, events)}\n\n`);
  });
}

export class SseHub {
  private readonly open = new StreamSet();
  private readonly options: SseOptions;
  /** One timer pings every idle stream (a comment line), not one timer per stream. */
  private readonly heartbeat: Heartbeat;

  constructor(options: SseOptions) {
    this.options = options;
    this.heartbeat = new Heartbeat(options.heartbeatMs);
  }

  get connections(): number {
    return this.open.connections;
  }

  /** Ends every stream (graceful stop: clients reconnect to another node and resume). */
  closeAll(): void {
    this.open.closeAll();
  }

  async stream(
    service: RoomService,
    roomId: string,
    afterVersion: number | null,
    reply: FastifyReply,
    /** Who streams: a member (present while the stream is open) or a visitor with the room's invite. */
    who: Visitor,
  ): Promise<void> {
    // Fails with NOT_FOUND (or RESOURCE_EXHAUSTED) before anything is sent, so the error handler
    // still answers in JSON.
    const state = await service.enter(roomId, who);
    const account = this.options.budget.account();
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.flushHeaders();
    // Messages go straight to the socket (one write of a shared Buffer, no per-write work of the
    // response object), framed as the response is (chunked or not), which is safe as long as the
    // response holds nothing back itself: it would behind an unfinished earlier response on the
    // same connection (pipelining), and then every message goes through the response instead.
    const socket = raw.socket;
    const direct = socket !== null && raw.writableLength === socket.writableLength;
    const chunked = raw.chunkedEncoding;

    const onDrain = (): void => void account.update(raw.writableLength);
    let closed = false;
    let subscription: Subscription | null = null;
    let leave = (): void => {};
    // `cut`: the client stopped reading. Its backlog is dropped with the socket (end() would keep
    // it until the client read it, i.e. for as long as the client likes).
    const finish = (cut: boolean): void => {
      if (closed) return;
      closed = true;
      leave();
      this.heartbeat.delete(beat.ping);
      subscription?.close();
      account.close();
      this.open.delete(close);
      // The socket outlives this response (keep-alive): its listener must not.
      (direct ? socket : raw).off('drain', onDrain);
      if (raw.destroyed) return;
      if (cut) raw.destroy();
      else raw.end();
    };
    const close = (): void => finish(false);
    this.open.add(close);
    raw.on('close', close);

    // A client that lets too much pile up unread is cut off; it resumes by itself (Last-Event-ID).
    const write = (message: Frame): void => {
      if (closed || raw.destroyed) return;
      if (direct) socket.write(chunked ? message.chunk : message.plain);
      else raw.write(message.plain);
      if (!account.update(raw.writableLength)) finish(true);
    };
    (direct ? socket : raw).on('drain', onDrain);
    const beat = idlePing(() => write(PING));
    write(RETRY);
    const sendReset = (s: RoomState): void => {
      const room = viewRoom(s, { now: Date.now(), limit: RESET_QUEUE_LIMIT });
      write(
        frame(`id: ${s.version}\nevent: reset\ndata: ${JSON.stringify({ version: s.version, room })}\n\n`),
      );
    };

    let from = afterVersion;
    if (from === null) {
      sendReset(state);
      from = state.version;
    }

    const onItem = batchByVersion({
      change: (version, events) => {
        beat.busy();
        FEED_COUNTS.sse.sent++;
        write(changeFrame(version, events));
      },
      reset: sendReset,
      removed: ({ version, memberId, banned }) => {
        write(frame(`event: removed\ndata: ${JSON.stringify({ version, memberId, banned })}\n\n`));
        close();
      },
    });

    try {
      const subscribed = await service.subscribe(roomId, from, onItem, who);
      // The client may have gone (or the node begun stopping) meanwhile.
      if (closed) {
        subscribed.close();
        return;
      }
      subscription = subscribed;
      leave = service.connected(roomId, who.memberId);
    } catch {
      // The room went away between the read and the subscription: the stream ends; the client's
      // reconnect gets the error as JSON.
      close();
      return;
    }
    this.heartbeat.add(beat.ping);
  }
}
