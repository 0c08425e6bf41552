import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../schemas.js';

/** Operator routes: an admin key, no tenant. */
export const adminRoutes: FastifyPluginAsyncZod = async (app) => {
  const { ledger } = app.services;

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
          ...errorResponses,
        },
      },
    },
    async () => {
      const violations = await ledger.verify();
      return { ok: violations.length === 0, violations };
    },
  );
};
