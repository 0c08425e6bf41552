/**
 * PayPal for the tests: a stateful HTTP server in the shape of PayPal's REST API (Orders v2,
 * Payments v2, OAuth2 client credentials), after PayPal's published OpenAPI documents
 * (github.com/paypal/paypal-rest-api-specifications). No mock stands behind it: it keeps orders,
 * authorizations, captures and refunds itself, and replays an answer for a repeated
 * `PayPal-Request-Id` with the same body (another body under the same id is refused).
 *
 * The buyer approves on `/checkoutnow?token={orderId}` (the order's `payer-action` link), a page
 * whose Approve and Cancel buttons post back as a browser would; approving moves the order to
 * APPROVED and sends `CHECKOUT.ORDER.APPROVED`. Captures, voids and refunds send their webhooks
 * too, all signed as PayPal signs them (RSA-SHA256 over `id|time|webhookId|crc32(body)`) with the
 * fixture key of test/fixtures/paypal/, whose certificate is served at `/certs/...`.
 *
 * Test buyers (`payment_source.paypal.email_address`, which the connector takes from the
 * authorization's token) choose what the server's capture or authorize call of their order does:
 * see PAYPAL_TEST_BUYERS. Control routes under `/__emulator/` (and the same helpers on the
 * returned object): fail the next N API calls with a 5xx or 429, expire every token, approve an
 * order, read the stats (orders, authorizations, captures, refunds, voids per Paysaga reference),
 * the webhooks sent and the request log.
 */
import { randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import {
  CURRENCY_EXPONENTS,
  isCurrency,
  toMajorUnits,
  toMinorUnits,
  type Currency,
} from '../../src/domain/money.js';
import { PROJECT_ROOT } from '../../src/project-root.js';

type Json = Record<string, unknown>;

const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'paypal');
/** A self-signed certificate and its key, made for these tests only (see the folder's README). */
export const EMULATOR_CERT_PEM = readFileSync(path.join(FIXTURES, 'emulator-webhook-cert.pem'), 'utf8');
const EMULATOR_KEY_PEM = readFileSync(path.join(FIXTURES, 'emulator-webhook-key.pem'), 'utf8');
const CERT_PATH = '/certs/CERT-360caa42-fca2a594-paysaga-emulator';

/**
 * Buyers whose order fails at the server's capture or authorize call, as PayPal's do: the
 * issue answered with a 422, or (`capture-denied`) a capture made with status DECLINED, which
 * sends PAYMENT.CAPTURE.DENIED. Any other buyer pays.
 */
export const PAYPAL_TEST_BUYERS = {
  'instrument-declined@buyer.example': { issue: 'INSTRUMENT_DECLINED' },
  'payer-cannot-pay@buyer.example': { issue: 'PAYER_CANNOT_PAY' },
  'refused@buyer.example': { issue: 'TRANSACTION_REFUSED' },
  'payer-action@buyer.example': { issue: 'PAYER_ACTION_REQUIRED' },
  'capture-denied@buyer.example': { denied: true },
} as const satisfies Record<string, { issue: string } | { denied: true }>;
type TestBuyer = (typeof PAYPAL_TEST_BUYERS)[keyof typeof PAYPAL_TEST_BUYERS];

/** The issue the emulator answers for a `PayPal-Request-Id` reused with another body. */
export const REQUEST_ID_REUSED = 'PAYPAL_REQUEST_ID_PREVIOUSLY_USED';

const ISSUE_DESCRIPTIONS: Record<string, string> = {
  INSTRUMENT_DECLINED:
    "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
  PAYER_CANNOT_PAY: 'Combination of payer and payee settings mean that this buyer cannot pay this seller.',
  TRANSACTION_REFUSED: 'The request was refused.',
  PAYER_ACTION_REQUIRED: 'Payer needs to perform the following action before proceeding with payment.',
  ORDER_NOT_APPROVED: 'Payer has not yet approved the Order for payment.',
  ORDER_ALREADY_CAPTURED: 'Order already captured.',
  ORDER_ALREADY_AUTHORIZED: 'Order already authorized.',
  ACTION_DOES_NOT_MATCH_INTENT: "The action does not match the order's intent.",
  AUTHORIZATION_VOIDED: 'A voided authorization cannot be captured or reauthorized.',
  AUTHORIZATION_ALREADY_CAPTURED:
    'Authorization has been previously captured and hence cannot be captured again.',
  AUTHORIZATION_AMOUNT_EXCEEDED: 'The amount exceeds what is left of the authorization.',
  PREVIOUSLY_CAPTURED: 'Authorization has been previously captured and hence cannot be voided.',
  PREVIOUSLY_VOIDED: 'Authorization has been previously voided and hence cannot be voided again.',
  CAPTURE_FULLY_REFUNDED: 'The capture has already been fully refunded.',
  REFUND_AMOUNT_EXCEEDED:
    'The refund amount must be less than or equal to the capture amount that has not yet been refunded.',
  DECIMAL_PRECISION: 'The value of the field should not be more than two decimals.',
  DECIMALS_NOT_SUPPORTED: 'Currency does not support decimals.',
  CURRENCY_NOT_SUPPORTED: 'Currency code is not supported.',
  [REQUEST_ID_REUSED]: 'The PayPal-Request-Id was used before with another request body.',
};

