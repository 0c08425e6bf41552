/**
 * The commands Paysaga takes from a broker (`paysaga.commands`), validated with the same schemas
 * as the HTTP API. A message that fails here goes to the dead-letter queue with the reason.
 */
import { z } from 'zod';
import {
  amount,
  cardToken,
  createCheckoutSessionBody,
  createPaymentBody,
  currency,
  externalId,
  resourceId,
  text,
} from '../app/schemas.js';
import { MAX_BODY_BYTES, parseJsonBody } from '../app/json-body.js';
import type { PaymentRequest } from '../domain/payment.js';
import { ORDER_REPLY_METADATA } from '../domain/order-replies.js';

const tenantId = z.string().min(1).max(64);

/** `POST /v1/payments`'s body, plus the tenant it is for. */
const paymentCreate = createPaymentBody.extend({ type: z.literal('payment.create'), tenantId });

/**
 * The order's payment tried again (a new attempt, as a second `POST /v1/payments` for the order
 * would): refused when the order has no payment yet.
 */
const paymentRetry = createPaymentBody.extend({ type: z.literal('payment.retry'), tenantId });

/** `POST /v1/checkout-sessions`'s body, plus the tenant it is for. */
const checkoutCreate = createCheckoutSessionBody.extend({ type: z.literal('checkout.create'), tenantId });

/**
 * `POST /v1/payments/{id}/refunds`'s body, the payment named by its id or by its order's; the key
 * makes a redelivered message the same refund.
 */
const refundCreate = z
  .strictObject({
    type: z.literal('refund.create'),
    tenantId,
    paymentId: resourceId.optional(),
    orderId: externalId.optional(),
    amount: amount.optional(),
    reason: text(500).min(1).optional(),
    idempotencyKey: z.string().min(1).max(255),
  })
  .refine((refund) => (refund.paymentId === undefined) !== (refund.orderId === undefined), {
    message: 'name the payment by paymentId or by orderId, not both',
    path: ['paymentId'],
  });

/**
 * The food-ordering service's event (its order service publishes it once stock is reserved):
 * charge the card for the order. Answered by `OrderPaymentSucceeded` / `OrderPaymentFailed`.
 * Its tenant is the one its source is bound to, or the one it names (signed).
 */
const orderStockConfirmed = z.object({
  type: z.literal('OrderStockConfirmed'),
  tenantId: tenantId.optional(),
  orderId: externalId,
  customerId: externalId,
  amount,
  currency,
  token: cardToken,
});

const command = z.discriminatedUnion('type', [
  paymentCreate,
  paymentRetry,
  checkoutCreate,
  refundCreate,
  orderStockConfirmed,
]);
export type CommandMessage = z.infer<typeof command>;

export type ParsedCommand = { ok: true; command: CommandMessage } | { ok: false; reason: string };
export type ParsedBody = { ok: true; json: unknown } | { ok: false; reason: string };

/**
 * A message body as JSON, read by the API's own rules: at most `MAX_BODY_BYTES`, strict JSON (no
 * key given twice, no `__proto__`, no NUL), so a command is refused where a request would be.
 */
export function parseBody(body: Buffer | string): ParsedBody {
  const size = Buffer.byteLength(body);
  if (size > MAX_BODY_BYTES)
    return { ok: false, reason: `too large: ${size} bytes (at most ${MAX_BODY_BYTES})` };
  try {
    return { ok: true, json: parseJsonBody(body.toString()) };
  } catch (error) {
    return { ok: false, reason: `invalid JSON: ${(error as Error).message}` };
  }
}

/** The tenant a message names, if any (before it is validated: authentication comes first). */
export function claimedTenant(json: unknown): string | undefined {
  const tenant = json && typeof json === 'object' ? (json as { tenantId?: unknown }).tenantId : undefined;
  return typeof tenant === 'string' ? tenant : undefined;
}

/**
 * Validates a message's JSON as a command. `transportType` is the type the broker carried beside
 * the body (an AMQP `type` property, a Kafka `type` header), used when the body names none.
 */
export function parseCommand(json: unknown, transportType?: string): ParsedCommand {
  if (json && typeof json === 'object' && !Array.isArray(json) && !('type' in json) && transportType)
    json = { ...json, type: transportType };
  const parsed = command.safeParse(json);
  if (parsed.success) return { ok: true, command: parsed.data };
  const issues = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`,
  );
  return { ok: false, reason: issues.join('; ') };
}

/** The payment an OrderStockConfirmed asks for: the order's card payment, captured at once. */
export function orderPaymentRequest(
  message: Extract<CommandMessage, { type: 'OrderStockConfirmed' }>,
): PaymentRequest {
  return {
    orderId: message.orderId,
    customerId: message.customerId,
    amount: message.amount,
    currency: message.currency,
    method: { type: 'card', token: message.token },
    capture: 'automatic',
    metadata: { ...ORDER_REPLY_METADATA },
  };
}
