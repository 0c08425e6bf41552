import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { checkoutUrl } from '../../domain/checkout.js';
import { pageHeaders } from './layout.js';
import { busyLinkPage, inactiveLinkPage, linkNotFoundPage } from './payment-link.js';

type IdParams = { Params: { id: string } };

/**
 * A visit of a payment link, `/l/{id}`. No API key: the link is meant to be shared. Every answer
 * is `no-store` (a cached redirect would send two visitors to one session) and `noindex` (a
 * search engine must not keep opening sessions).
 */
export const paymentLinkPageRoutes: FastifyPluginAsync = async (app) => {
  const { paymentLinks, config } = app.services;
  const robots = { 'x-robots-tag': 'noindex, nofollow' };
  const headers = { ...pageHeaders(), ...robots };
  const send = (reply: FastifyReply, status: number, body: string) =>
    reply.status(status).headers(headers).send(body);

  // Only a GET opens a session: Fastify would answer HEAD with the GET handler, so HEAD has its
  // own route that opens nothing (link checkers and previewers send it).
  app.get<IdParams>(
    '/l/:id',
    { config: { public: true, page: true }, schema: { hide: true }, exposeHeadRoute: false },
    async (request, reply) => {
      const visit = await paymentLinks.visit(request.params.id);
      switch (visit.outcome) {
        case 'not_found':
          return send(reply, 404, linkNotFoundPage());
        case 'inactive':
          return send(reply, 410, inactiveLinkPage(visit.link));
        case 'limited':
          reply.header('retry-after', String(visit.retryAfterSeconds));
          return send(reply, 429, busyLinkPage(visit.link, visit.retryAfterSeconds));
        case 'session':
          request.log.info(
            { paymentLinkId: visit.link.id, sessionId: visit.session.id },
            'payment link visited',
          );
          // The session id is the page's credential: not kept, not sent on.
          return reply
            .headers({ ...robots, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
            .redirect(checkoutUrl(config.publicUrl, visit.session.id), 303);
      }
    },
  );

  app.head<IdParams>(
    '/l/:id',
    { config: { public: true, page: true }, schema: { hide: true } },
    async (request, reply) => {
      const state = await paymentLinks.peek(request.params.id);
      return reply
        .status(state === 'active' ? 200 : state === 'inactive' ? 410 : 404)
        .headers(headers)
        .send();
    },
  );
};
