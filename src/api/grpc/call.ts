// How a gRPC call reaches a handler: the request decoded (bytes that are not the message become
// INVALID_ARGUMENT, where grpc-js alone would answer INTERNAL), the caller's token and idempotency
// key read from the metadata, the deadline honoured, and every failure mapped by errors.ts.

import type {
  handleServerStreamingCall,
  handleUnaryCall,
  Metadata,
  MethodDefinition,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
} from '@grpc/grpc-js';
import { ChorusError, checkId, chorusError } from '../../domain/index.ts';
import { toStatus, type ErrorLogger } from './errors.ts';

/** What a request whose bytes did not decode becomes, so the handler can refuse it properly. */
export class MalformedRequest {
  readonly reason: string;

  constructor(reason: string) {
    this.reason = reason;
  }
}

/**
 * The service definition with decoders that never throw. grpc-js turns a decoder's exception into
 * INTERNAL; a request of the wrong shape is the caller's mistake, so it must be INVALID_ARGUMENT.
 */
export function tolerant(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return decode(bytes);
        } catch (err) {
          return new MalformedRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out;
}

/** What a handler knows about its call besides the request. */
export interface CallContext {
  /** The bearer token: undefined without `authorization` metadata, '' when it is not `Bearer <token>`. */
  readonly token: string | undefined;
  /** The `idempotency-key` metadata: a retry with the same key changes nothing twice. */
  readonly commandId: string | undefined;
  /** When the caller stops waiting, ms since the epoch (Infinity: no deadline). */
  readonly deadline: number;
  /** The client's address (without its port), for per-address rates. */
  readonly client: string;
}

/** The host of a grpc-js peer string: "ipv4:1.2.3.4:5", "ipv6:[::1]:5", "1.2.3.4:5" or "[::1]:5". */
export function peerHost(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed) return bracketed[1]!;
  const colon = bare.lastIndexOf(':');
  return colon > 0 ? bare.slice(0, colon) : bare;
}

function firstText(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

function contextOf(
  call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
): CallContext {
  const header = firstText(call.metadata, 'authorization');
  const token = header === undefined ? undefined : (/^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? '');
  const commandId = firstText(call.metadata, 'idempotency-key');
  if (commandId !== undefined) {
    const bad = checkId('idempotency-key', commandId);
    if (bad) throw ChorusError.from(bad);
  }
  const deadline = call.getDeadline();
  return {
    token,
    commandId,
    deadline: deadline instanceof Date ? deadline.getTime() : deadline,
    client: peerHost(call.getPeer()),
  };
}

function decoded<Req>(request: Req | MalformedRequest, method: string): Req {
  if (request instanceof MalformedRequest) {
    throw chorusError('MESSAGE_MALFORMED', { method, problem: request.reason });
  }
  return request;
}

/**
 * Settles with the work, or DEADLINE_EXCEEDED once the caller's deadline passes (grpc-js ends the
 * call then anyway; this stops the handler waiting, e.g. for a `min_version` that never comes). A
 * write handed to the store before the deadline may still take effect: retrying with the same
 * idempotency key is safe.
 */
function withinDeadline<T>(deadline: number, work: () => Promise<T>): Promise<T> {
  const left = deadline - Date.now();
  if (left <= 0) {
    return Promise.reject(chorusError('DEADLINE_BEFORE_START'));
  }
  if (!Number.isFinite(left)) return work();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(chorusError('DEADLINE_BEFORE_ANSWER')), left);
    work().then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;
export type StreamHandler<Req, Res> = (
  request: Req,
  call: ServerWritableStream<Req | MalformedRequest, Res>,
  context: CallContext,
) => Promise<void>;

/** Binds a unary handler: errors of any kind end the call with the mapped status. */
export function unary<Req, Res>(
  method: string,
  logger: ErrorLogger,
  handler: UnaryHandler<Req, Res>,
): handleUnaryCall<Req | MalformedRequest, Res> {
  return (call, callback) => {
    const run = async (): Promise<Res> => {
      const context = contextOf(call);
      const request = decoded(call.request, method);
      return withinDeadline(context.deadline, () => handler(request, context));
    };
    run().then(
      (response) => callback(null, response),
      (err: unknown) => callback(toStatus(err, logger, method)),
    );
  };
}

/**
 * Binds a server-streaming handler. A failure before or during the stream ends it with the mapped
 * status; the handler itself ends the stream when it is done (a Watch never is).
 */
export function serverStream<Req, Res>(
  method: string,
  logger: ErrorLogger,
  handler: StreamHandler<Req, Res>,
): handleServerStreamingCall<Req | MalformedRequest, Res> {
  return (call) => {
    const run = async (): Promise<void> => {
      const context = contextOf(call);
      const request = decoded(call.request, method);
      if (context.deadline <= Date.now()) {
        throw chorusError('DEADLINE_BEFORE_START');
      }
      await handler(request, call, context);
    };
    run().catch((err: unknown) => failStream(call, err, logger, method));
  };
}

/** Ends a stream with the status of `err` (a no-op when the stream has already ended). */
export function failStream(
  call: ServerWritableStream<unknown, unknown>,
  err: unknown,
  logger: ErrorLogger,
  method: string,
): void {
  if (call.writableEnded || call.destroyed) return;
  call.emit('error', toStatus(err, logger, method));
}
