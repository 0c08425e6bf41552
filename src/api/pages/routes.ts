import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { AppError } from '../../app/errors.js';
import type { CheckoutChoice } from '../../app/checkout-sessions.js';
import { successRedirect, type CheckoutSessionView } from '../../domain/checkout.js';
import type { PaymentView } from '../../domain/payment.js';
import { cardToken } from '../schemas.js';
import { checkoutPage, declineReason, endedPage, notFoundPage, pendingPage } from './checkout.js';
import { CHECKOUT_SCRIPT } from './checkout-script.js';
import { PAGE_ASSETS, PAGE_STYLE, pageHeaders } from './layout.js';

type IdParams = { Params: { id: string } };

/** A form post is a method and a token: far less than this. */
const FORM_BODY_LIMIT = 4096;

/**
 * The customer's hosted checkout page. No API key: the session id in the URL is the capability,
 * and an unknown one is a 404 page. Forms post `application/x-www-form-urlencoded` (parsed here
 * only; the API takes JSON alone).
 */
export const checkoutPageRoutes: FastifyPluginAsync = async (app) => {
  const { checkoutSessions, config } = app.services;
  const open = { config: { public: true, page: true }, schema: { hide: true } } as const;
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  const send = (reply: FastifyReply, status: number, body: string, session?: CheckoutSessionView) =>
    reply
      .status(status)
      .headers(
        pageHeaders({
          connect: [config.gatewayPublicUrl],
          // The pay form is redirected to the merchant's success URL or the gateway's 3-D Secure page.
          formTargets: session ? [config.gatewayPublicUrl, session.successUrl] : [],
        }),
      )
      .send(body);

  /** The page again with what went wrong (a decline, a refusal), or the page the state calls for. */
  const outcome = async (
    reply: FastifyReply,
    id: string,
    payment: PaymentView | undefined,
    status: number,
  ) => {
    const page = await checkoutSessions.page(id);
    if (!page) return send(reply, 404, notFoundPage());
    const { session } = page;
    if (payment?.status === 'succeeded')
      return reply.redirect(successRedirect(session.successUrl, session.id), 303);
    if (payment?.status === 'requires_action' && payment.nextAction)
      return send(reply, 200, pendingPage(session, payment.nextAction.url), session);
    if (payment?.status === 'processing') return send(reply, 202, pendingPage(session), session);
    if (!isPayable(session)) return send(reply, 200, endedPage(session), session);
    const error = payment ? reasonOf(payment) : undefined;
    return send(reply, status, checkoutPage(page, { gatewayUrl: config.gatewayPublicUrl, error }), session);
  };

  app.get('/checkout/assets/checkout.js', open, async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(CHECKOUT_SCRIPT),
  );
  app.get(PAGE_ASSETS.style, open, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(PAGE_STYLE),
  );

  app.get<IdParams>('/checkout/:id', open, async (request, reply) => {
    const page = await checkoutSessions.page(request.params.id);
    if (!page) return send(reply, 404, notFoundPage());
    const { session, payment } = page;
    // Paid: the session completes a moment after its payment (a signal between workflows).
    if (payment?.status === 'succeeded')
      return send(reply, 200, endedPage({ ...session, status: 'complete' }), session);
    if (!isPayable(session)) return send(reply, 200, endedPage(session), session);
    // Paid on the gateway's own page (a Stripe tenant's): this one sends the customer there.
    if (session.gateway) return reply.redirect(session.gateway.url, 303);
    if (payment?.status === 'requires_action' && payment.nextAction)
      return send(reply, 200, pendingPage(session, payment.nextAction.url), session);
    // A payment that did not go through: its reason stays on the page until the next try.
    const failed = payment?.status === 'failed' || (payment?.status as string) === 'requires_payment_method';
    const error = failed && payment ? reasonOf(payment) : undefined;
    return send(reply, 200, checkoutPage(page, { gatewayUrl: config.gatewayPublicUrl, error }), session);
  });

  app.post<IdParams>('/checkout/:id/pay', open, async (request, reply) => {
    const page = await checkoutSessions.page(request.params.id);
    if (!page) return send(reply, 404, notFoundPage());
    const { session } = page;
    if (page.payment?.status === 'succeeded')
      return reply.redirect(successRedirect(session.successUrl, session.id), 303);
    if (!isPayable(session)) return send(reply, 409, endedPage(session), session);
    if (session.gateway) return reply.redirect(session.gateway.url, 303);
    const choice = choiceOf(request.body);
    const retry = (status: number, error: string) =>
      send(reply, status, checkoutPage(page, { gatewayUrl: config.gatewayPublicUrl, error }), session);
    if (!choice) return retry(400, 'Enter your card details, or choose another way to pay.');
    let payment: PaymentView;
    try {
      payment = await checkoutSessions.pay(session, choice);
    } catch (error) {
      if (!(error instanceof AppError) || error.kind === 'unavailable') throw error;
      return retry(statusOf(error), customerMessage(error));
    }
    request.log.info(
      { sessionId: session.id, paymentId: payment.id, status: payment.status },
      'checkout paid',
    );
    if (payment.status === 'requires_action' && payment.nextAction)
      return reply.redirect(payment.nextAction.url, 303);
    // A decline is the page again with its reason: a 200, as a form shown again is.
    return outcome(reply, session.id, payment, 200);
  });

  app.get<IdParams>('/checkout/:id/return', open, async (request, reply) => {
    const page = await checkoutSessions.page(request.params.id);
    if (!page) return send(reply, 404, notFoundPage());
    return outcome(reply, page.session.id, await checkoutSessions.returned(page.session), 200);
  });
};

function reasonOf(payment: PaymentView): string {
  if (payment.method.type === 'wallet' && payment.failureCode === 'insufficient_funds')
    return 'Your wallet does not hold enough for this payment. Pay by card instead.';
  return declineReason(payment.failureCode, payment.failureMessage);
}

function isPayable(session: CheckoutSessionView): boolean {
  // The timer may fire a moment after the expiry: the page does not wait for it.
  return session.status === 'open' && Date.parse(session.expiresAt) > Date.now();
}

function choiceOf(body: unknown): CheckoutChoice | undefined {
  const form = (body ?? {}) as Record<string, unknown>;
  if (form.method === 'wallet') return { method: 'wallet' };
  if (form.method === 'paypal') return { method: 'paypal' };
  if (form.method !== 'card') return undefined;
  const token = cardToken.safeParse(form.token);
  return token.success ? { method: 'card', token: token.data } : undefined;
}

function statusOf(error: AppError): number {
  switch (error.kind) {
    case 'declined':
      return 402;
    case 'conflict':
      return 409;
    case 'not_found':
      return 404;
    default:
      return 422;
  }
}

/** A refusal in the customer's words (the machine codes are for merchants). */
function customerMessage(error: AppError): string {
  switch (error.code) {
    case 'insufficient_funds':
      return 'Your wallet does not hold enough for this payment. Pay by card instead.';
    case 'order_already_paid':
      return 'This order already has a payment that did not go through, so it cannot be paid again here. Ask the merchant for help.';
    case 'currency_mismatch':
      return 'Your wallet holds another currency. Pay by card instead.';
    default:
      return error.detail ?? 'The payment could not be made. Try another way to pay.';
  }
}
