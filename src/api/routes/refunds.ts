import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listRefunds } from '../../db/refunds.js';
import { publicRefund } from '../../domain/refund.js';
import { idempotent } from '../idempotency.js';
import { createRefundBody, paymentIdParams, problem, refund } from '../schemas.js';

const errors = { '4xx': problem, '5xx': problem };

export const refundRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, refunds, config } = app.services;

  app.post(
    '/v1/payments/:id/refunds',
    {
      schema: {
        summary: 'Refund a captured payment, fully or partly',
        description:
          'Each refund is its own workflow. 200 with the refund when it finished (succeeded or failed at the gateway), 202 while the gateway is still processing it; 422 `amount_exceeds_refundable` when the amount is more than what is left; 409 `payment_not_captured` for a payment that was never captured.',
        tags: ['refunds'],
        params: paymentIdParams,
        body: createRefundBody,
        response: { 200: refund, 202: refund, ...errors },
      },
    },
    async (request, reply) =>
      idempotent(db, config.idempotency, request, reply, async () => {
        const key = request.headers['idempotency-key'];
        const result = await refunds.create(request.tenantId, request.params.id, request.body ?? {}, {
          key: typeof key === 'string' ? key : undefined,
          wait: !/respond-async/i.test(String(request.headers.prefer ?? '')),
        });
        return { status: result.pending ? 202 : 200, body: publicRefund(result.refund) };
      }),
  );

  app.get(
    '/v1/refunds/:id',
    {
      schema: {
        summary: 'Read a refund',
        tags: ['refunds'],
        params: paymentIdParams,
        response: { 200: refund, ...errors },
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
        response: { 200: z.object({ data: z.array(refund) }), ...errors },
      },
    },
    async (request) => {
      await app.services.payments.get(request.tenantId, request.params.id);
      return { data: (await listRefunds(db, request.tenantId, request.params.id)).map(publicRefund) };
    },
  );
};
