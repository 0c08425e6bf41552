import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { routingRule } from '../../domain/routing.js';
import { errorResponses } from '../schemas.js';

const routing = z
  .object({
    defaultConnector: z.string().describe('Where card payments go when no rule matches'),
    connectors: z
      .array(z.object({ name: z.string(), methods: z.array(z.enum(['card', 'paypal'])) }))
      .describe('The connectors this account has, and what each takes'),
    rules: z
      .array(routingRule)
      .describe(
        'In order: the first rule whose every condition holds decides; its first connector is tried first, the others when one fails on the gateway side before money moved',
      ),
  })
  .meta({ id: 'Routing' });

export const routingRoutes: FastifyPluginAsyncZod = async (app) => {
  const { routing: service } = app.services;

  app.get(
    '/v1/routing',
    {
      schema: {
        summary: "This account's routing: its connectors and rules",
        description:
          'Rules come from `ROUTING_RULES` and are checked when the API starts. A card moves to a fallback connector only with its token there (`method.tokens`); a saved card and a wallet payment stay on the default connector.',
        tags: ['routing'],
        response: { 200: routing, ...errorResponses },
      },
    },
    async (request) => service.describe(request.tenantId),
  );
};
