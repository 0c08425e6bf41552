import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { verifyLedger } from '../../db/ledger-verify.js';
import { ProblemError } from '../problem.js';

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, temporal } = app.services;

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ status: 'ok' }));

  /** Ready when both PostgreSQL and Temporal answer. */
  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async () => {
    try {
      await db.execute(sql`SELECT 1`);
      await temporal.workflowService.getSystemInfo({});
    } catch {
      throw new ProblemError(503, 'not_ready', 'a dependency is not reachable');
    }
    return { status: 'ready' };
  });

  app.get(
    '/v1/ledger/verify',
    {
      config: { admin: true },
      schema: {
        summary: 'Check the ledger invariants (admin key)',
        tags: ['ledger'],
        response: {
          200: z.object({
            ok: z.boolean(),
            violations: z.array(z.object({ rule: z.string(), detail: z.string() })),
          }),
        },
      },
    },
    async () => {
      const violations = await verifyLedger(db);
      return { ok: violations.length === 0, violations };
    },
  );
};
