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
import type { StreamBudget } from '../stream-budget.ts';

export interface SseOptions {
  readonly heartbeatMs: number;
  /** What a stream may keep waiting for its client (shared with gRPC Watch); over it, it is cut off. */
  readonly budget: StreamBudget;
}

/**
 * A change's whole SSE message, made once per version for every stream of the node, as bytes: a
 * string would be encoded to UTF-8 again on every socket it is written to.
 */
const CHANGE_FRAMES = new PerVersion<Buffer>();

function changeFrame(version: number, events: readonly RoomEvent[]): Buffer {
  return CHANGE_FRAMES.get(events, () => {
    FEED_COUNTS.sse.encoded++;
    return Buffer.from(`id: ${version}\nevent: change\ndata: ${changeJson(version, events)}\n\n`);
  });
}

export class SseHub {
  private readonly open = new StreamSet();
  private readonly options: SseOptions;

  constructor(options: SseOptions) {
    this.options = options;
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
    raw.write('retry: 2000\n\n');

    let closed = false;
    let subscription: Subscription | null = null;
    let heartbeat: NodeJS.Timeout | null = null;
    let leave = (): void => {};
    // `cut`: the client stopped reading. Its backlog is dropped with the socket (end() would keep
    // it until the client read it, i.e. for as long as the client likes).
    const finish = (cut: boolean): void => {
      if (closed) return;
      closed = true;
      leave();
      if (heartbeat) clearInterval(heartbeat);
      subscription?.close();
      account.close();
      this.open.delete(close);
      if (raw.destroyed) return;
      if (cut) raw.destroy();
      else raw.end();
    };
    const close = (): void => finish(false);
    this.open.add(close);
    raw.on('close', close);

    // A client that lets too much pile up unread is cut off; it resumes by itself (Last-Event-ID).
    const write = (chunk: string | Buffer): void => {
      if (closed || raw.destroyed) return;
      raw.write(chunk);
      if (!account.update(raw.writableLength)) finish(true);
    };
    raw.on('drain', () => void account.update(raw.writableLength));
    const sendReset = (s: RoomState): void => {
      const room = viewRoom(s, { now: Date.now(), limit: RESET_QUEUE_LIMIT });
      write(`id: ${s.version}\nevent: reset\ndata: ${JSON.stringify({ version: s.version, room })}\n\n`);
    };

    let from = afterVersion;
    if (from === null) {
      sendReset(state);
      from = state.version;
    }

    const onItem = batchByVersion({
      change: (version, events) => {
        FEED_COUNTS.sse.sent++;
        write(changeFrame(version, events));
      },
      reset: sendReset,
      removed: ({ version, memberId, banned }) => {
        write(`event: removed\ndata: ${JSON.stringify({ version, memberId, banned })}\n\n`);
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
    heartbeat = setInterval(() => write(': ping\n\n'), this.options.heartbeatMs);
    heartbeat.unref();
  }
}
