// Metrics of the gRPC server, taken where every service is registered rather than in each handler:
// a unary call's latency by method and status code (as the REST server counts requests by route
// and status), and the server streams (Watch) open at the moment.

import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { NodeMetrics } from '../../node/metrics.ts';
import { LabelCache } from '../label-cache.ts';

export type GrpcMetrics = Pick<NodeMetrics, 'grpcDuration' | 'grpcStreams'>;

/** The status code's name ("OK", "NOT_FOUND") a call ends with, as grpc-js sends it. */
function codeName(err: { code?: number } | null | undefined): string {
  if (!err) return 'OK';
  // grpc-js sends an error without a code as UNKNOWN.
  const code = err.code ?? status.UNKNOWN;
  return status[code] ?? String(code);
}

/**
 * `handlers` with each unary call timed and each server stream counted while open. Client and
 * bidirectional streams pass through unobserved: no service of ours has them.
 */
export function observed(
  definition: ServiceDefinition,
  handlers: UntypedServiceImplementation,
  metrics: GrpcMetrics,
): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers)) {
    const method = definition[name];
    if (!method || method.requestStream) out[name] = handler;
    else if (method.responseStream) out[name] = streamCounted(method.path, handler, metrics);
    else out[name] = unaryTimed(method.path, handler, metrics);
  }
  return out;
}

function unaryTimed(path: string, handler: UntypedHandleCall, metrics: GrpcMetrics): UntypedHandleCall {
  const unary = handler as (
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<unknown>,
  ) => void;
  // The method's histogram child per status code, looked up once (label-cache.ts).
  const durations = new LabelCache<ReturnType<GrpcMetrics['grpcDuration']['labels']>>();
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    const started = performance.now();
    unary(call, (err, ...rest) => {
      const code = codeName(err);
      durations
        .get(code, () => metrics.grpcDuration.labels(path, code))
        .observe((performance.now() - started) / 1000);
      callback(err, ...rest);
    });
  };
}

function streamCounted(path: string, handler: UntypedHandleCall, metrics: GrpcMetrics): UntypedHandleCall {
  const stream = handler as (call: ServerWritableStream<unknown, unknown>) => void;
  return (call: ServerWritableStream<unknown, unknown>) => {
    metrics.grpcStreams.labels(path).inc();
    // A stream ends by finishing (the server ended it, with any status) or by the client
    // cancelling it, which grpc-js reports without ending the writable side.
    let open = true;
    const closed = (): void => {
      if (!open) return;
      open = false;
      metrics.grpcStreams.labels(path).dec();
    };
    call.once('finish', closed);
    call.once('close', closed);
    call.once('cancelled', closed);
    stream(call);
  };
}
