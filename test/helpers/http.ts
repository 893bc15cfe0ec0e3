// A small fetch wrapper for integration tests: every answer comes back (no throwing on 4xx/5xx) with
// its status, headers, raw text and parsed JSON, and error answers are checked against the one error
// shape of docs/architecture.md section 4.

import assert from 'node:assert/strict';

/** Parsed JSON of an answer; loosely typed on purpose, tests assert what they read. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body; undefined when the body is empty or not JSON. */
  readonly body: Json;
  readonly method: string;
  readonly path: string;
}

export interface RequestOptions {
  /** Sent as JSON (with content-type application/json unless headers say otherwise). */
  readonly json?: unknown;
  /** Sent as is (no content-type unless headers give one). */
  readonly raw?: string | Uint8Array;
  readonly token?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export class Http {
  readonly base: string;

  constructor(base: string) {
    this.base = base.replace(/\/+$/, '');
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.raw !== undefined) {
      body = options.raw;
    }
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    Object.assign(headers, options.headers ?? {});
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const text = await response.text();
    let parsed: Json;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, text, body: parsed, method, path };
  }

  get(path: string, options?: RequestOptions): Promise<HttpResponse> {
    return this.request('GET', path, options);
  }
  post(path: string, json?: unknown, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('POST', path, json === undefined ? options : { ...options, json });
  }
  put(path: string, json?: unknown, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('PUT', path, json === undefined ? options : { ...options, json });
  }
  patch(path: string, json?: unknown, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request('PATCH', path, json === undefined ? options : { ...options, json });
  }
  delete(path: string, options?: RequestOptions): Promise<HttpResponse> {
    return this.request('DELETE', path, options);
  }
}

function describe(res: HttpResponse): string {
  return `${res.method} ${res.path} -> ${res.status} ${res.text.slice(0, 600)}`;
}

/** Asserts a 2xx (or the given status) and returns the body. */
export function ok(res: HttpResponse, status?: number): Json {
  if (status === undefined) assert.ok(res.status >= 200 && res.status < 300, describe(res));
  else assert.equal(res.status, status, describe(res));
  return res.body;
}

/** No stack traces or internal file paths in anything a client sees. */
export function assertNoInternals(res: HttpResponse): void {
  assert.doesNotMatch(res.text, /\n\s+at\s|\bat [\w.<>]+ \(|node:internal|\/src\/[\w/-]+\.ts/, describe(res));
}

/**
 * Asserts the error shape of docs/architecture.md section 4: the HTTP status, `{"error":{"code","message",
 * "details"?}}` with a non-empty message, and no stack trace. Returns the error object.
 */
export function assertError(
  res: HttpResponse,
  status: number,
  code: string,
  message?: RegExp,
): { code: string; message: string; details?: Record<string, Json> } {
  assert.equal(res.status, status, describe(res));
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, describe(res));
  const error = res.body?.error;
  assert.ok(error && typeof error === 'object', `no error object: ${describe(res)}`);
  assert.equal(error.code, code, describe(res));
  assert.equal(typeof error.message, 'string', describe(res));
  assert.ok((error.message as string).trim().length > 0, `empty message: ${describe(res)}`);
  if (error.details !== undefined) {
    assert.ok(
      typeof error.details === 'object' && error.details !== null && !Array.isArray(error.details),
      `details must be an object: ${describe(res)}`,
    );
  }
  assertNoInternals(res);
  if (message) assert.match(error.message as string, message, describe(res));
  return error as { code: string; message: string; details?: Record<string, Json> };
}

export { isSse, openSse, type SseMessage, type SseStream } from './sse.ts';
