import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { apiMetrics, type ApiMetrics } from '../../metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

/**
 * `GET /metrics` (Prometheus text, no key: scrape it from inside the network) and the latency of
 * every request by route template, method and status. The template (`/v1/payments/:id`), not the
 * URL, keeps the number of series bounded.
 */
export const metricsPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = apiMetrics();
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
    app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  },
  { name: 'paysaga-metrics' },
);
