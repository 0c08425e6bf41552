import { readFileSync } from 'node:fs';
import path from 'node:path';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { StripeConnector } from '../../src/gateway/connectors/stripe/connector.js';
import {
  isAlreadyDetached,
  toAuthorization,
  toAuthorizeOutcome,
  toCustomerParams,
  toPaymentIntentParams,
  toSavedMethod,
  toSavedMethodFromPaymentMethod,
  toSaveMethodOutcome,
  toSetupIntentParams,
  toWebhookEvents,
} from '../../src/gateway/connectors/stripe/transformers.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { AuthorizeRequest, SaveMethodRequest } from '../../src/gateway/port.js';

/** Stripe response and event bodies, shaped after stripe-mock's fixtures of Stripe's OpenAPI. */
const fixture = <T = any>(name: string): T =>
  JSON.parse(
    readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'stripe', `${name}.json`), 'utf8'),
  ) as T;

const saveRequest = (extra: Partial<SaveMethodRequest> = {}): SaveMethodRequest => ({
  idempotencyKey: 'wf-save',
  token: 'pm_card_visa',
  reference: 'pm_fixture',
  tenantId: 'acme',
  customerId: 'cus_merchant_1',
  returnUrl: 'http://127.0.0.1:3000/return',
  ...extra,
});

const authorizeRequest = (extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: 'wf-authorize',
  token: 'pm_1QxPaysagaSaved01',
  amount: 4200,
  currency: 'EUR',
  reference: 'pay_fixture',
  capture: false,
  returnUrl: 'http://127.0.0.1:3000/v1/payments/pay_fixture',
  ...extra,
});

const stripeError = (raw: Record<string, unknown>, statusCode?: number) =>
  Stripe.errors.StripeError.generate({ ...raw, statusCode });

const CARD = { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 };

describe('Stripe saved cards: requests', () => {
  it("makes a Customer with Paysaga's ids only", () => {
    expect(toCustomerParams(saveRequest())).toEqual({
      metadata: { paysaga_tenant: 'acme', paysaga_customer: 'cus_merchant_1' },
    });
  });

  it('saves with one confirmed, off-session, card-only SetupIntent carrying the payment method id', () => {
    expect(toSetupIntentParams(saveRequest(), 'cus_1')).toEqual({
      customer: 'cus_1',
      payment_method: 'pm_card_visa',
      confirm: true,
      usage: 'off_session',
      allowed_payment_method_types: ['card'],
      return_url: 'http://127.0.0.1:3000/return',
      metadata: { paysaga_payment_method: 'pm_fixture', paysaga_tenant: 'acme' },
      expand: ['payment_method'],
    });
    expect(toSetupIntentParams(saveRequest({ returnUrl: undefined }), 'cus_1')).not.toHaveProperty(
      'return_url',
    );
  });

  it('charges a saved card with its Customer; off-session with no return URL', () => {
    const offSession = toPaymentIntentParams(
      authorizeRequest({
        saved: { offSession: true, gatewayCustomerId: 'cus_1', networkTransactionId: '1' },
      }),
    );
    expect(offSession).toMatchObject({
      customer: 'cus_1',
      payment_method: 'pm_1QxPaysagaSaved01',
      off_session: true,
      confirm: true,
    });
    expect(offSession).not.toHaveProperty('return_url');
    const onSession = toPaymentIntentParams(
      authorizeRequest({ saved: { offSession: false, gatewayCustomerId: 'cus_1' } }),
    );
    expect(onSession).toMatchObject({ customer: 'cus_1', return_url: authorizeRequest().returnUrl });
    expect(onSession).not.toHaveProperty('off_session');
    expect(toPaymentIntentParams(authorizeRequest())).not.toHaveProperty('customer');
  });
});

