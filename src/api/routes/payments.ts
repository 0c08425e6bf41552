import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listPayments } from '../../db/payments.js';
import { publicPayment } from '../../domain/payment.js';
import { idempotent } from '../idempotency.js';
import { ProblemError } from '../problem.js';
import {
  capturePaymentBody,
  createPaymentBody,
  listPaymentsQuery,
  payment,
  paymentIdParams,
  problem,
} from '../schemas.js';

const errors = { '4xx': problem, '5xx': problem };

export const paymentRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, payments, config } = app.services;

  app.post(
    '/v1/payments',
    {
      schema: {
        summary: 'Create a payment for an order',
        description:
          'Starts (or joins) the payment workflow of the order and answers with its first settled status in one round trip: 200 when settled, 202 with `processing` when not settled within a short wait or when `Prefer: respond-async` is sent.',
        tags: ['payments'],
        body: createPaymentBody,
        response: { 200: payment, 202: payment, ...errors },
      },
    },
    async (request, reply) =>
      idempotent(db, config.idempotency, request, reply, async () => {
        const wait = !/respond-async/i.test(String(request.headers.prefer ?? ''));
        const outcome = await payments.create(request.tenantId, request.body, { wait });
        const status = outcome.pending ? 202 : 200;
        return { status, body: publicPayment(outcome.payment) };
      }),
  );

  app.get(
    '/v1/payments/:id',
    {
      schema: {
        summary: 'Read a payment',
        tags: ['payments'],
        params: paymentIdParams,
        response: { 200: payment, ...errors },
      },
    },
    async (request) => publicPayment(await payments.get(request.tenantId, request.params.id)),
  );

  app.get(
    '/v1/payments',
    {
      schema: {
        summary: 'List payments, newest first',
        tags: ['payments'],
        querystring: listPaymentsQuery,
        response: { 200: z.object({ data: z.array(payment), nextCursor: z.string().nullable() }), ...errors },
      },
    },
    async (request) => {
      const { customerId, status, limit, cursor } = request.query;
      const rows = await listPayments(db, request.tenantId, {
        customerId,
        status,
        limit,
        after: decodeCursor(cursor),
      });
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      return {
        data: rows.map(publicPayment),
        nextCursor: last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },
  );

  app.post(
    '/v1/payments/:id/capture',
    {
      schema: {
        summary: 'Capture an authorized payment, fully or partly',
        tags: ['payments'],
        params: paymentIdParams,
        body: capturePaymentBody,
        response: { 200: payment, ...errors },
      },
    },
    async (request, reply) =>
      idempotent(db, config.idempotency, request, reply, async () => ({
        status: 200,
        body: publicPayment(
          await payments.capture(request.tenantId, request.params.id, request.body?.amount),
        ),
      })),
  );

  app.post(
    '/v1/payments/:id/cancel',
    {
      schema: {
        summary: 'Cancel a payment that is not captured yet',
        tags: ['payments'],
        params: paymentIdParams,
        response: { 200: payment, ...errors },
      },
    },
    async (request, reply) =>
      idempotent(db, config.idempotency, request, reply, async () => ({
        status: 200,
        body: publicPayment(await payments.cancel(request.tenantId, request.params.id)),
      })),
  );
};

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

const MAX_CURSOR_TIME = Date.UTC(10000, 0, 1);

function decodeCursor(cursor: string | undefined): { createdAt: string; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    // Only what encodeCursor writes: a time PostgreSQL can compare and a payment id.
    const time = typeof createdAt === 'string' ? Date.parse(createdAt) : Number.NaN;
    if (time >= 0 && time < MAX_CURSOR_TIME && typeof id === 'string' && /^pay_[0-9a-f]{1,64}$/.test(id))
      return { createdAt: new Date(time).toISOString(), id };
  } catch {
    // fall through to the problem below
  }
  throw new ProblemError(400, 'invalid_cursor', 'cursor is not one this API returned');
}
