import { z } from 'zod';
import { CURRENCIES, MAX_AMOUNT_MINOR } from '../src/domain/money.js';
import { ApiError } from './wire.js';

/**
 * Request bodies (and the lookup's query string) the sandbox accepts; anything else is a 400 that
 * is not recorded for idempotency.
 */
const amount = z.int().positive().max(MAX_AMOUNT_MINOR);
export const schemas = {
  token: z.strictObject({
    number: z.string().max(32),
    expMonth: z.int().min(1).max(12),
    expYear: z.int().min(2000).max(2100),
    cvc: z.string().regex(/^\d{3,4}$/),
  }),
  authorize: z.strictObject({
    token: z.string().min(1).max(255),
    amount,
    currency: z.enum(CURRENCIES),
    reference: z.string().min(1).max(255),
    capture: z.boolean(),
    returnUrl: z.url().max(2048).optional(),
    /** The token is a stored card charged without the customer present. */
    offSession: z.boolean().optional(),
    /** The network transaction id of the customer's earlier authenticated payment. */
    previousNetworkTransactionId: z.string().min(1).max(255).optional(),
  }),
  /** `GET /authorizations`: the query string of a lookup by the authorizing request's key. */
  findAuthorizations: z.strictObject({
    idempotency_key: z.string().min(1).max(255),
    reference: z.string().min(1).max(255).optional(),
  }),
  savePaymentMethod: z.strictObject({
    token: z.string().min(1).max(255),
    reference: z.string().min(1).max(255),
    returnUrl: z.url().max(2048).optional(),
  }),
  capture: z.strictObject({ amount: amount.optional() }),
  void: z.strictObject({}),
  refund: z.strictObject({ amount, reason: z.string().max(500).optional() }),
  complete3ds: z.object({ outcome: z.enum(['succeed', 'fail']) }),
  faults: z.strictObject({
    latencyMs: z.int().min(0).max(60_000),
    failNext: z.int().min(0),
    timeoutAfterChargeNext: z.int().min(0),
    hangMs: z.int().min(0).max(120_000),
    duplicateWebhooks: z.boolean(),
    outOfOrderWebhooks: z.boolean(),
    outOfOrderDelayMs: z.int().min(0).max(60_000),
    refundMode: z.enum(['succeed', 'pending', 'fail', 'pending_fail']),
    pendingRefundDelayMs: z.int().min(0).max(600_000),
  }),
};

export function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw new ApiError(400, 'invalid_request', z.prettifyError(result.error));
  return result.data;
}

/** Key order must not matter when comparing a replayed request with the original. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
