import type { FastifyPluginAsync } from 'fastify';

/**
 * Gateway webhooks, one URL per connector (`/v1/webhooks/sandbox`, `/v1/webhooks/stripe`),
 * handled by the application's GatewayWebhooks. The signature is verified over the raw bytes,
 * so this plugin keeps JSON bodies as Buffers (encapsulated: other routes still get parsed
 * JSON). An event already acted on is answered 200 and moves nothing.
 */
export const webhookRoutes: FastifyPluginAsync = async (app) => {
  const { gatewayWebhooks } = app.services;
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  app.post<{ Params: { connector: string } }>(
    '/v1/webhooks/:connector',
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : undefined;
      const { duplicate } = await gatewayWebhooks.receive(request.params.connector, body, request.headers);
      return reply.status(200).send(duplicate ? { received: true, duplicate } : { received: true });
    },
  );
};
