import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { PayPalConnector, verifyPayPalWebhook } from '../../src/gateway/connectors/paypal/connector.js';
import {
  allowedCertUrl,
  certificateKey,
  fromPayPalAmount,
  PAYPAL_ERRORS,
  readSignatureHeaders,
  signedMessage,
  toAuthorization,
  toCaptureBody,
  toCreateOrderBody,
  toGatewayError,
  toPayPalAmount,
  toPayPalFailure,
  toRefundBody,
  toWebhookEvents,
  verifyPayPalSignature,
  type PayPalEvent,
  type PayPalOrder,
} from '../../src/gateway/connectors/paypal/transformers.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { AuthorizeRequest } from '../../src/gateway/port.js';
import { WebhookSignatureError } from '../../src/gateway/webhook-signature.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'paypal');
const CERT_PEM = readFileSync(path.join(FIXTURES, 'emulator-webhook-cert.pem'), 'utf8');
const KEY_PEM = readFileSync(path.join(FIXTURES, 'emulator-webhook-key.pem'), 'utf8');

/** PayPal's published schemas (test/fixtures/paypal/openapi), by document and schema name. */
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true, unicodeRegExp: false });
for (const doc of ['checkout_orders_v2', 'payments_payment_v2']) {
  const spec = JSON.parse(readFileSync(path.join(FIXTURES, 'openapi', `${doc}.json`), 'utf8'));
  ajv.addSchema({ $id: doc, components: spec.components });
}
const specErrors = (doc: string, schema: string, value: unknown) => {
  const validate = ajv.getSchema(`${doc}#/components/schemas/${schema}`);
  if (!validate) throw new Error(`no schema ${schema} in ${doc}`);
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};

const authorizeRequest = (extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: 'wf-authorize',
  token: 'paypal',
  amount: 4200,
  currency: 'EUR',
  reference: 'pay_fixture',
  capture: true,
  returnUrl: 'https://shop.example/return',
  ...extra,
});

const unprocessable = (issue: string) => ({
  name: 'UNPROCESSABLE_ENTITY',
  message:
    'The requested action could not be performed, semantically incorrect, or failed business validation.',
  debug_id: 'abc123',
  details: [{ issue, description: `described ${issue}` }],
});

const money = (value: string, currency_code = 'EUR') => ({ currency_code, value });

const order = (
  extra: Partial<PayPalOrder> = {},
  payments?: NonNullable<PayPalOrder['purchase_units'][0]['payments']>,
): PayPalOrder => ({
  id: 'ORDER1',
  status: 'COMPLETED',
  intent: 'CAPTURE',
  purchase_units: [
    {
      reference_id: 'pay_fixture',
      custom_id: 'pay_fixture',
      amount: money('42.00'),
      ...(payments ? { payments } : {}),
    },
  ],
  links: [],
  ...extra,
});

describe('PayPal amounts', () => {
  it.each([
    [4200, 'EUR', '42.00'],
    [5, 'EUR', '0.05'],
    [0, 'USD', '0.00'],
    [500, 'JPY', '500'],
    [1234, 'KWD', '1.234'],
    [7, 'KWD', '0.007'],
    [1500, 'HUF', '15'],
    [99_999_999_999, 'USD', '999999999.99'],
  ] as const)('%i minor units of %s are "%s", and back', (minor, currency, decimal) => {
    expect(toPayPalAmount(minor, currency)).toBe(decimal);
    expect(fromPayPalAmount(decimal, currency)).toBe(minor);
  });

  it('refuses what PayPal cannot carry instead of rounding', () => {
    expect(() => toPayPalAmount(1550, 'HUF')).toThrow(GatewayRequestError);
    expect(() => toPayPalAmount(1.5, 'EUR')).toThrow(GatewayRequestError);
    expect(() => toPayPalAmount(-1, 'EUR')).toThrow(GatewayRequestError);
  });

  it('refuses an answer whose amount has more decimals than the currency', () => {
    expect(() => fromPayPalAmount('1.5', 'JPY')).toThrow(GatewayRequestError);
    expect(() => fromPayPalAmount('1e3', 'EUR')).toThrow(GatewayRequestError);
  });
});

