import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getWalletBalances, listWalletTransactions } from '../../db/wallets.js';
import { idempotent } from '../idempotency.js';
import { ProblemError } from '../problem.js';
import { customerParams, problem, topUpBody, wallet } from '../schemas.js';

const errors = { '4xx': problem, '5xx': problem };

const transaction = z.object({
  id: z.string(),
  kind: z.string(),
  direction: z.enum(['credit', 'debit']),
  amount: z.number().int(),
  currency: z.string(),
  state: z.string(),
  description: z.string().nullable(),
  createdAt: z.string(),
});

export const walletRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, wallets, config } = app.services;

  app.get(
    '/v1/wallets/:customerId',
    {
      schema: {
        summary: "A customer's wallet balances",
        tags: ['wallets'],
        params: customerParams,
        response: { 200: wallet, ...errors },
      },
    },
    async (request) => ({
      customerId: request.params.customerId,
      balances: await getWalletBalances(db, request.tenantId, request.params.customerId),
    }),
  );

  app.post(
    '/v1/wallets/:customerId/top-ups',
    {
      schema: {
        summary: 'Fund a wallet',
        tags: ['wallets'],
        params: customerParams,
        body: topUpBody,
        response: { 200: wallet, ...errors },
      },
    },
    async (request, reply) =>
      idempotent(db, config.idempotency, request, reply, async () => {
        const key = (request.headers['idempotency-key'] as string | undefined) ?? randomUUID();
        await wallets.topUp(request.tenantId, request.params.customerId, key, request.body);
        return {
          status: 200,
          body: {
            customerId: request.params.customerId,
            balances: await getWalletBalances(db, request.tenantId, request.params.customerId),
          },
        };
      }),
  );

  app.get(
    '/v1/wallets/:customerId/transactions',
    {
      schema: {
        summary: "A wallet's ledger transfers, newest first",
        tags: ['wallets'],
        params: customerParams,
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z
            .string()
            .regex(/^\d{1,16}$/, 'cursor is not one this API returned')
            .optional(),
        }),
        response: {
          200: z.object({ data: z.array(transaction), nextCursor: z.string().nullable() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      // Checked before the query: a cursor past the safe integers would reach PostgreSQL as 7.5e+20.
      if (cursor !== undefined && !Number.isSafeInteger(Number(cursor)))
        throw new ProblemError(400, 'invalid_cursor', 'cursor is not one this API returned');
      const rows = await listWalletTransactions(db, request.tenantId, request.params.customerId, {
        limit,
        before: cursor === undefined ? undefined : Number(cursor),
      });
      const last = rows.length === limit ? rows[rows.length - 1] : undefined;
      return {
        data: rows.map(({ seq: _seq, ...row }) => ({
          ...row,
          createdAt: new Date(row.createdAt).toISOString(),
        })),
        nextCursor: last ? String(last.seq) : null,
      };
    },
  );
};
