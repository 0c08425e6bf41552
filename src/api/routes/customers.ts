import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { onlyCustomer } from '../customer-access.js';
import {
  createCustomerBody,
  customer,
  customerIdParams,
  deletedPaymentMethod,
  errorResponses,
  listCustomersQuery,
  page,
  paymentMethodParams,
  savedPaymentMethod,
  savePaymentMethodBody,
  updateCustomerBody,
} from '../schemas.js';

/** The tenant's customers, by the merchant's own ids. */
export const customerRoutes: FastifyPluginAsyncZod = async (app) => {
  const { customers, paymentMethods } = app.services;
  const tags = ['customers'];

  app.post(
    '/v1/customers',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Create a customer',
        description:
          "`id` is the merchant's own id of the customer, the `customerId` of its payments. A second customer with the same id is a 409 `customer_exists` (with the same `Idempotency-Key`, the first answer again).",
        tags,
        body: createCustomerBody,
        response: { 201: customer, ...errorResponses },
      },
    },
    async (request, reply) => reply.status(201).send(await customers.create(request.tenantId, request.body)),
  );

  app.get(
    '/v1/customers',
    {
      schema: {
        summary: 'List customers, newest first',
        tags,
        querystring: listCustomersQuery,
        response: { 200: page(customer), ...errorResponses },
      },
    },
    async (request) => customers.list(request.tenantId, request.query),
  );

  app.get(
    '/v1/customers/:id',
    {
      // A customer token reads its own customer, nothing else of these routes.
      config: { customer: true },
      schema: {
        summary: 'Read a customer',
        description: "With a customer token: only the token's own customer (another is a 403).",
        tags,
        params: customerIdParams,
        response: { 200: customer, ...errorResponses },
      },
    },
    async (request) => {
      onlyCustomer(request, request.params.id);
      return customers.get(request.tenantId, request.params.id);
    },
  );

  app.patch(
    '/v1/customers/:id',
    {
      schema: {
        summary: 'Update a customer',
        description:
          'Only the fields given change: `null` clears `email`, `name` or `defaultPaymentMethodId`; `metadata` replaces the whole map. `defaultPaymentMethodId` must be an active saved card of the customer (422 otherwise).',
        tags,
        params: customerIdParams,
        body: updateCustomerBody,
        response: { 200: customer, ...errorResponses },
      },
    },
    async (request) => customers.update(request.tenantId, request.params.id, request.body),
  );

  const methodTags = ['payment methods'];

  app.post(
    '/v1/customers/:id/payment-methods',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Save a card for later payments',
        description:
          "Saves the tokenized card at the tenant's gateway (Stripe: a Customer and a SetupIntent; the sandbox: a stored method). 201 `active`, or `requires_action` when the card needs 3-D Secure on setup: send the customer to `nextAction.url`; the gateway's webhook (or a read) moves it on. A card the gateway refuses is a 402 with its decline code, and nothing is kept. The customer's first active card becomes its default.",
        tags: methodTags,
        params: customerIdParams,
        body: savePaymentMethodBody,
        response: { 201: savedPaymentMethod, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await paymentMethods.save(request.tenantId, request.params.id, request.body)),
  );

  app.get(
    '/v1/customers/:id/payment-methods',
    {
      config: { customer: true },
      schema: {
        summary: "List a customer's saved cards, newest first",
        description: "With a customer token: only the token's own customer.",
        tags: methodTags,
        params: customerIdParams,
        response: { 200: z.object({ data: z.array(savedPaymentMethod) }), ...errorResponses },
      },
    },
    async (request) => {
      onlyCustomer(request, request.params.id);
      return paymentMethods.list(request.tenantId, request.params.id);
    },
  );

  app.get(
    '/v1/customers/:id/payment-methods/:paymentMethodId',
    {
      config: { customer: true },
      schema: {
        summary: 'Read a saved card',
        description: 'One waiting for 3-D Secure on setup is read from the gateway again.',
        tags: methodTags,
        params: paymentMethodParams,
        response: { 200: savedPaymentMethod, ...errorResponses },
      },
    },
    async (request) => {
      onlyCustomer(request, request.params.id);
      return paymentMethods.get(request.tenantId, request.params.id, request.params.paymentMethodId);
    },
  );

  app.delete(
    '/v1/customers/:id/payment-methods/:paymentMethodId',
    {
      schema: {
        summary: 'Delete a saved card',
        description:
          'Detaches the card at the gateway and forgets it (and clears it as the default). A payment already charging it is not affected; later payments naming it get 422 `payment_method_not_found`.',
        tags: methodTags,
        params: paymentMethodParams,
        response: { 200: deletedPaymentMethod, ...errorResponses },
      },
    },
    async (request) =>
      paymentMethods.delete(request.tenantId, request.params.id, request.params.paymentMethodId),
  );
};
