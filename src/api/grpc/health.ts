// The standard grpc.health.v1 service, so load balancers and probes can ask this node whether to
// send it traffic: SERVING while the store can take writes, NOT_SERVING while it cannot (Redis
// down, recovering) and from the moment the node starts stopping. The Store reports readiness by
// polling only, so watchers are told about a change within one poll interval.

import type { ServerWritableStream } from '@grpc/grpc-js';
import { chorusError } from '../../domain/index.ts';
import type { Store } from '../../store/types.ts';
import { serverStream, unary, type MalformedRequest } from './call.ts';
import type { ErrorLogger } from './errors.ts';
import type * as pb from './generated/grpc/health/v1/index.ts';

type Status = pb._grpc_health_v1_HealthCheckResponse_ServingStatus__Output;
type WatchCall = ServerWritableStream<
  pb.HealthCheckRequest__Output | MalformedRequest,
  pb.HealthCheckResponse
>;

export interface HealthOptions {
  readonly store: Store;
  /** The services this server serves, by full name; "" (the whole server) is always known. */
  readonly services: readonly string[];
  readonly pollMs: number;
  readonly logger: ErrorLogger;
}

export class HealthService {
  private readonly options: HealthOptions;
  private readonly known: ReadonlySet<string>;
  private readonly watchers = new Set<{ readonly service: string; last: Status; readonly call: WatchCall }>();
  private stopping = false;
  private poller: NodeJS.Timeout | null = null;

  readonly handlers: pb.HealthHandlers;

  constructor(options: HealthOptions) {
    this.options = options;
    this.known = new Set(['', ...options.services]);
    this.handlers = {
      Check: unary<pb.HealthCheckRequest__Output, pb.HealthCheckResponse>(
        'grpc.health.v1.Health/Check',
        options.logger,
        async (req) => {
          const status = this.status(req.service);
          if (status === null) throw chorusError('GRPC_SERVICE_UNKNOWN', { service: req.service });
          return { status };
        },
      ),
      Watch: serverStream<pb.HealthCheckRequest__Output, pb.HealthCheckResponse>(
        'grpc.health.v1.Health/Watch',
        options.logger,
        async (req, call) => this.watch(req.service, call),
      ),
    };
  }

  /** The status of a known service; null for one this server does not serve. */
  status(service: string): Status | null {
    if (!this.known.has(service)) return null;
    return !this.stopping && this.options.store.health().ready ? 'SERVING' : 'NOT_SERVING';
  }

  /** From now on NOT_SERVING; tells the watchers, then ends their streams so the server can stop. */
  shutdown(): void {
    this.stopping = true;
    this.notify();
    for (const watcher of this.watchers) watcher.call.end();
    this.watchers.clear();
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
  }

  /** The status now, then each change, until the caller goes away or the node stops. */
  private watch(service: string, call: WatchCall): void {
    const last = this.status(service) ?? 'SERVICE_UNKNOWN';
    call.write({ status: last });
    if (this.stopping) {
      call.end();
      return;
    }
    const watcher = { service, last, call };
    this.watchers.add(watcher);
    const forget = (): void => {
      this.watchers.delete(watcher);
      if (this.watchers.size === 0 && this.poller) {
        clearInterval(this.poller);
        this.poller = null;
      }
    };
    call.on('cancelled', forget);
    call.on('close', forget);
    if (!this.poller) {
      this.poller = setInterval(() => this.notify(), this.options.pollMs);
      this.poller.unref();
    }
  }

  private notify(): void {
    for (const watcher of this.watchers) {
      const now = this.status(watcher.service) ?? 'SERVICE_UNKNOWN';
      if (now !== watcher.last && !watcher.call.cancelled) {
        watcher.last = now;
        watcher.call.write({ status: now });
      }
    }
  }
}
