import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { onlyCustomer } from '../customer-access.js';
import {
  createCustomerBody,
  customer,
  customerIdParams,
  errorResponses,
  listCustomersQuery,
  page,
  updateCustomerBody,
} from '../schemas.js';

/** The tenant's customers, by the merchant's own ids. */
export const customerRoutes: FastifyPluginAsyncZod = async (app) => {
  const { customers } = app.services;
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
          'Only the fields given change: `null` clears `email` or `name`; `metadata` replaces the whole map.',
        tags,
        params: customerIdParams,
        body: updateCustomerBody,
        response: { 200: customer, ...errorResponses },
      },
    },
    async (request) => customers.update(request.tenantId, request.params.id, request.body),
  );
};
