import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { StripeConnector } from '../../src/gateway/connectors/stripe/connector.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { AuthorizeRequest } from '../../src/gateway/port.js';
import {
  failNext,
  intentAtStripe,
  stripeEmulatorUrl,
  stripeRejections,
  stripeRequests,
} from '../support/stripe.js';

const stripeMockUrl = inject('stripeMockUrl');

const request = (token: string, extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: `test-${randomUUID()}`,
  token,
  amount: 4200,
  currency: 'EUR',
  reference: `pay_${randomUUID()}`,
  capture: false,
  returnUrl: 'http://127.0.0.1:3000/v1/payments/pay_x',
  ...extra,
});

describe.skipIf(!stripeEmulatorUrl)('the Stripe connector against stripe-mock', () => {
  const stripe = new StripeConnector({
    apiKey: 'sk_test_connector',
    webhookSecret: 'whsec_x',
    apiBase: stripeEmulatorUrl,
  });

  afterAll(async () => {
    // Every request the connector sent matched Stripe's OpenAPI (stripe-mock refused none).
    expect(await stripeRejections()).toEqual([]);
  });

  it('authorizes with manual capture, captures part, and refunds, each write with its own idempotency key', async () => {
    const auth = await stripe.authorize(request('pm_card_visa'));
    expect(auth).toMatchObject({ status: 'authorized', amount: 4200, amountCaptured: 0, currency: 'EUR' });
    expect(auth.card).toMatchObject({ brand: 'visa', last4: '4242' });
    const captured = await stripe.capture({
      idempotencyKey: `cap-${auth.id}`,
      authorizationId: auth.id,
      amount: 3000,
      currency: 'EUR',
    });
    expect(captured).toMatchObject({ status: 'captured', amountCaptured: 3000 });
    const refund = await stripe.refund({
      idempotencyKey: `ref-${auth.id}`,
      authorizationId: auth.id,
      amount: 1000,
      reason: 'damaged',
    });
    expect(refund).toMatchObject({ status: 'succeeded', amount: 1000, authorizationId: auth.id });
    expect(await stripe.status(auth.id)).toMatchObject({
      status: 'captured',
      amountCaptured: 3000,
      amountRefunded: 1000,
    });

    const writes = (await stripeRequests()).filter(
      (r) => r.method === 'POST' && (r.path.includes(auth.id) || r.params.payment_intent === auth.id),
    );
    const keys = writes.map((r) => r.idempotencyKey);
    expect(keys).toEqual([`cap-${auth.id}`, `ref-${auth.id}`]);
    const refundRequest = writes.find((r) => r.path === '/v1/refunds');
    expect(refundRequest?.params).toMatchObject({
      'metadata[paysaga_refund_reason]': 'damaged',
      amount: '1000',
    });
  });

  it('sends the PaymentIntent Stripe expects: card only, confirmed, manual capture, the payment id in metadata', async () => {
    const req = request('pm_card_visa');
    await stripe.authorize(req);
    const sent = (await stripeRequests()).find((r) => r.idempotencyKey === req.idempotencyKey);
    expect(sent?.params).toMatchObject({
      amount: '4200',
      currency: 'eur',
      capture_method: 'manual',
      confirm: 'true',
      payment_method: 'pm_card_visa',
      'allowed_payment_method_types[0]': 'card',
      'metadata[paysaga_payment_id]': req.reference,
    });
  });

  it('voids (cancels) an authorization, and a second void is refused as final', async () => {
    const auth = await stripe.authorize(request('pm_card_visa'));
    expect(await stripe.void({ idempotencyKey: `void-${auth.id}`, authorizationId: auth.id })).toMatchObject({
      status: 'voided',
    });
    await expect(
      stripe.void({ idempotencyKey: `void2-${auth.id}`, authorizationId: auth.id }),
    ).rejects.toBeInstanceOf(GatewayRequestError);
  });

  it('returns 3-D Secure as requires_action with the redirect URL', async () => {
    const auth = await stripe.authorize(request('pm_card_authenticationRequired'));
    expect(auth.status).toBe('requires_action');
    expect(auth.actionUrl).toBe(`${stripeEmulatorUrl}/__emulator/3ds/${auth.id}`);
  });

  it.each([
    ['pm_card_chargeDeclined', 'card_declined'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_chargeDeclinedFraudulent', 'fraud_suspected'],
    ['pm_card_chargeDeclinedLostCard', 'fraud_suspected'],
    ['pm_card_chargeDeclinedStolenCard', 'fraud_suspected'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
    ['pm_card_chargeDeclinedIncorrectCvc', 'invalid_card'],
    ['pm_card_chargeDeclinedProcessingError', 'processing_error'],
    ['pm_card_chargeDeclinedVelocityLimitExceeded', 'insufficient_funds'],
    ['pm_does_not_exist', 'invalid_card'],
  ])('declines %s (a 402 through the SDK) as %s', async (token, failureCode) => {
    const auth = await stripe.authorize(request(token));
    expect(auth).toMatchObject({ status: 'declined', failureCode, amountCaptured: 0 });
  });

  it('retries a 5xx with the same key: Stripe replays the first PaymentIntent, so one authorization', async () => {
    const req = request('pm_card_visa');
    // Stripe took the request, then the answer was lost (a 500 after the fact).
    await failNext(1, 500, 'after');
    await expect(stripe.authorize(req)).rejects.toBeInstanceOf(GatewayUnavailableError);
    const first = await stripe.authorize(req);
    const again = await stripe.authorize(req);
    expect(again.id).toBe(first.id);
    expect((await intentAtStripe(first.id)).status).toBe('requires_capture');
    await failNext(1, 429);
    await expect(stripe.status(first.id)).rejects.toBeInstanceOf(GatewayUnavailableError);
  });

  it('refuses a key Stripe does not accept as final, without the key in the error', async () => {
    const apiKey = 'sk_test_not_a_valid_looking_Key_0123456789';
    const badKey = new StripeConnector({ apiKey, webhookSecret: 'whsec_x', apiBase: stripeMockUrl });
    const error = await badKey.status('pi_1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayRequestError);
    // stripe-mock echoes the Authorization header; the connector masks it.
    expect((error as Error).message).toMatch(/authenticate/);
    expect((error as Error).message).not.toContain(apiKey);
  });

  it('every call it makes is valid against stripe-mock itself, without the emulator', async () => {
    // stripe-mock answers with its fixtures; what matters here is that it accepts each request.
    const direct = new StripeConnector({
      apiKey: 'sk_test_direct',
      webhookSecret: 'whsec_x',
      apiBase: stripeMockUrl,
    });
    await expect(direct.authorize(request('pm_card_visa'))).resolves.toMatchObject({ status: 'declined' });
    await expect(
      direct.capture({ idempotencyKey: 'd-cap', authorizationId: 'pi_1', amount: 100, currency: 'EUR' }),
    ).resolves.toBeDefined();
    await expect(direct.void({ idempotencyKey: 'd-void', authorizationId: 'pi_1' })).resolves.toBeDefined();
    await expect(
      direct.refund({ idempotencyKey: 'd-ref', authorizationId: 'pi_1', amount: 100, reason: 'r' }),
    ).resolves.toMatchObject({ status: 'succeeded' });
    await expect(direct.status('pi_1')).resolves.toBeDefined();
  });
});