describe('PayPal request mapping', () => {
  it('a sale is one CAPTURE order carrying the payment id and the return URL', () => {
    expect(toCreateOrderBody(authorizeRequest())).toEqual({
      intent: 'CAPTURE',
      purchase_units: [{ reference_id: 'pay_fixture', custom_id: 'pay_fixture', amount: money('42.00') }],
      payment_source: {
        paypal: {
          experience_context: {
            return_url: 'https://shop.example/return',
            cancel_url: 'https://shop.example/return',
            user_action: 'PAY_NOW',
            shipping_preference: 'NO_SHIPPING',
          },
        },
      },
    });
  });

  it('manual capture is an AUTHORIZE order; a buyer e-mail token pre-fills PayPal', () => {
    const body = toCreateOrderBody(
      authorizeRequest({ capture: false, token: 'buyer@buyer.example', currency: 'JPY', amount: 500 }),
    );
    expect(body.intent).toBe('AUTHORIZE');
    expect(body.purchase_units[0]!.amount).toEqual(money('500', 'JPY'));
    expect(body.payment_source.paypal).toMatchObject({ email_address: 'buyer@buyer.example' });
  });

  it('refuses an order without a return URL, and saved methods', () => {
    expect(() => toCreateOrderBody(authorizeRequest({ returnUrl: undefined }))).toThrow(/return URL/);
    expect(() => toCreateOrderBody(authorizeRequest({ saved: { offSession: true } }))).toThrow(
      GatewayRequestError,
    );
  });

  it('a refund carries the amount, the payment id and the reason cut to 255 characters', () => {
    const body = toRefundBody(
      { idempotencyKey: 'k', authorizationId: 'ORDER1', amount: 1234, reason: 'x'.repeat(300) },
      'KWD',
      'pay_fixture',
    );
    expect(body).toEqual({
      amount: money('1.234', 'KWD'),
      custom_id: 'pay_fixture',
      note_to_payer: 'x'.repeat(255),
    });
  });
});

describe("PayPal request bodies match PayPal's OpenAPI schemas", () => {
  it.each([
    ['a sale', authorizeRequest()],
    [
      'manual capture in JPY with a buyer e-mail',
      authorizeRequest({ capture: false, currency: 'JPY', amount: 500, token: 'b@buyer.example' }),
    ],
    ['KWD', authorizeRequest({ currency: 'KWD', amount: 1234 })],
  ])('the order of %s', (_name, req) => {
    expect(specErrors('checkout_orders_v2', 'order_request', toCreateOrderBody(req))).toEqual([]);
  });

  it('a capture and a refund', () => {
    expect(specErrors('payments_payment_v2', 'capture_request', toCaptureBody(3000, 'EUR'))).toEqual([]);
    const refund = toRefundBody(
      { idempotencyKey: 'k', authorizationId: 'O', amount: 1000, reason: 'damaged' },
      'EUR',
      'pay_1',
    );
    expect(specErrors('payments_payment_v2', 'refund_request', refund)).toEqual([]);
  });

  it('the schemas do refuse a wrong body', () => {
    expect(
      specErrors('checkout_orders_v2', 'order_request', { intent: 'SELL', purchase_units: [] }),
    ).not.toEqual([]);
  });
});

describe('PayPal errors', () => {
  it.each(Object.entries(PAYPAL_ERRORS))('%s is %o', (issue, outcome) => {
    // As an issue of a 422, and as a name of its own (PayPal's 4xx names).
    expect(toPayPalFailure(422, unprocessable(issue)).outcome).toEqual(outcome);
    expect(toPayPalFailure(400, { name: issue, message: 'm' }).outcome).toEqual(outcome);
    const error = toGatewayError(toPayPalFailure(422, unprocessable(issue)));
    expect(error).toBeInstanceOf(
      outcome.kind === 'transient' ? GatewayUnavailableError : GatewayRequestError,
    );
  });

  it.each([500, 502, 503, 429, 408])('HTTP %i is transient whatever the body', (status) => {
    const failure = toPayPalFailure(status, unprocessable('INSTRUMENT_DECLINED'));
    expect(failure.outcome).toEqual({ kind: 'transient' });
    expect(toGatewayError(failure)).toBeInstanceOf(GatewayUnavailableError);
    expect(toPayPalFailure(status, undefined).outcome).toEqual({ kind: 'transient' });
  });

  it('an issue unknown to the table is final; the issue wins over the name', () => {
    expect(toPayPalFailure(422, unprocessable('SOMETHING_NEW')).outcome).toEqual({ kind: 'final' });
    expect(toPayPalFailure(422, unprocessable('INSTRUMENT_DECLINED')).outcome).toEqual({
      kind: 'decline',
      code: 'card_declined',
    });
  });

  it('keeps the issue, its description and the debug id, and the payer-action link', () => {
    const failure = toPayPalFailure(422, {
      ...unprocessable('PAYER_ACTION_REQUIRED'),
      links: [{ href: 'https://paypal.example/act', rel: 'payer-action' }],
    });
    expect(failure).toMatchObject({
      issue: 'PAYER_ACTION_REQUIRED',
      message: 'PayPal: PAYER_ACTION_REQUIRED: described PAYER_ACTION_REQUIRED (debug_id abc123)',
      actionUrl: 'https://paypal.example/act',
    });
    const error = toGatewayError(toPayPalFailure(422, unprocessable('AUTHORIZATION_VOIDED')));
    expect(error).toMatchObject({ code: 'AUTHORIZATION_VOIDED', statusCode: 422 });
  });
});

