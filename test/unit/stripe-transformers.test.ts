import { readFileSync } from 'node:fs';
import path from 'node:path';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { StripeConnector } from '../../src/gateway/connectors/stripe/connector.js';
import {
  AUTHORIZATION_LOOKUP_WINDOW_MS,
  isAuthorizationFor,
  maskSecrets,
  STRIPE_DECLINE_CODES,
  toAuthorization,
  toAuthorizationListParams,
  toAuthorizeOutcome,
  toCaptureParams,
  toCheckoutSessionParams,
  toCheckoutStatus,
  toGatewayError,
  toPaymentIntentParams,
  toRefund,
  toRefundParams,
  toStripeExpiresAt,
  toWebhookEvents,
} from '../../src/gateway/connectors/stripe/transformers.js';
import { connectorAmountRefusal } from '../../src/gateway/amount-rules.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { AuthorizeRequest, CheckoutSessionRequest } from '../../src/gateway/port.js';
import { WebhookSignatureError } from '../../src/gateway/webhook-signature.js';

/** Stripe response and event bodies, shaped after stripe-mock's fixtures of Stripe's OpenAPI. */
const fixture = <T = any>(name: string): T =>
  JSON.parse(
    readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'stripe', `${name}.json`), 'utf8'),
  ) as T;

const authorizeRequest = (extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: 'wf-authorize',
  token: 'pm_card_visa',
  amount: 4200,
  currency: 'EUR',
  reference: 'pay_fixture',
  capture: false,
  returnUrl: 'http://127.0.0.1:3000/v1/payments/pay_fixture',
  ...extra,
});

/** An error as the SDK raises it from an HTTP answer (it picks the class by status). */
const stripeError = (raw: Record<string, unknown>, statusCode?: number, headers?: Record<string, string>) =>
  Stripe.errors.StripeError.generate({ ...raw, statusCode, headers });

/** A card error as the SDK raises it from Stripe's 402 body. */
const cardError = (code: string, declineCode?: string) =>
  Stripe.errors.StripeError.generate({
    statusCode: 402,
    type: 'card_error',
    code,
    ...(declineCode ? { decline_code: declineCode } : {}),
    message: 'Your card was declined.',
  });

