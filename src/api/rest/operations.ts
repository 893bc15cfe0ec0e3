// REST: operations. Liveness, readiness (the store's health), this node's view of its store
// group, and Prometheus metrics. Hidden from the OpenAPI document but /v1/cluster.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { NodeMetrics } from '../../node/metrics.ts';
import type { RoomService } from '../../node/service.ts';
import type { Store } from '../../store/types.ts';

export interface OperationsRoutesOptions {
  readonly service: RoomService;
  readonly store: Store;
  readonly metrics: NodeMetrics;
}

export const operationsRoutes: FastifyPluginAsyncTypebox<OperationsRoutesOptions> = async (app, options) => {
  const { service, store, metrics } = options;

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const health = store.health();
    return reply
      .code(health.ready ? 200 : 503)
      .send({ ready: health.ready, store: store.kind, detail: health.detail });
  });
  // The group this node belongs to (stores whose nodes form one: raft, 2pc); generic over the store.
  app.get(
    '/v1/cluster',
    { schema: { summary: 'This node’s view of its store group (raft, 2pc)', tags: ['cluster'] } },
    async () => service.clusterStatus(),
  );
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
