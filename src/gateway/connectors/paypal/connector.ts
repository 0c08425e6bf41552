import type { KeyObject } from 'node:crypto';
import { GatewayRequestError, GatewayUnavailableError } from '../../errors.js';
import type {
  Authorization,
  AuthorizeRequest,
  CaptureRequest,
  GatewayRefund,
  PaymentGateway,
  RefundRequest,
  VoidRequest,
  WebhookEvent,
} from '../../port.js';
import {
  allowedCertUrl,
  approvalUrl,
  certificateKey,
  completeOrderKey,
  isDecline,
  orderAuthorization,
  orderBase,
  orderReference,
  parsePayPal,
  parsePayPalEvent,
  paypalRequestId,
  PayPalAuthorizationSchema,
  PayPalOrderSchema,
  PayPalRefundSchema,
  PayPalTokenSchema,
  readSignatureHeaders,
  refundableCapture,
  toAuthorization,
  toCaptureBody,
  toCreateOrderBody,
  toDeclinedAuthorization,
  toGatewayError,
  toPayPalFailure,
  toRefund,
  toRefundBody,
  toWebhookEvents,
  verifyPayPalSignature,
  type PayPalEvent,
  type PayPalOrder,
} from './transformers.js';
import { WebhookSignatureError } from '../../webhook-signature.js';

export const PAYPAL_SANDBOX_API = 'https://api-m.sandbox.paypal.com';
export const PAYPAL_LIVE_API = 'https://api-m.paypal.com';

export interface PayPalConnectorOptions {
  clientId: string;
  clientSecret: string;
  /** The id PayPal gave the merchant's webhook: it is part of what PayPal signs. */
  webhookId: string;
  /** PayPal's sandbox unless set (PAYPAL_LIVE_API for live money; the emulator in tests). */
  apiBase?: string | undefined;
  /** Hosts (`host[:port]`) trusted to serve webhook certificates besides PayPal's: the emulator. */
  extraCertHosts?: readonly string[] | undefined;
  /** Per request. */
  timeoutMs?: number;
  /** Clock in milliseconds, for the token's expiry and the certificate's validity. */
  now?: () => number;
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

/** A token is used until this long before PayPal says it expires (at most half its life). */
const TOKEN_MARGIN_SEC = 300;

/**
 * PayPal through its REST API with `fetch`: Orders v2 (the buyer approves on PayPal's page),
 * Payments v2 for captures, voids and refunds. Not the official `@paypal/paypal-server-sdk`: its
 * base URL is fixed to PayPal's two hosts (no emulator), it brings axios and five APIMatic
 * packages, and it does not verify webhooks; the calls here are few and their answers are
 * zod-checked in transformers.ts, where every translation lives.
 *
 * `Authorization.id` is PayPal's order id; the authorization and capture ids are read from the
 * order when needed, so the connector keeps no state but its OAuth token. An APPROVED order is
 * completed by `status` (and `capture`): the server's capture (a sale) or authorize call, with a
 * key derived from the order id, so every re-read after the approval webhook sends the same
 * call and PayPal replays it. Every write carries the workflow's key as `PayPal-Request-Id`
 * (PayPal keeps order keys 6 hours, payment keys 45 days).
 */
export class PayPalConnector implements PaymentGateway {
  readonly name = 'paypal';
  /** The buyer pays from a PayPal account: no card token. */
  readonly methods = ['paypal'] as const;
  private readonly apiBase: string;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private token: { value: string; refreshAt: number } | undefined;
  private tokenRequest: Promise<string> | undefined;
  private readonly certificates = new Map<string, Promise<string>>();