export interface PayPalEmulatorOptions {
  clientId?: string;
  clientSecret?: string;
  /** Where webhooks go (none are sent until set, here or with `sendWebhooksTo`). */
  webhookUrl?: string | undefined;
  /** The webhook id signed into every delivery. */
  webhookId?: string;
  tokenTtlSec?: number;
}

export interface PayPalEmulatorStats {
  tokensIssued: number;
  /** Per Paysaga reference (the purchase unit's `custom_id`). */
  orders: Record<string, number>;
  authorizations: Record<string, number>;
  captures: Record<string, number>;
  refunds: Record<string, number>;
  voids: Record<string, number>;
}

export interface SentWebhook {
  eventId: string;
  eventType: string;
  /** The receiver's HTTP status, or the error's message. */
  outcome: number | string;
  body: string;
  headers: Record<string, string>;
}

export interface LoggedRequest {
  method: string;
  path: string;
  requestId: string | undefined;
  status: number;
}

export interface PayPalEmulator {
  url: string;
  /** Its host (`127.0.0.1:port`), for the connector's `extraCertHosts`. */
  host: string;
  certUrl: string;
  clientId: string;
  clientSecret: string;
  webhookId: string;
  sendWebhooksTo(url: string | undefined, webhookId?: string): void;
  /** The next `count` API calls (the token endpoint included) answer `status` (500 unless set). */
  failNext(count: number, status?: number): void;
  /** Every token issued so far is refused from now on (401), as after PayPal revokes them. */
  expireTokens(): void;
  /** The buyer approves on PayPal's page; resolves once the webhook was delivered (or failed). */
  approve(orderId: string): Promise<void>;
  stats(): PayPalEmulatorStats;
  webhooksSent(): SentWebhook[];
  requests(): LoggedRequest[];
  close(): Promise<void>;
}

interface OrderState {
  id: string;
  intent: 'CAPTURE' | 'AUTHORIZE';
  status: string;
  currency: Currency;
  amount: number;
  referenceId: string | undefined;
  customId: string | undefined;
  email: string | undefined;
  /** Whether a `payment_source.paypal` was given: the link is then `payer-action`, else `approve`. */
  withSource: boolean;
  returnUrl: string | undefined;
  cancelUrl: string | undefined;
  payerId: string | undefined;
  authorizationIds: string[];
  captureIds: string[];
  createTime: string;
  updateTime: string;
}

interface AuthorizationState {
  id: string;
  orderId: string;
  status: string;
  currency: Currency;
  amount: number;
  captured: number;
  customId: string | undefined;
  captureIds: string[];
  createTime: string;
  updateTime: string;
}

interface CaptureState {
  id: string;
  orderId: string;
  authorizationId: string | undefined;
  status: string;
  statusReason: string | undefined;
  currency: Currency;
  amount: number;
  refunded: number;
  finalCapture: boolean;
  customId: string | undefined;
  refundIds: string[];
  createTime: string;
  updateTime: string;
}

interface RefundState {
  id: string;
  captureId: string;
  status: string;
  currency: Currency;
  amount: number;
  customId: string | undefined;
  noteToPayer: string | undefined;
  createTime: string;
}

interface Answer {
  status: number;
  body?: unknown;
}

/** PayPal's own decimals where they differ from ISO 4217's (no decimals for HUF and TWD). */
const PAYPAL_DECIMALS: Partial<Record<Currency, number>> = { HUF: 0, TWD: 0 };
const decimalsOf = (currency: Currency): number => PAYPAL_DECIMALS[currency] ?? CURRENCY_EXPONENTS[currency];

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly issue: string,
    readonly links: Json[] = [],
  ) {
    super(issue);
  }
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const newId = (length = 17) => randomBytes(length).toString('hex').toUpperCase().slice(0, length);
/** A PayPal account id: 13 characters of `[2-9A-HJ-NP-Z]`, as PayPal's schemas require. */
const ACCOUNT_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const accountId = () =>
  [...randomBytes(13)].map((b) => ACCOUNT_ALPHABET[b % ACCOUNT_ALPHABET.length]).join('');
const MERCHANT_ID = 'EMULATRMRCHNT';

/** A money object as PayPal writes it, in PayPal's decimals. */
function money(amount: number, currency: Currency): Json {
  const major = toMajorUnits(amount, currency);
  const value = decimalsOf(currency) === 0 ? major.split('.')[0]! : major;
  return { currency_code: currency, value };
}

