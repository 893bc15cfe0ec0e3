// The load's HTTP: call() makes one request and never throws (status 0 for a transport failure or a
// timeout), so a load loop records every outcome instead of stopping at the first error.

// ---- HTTP -----------------------------------------------------------------------------------------

export interface Reply<T = unknown> {
  /** HTTP status; 0 when the request failed in transport or timed out. */
  readonly status: number;
  readonly body: T;
  readonly ms: number;
  readonly error?: string;
}

export interface CallOptions {
  readonly token?: string;
  readonly body?: unknown;
  /** Idempotency-Key header. */
  readonly key?: string;
  readonly timeoutMs?: number;
}

/** One request; never throws. */
export async function call<T = unknown>(
  base: string,
  method: string,
  pathAndQuery: string,
  options: CallOptions = {},
): Promise<Reply<T>> {
  const t0 = performance.now();
  try {
    const response = await fetch(`${base}${pathAndQuery}`, {
      method,
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.key ? { 'idempotency-key': options.key } : {}),
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (an nginx error page): kept as text.
    }
    return { status: response.status, body: body as T, ms: performance.now() - t0 };
  } catch (err) {
    const e = err as Error;
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return {
      status: 0,
      body: undefined as T,
      ms: performance.now() - t0,
      error: `${e.name}: ${e.message}${cause}`,
    };
  }
}

export function errorCode(reply: Reply): string {
  const body = reply.body as { error?: { code?: string } } | undefined;
  return typeof body === 'object' && body?.error?.code ? body.error.code : String(reply.status);
}

export function roomPath(roomId: string, rest = ''): string {
  return `/v1/rooms/${encodeURIComponent(roomId)}${rest}`;
}