describe('PayPal order mapping', () => {
  it('an order waiting for the buyer is requires_action with its payer-action link', () => {
    const auth = toAuthorization(
      order({
        status: 'PAYER_ACTION_REQUIRED',
        links: [{ href: 'https://paypal.example/checkoutnow?token=ORDER1', rel: 'payer-action' }],
      }),
    );
    expect(auth).toEqual({
      id: 'ORDER1',
      status: 'requires_action',
      amount: 4200,
      amountCaptured: 0,
      amountRefunded: 0,
      currency: 'EUR',
      actionUrl: 'https://paypal.example/checkoutnow?token=ORDER1',
    });
  });

  it('a captured sale, with its completed refunds counted', () => {
    const auth = toAuthorization(
      order(
        {},
        {
          captures: [{ id: 'CAP1', status: 'PARTIALLY_REFUNDED', amount: money('42.00') }],
          refunds: [
            { id: 'R1', status: 'COMPLETED', amount: money('10.00') },
            { id: 'R2', status: 'FAILED', amount: money('5.00') },
          ],
        },
      ),
    );
    expect(auth).toMatchObject({ status: 'captured', amountCaptured: 4200, amountRefunded: 1000 });
  });

  it('manual capture: authorized, then captured in part, or voided', () => {
    const authorized = order(
      { intent: 'AUTHORIZE' },
      { authorizations: [{ id: 'A1', status: 'CREATED', amount: money('42.00') }] },
    );
    expect(toAuthorization(authorized).status).toBe('authorized');
    const captured = order(
      { intent: 'AUTHORIZE' },
      {
        authorizations: [{ id: 'A1', status: 'CAPTURED', amount: money('42.00') }],
        captures: [{ id: 'C1', status: 'COMPLETED', amount: money('30.00') }],
      },
    );
    expect(toAuthorization(captured)).toMatchObject({
      status: 'captured',
      amount: 4200,
      amountCaptured: 3000,
    });
    const voided = order(
      { intent: 'AUTHORIZE' },
      { authorizations: [{ id: 'A1', status: 'VOIDED', amount: money('42.00') }] },
    );
    expect(toAuthorization(voided).status).toBe('voided');
  });

  it('a declined capture is declined, with the risk reason mapped', () => {
    const auth = toAuthorization(
      order(
        {},
        {
          captures: [
            {
              id: 'C1',
              status: 'DECLINED',
              status_details: { reason: 'DECLINED_BY_RISK_FRAUD_FILTERS' },
              amount: money('42.00'),
            },
          ],
        },
      ),
    );
    expect(auth).toMatchObject({ status: 'declined', failureCode: 'fraud_suspected', amountCaptured: 0 });
  });

  it('a pending capture or an approved order has no outcome yet: transient', () => {
    expect(() =>
      toAuthorization(order({}, { captures: [{ id: 'C1', status: 'PENDING', amount: money('42.00') }] })),
    ).toThrow(GatewayUnavailableError);
    expect(() => toAuthorization(order({ status: 'APPROVED' }))).toThrow(GatewayUnavailableError);
  });
});