describe('Stripe request mapping', () => {
  it('authorizes with one confirmed, card-only PaymentIntent carrying the payment id', () => {
    expect(toPaymentIntentParams(authorizeRequest())).toEqual({
      amount: 4200,
      currency: 'eur',
      capture_method: 'manual',
      confirm: true,
      allowed_payment_method_types: ['card'],
      payment_method: 'pm_card_visa',
      return_url: 'http://127.0.0.1:3000/v1/payments/pay_fixture',
      metadata: { paysaga_payment_id: 'pay_fixture', paysaga_idempotency_key: 'wf-authorize' },
      expand: ['latest_charge'],
    });
    expect(toPaymentIntentParams(authorizeRequest({ capture: true, returnUrl: undefined }))).toMatchObject({
      capture_method: 'automatic',
    });
    expect(toPaymentIntentParams(authorizeRequest({ returnUrl: undefined }))).not.toHaveProperty(
      'return_url',
    );
  });

  it('looks an authorization up by listing the PaymentIntents of the last 24 hours, page after page', () => {
    const now = Date.parse('2025-06-02T12:00:00.500Z');
    expect(AUTHORIZATION_LOOKUP_WINDOW_MS).toBe(24 * 60 * 60 * 1000);
    // Stripe's `created` is in whole seconds: the window starts at the second 24 h before now.
    expect(toAuthorizationListParams(now, 100)).toEqual({
      created: { gte: Date.parse('2025-06-01T12:00:00Z') / 1000 },
      limit: 100,
    });
    expect(toAuthorizationListParams(now, 2, 'pi_last')).toEqual({
      created: { gte: Date.parse('2025-06-01T12:00:00Z') / 1000 },
      limit: 2,
      starting_after: 'pi_last',
    });
  });

  it("recognizes the authorization by its key and its payment id, both in the PaymentIntent's metadata", () => {
    const lookup = { idempotencyKey: 'wf-authorize', reference: 'pay_fixture' };
    const { metadata } = toPaymentIntentParams(authorizeRequest());
    expect(isAuthorizationFor({ metadata: metadata as Stripe.Metadata }, lookup)).toBe(true);
    expect(isAuthorizationFor({ metadata: { paysaga_payment_id: 'pay_fixture' } }, lookup)).toBe(false);
    expect(
      isAuthorizationFor(
        { metadata: { paysaga_payment_id: 'pay_other', paysaga_idempotency_key: 'wf-authorize' } },
        lookup,
      ),
    ).toBe(false);
    expect(
      isAuthorizationFor(
        { metadata: { paysaga_payment_id: 'pay_fixture', paysaga_idempotency_key: 'wf-authorize:2' } },
        lookup,
      ),
    ).toBe(false);
    expect(isAuthorizationFor({ metadata: {} }, lookup)).toBe(false);
  });

  it("converts to Stripe's units where they differ from ISO 4217, and refuses what Stripe would", () => {
    expect(toPaymentIntentParams(authorizeRequest({ currency: 'ISK', amount: 1500 })).amount).toBe(150_000);
    expect(toPaymentIntentParams(authorizeRequest({ currency: 'JPY', amount: 1500 })).amount).toBe(1500);
    expect(toCaptureParams(1230, 'KWD')).toEqual({ amount_to_capture: 1230, expand: ['latest_charge'] });
    expect(() => toCaptureParams(1234, 'KWD')).toThrow(GatewayRequestError);
    // MGA: two decimals in ISO 4217, zero-decimal at Stripe; only whole ariary can be sent.
    expect(toPaymentIntentParams(authorizeRequest({ currency: 'MGA', amount: 150_000 })).amount).toBe(1500);
    expect(() => toPaymentIntentParams(authorizeRequest({ currency: 'MGA', amount: 150_050 }))).toThrow(
      /MGA only in whole units/,
    );
    // HUF and TWD are charged in hundredths as in ISO; UGX is zero-decimal in both; NAD is plain.
    expect(toCaptureParams(1250, 'HUF').amount_to_capture).toBe(1250);
    expect(toCaptureParams(1250, 'TWD').amount_to_capture).toBe(1250);
    expect(toCaptureParams(1250, 'UGX').amount_to_capture).toBe(1250);
    expect(toCaptureParams(1250, 'NAD').amount_to_capture).toBe(1250);
  });

  it('names the amounts a Stripe tenant cannot be charged, and none for another connector', () => {
    expect(connectorAmountRefusal('stripe', 150_050, 'MGA')).toMatch(/MGA only in whole units/);
    expect(connectorAmountRefusal('stripe', 1234, 'KWD')).toMatch(/multiples of 10/);
    expect(connectorAmountRefusal('stripe', 150_000, 'MGA')).toBeUndefined();
    expect(connectorAmountRefusal('stripe', 1250, 'NAD')).toBeUndefined();
    expect(connectorAmountRefusal('sandbox', 150_050, 'MGA')).toBeUndefined();
  });

  it("reads Stripe's units back as ISO 4217 minor units", () => {
    const intent = (currency: string, amount: number) =>
      ({
        id: 'pi_1',
        object: 'payment_intent',
        status: 'succeeded',
        amount,
        amount_received: amount,
        currency,
        latest_charge: null,
        metadata: {},
      }) as unknown as Stripe.PaymentIntent;
    expect(toAuthorization(intent('isk', 150_000))).toMatchObject({ amount: 1500, currency: 'ISK' });
    expect(toAuthorization(intent('mga', 1500))).toMatchObject({ amount: 150_000, amountCaptured: 150_000 });
    expect(toAuthorization(intent('nad', 1250))).toMatchObject({ amount: 1250, currency: 'NAD' });
  });

  it('refunds a PaymentIntent and keeps the free-text reason in metadata', () => {
    expect(
      toRefundParams(
        { idempotencyKey: 'k', authorizationId: 'pi_1', amount: 1000, reason: 'customer changed their mind' },
        'EUR',
        'pay_fixture',
      ),
    ).toEqual({
      payment_intent: 'pi_1',
      amount: 1000,
      metadata: { paysaga_payment_id: 'pay_fixture', paysaga_refund_reason: 'customer changed their mind' },
    });
    expect(
      toRefundParams({ idempotencyKey: 'k', authorizationId: 'pi_1', amount: 5 }, 'EUR', undefined),
    ).toEqual({
      payment_intent: 'pi_1',
      amount: 5,
    });
  });
});

