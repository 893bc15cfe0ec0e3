// Prometheus metrics of one node (served at /metrics). One registry per node, so tests can run
// several nodes in one process.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricSpec, StoreTelemetry } from '../store/telemetry.ts';
import type { PresenceCounts, PresenceTelemetry } from './presence.ts';

export interface NodeMetrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly commitDuration: Histogram<'command' | 'outcome'>;
  readonly clockAdvances: Counter;
  readonly grpcDuration: Histogram<'method' | 'code'>;
  readonly grpcStreams: Gauge<'method'>;
  /** What this node's presence reporter (presence.ts) does: who is here through it, its commands. */
  readonly presence: PresenceTelemetry;
}

/** Request latency buckets, REST and gRPC alike: from a read served from memory to a slow write. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(gauges: {
  roomsLoaded: () => number;
  sseConnections: () => number;
  streamWaitingBytes: () => number;
}): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'chorus_http_request_duration_seconds',
    help: 'REST request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const grpcDuration = new Histogram({
    name: 'chorus_grpc_request_duration_seconds',
    help: 'gRPC unary call latency by method and status code',
    labelNames: ['method', 'code'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const grpcStreams = new Gauge({
    name: 'chorus_grpc_streams',
    help: 'Open gRPC server streams (Watch) by method',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  const commitDuration = new Histogram({
    name: 'chorus_store_commit_duration_seconds',
    help: 'Time from handing a command to the store until this node applied it',
    labelNames: ['command', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const clockAdvances = new Counter({
    name: 'chorus_clock_advances_total',
    help: 'Advances this node proposed because a track ran out',
    registers: [registry],
  });
  new Gauge({
    name: 'chorus_rooms_loaded',
    help: 'Rooms held in memory on this node',
    registers: [registry],
    collect() {
      this.set(gauges.roomsLoaded());
    },
  });
  new Gauge({
    name: 'chorus_sse_connections',
    help: 'Open Server-Sent Events streams',
    registers: [registry],
    collect() {
      this.set(gauges.sseConnections());
    },
  });
  new Gauge({
    name: 'chorus_stream_waiting_bytes',
    help: 'Bytes written to live streams (SSE and gRPC Watch) that their clients have not read yet',
    registers: [registry],
    collect() {
      this.set(gauges.streamWaitingBytes());
    },
  });
  const presence = presenceTelemetry(registry);
  return { registry, httpDuration, commitDuration, clockAdvances, grpcDuration, grpcStreams, presence };
}

/**
 * Presence metrics: members present through this node and their streams (read from the reporter
 * when scraped; 0 until a reporter exists, as on a node run without presence), the presence
 * commands it sent by outcome, lease renewals, and reports that ran out before the next one.
 */
export function presenceTelemetry(registry: Registry): PresenceTelemetry {
  let read = (): PresenceCounts => ({ members: 0, streams: 0 });
  new Gauge({
    name: 'chorus_presence_members',
    help: 'Members present through this node: a live stream with their token here, or within the grace after',
    registers: [registry],
    collect() {
      this.set(read().members);
    },
  });
  new Gauge({
    name: 'chorus_presence_streams',
    help: 'Open live streams (SSE, gRPC Watch) with a member token on this node',
    registers: [registry],
    collect() {
      this.set(read().streams);
    },
  });
  const commands = new Counter({
    name: 'chorus_presence_commands_total',
    help: 'Presence commands this node sent, by outcome (applied or failed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const renewals = new Counter({
    name: 'chorus_presence_lease_renewals_total',
    help: "Presence commands sent because this node's lease in a room was due for renewal",
    registers: [registry],
  });
  const lapses = new Counter({
    name: 'chorus_presence_leases_expired_total',
    help: "Times this node's presence report in a room ran out before its next one was applied (its members looked gone meanwhile)",
    registers: [registry],
  });
  // Both outcomes exist from the start, so a rate over them is defined before the first failure.
  commands.labels('applied');
  commands.labels('failed');
  return {
    source: (counts) => {
      read = counts;
    },
    sent: (outcome, renewal) => {
      commands.labels(outcome).inc();
      if (renewal && outcome === 'applied') renewals.inc();
    },
    lapsed: () => lapses.inc(),
  };
}

/**
 * The metrics a store declared, registered on the node's registry, and the telemetry that feeds
 * them. A report under a name the store did not declare throws: it is a bug in the store.
 */
export function storeTelemetry(registry: Registry, specs: readonly MetricSpec[]): StoreTelemetry {
  const counters = new Map<string, Counter<string>>();
  const gauges = new Map<string, Gauge<string>>();
  const histograms = new Map<string, Histogram<string>>();
  for (const spec of specs) {
    const common = { name: spec.name, help: spec.help, labelNames: spec.labels ?? [], registers: [registry] };
    if (spec.kind === 'counter') counters.set(spec.name, new Counter(common));
    else if (spec.kind === 'gauge') gauges.set(spec.name, new Gauge(common));
    else
      histograms.set(
        spec.name,
        new Histogram(spec.buckets ? { ...common, buckets: [...spec.buckets] } : common),
      );
  }
  function find<M>(metrics: Map<string, M>, name: string): M {
    const metric = metrics.get(name);
    if (!metric) throw new Error(`the store reported ${name}, which its registry entry does not declare`);
    return metric;
  }
  return {
    count: (name, labels = {}, by = 1) => find(counters, name).inc(labels, by),
    set: (name, value, labels = {}) => find(gauges, name).set(labels, value),
    observe: (name, value, labels = {}) => find(histograms, name).observe(labels, value),
  };
}