describe('Stripe saved cards: responses', () => {
  it('reads a succeeded SetupIntent as an active method with the card of its expanded PaymentMethod', () => {
    expect(toSavedMethod(fixture('setup-intent-succeeded'))).toEqual({
      id: 'pm_1QxPaysagaSaved01',
      status: 'active',
      card: CARD,
      gatewayCustomerId: 'cus_QxPaysagaFixture01',
      setupId: 'seti_1QxPaysagaFixture01',
    });
  });

  it('reads 3-D Secure on setup as requires_action with the redirect URL', () => {
    expect(toSavedMethod(fixture('setup-intent-requires-action'))).toMatchObject({
      id: 'pm_1QxPaysagaSaved01',
      status: 'requires_action',
      actionUrl: expect.stringMatching(/^https:\/\/hooks\.stripe\.com\/3d_secure_2\/hosted\?/) as unknown,
      setupId: 'seti_1QxPaysagaFixture01',
    });
  });

  it('reads a detached PaymentMethod as failed, by its SetupIntent or on its own', () => {
    const setup = fixture('setup-intent-succeeded');
    setup.payment_method.customer = null;
    expect(toSavedMethod(setup)).toMatchObject({ status: 'failed', failureCode: 'invalid_card' });
    const method = fixture('payment-method-card');
    expect(toSavedMethodFromPaymentMethod(method)).toEqual({
      id: 'pm_1QxPaysagaSaved01',
      status: 'active',
      card: CARD,
      gatewayCustomerId: 'cus_QxPaysagaFixture01',
    });
    expect(toSavedMethodFromPaymentMethod({ ...method, customer: null })).toMatchObject({
      status: 'failed',
      gatewayCustomerId: undefined,
    });
  });

  it('reads a failed or canceled setup as failed with its reason, and a processing one as no outcome yet', () => {
    const declined = fixture('error-setup-intent-card-declined').error.setup_intent;
    expect(toSavedMethod(declined)).toMatchObject({
      id: 'pm_1QxPaysagaSaved02',
      status: 'failed',
      failureCode: 'card_declined',
      failureMessage: 'Your card was declined.',
    });
    const authFailed = {
      ...declined,
      last_setup_error: {
        type: 'invalid_request_error',
        code: 'setup_intent_authentication_failure',
        message: 'x',
      },
    };
    expect(toSavedMethod(authFailed).failureCode).toBe('authentication_failed');
    expect(toSavedMethod({ ...declined, status: 'canceled', last_setup_error: null })).toMatchObject({
      status: 'failed',
      failureMessage: 'The card setup was canceled',
    });
    expect(() => toSavedMethod({ ...declined, status: 'processing' })).toThrow(GatewayUnavailableError);
  });

  it("carries the charge's network transaction id", () => {
    const intent = fixture('payment-intent-requires-capture');
    expect(toAuthorization(intent).networkTransactionId).toBeUndefined();
    intent.latest_charge.payment_method_details.card.network_transaction_id = '123456789012345';
    expect(toAuthorization(intent).networkTransactionId).toBe('123456789012345');
  });
});