describe('Stripe response mapping', () => {
  it('reads an authorized PaymentIntent with its card from the expanded charge', () => {
    expect(toAuthorization(fixture('payment-intent-requires-capture'))).toEqual({
      id: 'pi_3QxPaysagaFixture01',
      status: 'authorized',
      amount: 4200,
      amountCaptured: 0,
      amountRefunded: 0,
      currency: 'EUR',
      card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 },
      actionUrl: undefined,
      failureCode: undefined,
      failureMessage: undefined,
    });
  });

  it('reads 3-D Secure as requires_action with the redirect URL', () => {
    const auth = toAuthorization(fixture('payment-intent-requires-action'));
    expect(auth.status).toBe('requires_action');
    expect(auth.actionUrl).toMatch(/^https:\/\/hooks\.stripe\.com\/3d_secure_2\/hosted\?/);
  });

  it('reads a partial capture, a refund on it, a cancel, and a failed authentication', () => {
    expect(toAuthorization(fixture('payment-intent-succeeded-partial'))).toMatchObject({
      status: 'captured',
      amount: 4200,
      amountCaptured: 3000,
      amountRefunded: 1000,
    });
    expect(toAuthorization(fixture('payment-intent-canceled'))).toMatchObject({
      status: 'voided',
      card: undefined,
    });
    expect(toAuthorization(fixture('payment-intent-authentication-failed'))).toMatchObject({
      status: 'declined',
      failureCode: 'authentication_failed',
      failureMessage: expect.stringContaining('failed authentication') as unknown,
    });
  });

  it('has no outcome for a processing PaymentIntent: a fault to retry, not a decline', () => {
    const processing = { ...fixture('payment-intent-requires-capture'), status: 'processing' };
    expect(() => toAuthorization(processing)).toThrow(GatewayUnavailableError);
  });

  it('reads refunds: pending, failed with its reason', () => {
    expect(toRefund(fixture('refund-pending'))).toEqual({
      id: 're_3QxPaysagaFixture01',
      authorizationId: 'pi_3QxPaysagaFixture01',
      status: 'pending',
      amount: 1000,
      failureMessage: undefined,
    });
    expect(toRefund(fixture('refund-failed'))).toMatchObject({
      status: 'failed',
      failureMessage: 'expired_or_canceled_card',
    });
  });
});

/**
 * Every code of the mapping table, with the failure code it must become, written out here (not
 * read from the table): a code added to the table without a line here fails the last test.
 */
