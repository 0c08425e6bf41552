import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { z } from 'zod';
import {
  capturePaymentBody,
  createAttemptBody,
  createPaymentBody,
  createRefundBody,
  createWebhookEndpointBody,
  customerTokenBody,
  payment,
  problem,
  refund,
  rotateWebhookSecretBody,
  topUpBody,
  wallet,
  walletTransaction,
  webhookDelivery,
  webhookEndpoint,
} from '../../src/api/schemas.js';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../../src/config.js';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  key?: string | null;
  headers?: Record<string, string>;
  /** Send this exact text as the body (for malformed JSON tests). */
  raw?: string;
}

/** Headers and body text of a test request: the key (dev key by default), JSON unless raw. */
export function requestParts(body: unknown, options: RequestOptions = {}, defaultKey: string = DEV_API_KEY) {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? defaultKey : options.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let payload: string | undefined = options.raw;
  if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  return { headers, payload };
}

/** Request bodies as the API's schemas take them. */
export type PaymentBody = z.input<typeof createPaymentBody>;
export type RefundBody = z.input<typeof createRefundBody>;
export type WebhookEndpointBody = z.input<typeof createWebhookEndpointBody>;

type Problem = z.output<typeof problem>;
type Page<T> = { data: T[]; nextCursor: string | null };
type Payment = z.output<typeof payment>;
type Refund = z.output<typeof refund>;
type Wallet = z.output<typeof wallet>;
type WalletTransaction = z.output<typeof walletTransaction>;
/** Resources as the API's schemas answer them. */
export type WebhookEndpoint = z.output<typeof webhookEndpoint>;
export type WebhookDelivery = z.output<typeof webhookDelivery>;

/** A route's request body (as the API's zod schema takes it) and its answer. */
interface Route<Body, Answer> {
  body: Body;
  answer: Answer;
}
/** Paths this client does not know: any body, an untyped answer. */
type Unknown = Route<unknown, any>;
/** A path with a query string or without one. */
type Q<P extends string> = P | `${P}?${string}`;

/** What a POST to `P` takes and answers, matched on the API's own route patterns. */
type PostRoute<P extends string> =
  P extends Q<'/v1/payments'>
    ? Route<PaymentBody, Payment>
    : P extends `/v1/payments/${string}/capture`
      ? Route<z.input<typeof capturePaymentBody>, Payment>
      : P extends `/v1/payments/${string}/cancel`
        ? Route<undefined, Payment>
        : P extends `/v1/payments/${string}/attempts`
          ? Route<z.input<typeof createAttemptBody>, Payment>
          : P extends `/v1/payments/${string}/refunds`
            ? Route<RefundBody, Refund>
            : P extends `/v1/wallets/${string}/top-ups`
              ? Route<z.input<typeof topUpBody>, Wallet>
              : P extends '/v1/webhook-endpoints'
                ? Route<WebhookEndpointBody, WebhookEndpoint>
                : P extends `/v1/webhook-endpoints/${string}/rotate-secret`
                  ? Route<z.input<typeof rotateWebhookSecretBody>, WebhookEndpoint>
                  : P extends `/v1/webhook-endpoints/${string}/deliveries/${string}/retry`
                    ? Route<undefined, WebhookDelivery>
                    : P extends '/v1/customer-tokens'
                      ? Route<
                          z.input<typeof customerTokenBody>,
                          { token: string; customerId: string; expiresAt: string }
                        >
                      : Unknown;

/** What a GET of `P` answers (more specific patterns first: `${string}` takes slashes too). */
type GetAnswer<P extends string> =
  P extends Q<`/v1/payments/${string}/refunds`>
    ? { data: Refund[] }
    : P extends Q<`/v1/payments/${string}/${string}`>
      ? any
      : P extends Q<`/v1/payments/${string}`>
        ? Payment
        : P extends Q<'/v1/payments'>
          ? Page<Payment>
          : P extends Q<`/v1/refunds/${string}`>
            ? Refund
            : P extends `/v1/wallets/${string}/transactions${string}`
              ? Page<WalletTransaction>
              : P extends Q<`/v1/wallets/${string}`>
                ? Wallet
                : P extends `/v1/webhook-endpoints/${string}/deliveries${string}`
                  ? Page<WebhookDelivery>
                  : P extends Q<`/v1/webhook-endpoints/${string}`>
                    ? WebhookEndpoint
                    : P extends Q<'/v1/webhook-endpoints'>
                      ? { data: WebhookEndpoint[] }
                      : any;

type RouteOf<M extends string, P extends string> = M extends 'POST'
  ? PostRoute<P>
  : M extends 'GET'
    ? Route<undefined, GetAnswer<P>>
    : M extends 'DELETE'
      ? Route<undefined, P extends `/v1/webhook-endpoints/${string}` ? WebhookEndpoint : any>
      : Unknown;

/**
 * An answer: the route's resource, or on a 4xx/5xx the problem+json fields it does not share
 * (`code`, `title`, `detail`, ...), so a test reads either without a cast.
 */
type Answer<T> = T extends object ? T & Partial<Omit<Problem, keyof T>> : T;

/**
 * Real HTTP to the API, typed from the API's own zod schemas: a known route takes only the body
 * its schema accepts and answers its resource. Bad input goes through `apiRaw`.
 */
export function api<M extends string, P extends string>(
  method: M,
  path: P,
  ...[body, options]: undefined extends RouteOf<M, P>['body']
    ? [body?: RouteOf<M, P>['body'], options?: RequestOptions]
    : [body: RouteOf<M, P>['body'], options?: RequestOptions]
): Promise<ApiResponse<Answer<RouteOf<M, P>['answer']>>> {
  return apiRaw(method, path, body, options);
}

/** Real HTTP to the API process the global setup started, with any body (bad input included). */
export async function apiRaw<T = any>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const { headers, payload } = requestParts(body, options);
  const response = await fetch(`${inject('apiUrl')}${path}`, { method, headers, body: payload });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

export const admin = (path: string) => apiRaw('GET', path, undefined, { key: DEV_ADMIN_KEY });

export function uid(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

export async function topUp(customerId: string, amount: number, currency: PaymentBody['currency'] = 'USD') {
  const response = await api('POST', `/v1/wallets/${customerId}/top-ups`, {
    amount,
    currency,
    token: 'tok_test_4242',
  });
  if (response.status !== 200)
    throw new Error(`top-up failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

export async function expectLedgerClean(): Promise<void> {
  const response = await admin('/v1/ledger/verify');
  if (response.status !== 200 || !response.body.ok) {
    throw new Error(`ledger invariants violated: ${JSON.stringify(response.body)}`);
  }
}

/** Reads until `done` holds, every 100 ms, for at most `timeoutMs`; the last value says what was seen. */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
