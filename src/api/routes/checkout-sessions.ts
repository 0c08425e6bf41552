import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { publicCheckoutSession } from '../../domain/checkout.js';
import { checkoutSession, createCheckoutSessionBody, errorResponses, paymentIdParams } from '../schemas.js';
import { ProblemError } from '../problem.js';

/** The merchant's side of checkout sessions (the customer's page is in ../pages). */
export const checkoutSessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const { checkoutSessions, config } = app.services;
  const tags = ['checkout sessions'];
  const show = (view: Parameters<typeof publicCheckoutSession>[0]) =>
    publicCheckoutSession(view, config.publicUrl);

  app.post(
    '/v1/checkout-sessions',
    {
      // A browser page may open a checkout page with a publishable key (the customer pays there).
      config: { idempotent: true, publishable: true },
      schema: {
        summary: 'Create a checkout session: a hosted page where the customer pays for an order',
        description:
          'Send the customer to `url`. The session is `open` until its payment succeeds (`complete`, event `checkout_session.completed`) or it expires (`expired`, event `checkout_session.expired`) after `expiresInSeconds` or on `POST .../expire`. An order has at most one open session: another is `409 checkout_session_exists` (naming it in `checkoutSessionId`); an order paid through a session is `409 order_already_paid`.',
        tags,
        body: createCheckoutSessionBody,
        response: { 201: checkoutSession, ...errorResponses },
      },
    },
    async (request, reply) => {
      // Whoever holds a publishable key (every visitor of the page that ships it) could name any
      // customer: its sessions never spend a wallet.
      if (request.scope === 'publishable' && request.body.allowedMethods.includes('wallet'))
        throw new ProblemError(
          403,
          'forbidden_for_publishable_key',
          'a publishable key opens card and PayPal checkout pages only: send allowedMethods without wallet, or use a secret key on your server',
        );
      return reply.status(201).send(show(await checkoutSessions.create(request.tenantId, request.body)));
    },
  );

  app.get(
    '/v1/checkout-sessions/:id',
    {
      schema: {
        summary: 'Read a checkout session',
        tags,
        params: paymentIdParams,
        response: { 200: checkoutSession, ...errorResponses },
      },
    },
    async (request) => show(await checkoutSessions.get(request.tenantId, request.params.id)),
  );

  app.post(
    '/v1/checkout-sessions/:id/expire',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Expire an open checkout session',
        description:
          'The page stops taking payments; a payment still waiting for the customer (3-D Secure) is canceled. A session that is not open is `409 checkout_session_not_open`.',
        tags,
        params: paymentIdParams,
        response: { 200: checkoutSession, ...errorResponses },
      },
    },
    async (request) => show(await checkoutSessions.expire(request.tenantId, request.params.id)),
  );
};