const EXPECTED_DECLINES: [string, string][] = [
  ['insufficient_funds', 'insufficient_funds'],
  ['card_velocity_exceeded', 'insufficient_funds'],
  ['withdrawal_count_limit_exceeded', 'insufficient_funds'],
  ['card_declined', 'card_declined'],
  ['generic_decline', 'card_declined'],
  ['do_not_honor', 'card_declined'],
  ['do_not_try_again', 'card_declined'],
  ['call_issuer', 'card_declined'],
  ['card_not_supported', 'card_declined'],
  ['currency_not_supported', 'card_declined'],
  ['not_permitted', 'card_declined'],
  ['restricted_card', 'card_declined'],
  ['service_not_allowed', 'card_declined'],
  ['transaction_not_allowed', 'card_declined'],
  ['invalid_account', 'card_declined'],
  ['new_account_information_available', 'card_declined'],
  ['no_action_taken', 'card_declined'],
  ['revocation_of_all_authorizations', 'card_declined'],
  ['revocation_of_authorization', 'card_declined'],
  ['stop_payment_order', 'card_declined'],
  ['expired_card', 'expired_card'],
  ['incorrect_cvc', 'invalid_card'],
  ['invalid_cvc', 'invalid_card'],
  ['incorrect_number', 'invalid_card'],
  ['invalid_number', 'invalid_card'],
  ['invalid_expiry_month', 'invalid_card'],
  ['invalid_expiry_year', 'invalid_card'],
  ['incorrect_zip', 'invalid_card'],
  ['incorrect_pin', 'invalid_card'],
  ['invalid_pin', 'invalid_card'],
  ['pin_try_exceeded', 'invalid_card'],
  ['testmode_decline', 'invalid_card'],
  ['live_mode_test_card', 'invalid_card'],
  ['fraudulent', 'fraud_suspected'],
  ['lost_card', 'fraud_suspected'],
  ['stolen_card', 'fraud_suspected'],
  ['pickup_card', 'fraud_suspected'],
  ['merchant_blacklist', 'fraud_suspected'],
  ['security_violation', 'fraud_suspected'],
  ['authentication_required', 'authentication_required'],
  ['authentication_not_handled', 'authentication_failed'],
  ['payment_intent_authentication_failure', 'authentication_failed'],
  ['setup_intent_authentication_failure', 'authentication_failed'],
  ['processing_error', 'processing_error'],
  ['issuer_not_available', 'processing_error'],
  ['try_again_later', 'processing_error'],
  ['reenter_transaction', 'processing_error'],
  ['approve_with_id', 'processing_error'],
  ['duplicate_transaction', 'processing_error'],
];

describe('Stripe decline codes', () => {
  it.each(EXPECTED_DECLINES)('issuer decline_code %s declines as %s', (declineCode, failureCode) => {
    const outcome = toAuthorizeOutcome(cardError('card_declined', declineCode), authorizeRequest());
    expect(outcome).toMatchObject({ status: 'declined', failureCode, amountCaptured: 0 });
  });

  it.each(EXPECTED_DECLINES)('error code %s (no decline_code) declines as %s', (code, failureCode) => {
    expect(toAuthorizeOutcome(cardError(code), authorizeRequest()).failureCode).toBe(failureCode);
  });

  it('declines a code it does not know as card_declined, never as a fault', () => {
    const error = cardError('card_declined', 'some_future_code');
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(toAuthorizeOutcome(error, authorizeRequest()).failureCode).toBe('card_declined');
  });

  it("reads the recorded 402 body: the PaymentIntent's id and the issuer's reason", () => {
    const error = stripeError(fixture('error-card-declined-insufficient-funds').error, 402);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(toAuthorizeOutcome(error, authorizeRequest())).toMatchObject({
      id: 'pi_3QxPaysagaFixture01',
      status: 'declined',
      failureCode: 'insufficient_funds',
      failureMessage: 'Your card has insufficient funds.',
    });
  });

  it('declines an off-session charge of a card that needs authentication as authentication_required, not authentication_failed', () => {
    const error = stripeError(fixture('error-authentication-required').error, 402);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(toAuthorizeOutcome(error, authorizeRequest())).toMatchObject({
      id: 'pi_3QxPaysagaFixture05',
      status: 'declined',
      failureCode: 'authentication_required',
      failureMessage: 'Your card was declined. This transaction requires authentication.',
    });
    // The PaymentIntent as a webhook or a re-read shows it afterwards.
    const intent = fixture('error-authentication-required').error.payment_intent;
    expect(toAuthorization(intent)).toMatchObject({
      status: 'declined',
      failureCode: 'authentication_required',
    });
    // 3-D Secure the customer failed or never did stays authentication_failed.
    expect(
      toAuthorizeOutcome(cardError('card_declined', 'authentication_not_handled'), authorizeRequest())
        .failureCode,
    ).toBe('authentication_failed');
  });

  it('declines an unknown PaymentMethod as invalid_card', () => {
    const error = stripeError(fixture('error-resource-missing-payment-method').error, 400);
    expect(toAuthorizeOutcome(error, authorizeRequest())).toMatchObject({
      status: 'declined',
      failureCode: 'invalid_card',
    });
  });

  it('covers every code of the table', () => {
    expect(EXPECTED_DECLINES.map(([code]) => code).sort()).toEqual(Object.keys(STRIPE_DECLINE_CODES).sort());
  });
});

