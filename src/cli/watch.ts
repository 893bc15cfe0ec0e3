// `chorus watch`: follows a room's live changes until `stop` aborts (SIGINT, or --for SECONDS), over
// SSE (REST) or the Watch stream (gRPC), resuming from the last version seen after a lost
// connection. The watcher's saved token goes with the stream, so a member watching from the CLI
// counts as present in the room; when the room removes them, the stream's last message says so
// (`removed`) and the watch ends. A private room's invite goes with it (`invite`).

import { ChorusError } from '../domain/errors.ts';
import { cliError } from './errors.ts';
import type { GrpcClient } from './grpc-client.ts';
import { errorOfBody, type RestClient } from './rest-client.ts';

export type OnMessage = (event: string, data: unknown) => void;

/** Follows a room's Watch stream (resuming from the last version seen) until `stop` or a removal. */
export async function watchGrpc(
  client: GrpcClient,
  roomId: string,
  onMessage: OnMessage,
  stop: AbortSignal,
  invite?: string,
): Promise<void> {
  await client.watch(roomId, (message) => onMessage(message.event, message.data), stop, invite);
}

/** Follows a room's SSE stream, resuming with Last-Event-ID after a disconnect, until `stop` or a removal. */
export async function watchSse(
  client: RestClient,
  roomId: string,
  onMessage: OnMessage,
  stop: AbortSignal,
  invite?: string,
): Promise<void> {
  let lastId: string | null = null;
  let removed = false;
  const query = invite === undefined ? '' : `?invite=${encodeURIComponent(invite)}`;
  while (!stop.aborted && !removed) {
    try {
      const response = await fetch(`${client.server}/v1/rooms/${encodeURIComponent(roomId)}/events${query}`, {
        headers: { ...client.authorization(), ...(lastId ? { 'last-event-id': lastId } : {}) },
        signal: stop,
      });
      if (!response.ok || !response.body) {
        const refused = errorOfBody(await response.json().catch(() => null));
        throw refused ?? cliError('STREAM_REFUSED', { status: response.status });
      }
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) lastId = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (event === 'removed') removed = true;
          if (data) onMessage(event, JSON.parse(data));
        }
      }
    } catch (err) {
      if (stop.aborted) return;
      if (err instanceof ChorusError && err.code !== 'UNAVAILABLE') throw err;
      process.stderr.write('connection lost; reconnecting...\n');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