describe('Stripe saved cards: errors', () => {
  it('fails a save the card declines (the 402 with the SetupIntent), keeping the setup and the Customer', () => {
    const error = stripeError(fixture('error-setup-intent-card-declined').error, 402);
    expect(toSaveMethodOutcome(error, 'cus_1')).toEqual({
      id: 'pm_1QxPaysagaSaved02',
      status: 'failed',
      card: undefined,
      gatewayCustomerId: 'cus_1',
      setupId: 'seti_1QxPaysagaFixture02',
      failureCode: 'card_declined',
      failureMessage: 'Your card was declined.',
    });
  });

  it('fails a save of an unknown PaymentMethod as invalid_card; faults and refusals stay errors', () => {
    const unknown = stripeError(fixture('error-resource-missing-payment-method').error, 400);
    expect(toSaveMethodOutcome(unknown, 'cus_1')).toMatchObject({
      status: 'failed',
      failureCode: 'invalid_card',
    });
    expect(() =>
      toSaveMethodOutcome(stripeError({ type: 'api_error', message: 'down' }, 500), 'cus_1'),
    ).toThrow(GatewayUnavailableError);
    expect(() =>
      toSaveMethodOutcome(
        stripeError({ type: 'invalid_request_error', message: 'No such customer' }, 400),
        'cus_1',
      ),
    ).toThrow(GatewayRequestError);
  });

  it('declines a charge of a detached PaymentMethod as invalid_card (Stripe refuses it with no code)', () => {
    const error = stripeError(
      {
        type: 'invalid_request_error',
        message:
          'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.',
      },
      400,
    );
    expect(toAuthorizeOutcome(error, authorizeRequest())).toMatchObject({
      status: 'declined',
      failureCode: 'invalid_card',
    });
    const notItsCustomer = stripeError(
      {
        type: 'invalid_request_error',
        param: 'payment_method',
        message: 'The PaymentMethod pm_1 does not belong to the Customer you supplied cus_2.',
      },
      400,
    );
    expect(() => toAuthorizeOutcome(notItsCustomer, authorizeRequest())).toThrow(GatewayRequestError);
  });

  it('takes a PaymentMethod gone already as deleted', () => {
    const notAttached = stripeError(
      {
        type: 'invalid_request_error',
        param: 'payment_method',
        message: 'The payment method you provided is not attached to a customer so detachment is impossible.',
      },
      400,
    );
    expect(isAlreadyDetached(notAttached)).toBe(true);
    expect(isAlreadyDetached(stripeError(fixture('error-resource-missing-payment-method').error, 400))).toBe(
      true,
    );
    expect(isAlreadyDetached(stripeError({ type: 'api_error', message: 'down' }, 500))).toBe(false);
    expect(
      isAlreadyDetached(stripeError({ type: 'invalid_request_error', message: 'Invalid key' }, 400)),
    ).toBe(false);
  });
});

describe('Stripe saved cards: webhooks', () => {
  const secret = 'whsec_unit_test_secret';
  const connector = new StripeConnector({ apiKey: 'sk_test_unit', webhookSecret: secret });
  const sign = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret });

  it('maps setup_intent.succeeded to the payment method it names', () => {
    const body = JSON.stringify(fixture('event-setup-intent-succeeded'));
    expect(connector.parseWebhook(Buffer.from(body), { 'stripe-signature': sign(body) })).toEqual([
      {
        type: 'payment_method.updated',
        eventId: 'evt_3QxPaysagaFixture04',
        reference: 'pm_fixture',
        method: {
          id: 'pm_1QxPaysagaSaved01',
          status: 'active',
          gatewayCustomerId: 'cus_QxPaysagaFixture01',
          setupId: 'seti_1QxPaysagaFixture01',
        },
      },
    ]);
  });

  it('maps setup_failed and requires_action, and moves nothing for a SetupIntent made outside Paysaga', () => {
    const event = fixture('event-setup-intent-succeeded');
    const declined = fixture('error-setup-intent-card-declined').error.setup_intent;
    expect(
      toWebhookEvents({ ...event, type: 'setup_intent.setup_failed', data: { object: declined } }),
    ).toMatchObject([
      {
        type: 'payment_method.updated',
        reference: 'pm_fixture',
        method: { status: 'failed', failureCode: 'card_declined' },
      },
    ]);
    const action = fixture('setup-intent-requires-action');
    expect(
      toWebhookEvents({ ...event, type: 'setup_intent.requires_action', data: { object: action } }),
    ).toMatchObject([{ type: 'payment_method.updated', method: { status: 'requires_action' } }]);
    const foreign = { ...event.data.object, metadata: {} };
    expect(toWebhookEvents({ ...event, data: { object: foreign } })).toEqual([]);
    const processing = { ...event.data.object, status: 'processing' };
    expect(toWebhookEvents({ ...event, data: { object: processing } })).toEqual([]);
  });
});