describe('Stripe error classification', () => {
  const generate = stripeError;

  it.each([
    ['no answer', new Stripe.errors.StripeConnectionError({ message: 'ECONNRESET' })],
    ['a 500', generate({ type: 'api_error', message: 'Something went wrong' }, 500)],
    ['a 503 without a type', generate({ message: 'unavailable' }, 503)],
    ['a 429', generate({ type: 'invalid_request_error', code: 'rate_limit', message: 'Too many' }, 429)],
    ['a lock timeout', generate(fixture('error-lock-timeout').error, 429)],
    [
      'a same-key request in flight',
      generate({ type: 'idempotency_error', code: 'idempotency_key_in_use' }, 409),
    ],
    [
      'a 400 Stripe says to retry',
      generate({ type: 'invalid_request_error' }, 400, { 'stripe-should-retry': 'true' }),
    ],
  ])('retries %s', (_what, error) => {
    expect(toGatewayError(error)).toBeInstanceOf(GatewayUnavailableError);
    // And an authorization that meets it is retried, not declined.
    expect(() => toAuthorizeOutcome(error, authorizeRequest())).toThrow(GatewayUnavailableError);
  });

  it.each([
    ['an invalid request', generate({ type: 'invalid_request_error', code: 'parameter_unknown' }, 400)],
    [
      'a bad API key',
      generate({ type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****1234' }, 401),
    ],
    [
      'a key reused with other parameters',
      generate(
        {
          type: 'idempotency_error',
          message: 'Keys for idempotent requests can only be used with the same parameters',
        },
        400,
      ),
    ],
    [
      'a 500 Stripe says not to retry',
      generate({ type: 'api_error' }, 500, { 'stripe-should-retry': 'false' }),
    ],
  ])('does not retry %s', (_what, error) => {
    expect(toGatewayError(error)).toBeInstanceOf(GatewayRequestError);
  });
});

describe('secrets in Stripe messages', () => {
  it('masks keys and webhook secrets a server echoes back, keeping the last four', () => {
    const echoed =
      "Authorization was 'Bearer sk_test_51StripecoSecretKeyNeverLogged0123456789'; also rk_live_abcdefghijkl and whsec_abc";
    const masked = maskSecrets(echoed);
    expect(masked).toBe("Authorization was 'Bearer sk_test_****6789'; also rk_live_****ijkl and whsec_****");
    const error = toGatewayError(stripeError({ type: 'invalid_request_error', message: echoed }, 401));
    expect(error.message).not.toContain('SecretKeyNeverLogged');
  });
});

describe('Stripe webhooks', () => {
  const secret = 'whsec_unit_test_secret';
  const connector = new StripeConnector({ apiKey: 'sk_test_unit', webhookSecret: secret });
  const sign = (payload: string, options: { secret?: string; timestamp?: number } = {}) =>
    Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? secret,
      timestamp: options.timestamp,
    });
  const body = JSON.stringify(fixture('event-payment-intent-amount-capturable-updated'));

  it('verifies with constructEvent and maps a PaymentIntent event to the payment', () => {
    const events = connector.parseWebhook(Buffer.from(body), { 'stripe-signature': sign(body) });
    expect(events).toEqual([
      {
        type: 'authorization.updated',
        eventId: 'evt_3QxPaysagaFixture01',
        reference: 'pay_fixture',
        authorization: expect.objectContaining({
          id: 'pi_3QxPaysagaFixture01',
          status: 'authorized',
        }) as unknown,
      },
    ]);
  });

  it('maps a refund event, and acknowledges events that move nothing with none', () => {
    const refund = JSON.stringify(fixture('event-charge-refund-updated'));
    expect(connector.parseWebhook(Buffer.from(refund), { 'stripe-signature': sign(refund) })).toEqual([
      {
        type: 'refund.updated',
        eventId: 'evt_3QxPaysagaFixture02',
        reference: 'pay_fixture',
        refund: {
          id: 're_3QxPaysagaFixture01',
          authorizationId: 'pi_3QxPaysagaFixture01',
          status: 'succeeded',
          amount: 1000,
          failureMessage: undefined,
        },
      },
    ]);
    const other = JSON.stringify(fixture('event-customer-created'));
    expect(toWebhookEvents(fixture('event-customer-created'))).toEqual([]);
    expect(connector.parseWebhook(Buffer.from(other), { 'stripe-signature': sign(other) })).toEqual([]);
  });

  it('maps charge.refunded to each refund the charge lists (API versions that list them)', () => {
    const charge = fixture('payment-intent-succeeded-partial').latest_charge;
    const refund = fixture('refund-failed');
    const event = { ...fixture('event-charge-refund-updated'), type: 'charge.refunded' };
    event.data = { object: { ...charge, refunds: { object: 'list', data: [refund] } } };
    expect(toWebhookEvents(event)).toEqual([
      {
        type: 'refund.updated',
        eventId: 'evt_3QxPaysagaFixture02',
        reference: 'pay_fixture',
        refund: expect.objectContaining({ id: 're_3QxPaysagaFixture01', status: 'failed' }) as unknown,
      },
    ]);
    event.data = { object: charge };
    expect(toWebhookEvents(event)).toEqual([]);
  });

  it.each([
    ['no header', () => ({})],
    ['another secret', () => ({ 'stripe-signature': sign(body, { secret: 'whsec_forged' }) })],
    [
      'an old timestamp',
      () => ({ 'stripe-signature': sign(body, { timestamp: Math.floor(Date.now() / 1000) - 600 }) }),
    ],
    ['a garbled header', () => ({ 'stripe-signature': 'garbage' })],
  ])('refuses %s', (_what, headers) => {
    expect(() => connector.parseWebhook(Buffer.from(body), headers())).toThrow(WebhookSignatureError);
  });

  it('refuses a body changed after signing', () => {
    const header = sign(body);
    const tampered = body.replace('"amount":4200', '"amount":1');
    expect(tampered).not.toBe(body);
    expect(() => connector.parseWebhook(Buffer.from(tampered), { 'stripe-signature': header })).toThrow(
      WebhookSignatureError,
    );
  });
});