/** A money object sent to PayPal, in minor units; refused as PayPal refuses it. */
function readMoney(value: unknown): { amount: number; currency: Currency } {
  const object = (value ?? {}) as Json;
  const code = object.currency_code;
  const text = object.value;
  if (typeof code !== 'string' || typeof text !== 'string')
    throw new ApiError(400, 'MISSING_REQUIRED_PARAMETER');
  if (!isCurrency(code)) throw new ApiError(422, 'CURRENCY_NOT_SUPPORTED');
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new ApiError(400, 'INVALID_PARAMETER_SYNTAX');
  const decimals = match[2]?.length ?? 0;
  if (decimals > 0 && decimalsOf(code) === 0) throw new ApiError(422, 'DECIMALS_NOT_SUPPORTED');
  if (decimals > decimalsOf(code)) throw new ApiError(422, 'DECIMAL_PRECISION');
  const amount = toMinorUnits(text, code);
  if (amount <= 0) throw new ApiError(422, 'CANNOT_BE_ZERO_OR_NEGATIVE');
  return { amount, currency: code };
}

function errorBody(error: ApiError): Json {
  const debugId = randomBytes(6).toString('hex');
  const description = ISSUE_DESCRIPTIONS[error.issue] ?? error.issue;
  const info = {
    href: `https://developer.paypal.com/docs/api/orders/v2/#error-${error.issue}`,
    rel: 'information_link',
    method: 'GET',
  };
  if (error.status === 404) {
    return {
      name: 'RESOURCE_NOT_FOUND',
      message: 'The specified resource does not exist.',
      debug_id: debugId,
      details: [{ issue: error.issue, description }],
      links: [info],
    };
  }
  if (error.status === 400) {
    return {
      name: 'INVALID_REQUEST',
      message: 'Request is not well-formed, syntactically incorrect, or violates schema.',
      debug_id: debugId,
      details: [{ issue: error.issue, description }],
      links: [info],
    };
  }
  return {
    name: 'UNPROCESSABLE_ENTITY',
    message:
      'The requested action could not be performed, semantically incorrect, or failed business validation.',
    debug_id: debugId,
    details: [{ issue: error.issue, description }],
    links: [info, ...error.links],
  };
}

function failureBody(status: number): Json {
  const debugId = randomBytes(6).toString('hex');
  if (status === 429)
    return {
      name: 'RATE_LIMIT_REACHED',
      message: 'Too many requests. Blocked due to rate limiting.',
      debug_id: debugId,
    };
  if (status === 503)
    return { name: 'SERVICE_UNAVAILABLE', message: 'Service Unavailable.', debug_id: debugId };
  return { name: 'INTERNAL_SERVER_ERROR', message: 'An internal server error occurred.', debug_id: debugId };
}

const count = (table: Record<string, number>, reference: string | undefined) => {
  const key = reference ?? '';
  table[key] = (table[key] ?? 0) + 1;
};