  constructor(private readonly options: PayPalConnectorOptions) {
    this.apiBase = (options.apiBase ?? PAYPAL_SANDBOX_API).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** An order the buyer approves on PayPal: `requires_action`, its approval link the action URL. */
  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const body = toCreateOrderBody(request);
    const answer = await this.send('POST', '/v2/checkout/orders', body, request.idempotencyKey);
    if (answer.status >= 300) {
      const failure = toPayPalFailure(answer.status, answer.body);
      if (isDecline(failure)) {
        return toDeclinedAuthorization(failure, {
          id: '',
          amount: request.amount,
          currency: request.currency,
        });
      }
      throw toGatewayError(failure);
    }
    return this.settle(parsePayPal(PayPalOrderSchema, answer.body, 'order'));
  }

  /**
   * Captures (part of) the order's authorization; PayPal releases the rest (`final_capture`). An
   * order approved but not yet authorized is authorized first, as `status` would.
   */
  async capture(request: CaptureRequest): Promise<Authorization> {
    const order = await this.completed(await this.order(request.authorizationId));
    const authorization = orderAuthorization(order);
    if (order.intent !== 'AUTHORIZE' || !authorization) {
      throw new GatewayRequestError(
        'not_authorized',
        `PayPal order ${order.id} has no authorization to capture (${order.status})`,
        400,
      );
    }
    const currency = request.currency ?? orderBase(order).currency;
    const answer = await this.send(
      'POST',
      `/v2/payments/authorizations/${encodeURIComponent(authorization.id)}/capture`,
      toCaptureBody(request.amount, currency),
      request.idempotencyKey,
    );
    // A capture refused (a decline included) is final, as on every connector.
    if (answer.status >= 300) throw toGatewayError(toPayPalFailure(answer.status, answer.body));
    return toAuthorization(await this.order(order.id));
  }

  /**
   * Voids the order's authorization. An order with none holds no money at PayPal and is never
   * completed once Paysaga has given it up: it is answered `voided` without a call.
   */
  async void(request: VoidRequest): Promise<Authorization> {
    const order = await this.order(request.authorizationId);
    const authorization = orderAuthorization(order);
    if (!authorization) {
      if (['CREATED', 'PAYER_ACTION_REQUIRED', 'APPROVED', 'VOIDED'].includes(order.status)) {
        return { ...orderBase(order), status: 'voided' };
      }
      throw new GatewayRequestError('cannot_be_voided', `PayPal order ${order.id} is ${order.status}`, 400);
    }
    const answer = await this.send(
      'POST',
      `/v2/payments/authorizations/${encodeURIComponent(authorization.id)}/void`,
      undefined,
      request.idempotencyKey,
    );
    if (answer.status >= 300) throw toGatewayError(toPayPalFailure(answer.status, answer.body));
    if (answer.status === 200) parsePayPal(PayPalAuthorizationSchema, answer.body, 'authorization');
    return toAuthorization(await this.order(order.id));
  }

  /** A refund of the order's capture; `custom_id` carries the payment id for its webhooks. */
  async refund(request: RefundRequest): Promise<GatewayRefund> {
    const order = await this.order(request.authorizationId);
    const capture = refundableCapture(order, request.amount);
    if (!capture) {
      throw new GatewayRequestError('not_captured', `PayPal order ${order.id} has no capture to refund`, 400);
    }
    const { currency } = orderBase(order);
    const answer = await this.send(
      'POST',
      `/v2/payments/captures/${encodeURIComponent(capture.id)}/refund`,
      toRefundBody(request, currency, orderReference(order)),
      request.idempotencyKey,
    );
    if (answer.status >= 300) throw toGatewayError(toPayPalFailure(answer.status, answer.body));
    return toRefund(parsePayPal(PayPalRefundSchema, answer.body, 'refund'), order.id);
  }

  /** The order re-read; an APPROVED one is completed first (see the class comment). */
  async status(authorizationId: string): Promise<Authorization> {
    return this.settle(await this.order(authorizationId));
  }

  /** PayPal answers a token request with the connector's credentials. */
  async ping(): Promise<void> {
    this.token = undefined;
    await this.accessToken();
  }

