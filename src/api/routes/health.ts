import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../problem.js';

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { readiness } = app.services;

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ status: 'ok' }));

  /** 200 with each dependency's check when ready (app/readiness.ts), else a 503 problem with them. */
  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    const { ready, status, dependencies } = await readiness.check();
    if (ready) return { status, dependencies };
    return reply
      .status(503)
      .header('Retry-After', '2')
      .type(PROBLEM_CONTENT_TYPE)
      .send({ ...problemBody(503, 'not_ready', 'a dependency is not reachable'), dependencies });
  });
};
