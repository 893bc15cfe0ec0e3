// The one Server-Sent Events client of the tests: opens a stream with fetch and parses its frames as
// they arrive (comments and `retry:` lines skipped, `data` as JSON when it is JSON). A stream offers
// both ways the tests read one: `next()` takes messages in order (the REST tests), `messages` keeps
// every one with its arrival time and `waitFor` finds one (the cluster tests, which measure delays).

import assert from 'node:assert/strict';
import type { HttpResponse, Json } from './http.ts';
import { until } from './until.ts';

export interface SseMessage {
  readonly id: string | null;
  readonly event: string;
  readonly data: Json;
  /** When it arrived (performance.now()). */
  readonly at: number;
}

export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  /** Every message received so far, in order (next() does not take them from here). */
  readonly messages: readonly SseMessage[];
  /** The next message not yet taken by next(); rejects after timeoutMs or when the stream ends. */
  next(timeoutMs?: number): Promise<SseMessage>;
  /** Messages received and not yet taken by next(). */
  readonly pending: number;
  /** Resolves with the first message (from index `from` of `messages`) that matches, or throws at the deadline. */
  waitFor(match: (m: SseMessage) => boolean, timeoutMs: number, from?: number): Promise<SseMessage>;
  close(): void;
}

/** Opens a Server-Sent Events stream. A non-2xx answer is returned as an HttpResponse instead. */
export async function openSse(
  url: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<SseStream | HttpResponse> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  if (!response.ok || !response.body) {
    const text = await response.text();
    let body: Json;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, text, body, method: 'GET', path: url };
  }
  const messages: SseMessage[] = [];
  let taken = 0;
  // Declared through casts: TypeScript does not see the assignments made in the closures below.
  let wake = null as (() => void) | null;
  let ended = null as Error | null;
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body.getReader();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (message === null) continue;
          messages.push(message);
          wake?.();
        }
      }
      ended = new Error('the event stream ended');
    } catch (err) {
      ended = err instanceof Error ? err : new Error(String(err));
    }
    wake?.();
  })();
  return {
    status: response.status,
    headers: response.headers,
    messages,
    get pending() {
      return messages.length - taken;
    },
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const message = messages[taken];
        if (message) {
          taken++;
          return message;
        }
        if (ended) throw ended;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no SSE message within ${timeoutMs} ms from ${url}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            wake = null;
            resolve();
          };
        });
      }
    },
    waitFor: (match, timeoutMs, from = 0) =>
      until(`an SSE message from ${url}`, () => messages.slice(from).find(match), {
        timeoutMs,
        intervalMs: 2,
      }),
    close() {
      abort.abort();
    },
  };
}

/** Opens a stream that must answer 200 with text/event-stream (the cluster tests' streams). */
export async function openSseOk(url: string): Promise<SseStream> {
  const opened = await openSse(url);
  assert.ok(isSse(opened), `SSE ${url}: ${opened.status}`);
  assert.match(opened.headers.get('content-type') ?? '', /^text\/event-stream/);
  return opened;
}

export function isSse(s: SseStream | HttpResponse): s is SseStream {
  return 'next' in s;
}

/** One frame (the text between blank lines) as a message; null when it carries no data. */
function parseFrame(frame: string): SseMessage | null {
  let id: string | null = null;
  let event = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith(':') || line.startsWith('retry:')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  const text = data.join('\n');
  let parsed: Json;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { id, event, data: parsed, at: performance.now() };
}