const event = (event_type: string, resource: Record<string, unknown>): PayPalEvent => ({
  id: `WH-${event_type}`,
  event_type,
  resource,
});

describe('PayPal webhook events', () => {
  const related = { supplementary_data: { related_ids: { order_id: 'ORDER1' } } };

  it('CHECKOUT.ORDER.APPROVED asks for a re-read, as the status the server call will make', () => {
    const approved = { ...order({ status: 'APPROVED', intent: 'AUTHORIZE' }) };
    expect(toWebhookEvents(event('CHECKOUT.ORDER.APPROVED', approved))).toEqual([
      {
        type: 'authorization.updated',
        eventId: 'WH-CHECKOUT.ORDER.APPROVED',
        reference: 'pay_fixture',
        authorization: {
          id: 'ORDER1',
          status: 'authorized',
          amount: 4200,
          amountCaptured: 0,
          amountRefunded: 0,
          currency: 'EUR',
        },
      },
    ]);
    const sale = toWebhookEvents(event('CHECKOUT.ORDER.APPROVED', { ...order({ status: 'APPROVED' }) }));
    expect(sale[0]).toMatchObject({ authorization: { status: 'captured' } });
  });

  it('captures completed and denied, on the order, by custom_id', () => {
    const capture = { id: 'C1', amount: money('42.00'), custom_id: 'pay_fixture', ...related };
    expect(toWebhookEvents(event('PAYMENT.CAPTURE.COMPLETED', { ...capture, status: 'COMPLETED' }))).toEqual([
      {
        type: 'authorization.updated',
        eventId: 'WH-PAYMENT.CAPTURE.COMPLETED',
        reference: 'pay_fixture',
        authorization: {
          id: 'ORDER1',
          status: 'captured',
          amount: 4200,
          amountCaptured: 4200,
          amountRefunded: 0,
          currency: 'EUR',
        },
      },
    ]);
    expect(
      toWebhookEvents(event('PAYMENT.CAPTURE.DENIED', { ...capture, status: 'DECLINED' }))[0],
    ).toMatchObject({
      authorization: { id: 'ORDER1', status: 'declined', failureCode: 'card_declined', amountCaptured: 0 },
    });
  });

  it('a voided authorization, and a refund', () => {
    expect(
      toWebhookEvents(
        event('PAYMENT.AUTHORIZATION.VOIDED', {
          id: 'A1',
          status: 'VOIDED',
          amount: money('42.00'),
          custom_id: 'pay_fixture',
          ...related,
        }),
      )[0],
    ).toMatchObject({
      type: 'authorization.updated',
      reference: 'pay_fixture',
      authorization: { id: 'ORDER1', status: 'voided' },
    });
    expect(
      toWebhookEvents(
        event('PAYMENT.CAPTURE.REFUNDED', {
          id: 'R1',
          status: 'COMPLETED',
          amount: money('10.00'),
          custom_id: 'pay_fixture',
        }),
      ),
    ).toEqual([
      {
        type: 'refund.updated',
        eventId: 'WH-PAYMENT.CAPTURE.REFUNDED',
        reference: 'pay_fixture',
        refund: {
          id: 'R1',
          authorizationId: '',
          status: 'succeeded',
          amount: 1000,
          failureMessage: undefined,
        },
      },
    ]);
  });

  it('other events, and ones that name no Paysaga payment, move nothing', () => {
    expect(toWebhookEvents(event('PAYMENT.AUTHORIZATION.CREATED', { id: 'A1' }))).toEqual([]);
    expect(
      toWebhookEvents(
        event('PAYMENT.CAPTURE.COMPLETED', {
          id: 'C1',
          status: 'COMPLETED',
          amount: money('1.00'),
          ...related,
        }),
      ),
    ).toEqual([]);
    expect(toWebhookEvents(event('CHECKOUT.ORDER.APPROVED', { id: 'X' }))).toEqual([]);
  });
});

