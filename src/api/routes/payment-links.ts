import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { publicPaymentLink } from '../../domain/payment-link.js';
import {
  createPaymentLinkBody,
  errorResponses,
  listPaymentLinksQuery,
  page,
  paymentIdParams,
  paymentLink,
} from '../schemas.js';

/** The merchant's side of payment links (a visit, `/l/{id}`, is in ../pages). */
export const paymentLinkRoutes: FastifyPluginAsyncZod = async (app) => {
  const { paymentLinks, config } = app.services;
  const tags = ['payment links'];
  const show = (view: Parameters<typeof publicPaymentLink>[0]) => publicPaymentLink(view, config.publicUrl);

  app.post(
    '/v1/payment-links',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Create a payment link: a reusable URL for a fixed amount',
        description:
          'Share `url`: each visit opens a new checkout session (a new order of a guest customer, `paymentLinkId` on the session and its events) and sends the visitor to its page. At most `PAYMENT_LINK_SESSIONS_PER_MINUTE` sessions a minute per link.',
        tags,
        body: createPaymentLinkBody,
        response: { 201: paymentLink, ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.status(201).send(show(await paymentLinks.create(request.tenantId, request.body))),
  );

  app.get(
    '/v1/payment-links',
    {
      schema: {
        summary: 'List payment links, newest first',
        tags,
        querystring: listPaymentLinksQuery,
        response: { 200: page(paymentLink), ...errorResponses },
      },
    },
    async (request) => {
      const { active, ...rest } = request.query;
      const { data, nextCursor } = await paymentLinks.list(request.tenantId, {
        ...rest,
        active: active === undefined ? undefined : active === 'true',
      });
      return { data: data.map(show), nextCursor };
    },
  );

  app.get(
    '/v1/payment-links/:id',
    {
      schema: {
        summary: 'Read a payment link',
        tags,
        params: paymentIdParams,
        response: { 200: paymentLink, ...errorResponses },
      },
    },
    async (request) => show(await paymentLinks.get(request.tenantId, request.params.id)),
  );

  app.post(
    '/v1/payment-links/:id/deactivate',
    {
      config: { idempotent: true },
      schema: {
        summary: 'Deactivate a payment link',
        description:
          'Visits open no more sessions and show a page saying the link is no longer active; sessions already open stay payable until they expire. An inactive link stays inactive (200).',
        tags,
        params: paymentIdParams,
        response: { 200: paymentLink, ...errorResponses },
      },
    },
    async (request) => show(await paymentLinks.deactivate(request.tenantId, request.params.id)),
  );
};
