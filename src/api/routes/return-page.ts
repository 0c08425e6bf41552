import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { AppError } from '../../app/errors.js';
import { publicPayment } from '../../domain/payment.js';
import { returnUrlWithOutcome } from '../../domain/return-url.js';
import { bindLog } from '../log-context.js';
import { pageHeaders } from '../pages/layout.js';
import { NOT_FOUND_PAGE, returnPage, returnPageText, type PageText } from '../pages/return-page.js';

/**
 * `GET /pay/return/{paymentId}?sig=...`: where the gateway sends the customer's browser after
 * 3-D Secure. No API key: the signature is the capability (app/return-links.ts). The customer is
 * sent on (303) to the merchant's `returnUrl` with `payment_id` and `status` in its query, or
 * shown a page that says what happened. A link Paysaga did not sign is a plain 404 page, the
 * same whether the payment exists or not.
 */
export const returnPageRoutes: FastifyPluginAsync = async (app) => {
  const { payments } = app.services;

  app.get<{ Params: { paymentId: string }; Querystring: { sig?: string | string[] } }>(
    '/pay/return/:paymentId',
    { config: { public: true, page: true }, schema: { hide: true } },
    async (request, reply) => {
      // The link must not reach the merchant's page (Referer), and no cache may keep the page.
      void reply.headers(pageHeaders());
      const { sig } = request.query;
      let payment;
      try {
        payment = await payments.returnFromAction(
          request.params.paymentId,
          typeof sig === 'string' ? sig : undefined,
        );
      } catch (error) {
        if (error instanceof AppError && error.kind === 'not_found') return page(reply, 404, NOT_FOUND_PAGE);
        throw error;
      }
      bindLog(request, reply, { paymentId: payment.id, workflowId: payment.workflowId });
      request.log.info({ status: payment.status }, 'customer returned');
      const view = publicPayment(payment);
      if (view.returnUrl)
        return reply.redirect(returnUrlWithOutcome(view.returnUrl, view.id, view.status), 303);
      return page(reply, 200, returnPageText(view.status, view.failureCode));
    },
  );
};

function page(reply: FastifyReply, status: number, text: PageText) {
  return reply.status(status).send(returnPage(text));
}