  /**
   * Verifies the signature (see verifyPayPalWebhook: the certificate it names is fetched, so
   * this answers with a promise) and maps the event.
   */
  async parseWebhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<WebhookEvent[]> {
    const event = await verifyPayPalWebhook(rawBody, headers, {
      webhookId: this.options.webhookId,
      extraCertHosts: this.options.extraCertHosts,
      certificates: this.certificates,
      timeoutMs: this.timeoutMs,
      now: this.now,
    });
    return toWebhookEvents(event);
  }

  /**
   * An order as a port value; an APPROVED one is first captured or authorized (by intent) with
   * the order's own key. A decline there is the payment's decline; a buyer sent back to PayPal
   * is `requires_action` again.
   */
  private async settle(order: PayPalOrder): Promise<Authorization> {
    if (order.status !== 'APPROVED') return toAuthorization(order);
    const completed = await this.complete(order);
    return 'purchase_units' in completed ? toAuthorization(completed) : completed;
  }

  /** The order with its authorization, when it is APPROVED with intent AUTHORIZE (for `capture`). */
  private async completed(order: PayPalOrder): Promise<PayPalOrder> {
    if (order.status !== 'APPROVED') return order;
    const result = await this.complete(order);
    if ('purchase_units' in result) return result;
    throw new GatewayRequestError(
      'not_authorized',
      `PayPal order ${order.id} could not be authorized (${result.failureMessage ?? result.status})`,
      400,
    );
  }

  /** The server's capture or authorize call on an APPROVED order: the order after it, or a port value. */
  private async complete(order: PayPalOrder): Promise<PayPalOrder | Authorization> {
    const action = order.intent === 'AUTHORIZE' ? 'authorize' : 'capture';
    const answer = await this.send(
      'POST',
      `/v2/checkout/orders/${encodeURIComponent(order.id)}/${action}`,
      {},
      completeOrderKey(order.id),
    );
    if (answer.status < 300) return parsePayPal(PayPalOrderSchema, answer.body, 'order');
    const failure = toPayPalFailure(answer.status, answer.body);
    switch (failure.outcome.kind) {
      case 'decline':
        return toDeclinedAuthorization({ ...failure, outcome: failure.outcome }, orderBase(order));
      case 'payer_action': {
        const actionUrl = failure.actionUrl ?? approvalUrl(order);
        if (!actionUrl) throw toGatewayError({ ...failure, outcome: { kind: 'final' } });
        return { ...orderBase(order), status: 'requires_action', actionUrl };
      }
      case 'done_already': {
        const current = await this.order(order.id);
        if (current.status === 'APPROVED') throw new GatewayUnavailableError(failure.message, failure.status);
        return current;
      }
      default:
        throw toGatewayError(failure);
    }
  }

  private async order(id: string): Promise<PayPalOrder> {
    const answer = await this.send('GET', `/v2/checkout/orders/${encodeURIComponent(id)}`);
    if (answer.status >= 300) throw toGatewayError(toPayPalFailure(answer.status, answer.body));
    return parsePayPal(PayPalOrderSchema, answer.body, 'order');
  }

