// The fault harness's calls, over either transport: one operation (add, vote, remove, advance, read)
// sent to one node over REST (fetch) or gRPC (grpc-js stubs), answered in one shape: the HTTP status
// and the REST answer's JSON (a gRPC answer is translated into the REST answer's fields, which are
// all the recorder reads), or `error` when no answer came. So both transports are recorded alike.
//
// What counts as an answer: a REST status with a body, or a gRPC status that carries Chorus's error
// trailer (the node decided). A transport failure without one (a cut connection, the client's own
// deadline) is no answer: the call may or may not have taken effect. A connection refused before
// anything was sent is `refused`: the node never saw the call.

import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { callMetadata, connect, type Stubs } from '../../src/api/grpc/client.ts';
import { ERROR_DETAILS_KEY, fromServiceError } from '../../src/api/grpc/errors.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import { HTTP_STATUS } from '../../src/api/rest/errors.ts';
import type { Track } from '../../src/domain/index.ts';

export type Transport = 'rest' | 'grpc';

export type Call =
  | { readonly op: 'add'; readonly track: Track }
  | { readonly op: 'vote'; readonly entryId: string; readonly value: 1 | -1 | 0 }
  | { readonly op: 'remove'; readonly entryId: string }
  | { readonly op: 'advance'; readonly expected: string | null }
  | { readonly op: 'read'; readonly minVersion: number | null; readonly linearizable: boolean };

export type Reply =
  | { readonly status: number; readonly json: Record<string, unknown> }
  /** No answer; `refused`: the connection was refused, so the node never saw the call. */
  | { readonly error: string; readonly refused: boolean };

export interface Target {
  readonly restUrl: string;
  readonly grpcAddress: string;
}

export interface CallContext {
  readonly room: string;
  readonly token: string;
  /** The idempotency key (writes). */
  readonly key: string | null;
  readonly timeoutMs: number;
}

/** REST: method, path and body of a call. */
function restRequest(room: string, call: Call): { method: string; url: string; body?: unknown } {
  const base = `/v1/rooms/${room}`;
  switch (call.op) {
    case 'add':
      return { method: 'POST', url: `${base}/queue`, body: { track: call.track } };
    case 'vote':
      return { method: 'PUT', url: `${base}/queue/${call.entryId}/vote`, body: { value: call.value } };
    case 'remove':
      return { method: 'DELETE', url: `${base}/queue/${call.entryId}` };
    case 'advance':
      return { method: 'POST', url: `${base}/advance`, body: { expectedEntryId: call.expected } };
    case 'read': {
      const q =
        (call.minVersion === null ? '' : `&minVersion=${call.minVersion}`) +
        (call.linearizable ? '&consistency=linearizable' : '');
      return { method: 'GET', url: `${base}?limit=1000${q}` };
    }
  }
}

