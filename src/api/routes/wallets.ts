import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { onlyCustomer } from '../customer-access.js';
import {
  customerParams,
  errorResponses,
  page,
  topUpBody,
  autoTopUp,
  autoTopUpBody,
  deletedAutoTopUp,
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

  app.put(
    '/v1/wallets/:customerId/auto-top-up',
    {
      schema: {
        summary: 'Let the wallet top itself up from a saved card',
        description:
          "When a wallet payment in `currency` would not be covered, or would leave less than `threshold` available, the payment first tops the wallet up by `amount` from the saved card (charged off-session), at most once per payment and at most `dailyLimit` a UTC day. If the payment then fails, the top-up is taken back and refunded. Events: `wallet.auto_top_up.succeeded` / `.failed`. Replaces the customer's earlier setting.",
        tags: ['wallets'],
        params: customerParams,
        body: autoTopUpBody,
        response: { 200: autoTopUp, ...errorResponses },
      },
    },
    async (request) => wallets.setAutoTopUp(request.tenantId, request.params.customerId, request.body),
  );

  app.get(
    '/v1/wallets/:customerId/auto-top-up',
    {
      schema: {
        summary: "Read the wallet's automatic top-up",
        tags: ['wallets'],
        params: customerParams,
        response: { 200: autoTopUp, ...errorResponses },
      },
    },
    async (request) => wallets.getAutoTopUp(request.tenantId, request.params.customerId),
  );

  app.delete(
    '/v1/wallets/:customerId/auto-top-up',
    {
      schema: {
        summary: "Stop the wallet's automatic top-up",
        tags: ['wallets'],
        params: customerParams,
        response: { 200: deletedAutoTopUp, ...errorResponses },
      },
    },
    async (request) => wallets.deleteAutoTopUp(request.tenantId, request.params.customerId),
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