  /** One API call with the cached token; a 401 drops it and the call is sent once more with a new one. */
  private async send(
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<HttpAnswer> {
    const answer = await this.request(method, path, await this.accessToken(), body, idempotencyKey);
    if (answer.status !== 401) return answer;
    this.token = undefined;
    return this.request(method, path, await this.accessToken(), body, idempotencyKey);
  }

  private async request(
    method: string,
    path: string,
    token: string,
    body: unknown,
    idempotencyKey: string | undefined,
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      prefer: 'return=representation',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['paypal-request-id'] = paypalRequestId(idempotencyKey);
    return this.http(`${method} ${path}`, `${this.apiBase}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /**
   * The OAuth token, fetched with the client credentials and kept until shortly before it
   * expires; concurrent calls share one fetch.
   */
  private async accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const credentials = Buffer.from(`${this.options.clientId}:${this.options.clientSecret}`).toString(
      'base64',
    );
    const answer = await this.http('POST /v1/oauth2/token', `${this.apiBase}/v1/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${credentials}`,
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    if (answer.status >= 300) {
      const failure = toPayPalFailure(answer.status, answer.body);
      if (failure.outcome.kind === 'transient') throw toGatewayError(failure);
      // The answer names the error only: never the credentials sent.
      throw new GatewayRequestError(
        'authentication_failed',
        `PayPal refused the client credentials (${failure.issue})`,
        answer.status,
      );
    }
    const token = parsePayPal(PayPalTokenSchema, answer.body, 'token');
    const margin = Math.min(TOKEN_MARGIN_SEC, Math.floor(token.expires_in / 2));
    this.token = { value: token.access_token, refreshAt: this.now() + (token.expires_in - margin) * 1000 };
    return token.access_token;
  }

  /** One HTTP exchange; no answer (unreachable, timeout, cut body) is transient. */
  private async http(label: string, url: string, init: RequestInit): Promise<HttpAnswer> {
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw new GatewayUnavailableError(
        `PayPal: ${label} got no answer (${(error as Error).name})`,
        undefined,
        {
          cause: error,
        },
      );
    }
    if (text === '') return { status, body: undefined };
    try {
      return { status, body: JSON.parse(text) as unknown };
    } catch {
      if (status >= 500 || status === 429) return { status, body: undefined };
      throw new GatewayUnavailableError(
        `PayPal: ${label} answered ${status} with a body that is not JSON`,
        status,
      );
    }
  }
}

export interface PayPalWebhookVerificationOptions {
  webhookId: string;
  extraCertHosts?: readonly string[] | undefined;
  /** PEM text by URL, shared between calls (a connector keeps one). */
  certificates?: Map<string, Promise<string>>;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Verifies a PayPal webhook as PayPal signs it: `PAYPAL-TRANSMISSION-SIG`, base64 RSA-SHA256 over
 * `transmissionId|transmissionTime|webhookId|crc32(body)`, with the public key of the certificate
 * at `PAYPAL-CERT-URL`, which must be on PayPal's hosts (see allowedCertUrl). Certificates are
 * cached by URL; one that could not be fetched is not, and the error is transient (PayPal
 * retries the delivery). Replays are harmless: Paysaga drops an event id it has acted on.
 * Returns the event, parsed.
 */
export async function verifyPayPalWebhook(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  options: PayPalWebhookVerificationOptions,
): Promise<PayPalEvent> {
  const signed = readSignatureHeaders(headers);
  const url = allowedCertUrl(signed.certUrl, options.extraCertHosts);
  const key = await certificateAt(url, options);
  verifyPayPalSignature(rawBody, signed, options.webhookId, key);
  return parsePayPalEvent(rawBody);
}

async function certificateAt(url: URL, options: PayPalWebhookVerificationOptions): Promise<KeyObject> {
  const cache = options.certificates ?? new Map<string, Promise<string>>();
  let pem = cache.get(url.href);
  if (!pem) {
    pem = fetchCertificate(url, options.timeoutMs ?? 10_000);
    cache.set(url.href, pem);
    pem.catch(() => cache.delete(url.href));
  }
  return certificateKey(await pem, (options.now ?? Date.now)());
}

async function fetchCertificate(url: URL, timeoutMs: number): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (error) {
    throw new GatewayUnavailableError(`PayPal certificate ${url.href} could not be fetched`, undefined, {
      cause: error,
    });
  }
  if (response.status >= 400 && response.status < 500) {
    throw new WebhookSignatureError('signature_mismatch', `No PayPal certificate at ${url.href}`);
  }
  if (!response.ok) {
    throw new GatewayUnavailableError(
      `PayPal certificate ${url.href} answered ${response.status}`,
      response.status,
    );
  }
  return response.text();
}
