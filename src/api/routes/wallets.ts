import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { onlyCustomer } from '../customer-access.js';
import {
  customerParams,
  errorResponses,
  page,
  topUpBody,
  wallet,
  walletTransaction,
  walletTransactionsQuery,
} from '../schemas.js';

export const walletRoutes: FastifyPluginAsyncZod = async (app) => {
  const { wallets } = app.services;

  app.get(
    '/v1/wallets/:customerId',
    {
      config: { customer: true },
      schema: {
        summary: "A customer's wallet balances",
        tags: ['wallets'],
        params: customerParams,
        response: { 200: wallet, ...errorResponses },
      },
    },
    async (request) => {
      onlyCustomer(request, request.params.customerId);
      return wallets.get(request.tenantId, request.params.customerId);
    },
  );

  app.post(
    '/v1/wallets/:customerId/top-ups',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Fund a wallet',
        tags: ['wallets'],
        params: customerParams,
        body: topUpBody,
        response: { 200: wallet, ...errorResponses },
      },
    },
    async (request) => {
      // The key names the top-up's workflow, so a retry with it joins the same top-up.
      const key = (request.headers['idempotency-key'] as string | undefined) ?? randomUUID();
      return wallets.topUp(request.tenantId, request.params.customerId, key, request.body);
    },
  );

  app.get(
    '/v1/wallets/:customerId/transactions',
    {
      config: { customer: true },
      schema: {
        summary: "A wallet's ledger transfers, newest first",
        tags: ['wallets'],
        params: customerParams,
        querystring: walletTransactionsQuery,
        response: { 200: page(walletTransaction), ...errorResponses },
      },
    },
    async (request) => {
      onlyCustomer(request, request.params.customerId);
      return wallets.transactions(request.tenantId, request.params.customerId, request.query);
    },
  );
};
