import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { publicRefund } from '../../domain/refund.js';
import { createRefundBody, errorResponses, paymentIdParams, refund, respondAsync } from '../schemas.js';

export const refundRoutes: FastifyPluginAsyncZod = async (app) => {
  const { refunds } = app.services;

  app.post(
    '/v1/payments/:id/refunds',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Refund a captured payment, fully or partly',
        description:
          'Each refund is its own workflow. 200 with the refund when it finished (succeeded or failed at the gateway), 202 while the gateway is still processing it; 422 `amount_exceeds_refundable` when the amount is more than what is left; 409 `payment_not_captured` for a payment that was never captured.',
        tags: ['refunds'],
        params: paymentIdParams,
        body: createRefundBody,
        response: { 200: refund, 202: refund, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const result = await refunds.create(request.tenantId, request.params.id, request.body ?? {}, {
        key: typeof key === 'string' ? key : undefined,
        wait: !respondAsync(request.headers.prefer),
      });
      return reply.status(result.pending ? 202 : 200).send(publicRefund(result.refund));
    },
  );

  app.get(
    '/v1/refunds/:id',
    {
      schema: {
        summary: 'Read a refund',
        tags: ['refunds'],
        params: paymentIdParams,
        response: { 200: refund, ...errorResponses },
      },
    },
    async (request) => publicRefund(await refunds.get(request.tenantId, request.params.id)),
  );

  app.get(
    '/v1/payments/:id/refunds',
    {
      schema: {
        summary: "A payment's refunds, oldest first",
        tags: ['refunds'],
        params: paymentIdParams,
        response: { 200: z.object({ data: z.array(refund) }), ...errorResponses },
      },
    },
    async (request) => ({
      data: (await refunds.listForPayment(request.tenantId, request.params.id)).map(publicRefund),
    }),
  );
};
