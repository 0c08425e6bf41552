import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { bindLog } from '../log-context.js';
import { ownedBy } from '../customer-access.js';
import { publicPayment } from '../../domain/payment.js';
import {
  capturePaymentBody,
  createAttemptBody,
  createPaymentBody,
  errorResponses,
  listPaymentsQuery,
  page,
  payment,
  paymentIdParams,
  respondAsync,
} from '../schemas.js';

export const paymentRoutes: FastifyPluginAsyncZod = async (app) => {
  const { payments } = app.services;
  /** Still `processing` when first answered: a replay says what the payment is now. */
  const replayPaymentNow = async (request: FastifyRequest, recorded: unknown) => {
    const now = await payments.get(request.tenantId, (recorded as { id: string }).id);
    return { status: now.status === 'processing' ? 202 : 200, body: publicPayment(now) };
  };

  app.post(
    '/v1/payments',
    {
      config: {
        idempotent: true,
        replayAccepted: replayPaymentNow,
      },
      schema: {
        summary: 'Create a payment for an order',
        description:
          'Starts (or joins) the payment workflow of the order and answers with its first settled status in one round trip: 200 when settled, 202 with `processing` when not settled within a short wait or when `Prefer: respond-async` is sent.',
        tags: ['payments'],
        body: createPaymentBody,
        response: { 200: payment, 202: payment, ...errorResponses },
      },
    },
    async (request, reply) => {
      const outcome = await payments.create(request.tenantId, request.body, {
        wait: !respondAsync(request.headers.prefer),
      });
      const { id: paymentId, workflowId, status } = outcome.payment;
      bindLog(request, reply, { paymentId, workflowId, runId: outcome.runId });
      if (outcome.eager) app.metrics.eagerStarts.inc();
      request.log.info({ status, ...(outcome.eager ? { eagerStart: true } : {}) }, 'payment answered');
      return reply.status(outcome.pending ? 202 : 200).send(publicPayment(outcome.payment));
    },
  );

  app.get(
    '/v1/payments/:id',
    {
      config: { customer: true },
      schema: {
        summary: 'Read a payment',
        tags: ['payments'],
        params: paymentIdParams,
        response: { 200: payment, ...errorResponses },
      },
    },
    async (request, reply) => {
      const found = ownedBy(request, await payments.get(request.tenantId, request.params.id));
      bindLog(request, reply, { workflowId: found.workflowId });
      return publicPayment(found);
    },
  );

  app.get(
    '/v1/payments',
    {
      schema: {
        summary: 'List payments, newest first',
        tags: ['payments'],
        querystring: listPaymentsQuery,
        response: { 200: page(payment), ...errorResponses },
      },
    },
    async (request) => {
      const { data, nextCursor } = await payments.list(request.tenantId, request.query);
      return { data: data.map(publicPayment), nextCursor };
    },
  );

  app.post(
    '/v1/payments/:id/attempts',
    {
      config: {
        idempotent: true,
        replayAccepted: replayPaymentNow,
      },
      schema: {
        summary: 'Pay a declined payment with another method',
        description:
          'A payment in `requires_payment_method` (its last attempt was declined for a reason the customer can fix) runs a new attempt with this method. Answers like a create: 200 with the status this attempt settled in, 202 with `processing` when not settled within the wait or with `Prefer: respond-async`; 409 `invalid_state` when the payment is not open for an attempt.',
        tags: ['payments'],
        params: paymentIdParams,
        body: createAttemptBody,
        response: { 200: payment, 202: payment, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { method, returnUrl } = request.body;
      const outcome = await payments.attempt(request.tenantId, request.params.id, method, {
        wait: !respondAsync(request.headers.prefer),
        returnUrl,
      });
      const { workflowId, status } = outcome.payment;
      bindLog(request, reply, { paymentId: request.params.id, workflowId, runId: outcome.runId });
      request.log.info({ status, attempt: outcome.payment.attempts.length }, 'payment attempt answered');
      return reply.status(outcome.pending ? 202 : 200).send(publicPayment(outcome.payment));
    },
  );

  app.post(
    '/v1/payments/:id/capture',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Capture an authorized payment, fully or partly',
        tags: ['payments'],
        params: paymentIdParams,
        body: capturePaymentBody,
        response: { 200: payment, ...errorResponses },
      },
    },
    async (request, reply) => {
      const captured = await payments.capture(request.tenantId, request.params.id, request.body?.amount);
      bindLog(request, reply, { workflowId: captured.workflowId });
      return publicPayment(captured);
    },
  );

  app.post(
    '/v1/payments/:id/cancel',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Cancel a payment that is not captured yet, or one waiting for a new attempt',
        tags: ['payments'],
        params: paymentIdParams,
        response: { 200: payment, ...errorResponses },
      },
    },
    async (request, reply) => {
      const canceled = await payments.cancel(request.tenantId, request.params.id);
      bindLog(request, reply, { workflowId: canceled.workflowId });
      return publicPayment(canceled);
    },
  );
};