export async function restCall(url: string, ctx: CallContext, call: Call): Promise<Reply> {
  const r = restRequest(ctx.room, call);
  const headers: Record<string, string> = {};
  if (ctx.key) headers['idempotency-key'] = ctx.key;
  if (ctx.token && call.op !== 'read') headers['authorization'] = `Bearer ${ctx.token}`;
  if (r.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(`${url}${r.url}`, {
      method: r.method,
      headers,
      ...(r.body === undefined ? {} : { body: JSON.stringify(r.body) }),
      signal: AbortSignal.timeout(ctx.timeoutMs),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: res.status, json };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { error: (err as Error).name, refused: cause?.code === 'ECONNREFUSED' };
  }
}

const EFFECT: Record<string, string> = {
  VOTE_EFFECT_NONE: 'none',
  VOTE_EFFECT_VOTED_OFF: 'votedOff',
  VOTE_EFFECT_SKIPPED: 'skipped',
};

const DIRECTION = {
  1: 'VOTE_DIRECTION_UP',
  [-1]: 'VOTE_DIRECTION_DOWN',
  0: 'VOTE_DIRECTION_WITHDRAW',
} as const;

type Done<T> = (err: ServiceError | null, value?: T) => void;

/** One gRPC call, its answer in the REST answer's shape. */
export async function grpcCall(stubs: Stubs, ctx: CallContext, call: Call): Promise<Reply> {
  const md = callMetadata(call.op === 'read' ? undefined : ctx.token, ctx.key ?? undefined);
  const options = { deadline: Date.now() + ctx.timeoutMs };
  const room = ctx.room;
  const unary = <T>(invoke: (done: Done<T>) => void): Promise<{ err: ServiceError | null; res?: T }> =>
    new Promise((resolve) => invoke((err, res) => resolve(res === undefined ? { err } : { err, res })));
  let answer: { err: ServiceError | null; json: Record<string, unknown> | undefined };
  switch (call.op) {
    case 'add': {
      const { err, res } = await unary<pb.AddTrackResponse__Output>((done) =>
        stubs.queue.AddTrack({ roomId: room, track: call.track }, md, options, done),
      );
      answer = {
        err,
        json: res && {
          entry: res.entry ? { entryId: res.entry.entryId, position: res.entry.position } : null,
          version: res.version,
        },
      };
      break;
    }
    case 'vote': {
      const { err, res } = await unary<pb.VoteResponse__Output>((done) =>
        stubs.queue.Vote(
          { roomId: room, entryId: call.entryId, direction: DIRECTION[call.value] },
          md,
          options,
          done,
        ),
      );
      answer = {
        err,
        json: res && {
          ups: res.ups,
          downs: res.downs,
          effect: EFFECT[res.effect] ?? res.effect,
          position: res.position === 0 ? null : res.position,
          version: res.version,
        },
      };
      break;
    }
    case 'remove': {
      const { err, res } = await unary<pb.RemoveEntryResponse__Output>((done) =>
        stubs.queue.RemoveEntry({ roomId: room, entryId: call.entryId }, md, options, done),
      );
      answer = { err, json: res && { entryId: res.entryId, version: res.version } };
      break;
    }
    case 'advance': {
      // An absent expected_entry_id means "whatever plays"; an empty one means "nothing plays".
      const { err, res } = await unary<pb.AdvanceResponse__Output>((done) =>
        stubs.queue.Advance({ roomId: room, expectedEntryId: call.expected ?? '' }, md, options, done),
      );
      answer = {
        err,
        json: res && {
          advanced: res.advanced,
          ended: res.ended ? { entryId: res.ended.entryId } : null,
          room: res.room as unknown as Record<string, unknown>,
        },
      };
      break;
    }
    case 'read': {
      const { err, res } = await unary<pb.Room__Output>((done) =>
        stubs.rooms.GetRoom(
          {
            roomId: room,
            minVersion: call.minVersion ?? 0,
            limit: 1000,
            consistency: call.linearizable ? 'linearizable' : 'local',
          },
          md,
          options,
          done,
        ),
      );
      answer = { err, json: res as unknown as Record<string, unknown> };
      break;
    }
  }
  if (!answer.err) return { status: 200, json: answer.json ?? {} };
  const err = answer.err;
  if (!(err.metadata?.get(ERROR_DETAILS_KEY)[0] instanceof Buffer)) {
    // grpc-js says UNAVAILABLE both for a refused connection and for one lost mid-call.
    const refused = err.code === grpcStatus.UNAVAILABLE && /ECONNREFUSED/.test(err.details);
    return { error: `grpc ${grpcStatus[err.code]}`, refused };
  }
  const e = fromServiceError(err);
  return {
    status: HTTP_STATUS[e.code],
    json: { error: { code: e.code, message: e.message, details: e.details ?? {} } },
  };
}

/** One gRPC channel per node address, reused by every gRPC client of the run. */
export class GrpcChannels {
  private readonly stubs = new Map<string, Stubs>();

  for(address: string): Stubs {
    let s = this.stubs.get(address);
    if (!s) {
      // Reconnect quickly after a node's restart: the default backoff grows to two minutes.
      s = connect(address, {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      });
      this.stubs.set(address, s);
    }
    return s;
  }

  close(): void {
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
  }
}

export function send(
  transport: Transport,
  target: Target,
  channels: GrpcChannels,
  ctx: CallContext,
  call: Call,
): Promise<Reply> {
  return transport === 'grpc'
    ? grpcCall(channels.for(target.grpcAddress), ctx, call)
    : restCall(target.restUrl, ctx, call);
}
