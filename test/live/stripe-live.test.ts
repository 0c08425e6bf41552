/**
 * The Stripe connector against a real Stripe test account. Collected only when STRIPE_API_KEY is
 * set to a test-mode key (vitest.config.ts): `STRIPE_API_KEY=sk_test_... npm run test:stripe-live`.
 * It uses Stripe's documented test PaymentMethods, so it moves no real money.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StripeConnector } from '../../src/gateway/connectors/stripe/connector.js';
import type { AuthorizeRequest } from '../../src/gateway/port.js';

const apiKey = process.env.STRIPE_API_KEY ?? '';
if (!apiKey.startsWith('sk_test_') && !apiKey.startsWith('rk_test_'))
  throw new Error('the live Stripe test runs only with a test-mode key (sk_test_... or rk_test_...)');

// STRIPE_API_BASE points it elsewhere (a proxy); unset, it is Stripe itself.
const stripe = new StripeConnector({
  apiKey,
  webhookSecret: 'whsec_unused',
  apiBase: process.env.STRIPE_API_BASE,
});
const request = (token: string, extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: `paysaga-live-${randomUUID()}`,
  token,
  amount: 4200,
  currency: 'EUR',
  reference: `pay_live_${randomUUID()}`,
  capture: false,
  returnUrl: 'https://example.com/return',
  ...extra,
});

describe('the Stripe connector against Stripe (test mode)', () => {
  it('authorizes, captures part, refunds, and replays a retried authorization', async () => {
    const req = request('pm_card_visa');
    const auth = await stripe.authorize(req);
    expect(auth).toMatchObject({ status: 'authorized', amount: 4200, currency: 'EUR' });
    expect((await stripe.authorize(req)).id).toBe(auth.id);
    const captured = await stripe.capture({
      idempotencyKey: `${req.idempotencyKey}-capture`,
      authorizationId: auth.id,
      amount: 3000,
      currency: 'EUR',
    });
    expect(captured).toMatchObject({ status: 'captured', amountCaptured: 3000 });
    const refund = await stripe.refund({
      idempotencyKey: `${req.idempotencyKey}-refund`,
      authorizationId: auth.id,
      amount: 1000,
      reason: 'live test',
    });
    expect(refund.amount).toBe(1000);
    expect(['succeeded', 'pending']).toContain(refund.status);
  });

  it('voids an authorization', async () => {
    const auth = await stripe.authorize(request('pm_card_visa'));
    const voided = await stripe.void({ idempotencyKey: `void-${auth.id}`, authorizationId: auth.id });
    expect(voided.status).toBe('voided');
  });

  it('asks for 3-D Secure with a redirect URL', async () => {
    const auth = await stripe.authorize(request('pm_card_authenticationRequired'));
    expect(auth.status).toBe('requires_action');
    expect(auth.actionUrl).toMatch(/^https?:\/\//);
  });

  it.each([
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
    ['pm_card_chargeDeclinedIncorrectCvc', 'invalid_card'],
    ['pm_card_chargeDeclinedFraudulent', 'fraud_suspected'],
  ])('declines %s as %s', async (token, failureCode) => {
    expect(await stripe.authorize(request(token))).toMatchObject({ status: 'declined', failureCode });
  });
});