describe('Stripe Checkout Sessions', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const nowSeconds = now / 1000;
  const request = (extra: Partial<CheckoutSessionRequest> = {}): CheckoutSessionRequest => ({
    idempotencyKey: 'checkout:acme:cs_1#create',
    reference: `cs_${'a'.repeat(32)}`,
    tenantId: 'acme',
    orderId: 'ride_981',
    amount: 1250,
    currency: 'EUR',
    name: 'Ride to the airport',
    successUrl: 'https://rides.example/done?ride=42',
    cancelUrl: 'https://rides.example/cancel',
    expiresAt: new Date(now + 2 * 3600_000).toISOString(),
    ...extra,
  });

  it('asks for a payment-mode session of one line, with Paysaga ids in its and its PaymentIntent metadata', () => {
    const metadata = { paysaga_session_id: `cs_${'a'.repeat(32)}`, tenant: 'acme' };
    expect(toCheckoutSessionParams(request(), now)).toEqual({
      mode: 'payment',
      line_items: [
        {
          quantity: 1,
          price_data: { currency: 'eur', unit_amount: 1250, product_data: { name: 'Ride to the airport' } },
        },
      ],
      success_url: `https://rides.example/done?ride=42&session_id=cs_${'a'.repeat(32)}`,
      cancel_url: 'https://rides.example/cancel',
      client_reference_id: 'ride_981',
      expires_at: nowSeconds + 2 * 3600,
      metadata,
      payment_intent_data: { metadata },
    });
    // Stripe's units: ISK in hundredths.
    const isk = toCheckoutSessionParams(request({ currency: 'ISK', amount: 500 }), now);
    expect(isk.line_items?.[0]?.price_data?.unit_amount).toBe(50_000);
  });

  it("keeps expires_at within Stripe's 30 minutes to 24 hours", () => {
    const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();
    expect(toStripeExpiresAt(at(60), now)).toBe(nowSeconds + 31 * 60);
    expect(toStripeExpiresAt(at(3600), now)).toBe(nowSeconds + 3600);
    expect(toStripeExpiresAt(at(86_400), now)).toBe(nowSeconds + 86_400 - 60);
  });

  const session = (extra: Record<string, unknown> = {}) => ({
    id: 'cs_test_1',
    object: 'checkout.session',
    status: 'complete',
    payment_status: 'paid',
    payment_intent: 'pi_1',
    url: null,
    metadata: { paysaga_session_id: 'cs_paysaga', tenant: 'acme' },
    ...extra,
  });
  const event = (type: string, object: unknown) =>
    ({ id: 'evt_1', object: 'event', type, data: { object } }) as unknown as Stripe.Event;

  it('maps checkout.session.completed (paid) and .expired to the Paysaga session they name', () => {
    expect(toWebhookEvents(event('checkout.session.completed', session()))).toEqual([
      {
        type: 'checkout_session.updated',
        eventId: 'evt_1',
        reference: 'cs_paysaga',
        tenantId: 'acme',
        session: { id: 'cs_test_1', url: '', status: 'complete', authorizationId: 'pi_1' },
      },
    ]);
    const expired = session({ status: 'expired', payment_status: 'unpaid', payment_intent: null });
    expect(toWebhookEvents(event('checkout.session.expired', expired))).toEqual([
      expect.objectContaining({ session: expect.objectContaining({ status: 'expired' }) as unknown }),
    ]);
    const later = session({ payment_intent: { id: 'pi_2', object: 'payment_intent' } });
    expect(toWebhookEvents(event('checkout.session.async_payment_succeeded', later))[0]).toMatchObject({
      session: { status: 'complete', authorizationId: 'pi_2' },
    });
  });

  it('moves nothing for an unpaid completion or a session made outside Paysaga', () => {
    const unpaid = session({ payment_status: 'unpaid' });
    expect(toWebhookEvents(event('checkout.session.completed', unpaid))).toEqual([]);
    expect(toWebhookEvents(event('checkout.session.completed', session({ metadata: {} })))).toEqual([]);
    expect(
      toWebhookEvents(
        event('checkout.session.completed', session({ metadata: { paysaga_session_id: 'x' } })),
      ),
    ).toEqual([]);
  });

  it.each([
    ['open', 'open'],
    ['complete', 'complete'],
    ['expired', 'expired'],
    [null, 'open'],
  ] as const)('reads status %s as %s', (status, expected) => {
    expect(toCheckoutStatus(status)).toBe(expected);
  });
});
