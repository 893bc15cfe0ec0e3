// Server-Sent Events for one room. One SSE message per room version: `id` is the version, so a
// browser's automatic Last-Event-ID resume continues exactly after the last whole change it saw.
// `event: change` carries that version's domain events; `event: reset` carries the whole room
// (sent first on a fresh connection, and whenever the events since the client's version are gone).

import type { FastifyReply } from 'fastify';
import { viewRoom, type RoomEvent, type RoomState } from '../../domain/index.ts';
import type { RoomService } from '../../node/service.ts';
import type { FeedItem } from '../../store/types.ts';

export interface SseOptions {
  readonly heartbeatMs: number;
  /** A client that lets this much pile up unread is cut off (it will resume by itself). */
  readonly maxBufferedBytes: number;
}

export class SseHub {
  private readonly open = new Set<() => void>();
  private readonly options: SseOptions;

  constructor(options: SseOptions) {
    this.options = options;
  }

  get connections(): number {
    return this.open.size;
  }

  /** Ends every stream (graceful stop: clients reconnect to another node and resume). */
  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  async stream(
    service: RoomService,
    roomId: string,
    afterVersion: number | null,
    reply: FastifyReply,
  ): Promise<void> {
    // Fails with NOT_FOUND before anything is sent, so the error handler still answers in JSON.
    const state = await service.read(roomId);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write('retry: 2000\n\n');

    const write = (chunk: string): void => {
      if (raw.destroyed) return;
      raw.write(chunk);
      if (raw.writableLength > this.options.maxBufferedBytes) close();
    };
    const sendReset = (s: RoomState): void => {
      const room = viewRoom(s, { now: Date.now(), limit: 200 });
      write(`id: ${s.version}\nevent: reset\ndata: ${JSON.stringify({ version: s.version, room })}\n\n`);
    };

    let from = afterVersion;
    if (from === null) {
      sendReset(state);
      from = state.version;
    }

    // Events of one command arrive one by one but synchronously: gather them and send one message.
    let batch: RoomEvent[] = [];
    const flush = (): void => {
      const events = batch;
      batch = [];
      let i = 0;
      while (i < events.length) {
        const version = events[i]!.version;
        const same: RoomEvent[] = [];
        while (i < events.length && events[i]!.version === version) same.push(events[i++]!);
        write(`id: ${version}\nevent: change\ndata: ${JSON.stringify({ version, events: same })}\n\n`);
      }
    };
    const onItem = (item: FeedItem): void => {
      if (item.kind === 'reset') {
        flush();
        sendReset(item.state);
        return;
      }
      if (batch.length === 0) queueMicrotask(flush);
      batch.push(item.event);
    };

    const subscription = await service.subscribe(roomId, from, onItem);
    const heartbeat = setInterval(() => write(': ping\n\n'), this.options.heartbeatMs);
    heartbeat.unref();
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      subscription.close();
      this.open.delete(close);
      if (!raw.destroyed) raw.end();
    };
    this.open.add(close);
    raw.on('close', close);
  }
}