export async function startPayPalEmulator(options: PayPalEmulatorOptions = {}): Promise<PayPalEmulator> {
  const clientId = options.clientId ?? 'paysaga-emulator-client';
  const clientSecret = options.clientSecret ?? 'paysaga-emulator-secret';
  let webhookUrl = options.webhookUrl;
  let webhookId = options.webhookId ?? `WH-EMULATOR-${newId(12)}`;
  const tokenTtlSec = options.tokenTtlSec ?? 32_400;

  const tokens = new Map<string, number>();
  const orders = new Map<string, OrderState>();
  const authorizations = new Map<string, AuthorizationState>();
  const captures = new Map<string, CaptureState>();
  const refunds = new Map<string, RefundState>();
  const stored = new Map<string, { body: string; answer: Answer }>();
  const log: LoggedRequest[] = [];
  const sent: SentWebhook[] = [];
  const stats: PayPalEmulatorStats = {
    tokensIssued: 0,
    orders: {},
    authorizations: {},
    captures: {},
    refunds: {},
    voids: {},
  };
  let failures: { left: number; status: number } = { left: 0, status: 500 };
  let url = '';

  // ---- Representations -------------------------------------------------------------------------

  const approvalLink = (order: OrderState) => `${url}/checkoutnow?token=${order.id}`;

  function authorizationBody(a: AuthorizationState): Json {
    const self = `${url}/v2/payments/authorizations/${a.id}`;
    return {
      id: a.id,
      status: a.status,
      amount: money(a.amount, a.currency),
      ...(a.customId ? { custom_id: a.customId } : {}),
      seller_protection: {
        status: 'ELIGIBLE',
        dispute_categories: ['ITEM_NOT_RECEIVED', 'UNAUTHORIZED_TRANSACTION'],
      },
      expiration_time: new Date(Date.parse(a.createTime) + 29 * 86_400_000)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
      supplementary_data: { related_ids: { order_id: a.orderId } },
      create_time: a.createTime,
      update_time: a.updateTime,
      links: [
        { href: self, rel: 'self', method: 'GET' },
        { href: `${self}/capture`, rel: 'capture', method: 'POST' },
        { href: `${self}/void`, rel: 'void', method: 'POST' },
        { href: `${self}/reauthorize`, rel: 'reauthorize', method: 'POST' },
        { href: `${url}/v2/checkout/orders/${a.orderId}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  function captureBody(c: CaptureState): Json {
    const self = `${url}/v2/payments/captures/${c.id}`;
    return {
      id: c.id,
      status: c.status,
      ...(c.statusReason ? { status_details: { reason: c.statusReason } } : {}),
      amount: money(c.amount, c.currency),
      final_capture: c.finalCapture,
      ...(c.customId ? { custom_id: c.customId } : {}),
      seller_protection: {
        status: 'ELIGIBLE',
        dispute_categories: ['ITEM_NOT_RECEIVED', 'UNAUTHORIZED_TRANSACTION'],
      },
      supplementary_data: {
        related_ids: {
          order_id: c.orderId,
          ...(c.authorizationId ? { authorization_id: c.authorizationId } : {}),
        },
      },
      create_time: c.createTime,
      update_time: c.updateTime,
      links: [
        { href: self, rel: 'self', method: 'GET' },
        { href: `${self}/refund`, rel: 'refund', method: 'POST' },
        c.authorizationId
          ? { href: `${url}/v2/payments/authorizations/${c.authorizationId}`, rel: 'up', method: 'GET' }
          : { href: `${url}/v2/checkout/orders/${c.orderId}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  function refundBody(r: RefundState): Json {
    return {
      id: r.id,
      status: r.status,
      amount: money(r.amount, r.currency),
      ...(r.customId ? { custom_id: r.customId } : {}),
      ...(r.noteToPayer ? { note_to_payer: r.noteToPayer } : {}),
      create_time: r.createTime,
      update_time: r.createTime,
      links: [
        { href: `${url}/v2/payments/refunds/${r.id}`, rel: 'self', method: 'GET' },
        { href: `${url}/v2/payments/captures/${r.captureId}`, rel: 'up', method: 'GET' },
      ],
    };
  }

  function orderBody(o: OrderState): Json {
    const self = `${url}/v2/checkout/orders/${o.id}`;
    const links: Json[] = [{ href: self, rel: 'self', method: 'GET' }];
    if (o.status === 'CREATED' || o.status === 'PAYER_ACTION_REQUIRED') {
      links.push({ href: approvalLink(o), rel: o.withSource ? 'payer-action' : 'approve', method: 'GET' });
    }
    if (o.status === 'APPROVED') {
      links.push({ href: self, rel: 'update', method: 'PATCH' });
      links.push({
        href: `${self}/${o.intent === 'CAPTURE' ? 'capture' : 'authorize'}`,
        rel: o.intent === 'CAPTURE' ? 'capture' : 'authorize',
        method: 'POST',
      });
    }
    const orderCaptures = o.captureIds.map((id) => captures.get(id)!);
    const orderRefunds = orderCaptures.flatMap((c) => c.refundIds.map((id) => refunds.get(id)!));
    const payments: Json = {};
    if (o.authorizationIds.length > 0)
      payments.authorizations = o.authorizationIds.map((id) => authorizationBody(authorizations.get(id)!));
    if (orderCaptures.length > 0) payments.captures = orderCaptures.map(captureBody);
    if (orderRefunds.length > 0) payments.refunds = orderRefunds.map(refundBody);
    const payer = o.payerId
      ? {
          email_address: o.email ?? 'buyer@buyer.example',
          account_id: o.payerId,
          name: { given_name: 'Test', surname: 'Buyer' },
        }
      : undefined;
    return {
      id: o.id,
      intent: o.intent,
      status: o.status,
      ...(o.withSource || payer
        ? { payment_source: { paypal: { ...(o.email ? { email_address: o.email } : {}), ...(payer ?? {}) } } }
        : {}),
      purchase_units: [
        {
          ...(o.referenceId ? { reference_id: o.referenceId } : {}),
          ...(o.customId ? { custom_id: o.customId } : {}),
          amount: money(o.amount, o.currency),
          payee: { email_address: 'merchant@business.example', merchant_id: MERCHANT_ID },
          ...(Object.keys(payments).length > 0 ? { payments } : {}),
        },
      ],
      ...(payer
        ? { payer: { email_address: payer.email_address, payer_id: payer.account_id, name: payer.name } }
        : {}),
      create_time: o.createTime,
      update_time: o.updateTime,
      links,
    };
  }

  // ---- Webhooks --------------------------------------------------------------------------------

  const RESOURCE_TYPES: Record<string, string> = {
    'CHECKOUT.ORDER.APPROVED': 'checkout-order',
    'PAYMENT.AUTHORIZATION.CREATED': 'authorization',
    'PAYMENT.AUTHORIZATION.VOIDED': 'authorization',
    'PAYMENT.CAPTURE.COMPLETED': 'capture',
    'PAYMENT.CAPTURE.DENIED': 'capture',
    'PAYMENT.CAPTURE.REFUNDED': 'refund',
  };

  async function sendWebhook(eventType: string, resource: Json): Promise<void> {
    if (!webhookUrl) return;
    const eventId = `WH-${newId(8)}-${newId(17)}`;
    const body = JSON.stringify({
      id: eventId,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type: RESOURCE_TYPES[eventType] ?? 'unknown',
      resource_version: '2.0',
      event_type: eventType,
      summary: `${eventType} (emulator)`,
      resource,
      links: [{ href: `${url}/v1/notifications/webhooks-events/${eventId}`, rel: 'self', method: 'GET' }],
    });
    const headers = signedHeaders(Buffer.from(body), webhookId);
    const record: SentWebhook = { eventId, eventType, outcome: 'pending', body, headers };
    sent.push(record);
    try {
      const response = await fetch(webhookUrl, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(10_000),
      });
      record.outcome = response.status;
    } catch (error) {
      record.outcome = (error as Error).message;
    }
  }

  function signedHeaders(body: Buffer, id: string): Record<string, string> {
    const transmissionId = randomUUID();
    const transmissionTime = new Date().toISOString();
    const message = `${transmissionId}|${transmissionTime}|${id}|${crc32(body) >>> 0}`;
    return {
      'content-type': 'application/json',
      'paypal-transmission-id': transmissionId,
      'paypal-transmission-time': transmissionTime,
      'paypal-transmission-sig': sign('sha256', Buffer.from(message), EMULATOR_KEY_PEM).toString('base64'),
      'paypal-cert-url': `${url}${CERT_PATH}`,
      'paypal-auth-algo': 'SHA256withRSA',
    };
  }

  /** Sent after the answer, as PayPal's are: the caller never waits on the receiver. */
  const later = (eventType: string, resource: Json) =>
    setImmediate(() => void sendWebhook(eventType, resource));

  // ---- API -------------------------------------------------------------------------------------

  function createOrder(body: Json): Answer {
    const intent = body.intent;
    if (intent !== 'CAPTURE' && intent !== 'AUTHORIZE') throw new ApiError(400, 'INVALID_PARAMETER_VALUE');
    const units = body.purchase_units;
    if (!Array.isArray(units) || units.length !== 1) throw new ApiError(400, 'INVALID_ARRAY_LENGTH');
    const unit = units[0] as Json;
    const { amount, currency } = readMoney(unit.amount);
    const customId = typeof unit.custom_id === 'string' ? unit.custom_id : undefined;
    if (customId !== undefined && !/^[A-Za-z0-9-_.,]{1,127}$/.test(customId))
      throw new ApiError(400, 'INVALID_PARAMETER_SYNTAX');
    const source = ((body.payment_source as Json | undefined)?.paypal ?? undefined) as Json | undefined;
    const context = (source?.experience_context ?? {}) as Json;
    if (source && typeof context.return_url !== 'string') throw new ApiError(422, 'RETURN_URL_REQUIRED');
    const time = now();
    const order: OrderState = {
      id: newId(17),
      intent,
      status: source ? 'PAYER_ACTION_REQUIRED' : 'CREATED',
      currency,
      amount,
      referenceId: typeof unit.reference_id === 'string' ? unit.reference_id : undefined,
      customId,
      email: typeof source?.email_address === 'string' ? source.email_address : undefined,
      withSource: source !== undefined,
      returnUrl: typeof context.return_url === 'string' ? context.return_url : undefined,
      cancelUrl: typeof context.cancel_url === 'string' ? context.cancel_url : undefined,
      payerId: undefined,
      authorizationIds: [],
      captureIds: [],
      createTime: time,
      updateTime: time,
    };
    orders.set(order.id, order);
    count(stats.orders, customId);
    return { status: 201, body: orderBody(order) };
  }

  function orderOf(id: string): OrderState {
    const order = orders.get(id);
    if (!order) throw new ApiError(404, 'INVALID_RESOURCE_ID');
    return order;
  }

  const buyerOf = (order: OrderState): TestBuyer | undefined =>
    order.email !== undefined && Object.hasOwn(PAYPAL_TEST_BUYERS, order.email)
      ? PAYPAL_TEST_BUYERS[order.email as keyof typeof PAYPAL_TEST_BUYERS]
      : undefined;

  /** The server's capture or authorize call on an approved order. */
  function completeOrder(id: string, action: 'CAPTURE' | 'AUTHORIZE'): Answer {
    const order = orderOf(id);
    if (order.status === 'COMPLETED')
      throw new ApiError(422, action === 'CAPTURE' ? 'ORDER_ALREADY_CAPTURED' : 'ORDER_ALREADY_AUTHORIZED');
    if (order.intent !== action) throw new ApiError(422, 'ACTION_DOES_NOT_MATCH_INTENT');
    if (order.status !== 'APPROVED') throw new ApiError(422, 'ORDER_NOT_APPROVED');
    const buyer = buyerOf(order);
    if (buyer && 'issue' in buyer) {
      const links =
        buyer.issue === 'PAYER_ACTION_REQUIRED' || buyer.issue === 'INSTRUMENT_DECLINED'
          ? [
              {
                href: approvalLink(order),
                rel: buyer.issue === 'PAYER_ACTION_REQUIRED' ? 'payer-action' : 'redirect',
                method: 'GET',
              },
            ]
          : [];
      throw new ApiError(422, buyer.issue, links);
    }
    const time = now();
    order.status = 'COMPLETED';
    order.updateTime = time;
    if (action === 'AUTHORIZE') {
      const authorization: AuthorizationState = {
        id: newId(17),
        orderId: order.id,
        status: 'CREATED',
        currency: order.currency,
        amount: order.amount,
        captured: 0,
        customId: order.customId,
        captureIds: [],
        createTime: time,
        updateTime: time,
      };
      authorizations.set(authorization.id, authorization);
      order.authorizationIds.push(authorization.id);
      count(stats.authorizations, order.customId);
      later('PAYMENT.AUTHORIZATION.CREATED', authorizationBody(authorization));
    } else {
      const denied = buyer !== undefined && 'denied' in buyer;
      const capture = newCapture(order, undefined, order.amount, true, denied);
      later(denied ? 'PAYMENT.CAPTURE.DENIED' : 'PAYMENT.CAPTURE.COMPLETED', captureBody(capture));
    }
    return { status: 201, body: orderBody(order) };
  }

  function newCapture(
    order: OrderState,
    authorizationId: string | undefined,
    amount: number,
    finalCapture: boolean,
    denied = false,
  ): CaptureState {
    const time = now();
    const capture: CaptureState = {
      id: newId(17),
      orderId: order.id,
      authorizationId,
      status: denied ? 'DECLINED' : 'COMPLETED',
      statusReason: undefined,
      currency: order.currency,
      amount,
      refunded: 0,
      finalCapture,
      customId: order.customId,
      refundIds: [],
      createTime: time,
      updateTime: time,
    };
    captures.set(capture.id, capture);
    order.captureIds.push(capture.id);
    count(stats.captures, order.customId);
    return capture;
  }

  function authorizationOf(id: string): AuthorizationState {
    const authorization = authorizations.get(id);
    if (!authorization) throw new ApiError(404, 'INVALID_RESOURCE_ID');
    return authorization;
  }

  function captureAuthorization(id: string, body: Json): Answer {
    const authorization = authorizationOf(id);
    if (authorization.status === 'VOIDED') throw new ApiError(422, 'AUTHORIZATION_VOIDED');
    if (authorization.status === 'CAPTURED') throw new ApiError(422, 'AUTHORIZATION_ALREADY_CAPTURED');
    const left = authorization.amount - authorization.captured;
    const requested =
      body.amount === undefined ? { amount: left, currency: authorization.currency } : readMoney(body.amount);
    if (requested.currency !== authorization.currency) throw new ApiError(422, 'CURRENCY_MISMATCH');
    if (requested.amount > left) throw new ApiError(422, 'AUTHORIZATION_AMOUNT_EXCEEDED');
    const finalCapture = body.final_capture === true;
    const order = orderOf(authorization.orderId);
    const capture = newCapture(order, authorization.id, requested.amount, finalCapture);
    authorization.captureIds.push(capture.id);
    authorization.captured += requested.amount;
    authorization.status =
      finalCapture || authorization.captured === authorization.amount ? 'CAPTURED' : 'PARTIALLY_CAPTURED';
    authorization.updateTime = now();
    later('PAYMENT.CAPTURE.COMPLETED', captureBody(capture));
    return { status: 201, body: captureBody(capture) };
  }

  function voidAuthorization(id: string, prefer: string | undefined): Answer {
    const authorization = authorizationOf(id);
    if (authorization.status === 'VOIDED') throw new ApiError(422, 'PREVIOUSLY_VOIDED');
    if (authorization.status !== 'CREATED') throw new ApiError(422, 'PREVIOUSLY_CAPTURED');
    authorization.status = 'VOIDED';
    authorization.updateTime = now();
    count(stats.voids, authorization.customId);
    later('PAYMENT.AUTHORIZATION.VOIDED', authorizationBody(authorization));
    return prefer === 'return=representation'
      ? { status: 200, body: authorizationBody(authorization) }
      : { status: 204 };
  }

  function captureOf(id: string): CaptureState {
    const capture = captures.get(id);
    if (!capture) throw new ApiError(404, 'INVALID_RESOURCE_ID');
    return capture;
  }

  function refundCapture(id: string, body: Json): Answer {
    const capture = captureOf(id);
    if (capture.status === 'REFUNDED') throw new ApiError(422, 'CAPTURE_FULLY_REFUNDED');
    if (capture.status !== 'COMPLETED' && capture.status !== 'PARTIALLY_REFUNDED')
      throw new ApiError(422, 'REFUND_NOT_ALLOWED');
    const left = capture.amount - capture.refunded;
    const requested =
      body.amount === undefined ? { amount: left, currency: capture.currency } : readMoney(body.amount);
    if (requested.currency !== capture.currency) throw new ApiError(422, 'REFUND_CAPTURE_CURRENCY_MISMATCH');
    if (requested.amount > left) throw new ApiError(422, 'REFUND_AMOUNT_EXCEEDED');
    const refund: RefundState = {
      id: newId(17),
      captureId: capture.id,
      status: 'COMPLETED',
      currency: capture.currency,
      amount: requested.amount,
      customId: typeof body.custom_id === 'string' ? body.custom_id : capture.customId,
      noteToPayer: typeof body.note_to_payer === 'string' ? body.note_to_payer : undefined,
      createTime: now(),
    };
    refunds.set(refund.id, refund);
    capture.refundIds.push(refund.id);
    capture.refunded += refund.amount;
    capture.status = capture.refunded === capture.amount ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    capture.updateTime = now();
    count(stats.refunds, capture.customId);
    later('PAYMENT.CAPTURE.REFUNDED', refundBody(refund));
    return { status: 201, body: refundBody(refund) };
  }

  function route(method: string, parts: string[], body: Json, prefer: string | undefined): Answer {
    const [v, area, kind, id, action] = parts;
    if (v === 'v2' && area === 'checkout' && kind === 'orders') {
      if (method === 'POST' && id === undefined) return createOrder(body);
      if (method === 'GET' && id !== undefined && action === undefined)
        return { status: 200, body: orderBody(orderOf(id)) };
      if (method === 'POST' && id !== undefined && action === 'capture') return completeOrder(id, 'CAPTURE');
      if (method === 'POST' && id !== undefined && action === 'authorize')
        return completeOrder(id, 'AUTHORIZE');
    }
    if (v === 'v2' && area === 'payments' && id !== undefined) {
      if (kind === 'authorizations') {
        if (method === 'GET' && action === undefined)
          return { status: 200, body: authorizationBody(authorizationOf(id)) };
        if (method === 'POST' && action === 'capture') return captureAuthorization(id, body);
        if (method === 'POST' && action === 'void') return voidAuthorization(id, prefer);
      }
      if (kind === 'captures') {
        if (method === 'GET' && action === undefined)
          return { status: 200, body: captureBody(captureOf(id)) };
        if (method === 'POST' && action === 'refund') return refundCapture(id, body);
      }
      if (kind === 'refunds' && method === 'GET' && action === undefined) {
        const refund = refunds.get(id);
        if (!refund) throw new ApiError(404, 'INVALID_RESOURCE_ID');
        return { status: 200, body: refundBody(refund) };
      }
    }
    throw new ApiError(404, 'INVALID_RESOURCE_ID');
  }

  function issueToken(request: IncomingMessage, rawBody: string): Answer {
    const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
    if (request.headers.authorization !== expected) {
      return {
        status: 401,
        body: { error: 'invalid_client', error_description: 'Client Authentication failed' },
      };
    }
    if (new URLSearchParams(rawBody).get('grant_type') !== 'client_credentials') {
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'Grant Type is NULL' },
      };
    }
    const token = `A21AA${randomBytes(24).toString('base64url')}`;
    tokens.set(token, Date.now() + tokenTtlSec * 1000);
    stats.tokensIssued += 1;
    return {
      status: 200,
      body: {
        scope:
          'https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund',
        access_token: token,
        token_type: 'Bearer',
        app_id: 'APP-EMULATOR',
        expires_in: tokenTtlSec,
        nonce: `${now()}${randomBytes(8).toString('hex')}`,
      },
    };
  }

  function api(request: IncomingMessage, pathname: string, rawBody: string): Answer {
    const method = request.method ?? 'GET';
    if (failures.left > 0) {
      failures.left -= 1;
      return { status: failures.status, body: failureBody(failures.status) };
    }
    if (pathname === '/v1/oauth2/token' && method === 'POST') return issueToken(request, rawBody);
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiry = bearer === undefined ? undefined : tokens.get(bearer);
    if (expiry === undefined || expiry < Date.now()) {
      return {
        status: 401,
        body: { error: 'invalid_token', error_description: 'Token signature verification failed' },
      };
    }
    let body: Json = {};
    if (rawBody.trim() !== '') {
      try {
        body = JSON.parse(rawBody) as Json;
      } catch {
        return { status: 400, body: errorBody(new ApiError(400, 'MALFORMED_REQUEST_JSON')) };
      }
    }
    const requestId = header(request, 'paypal-request-id');
    const storeKey = requestId === undefined ? undefined : `${method} ${pathname} ${requestId}`;
    const previous = storeKey === undefined ? undefined : stored.get(storeKey);
    if (previous) {
      if (previous.body === canonical(body)) return previous.answer;
      return { status: 422, body: errorBody(new ApiError(422, REQUEST_ID_REUSED)) };
    }
    let answer: Answer;
    try {
      answer = route(method, pathname.split('/').filter(Boolean), body, header(request, 'prefer'));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      answer = { status: error.status, body: errorBody(error) };
    }
    // Answers are kept for their key, refusals too: the same request gets the same answer.
    if (storeKey !== undefined && method === 'POST') stored.set(storeKey, { body: canonical(body), answer });
    return answer;
  }

  // ---- The buyer's page --------------------------------------------------------------------------

  async function approve(orderId: string): Promise<OrderState> {
    const order = orderOf(orderId);
    if (order.status === 'CREATED' || order.status === 'PAYER_ACTION_REQUIRED') {
      order.status = 'APPROVED';
      order.payerId = accountId();
      order.updateTime = now();
      await sendWebhook('CHECKOUT.ORDER.APPROVED', orderBody(order));
    }
    return order;
  }

  async function checkoutPage(
    method: string,
    pathname: string,
    search: URLSearchParams,
    response: ServerResponse,
  ) {
    if (method === 'GET' && pathname === '/checkoutnow') {
      const order = orders.get(search.get('token') ?? '');
      if (!order) return html(response, 404, '<p>No such order.</p>');
      const amount = `${String(money(order.amount, order.currency).value)} ${order.currency}`;
      return html(
        response,
        200,
        `<h1>Pay with PayPal (emulator)</h1><p>Order ${order.id}: ${amount}</p><p>Status: ${order.status}</p>` +
          `<form method="post" action="/checkoutnow/${order.id}/approve"><button type="submit">Approve</button></form>` +
          `<form method="post" action="/checkoutnow/${order.id}/cancel"><button type="submit">Cancel</button></form>`,
      );
    }
    const match = /^\/checkoutnow\/([A-Z0-9]+)\/(approve|cancel)$/.exec(pathname);
    if (method === 'POST' && match) {
      const order = orders.get(match[1]!);
      if (!order) return html(response, 404, '<p>No such order.</p>');
      if (match[2] === 'approve') {
        await approve(order.id);
        return redirect(response, order.returnUrl, { token: order.id, PayerID: order.payerId ?? '' });
      }
      return redirect(response, order.cancelUrl ?? order.returnUrl, { token: order.id });
    }
    return html(response, 404, '<p>Not found.</p>');
  }

  // ---- Control -------------------------------------------------------------------------------

  async function control(method: string, pathname: string, rawBody: string): Promise<Answer> {
    const body = rawBody.trim() === '' ? {} : (JSON.parse(rawBody) as Json);
    if (method === 'POST' && pathname === '/__emulator/fail-next') {
      failures = { left: Number(body.count ?? 1), status: Number(body.status ?? 500) };
      return { status: 200, body: { ok: true } };
    }
    if (method === 'POST' && pathname === '/__emulator/expire-tokens') {
      tokens.clear();
      return { status: 200, body: { ok: true } };
    }
    const approveMatch = /^\/__emulator\/orders\/([A-Z0-9]+)\/approve$/.exec(pathname);
    if (method === 'POST' && approveMatch) {
      try {
        return { status: 200, body: orderBody(await approve(approveMatch[1]!)) };
      } catch (error) {
        if (error instanceof ApiError) return { status: error.status, body: errorBody(error) };
        throw error;
      }
    }
    if (method === 'GET' && pathname === '/__emulator/stats') return { status: 200, body: stats };
    if (method === 'GET' && pathname === '/__emulator/webhooks') return { status: 200, body: sent };
    if (method === 'GET' && pathname === '/__emulator/requests') return { status: 200, body: log };
    return { status: 404, body: { error: 'unknown control route' } };
  }

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const { pathname, searchParams } = new URL(request.url ?? '/', url);
      const method = request.method ?? 'GET';
      void (async () => {
        try {
          if (method === 'GET' && pathname === CERT_PATH) {
            response.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(EMULATOR_CERT_PEM);
            return;
          }
          if (pathname.startsWith('/checkoutnow'))
            return await checkoutPage(method, pathname, searchParams, response);
          const answer = pathname.startsWith('/__emulator/')
            ? await control(method, pathname, rawBody)
            : api(request, pathname, rawBody);
          if (!pathname.startsWith('/__emulator/')) {
            log.push({
              method,
              path: pathname,
              requestId: header(request, 'paypal-request-id'),
              status: answer.status,
            });
          }
          json(response, answer);
        } catch (error) {
          json(response, {
            status: 500,
            body: { name: 'INTERNAL_SERVER_ERROR', message: (error as Error).message },
          });
        }
      })();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    certUrl: `${url}${CERT_PATH}`,
    clientId,
    clientSecret,
    get webhookId() {
      return webhookId;
    },
    sendWebhooksTo: (target, id) => {
      webhookUrl = target;
      if (id !== undefined) webhookId = id;
    },
    failNext: (n, status = 500) => {
      failures = { left: n, status };
    },
    expireTokens: () => tokens.clear(),
    approve: async (orderId) => {
      await approve(orderId);
    },
    stats: () => structuredClone(stats),
    webhooksSent: () => [...sent],
    requests: () => [...log],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The body as compared for a repeated `PayPal-Request-Id`: key order does not matter. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function json(response: ServerResponse, answer: Answer): void {
  if (answer.body === undefined) {
    response.writeHead(answer.status).end();
    return;
  }
  response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
}

function html(response: ServerResponse, status: number, content: string): void {
  response
    .writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
    .end(
      `<!doctype html><html lang="en"><head><title>PayPal emulator</title></head><body>${content}</body></html>`,
    );
}

function redirect(
  response: ServerResponse,
  target: string | undefined,
  params: Record<string, string>,
): void {
  if (!target) return html(response, 200, '<p>Done.</p>');
  const location = new URL(target);
  for (const [key, value] of Object.entries(params)) location.searchParams.set(key, value);
  response.writeHead(303, { location: location.toString() }).end();
}