describe('PayPal webhook signatures', () => {
  const webhookId = 'WH-ID-1';
  const body = Buffer.from(JSON.stringify(event('PAYMENT.CAPTURE.COMPLETED', { id: 'C1' })));
  const headersFor = (
    raw: Buffer,
    key = KEY_PEM,
    certUrl = 'https://api-m.paypal.com/v1/notifications/certs/CERT-1',
  ) => {
    const transmissionId = 'b2384410-f8d2-11ee-8d3d-4b2e6d5c1a12';
    const transmissionTime = '2026-01-01T00:00:00Z';
    const signature = sign(
      'sha256',
      Buffer.from(signedMessage(transmissionId, transmissionTime, webhookId, raw)),
      key,
    );
    return {
      'paypal-transmission-id': transmissionId,
      'paypal-transmission-time': transmissionTime,
      'paypal-transmission-sig': signature.toString('base64'),
      'paypal-cert-url': certUrl,
      'paypal-auth-algo': 'SHA256withRSA',
    };
  };
  const emulatorKey = certificateKey(CERT_PEM, Date.parse('2026-06-01T00:00:00Z'));

  it('signs id|time|webhookId|crc32 as an unsigned decimal', () => {
    expect(signedMessage('t', 'time', 'wh', Buffer.from('a'))).toBe('t|time|wh|3904355907');
    expect(signedMessage('t', 'time', 'wh', Buffer.from('hello'))).toBe('t|time|wh|907060870');
  });

  it('a good signature passes with the emulator certificate', () => {
    expect(() =>
      verifyPayPalSignature(body, readSignatureHeaders(headersFor(body)), webhookId, emulatorKey),
    ).not.toThrow();
  });

  it('a tampered body, a forged signature or another webhook id fails', () => {
    const tampered = Buffer.from(body.toString().replace('C1', 'C2'));
    expect(() =>
      verifyPayPalSignature(tampered, readSignatureHeaders(headersFor(body)), webhookId, emulatorKey),
    ).toThrow(WebhookSignatureError);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = headersFor(body, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(() => verifyPayPalSignature(body, readSignatureHeaders(forged), webhookId, emulatorKey)).toThrow(
      WebhookSignatureError,
    );
    expect(() =>
      verifyPayPalSignature(body, readSignatureHeaders(headersFor(body)), 'WH-OTHER', emulatorKey),
    ).toThrow(WebhookSignatureError);
  });

  it('missing or malformed headers are refused', () => {
    expect(() => readSignatureHeaders({})).toThrow(expect.objectContaining({ reason: 'missing_header' }));
    expect(() => readSignatureHeaders({ ...headersFor(body), 'paypal-auth-algo': 'SHA1withRSA' })).toThrow(
      expect.objectContaining({ reason: 'malformed_header' }),
    );
  });

  it("certificates come from PayPal's hosts over HTTPS, or the emulator's host given", () => {
    for (const host of [
      'api.paypal.com',
      'api.sandbox.paypal.com',
      'api-m.paypal.com',
      'api-m.sandbox.paypal.com',
    ])
      expect(allowedCertUrl(`https://${host}/v1/notifications/certs/CERT-1`).host).toBe(host);
    for (const url of [
      'https://evil.example/cert.pem',
      'http://api.paypal.com/cert',
      'https://api.paypal.com.evil.example/cert',
      'https://user:pw@api.paypal.com/cert',
      'not a url',
      'http://127.0.0.1:9999/certs/x',
    ])
      expect(() => allowedCertUrl(url)).toThrow(WebhookSignatureError);
    expect(allowedCertUrl('http://127.0.0.1:9999/certs/x', ['127.0.0.1:9999']).host).toBe('127.0.0.1:9999');
  });

  it('verifyPayPalWebhook refuses a disallowed certificate host without fetching it', async () => {
    await expect(
      verifyPayPalWebhook(body, headersFor(body, KEY_PEM, 'https://evil.example/cert.pem'), { webhookId }),
    ).rejects.toMatchObject({ name: 'WebhookSignatureError', reason: 'signature_mismatch' });
  });

  it('an expired certificate is refused', () => {
    expect(() => certificateKey(CERT_PEM, Date.parse('2200-01-01T00:00:00Z'))).toThrow(WebhookSignatureError);
  });

  it("the connector's parseWebhook refuses a certificate off PayPal's hosts before any fetch", async () => {
    const connector = new PayPalConnector({ clientId: 'id', clientSecret: 'secret', webhookId });
    await expect(
      connector.parseWebhook(body, headersFor(body, KEY_PEM, 'https://evil.example/cert.pem')),
    ).rejects.toMatchObject({ name: 'WebhookSignatureError', reason: 'signature_mismatch' });
  });
});
