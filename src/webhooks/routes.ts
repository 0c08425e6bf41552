import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  createWebhookEndpointBody,
  errorResponses,
  page,
  paymentIdParams,
  rotateWebhookSecretBody,
  webhookDeliveriesQuery,
  webhookDelivery,
  webhookDeliveryParams,
  webhookEndpoint,
} from '../api/schemas.js';

export const webhookEndpointRoutes: FastifyPluginAsyncZod = async (app) => {
  const { webhookEndpoints } = app.services;
  const tags = ['webhook endpoints'];

  app.post(
    '/v1/webhook-endpoints',
    {
      config: { idempotent: true, secretFields: ['secret'] },
      schema: {
        summary: 'Register a webhook endpoint',
        description:
          'Every event of the tenant whose type the endpoint wants is POSTed to its URL, signed with `Paysaga-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, retried with backoff for up to 3 days, in order. The answer carries the signing `secret` (`whsec_...`) once. The URL must be on the public internet (`422 url_not_allowed`: a loopback, private, link-local or otherwise internal address, or a name that resolves to one or does not resolve); a tenant has at most 16 endpoints (`409 webhook_endpoint_limit_reached`).',
        tags,
        body: createWebhookEndpointBody,
        response: { 201: webhookEndpoint, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await webhookEndpoints.create(request.tenantId, request.body)),
  );

  app.get(
    '/v1/webhook-endpoints',
    {
      schema: {
        summary: "The tenant's webhook endpoints, newest first",
        tags,
        response: { 200: z.object({ data: z.array(webhookEndpoint) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await webhookEndpoints.list(request.tenantId) }),
  );

  app.get(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        summary: 'Read a webhook endpoint',
        tags,
        params: paymentIdParams,
        response: { 200: webhookEndpoint, ...errorResponses },
      },
    },
    async (request) => webhookEndpoints.get(request.tenantId, request.params.id),
  );

  app.delete(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        summary: 'Delete a webhook endpoint: nothing more is sent to it',
        tags,
        params: paymentIdParams,
        response: { 200: webhookEndpoint, ...errorResponses },
      },
    },
    async (request) => webhookEndpoints.delete(request.tenantId, request.params.id),
  );

  app.post(
    '/v1/webhook-endpoints/:id/rotate-secret',
    {
      config: { idempotent: true, secretFields: ['secret'] },
      schema: {
        summary: 'Rotate the signing secret',
        description:
          'Returns the new `secret` once. For `overlapSeconds` (default 1 day) deliveries carry two `v1` signatures, one per secret, so receivers can switch without losing any.',
        tags,
        params: paymentIdParams,
        body: rotateWebhookSecretBody,
        response: { 200: webhookEndpoint, ...errorResponses },
      },
    },
    async (request) =>
      webhookEndpoints.rotateSecret(
        request.tenantId,
        request.params.id,
        request.body?.overlapSeconds ?? 86_400,
      ),
  );

  app.get(
    '/v1/webhook-endpoints/:id/deliveries',
    {
      schema: {
        summary: "The endpoint's deliveries with every attempt, a page at a time",
        description:
          'Newest first by default; `order=oldest&status=pending&limit=1` is the delivery the endpoint is stuck on. `nextCursor` fetches the next page.',
        tags,
        params: paymentIdParams,
        querystring: webhookDeliveriesQuery,
        response: { 200: page(webhookDelivery), ...errorResponses },
      },
    },
    async (request) => webhookEndpoints.deliveries(request.tenantId, request.params.id, request.query),
  );

  app.post(
    '/v1/webhook-endpoints/:id/deliveries/:deliveryId/retry',
    {
      schema: {
        summary: 'Send a delivery again now',
        description: 'One attempt now, recorded as `manual`; the answer is the delivery with it.',
        tags,
        params: webhookDeliveryParams,
        response: { 200: webhookDelivery, ...errorResponses },
      },
    },
    async (request) => webhookEndpoints.retry(request.tenantId, request.params.id, request.params.deliveryId),
  );
};
