import { verify as verifySignature, type KeyObject, X509Certificate } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { fitLength } from '../../../hash.js';
import { CURRENCIES, toMajorUnits, toMinorUnits, type Currency } from '../../../domain/money.js';
import type { FailureCode } from '../../../domain/payment.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../errors.js';
import type {
  Authorization,
  AuthorizationStatus,
  AuthorizeRequest,
  GatewayRefund,
  RefundRequest,
  RefundStatus,
  WebhookEvent,
} from '../../port.js';
import { WebhookSignatureError } from '../../webhook-signature.js';

/**
 * PayPal (Orders v2, Payments v2, webhooks v1) as the connector reads it, and the one place it
 * is translated into Paysaga's port types: request bodies, response shapes (zod-checked),
 * statuses, error issues, amounts and webhook events and signatures. The connector
 * (connector.ts) only does the HTTP calls. Shapes follow PayPal's published OpenAPI documents
 * (github.com/paypal/paypal-rest-api-specifications).
 */

// ---- Amounts ---------------------------------------------------------------------------------

/**
 * Currencies PayPal takes in whole units though ISO 4217 gives them two decimals
 * (developer.paypal.com/api/rest/reference/currency-codes: "does not support decimals").
 */
const PAYPAL_WHOLE_UNIT: readonly Currency[] = ['HUF', 'TWD'];

/**
 * Integer minor units as PayPal's decimal string (`4200` EUR → "42.00", `500` JPY → "500",
 * `1234` KWD → "1.234"), by moving digits, never by float arithmetic. An amount PayPal cannot
 * carry (a fraction of a forint) is refused here rather than rounded.
 */
export function toPayPalAmount(amount: number, currency: Currency): string {
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new GatewayRequestError('amount_not_supported', `${amount} is not an amount in minor units`, 400);
  }
  const major = toMajorUnits(amount, currency);
  if (!PAYPAL_WHOLE_UNIT.includes(currency)) return major;
  const [whole = major, fraction = ''] = major.split('.');
  if (/[^0]/.test(fraction)) {
    throw new GatewayRequestError(
      'amount_not_supported',
      `PayPal accepts ${currency} only in whole units (amounts in multiples of 100 minor units)`,
      400,
    );
  }
  return whole;
}

/** PayPal's decimal string as integer minor units (fewer decimals than ISO's read as zeros). */
export function fromPayPalAmount(value: string, currency: Currency): number {
  try {
    return toMinorUnits(value, currency);
  } catch {
    throw new GatewayRequestError('invalid_response', `PayPal answered an unreadable amount ${value}`, 200);
  }
}

export function fromPayPalCurrency(code: string): Currency {
  if ((CURRENCIES as readonly string[]).includes(code)) return code as Currency;
  throw new GatewayRequestError('invalid_response', `PayPal answered in unsupported currency ${code}`, 200);
}

export const toPayPalMoney = (amount: number, currency: Currency) => ({
  currency_code: currency,
  value: toPayPalAmount(amount, currency),
});

// ---- Wire shapes -----------------------------------------------------------------------------

const Money = z.object({ currency_code: z.string(), value: z.string() });
const Link = z.object({ href: z.string(), rel: z.string(), method: z.string().optional() });
const StatusDetails = z.object({ reason: z.string().optional() }).optional();
const RelatedIds = z
  .object({
    related_ids: z
      .object({
        order_id: z.string().optional(),
        authorization_id: z.string().optional(),
        capture_id: z.string().optional(),
      })
      .optional(),
  })
  .optional();

/** Statuses are read as strings: one newer than this mapping must not fail the parse. */
export const PayPalCaptureSchema = z.object({
  id: z.string(),
  status: z.string(),
  status_details: StatusDetails,
  amount: Money.optional(),
  custom_id: z.string().optional(),
  final_capture: z.boolean().optional(),
  supplementary_data: RelatedIds,
  links: z.array(Link).optional(),
});
export type PayPalCapture = z.infer<typeof PayPalCaptureSchema>;

export const PayPalAuthorizationSchema = z.object({
  id: z.string(),
  status: z.string(),
  status_details: StatusDetails,
  amount: Money.optional(),
  custom_id: z.string().optional(),
  expiration_time: z.string().optional(),
  supplementary_data: RelatedIds,
  links: z.array(Link).optional(),
});
export type PayPalAuthorization = z.infer<typeof PayPalAuthorizationSchema>;

export const PayPalRefundSchema = z.object({
  id: z.string(),
  status: z.string(),
  status_details: StatusDetails,
  amount: Money.optional(),
  custom_id: z.string().optional(),
  note_to_payer: z.string().optional(),
  supplementary_data: RelatedIds,
  links: z.array(Link).optional(),
});
export type PayPalRefund = z.infer<typeof PayPalRefundSchema>;

const PurchaseUnit = z.object({
  reference_id: z.string().optional(),
  custom_id: z.string().optional(),
  amount: Money,
  payments: z
    .object({
      authorizations: z.array(PayPalAuthorizationSchema).optional(),
      captures: z.array(PayPalCaptureSchema).optional(),
      refunds: z.array(PayPalRefundSchema).optional(),
    })
    .optional(),
});

export const PayPalOrderSchema = z.object({
  id: z.string(),
  status: z.string(),
  intent: z.string().optional(),
  purchase_units: z.array(PurchaseUnit).min(1),
  links: z.array(Link).optional(),
});
export type PayPalOrder = z.infer<typeof PayPalOrderSchema>;

export const PayPalTokenSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string(),
  expires_in: z.number().int().positive(),
});

/** PayPal's error body (`name`, `details[].issue`), and OAuth's (`error`) on the token endpoint. */
export const PayPalErrorSchema = z.object({
  name: z.string().optional(),
  message: z.string().optional(),
  debug_id: z.string().optional(),
  details: z.array(z.object({ issue: z.string(), description: z.string().optional() })).optional(),
  links: z.array(Link).optional(),
  error: z.string().optional(),
  error_description: z.string().optional(),
});
export type PayPalErrorBody = z.infer<typeof PayPalErrorSchema>;

export const PayPalEventSchema = z.object({
  id: z.string(),
  event_type: z.string(),
  resource_type: z.string().optional(),
  create_time: z.string().optional(),
  resource: z.record(z.string(), z.unknown()),
});
export type PayPalEvent = z.infer<typeof PayPalEventSchema>;

/** A response body in the shape expected, or a final error: a shape this mapping cannot read. */
export function parsePayPal<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new GatewayRequestError('invalid_response', `PayPal answered an unreadable ${what}`, 200);
  return parsed.data;
}

// ---- Request mapping -------------------------------------------------------------------------

/** The longest `PayPal-Request-Id` the Orders API takes (its OpenAPI `maxLength`). */
export const MAX_PAYPAL_REQUEST_ID = 108;
export const paypalRequestId = (key: string): string => fitLength(key, MAX_PAYPAL_REQUEST_ID);

/**
 * The key of the server's own capture or authorize call on an approved order: one per order, so
 * every `status` read that finds the order approved sends the same call and PayPal replays it.
 */
export const completeOrderKey = (orderId: string): string => paypalRequestId(`paysaga:complete:${orderId}`);

/**
 * One order, approved by the buyer on PayPal's page: `CAPTURE` for a sale, `AUTHORIZE` to capture
 * later. Paysaga's payment id is the purchase unit's `reference_id` and `custom_id` (PayPal echoes
 * `custom_id` on captures, authorizations and refunds, which is how webhooks find the payment).
 * The port's `token` is, for PayPal, the buyer's e-mail where it has one (PayPal pre-fills its
 * login with it); any other value is ignored. The buyer comes back to `returnUrl` whether they
 * approve or cancel: Paysaga's return page re-reads the order either way.
 */
export function toCreateOrderBody(request: AuthorizeRequest) {
  const { amount, currency, reference, capture, returnUrl, saved, token } = request;
  if (saved) {
    throw new GatewayRequestError(
      'saved_method_not_supported',
      'PayPal connector does not charge saved methods',
      400,
    );
  }
  if (!returnUrl) {
    throw new GatewayRequestError(
      'return_url_required',
      'PayPal needs a return URL: the buyer approves the payment on PayPal and comes back',
      400,
    );
  }
  const email = /^[^@\s]+@[^@\s]+$/.test(token) ? token : undefined;
  return {
    intent: capture ? 'CAPTURE' : 'AUTHORIZE',
    purchase_units: [
      { reference_id: reference, custom_id: reference, amount: toPayPalMoney(amount, currency) },
    ],
    payment_source: {
      paypal: {
        ...(email ? { email_address: email } : {}),
        experience_context: {
          return_url: returnUrl,
          cancel_url: returnUrl,
          user_action: 'PAY_NOW',
          shipping_preference: 'NO_SHIPPING',
        },
      },
    },
  };
}

/**
 * Paysaga captures once per authorization: `final_capture` so PayPal releases what is left of a
 * partial capture instead of holding it until it expires.
 */
export function toCaptureBody(amount: number, currency: Currency) {
  return { amount: toPayPalMoney(amount, currency), final_capture: true };
}

/** PayPal's `note_to_payer` holds at most 255 characters; `custom_id` carries the payment id. */
export function toRefundBody(request: RefundRequest, currency: Currency, reference: string | undefined) {
  return {
    amount: toPayPalMoney(request.amount, currency),
    ...(reference ? { custom_id: reference } : {}),
    ...(request.reason !== undefined ? { note_to_payer: request.reason.slice(0, 255) } : {}),
  };
}

// ---- Errors ----------------------------------------------------------------------------------

/**
 * What one of PayPal's answers means for Paysaga: a decline (a value, with Paysaga's failure
 * code), the buyer having to go back to PayPal, an order that moved on already (read it), a
 * transient fault (retried with the same key), or a final refusal.
 */
export type PayPalOutcome =
  | { kind: 'decline'; code: FailureCode }
  | { kind: 'payer_action' }
  | { kind: 'done_already' }
  | { kind: 'transient' }
  | { kind: 'final' };

const decline = (code: FailureCode): PayPalOutcome => ({ kind: 'decline', code });
const PAYER_ACTION: PayPalOutcome = { kind: 'payer_action' };
const DONE_ALREADY: PayPalOutcome = { kind: 'done_already' };
const TRANSIENT: PayPalOutcome = { kind: 'transient' };
const FINAL: PayPalOutcome = { kind: 'final' };

/**
 * PayPal's error issues (`details[].issue`), error names (`name`) and capture decline reasons
 * (`status_details.reason`), in one table. An issue wins over its error's name; a name or issue
 * missing here is final, except on a 5xx, 429 or 408 answer, which is always transient (the
 * outcome is unknown). Sources: the 422 enums of PayPal's Orders v2 and Payments v2 OpenAPI
 * documents, and developer.paypal.com/api/rest/reference/orders/v2/errors.
 */
export const PAYPAL_ERRORS: Readonly<Record<string, PayPalOutcome>> = {
  // The buyer's funding was refused: another PayPal funding source or account may work.
  INSTRUMENT_DECLINED: decline('card_declined'),
  PAYER_CANNOT_PAY: decline('card_declined'),
  TRANSACTION_REFUSED: decline('card_declined'),
  PAYER_ACCOUNT_LOCKED_OR_CLOSED: decline('card_declined'),
  PAYER_ACCOUNT_RESTRICTED: decline('card_declined'),
  DECLINED_DUE_TO_RELATED_TXN: decline('card_declined'),
  MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED: decline('card_declined'),
  CARD_BRAND_NOT_SUPPORTED: decline('card_declined'),
  TRANSACTION_LIMIT_EXCEEDED: decline('insufficient_funds'),
  REFERENCED_CARD_EXPIRED: decline('expired_card'),
  CARD_EXPIRED: decline('expired_card'),
  // Risk: PayPal's or the merchant's rules blocked it.
  COMPLIANCE_VIOLATION: decline('fraud_suspected'),
  PAYEE_BLOCKED_TRANSACTION: decline('fraud_suspected'),
  TRANSACTION_BLOCKED_BY_PAYEE: decline('fraud_suspected'),
  DECLINED_BY_RISK_FRAUD_FILTERS: decline('fraud_suspected'),
  // The buyer took too long: the order or its approval lapsed.
  ORDER_EXPIRED: decline('expired'),
  TOKEN_EXPIRED: decline('expired'),
  AUTHORIZATION_EXPIRED: decline('expired'),
  // The merchant's account cannot take it: nothing the buyer did.
  TRANSACTION_RECEIVING_LIMIT_EXCEEDED: decline('processing_error'),
  // The buyer must go back to PayPal (3-D Secure on a card, another funding source).
  PAYER_ACTION_REQUIRED: PAYER_ACTION,
  ORDER_NOT_APPROVED: PAYER_ACTION,
  REDIRECT_PAYER_FOR_ALTERNATE_FUNDING: PAYER_ACTION,
  // An earlier call (its answer lost) completed the order: read it.
  ORDER_ALREADY_CAPTURED: DONE_ALREADY,
  ORDER_ALREADY_AUTHORIZED: DONE_ALREADY,
  // Busy or not yet settled: the same call later.
  ORDER_COMPLETION_IN_PROGRESS: TRANSIENT,
  PENDING_CAPTURE: TRANSIENT,
  RATE_LIMIT_REACHED: TRANSIENT,
  INTERNAL_SERVER_ERROR: TRANSIENT,
  SERVICE_UNAVAILABLE: TRANSIENT,
  // Refused whatever is retried.
  AUTHORIZATION_VOIDED: FINAL,
  AUTHORIZATION_ALREADY_CAPTURED: FINAL,
  PREVIOUSLY_CAPTURED: FINAL,
  PREVIOUSLY_VOIDED: FINAL,
  CANNOT_BE_VOIDED: FINAL,
  DUPLICATE_INVOICE_ID: FINAL,
  CAPTURE_FULLY_REFUNDED: FINAL,
  REFUND_AMOUNT_EXCEEDED: FINAL,
  REFUND_NOT_ALLOWED: FINAL,
  REFUND_TIME_LIMIT_EXCEEDED: FINAL,
  ACTION_DOES_NOT_MATCH_INTENT: FINAL,
  AUTHENTICATION_FAILURE: FINAL,
  NOT_AUTHORIZED: FINAL,
  PERMISSION_DENIED: FINAL,
  RESOURCE_NOT_FOUND: FINAL,
  INVALID_RESOURCE_ID: FINAL,
  INVALID_REQUEST: FINAL,
  UNPROCESSABLE_ENTITY: FINAL,
};

/** An error answer as read: its HTTP status, the issue (else name) and a message without secrets. */
export interface PayPalFailure {
  status: number;
  issue: string;
  outcome: PayPalOutcome;
  message: string;
  /** The `payer-action` link an error may carry (PAYER_ACTION_REQUIRED). */
  actionUrl?: string | undefined;
}

const lookup = (code: string | undefined): PayPalOutcome | undefined =>
  code !== undefined && Object.hasOwn(PAYPAL_ERRORS, code) ? PAYPAL_ERRORS[code] : undefined;

/** The outcome of an error issue or name at an HTTP status (see PAYPAL_ERRORS). */
export function toPayPalOutcome(status: number, issue: string | undefined, name?: string): PayPalOutcome {
  if (status >= 500 || status === 429 || status === 408) return TRANSIENT;
  return lookup(issue) ?? lookup(name) ?? FINAL;
}

/**
 * An error answer read. PayPal's messages and issue descriptions never carry credentials; the
 * body is not echoed beyond them. `debug_id` is kept: PayPal's support asks for it.
 */
export function toPayPalFailure(status: number, body: unknown): PayPalFailure {
  const parsed = PayPalErrorSchema.safeParse(body);
  const error = parsed.success ? parsed.data : {};
  const detail = error.details?.[0];
  const issue = detail?.issue ?? error.name ?? error.error ?? `HTTP_${status}`;
  const text = detail?.description ?? error.message ?? error.error_description ?? `HTTP ${status}`;
  return {
    status,
    issue,
    outcome: toPayPalOutcome(status, detail?.issue, error.name ?? error.error),
    message: `PayPal: ${issue}: ${text}${error.debug_id ? ` (debug_id ${error.debug_id})` : ''}`,
    actionUrl: error.links?.find((link) => link.rel === 'payer-action')?.href,
  };
}

/** The retry contract (src/gateway/errors.ts) for a failure that is not answered as a value. */
export function toGatewayError(failure: PayPalFailure): GatewayUnavailableError | GatewayRequestError {
  if (failure.outcome.kind === 'transient')
    return new GatewayUnavailableError(failure.message, failure.status);
  return new GatewayRequestError(failure.issue, failure.message, failure.status);
}

// ---- Response mapping ------------------------------------------------------------------------

const PAYPAL_APPROVAL_RELS = ['payer-action', 'approve'];

/** Where the buyer approves the order: `payer-action` (with a payment source) or `approve`. */
export function approvalUrl(order: Pick<PayPalOrder, 'links'>): string | undefined {
  for (const rel of PAYPAL_APPROVAL_RELS) {
    const link = order.links?.find((one) => one.rel === rel);
    if (link) return link.href;
  }
  return undefined;
}

const MONEY_MOVED_CAPTURES = ['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'];

function sumOf(items: readonly { amount?: { value: string } | undefined }[], currency: Currency): number {
  let total = 0;
  for (const item of items) if (item.amount) total += fromPayPalAmount(item.amount.value, currency);
  return total;
}

interface OrderMoney {
  amount: number;
  currency: Currency;
  amountCaptured: number;
  amountRefunded: number;
}

function orderMoney(order: PayPalOrder): OrderMoney {
  const unit = order.purchase_units[0]!;
  const currency = fromPayPalCurrency(unit.amount.currency_code);
  const payments = unit.payments ?? {};
  return {
    amount: fromPayPalAmount(unit.amount.value, currency),
    currency,
    amountCaptured: sumOf(
      (payments.captures ?? []).filter((c) => MONEY_MOVED_CAPTURES.includes(c.status)),
      currency,
    ),
    amountRefunded: sumOf(
      (payments.refunds ?? []).filter((r) => r.status === 'COMPLETED'),
      currency,
    ),
  };
}

/** Paysaga's payment id on an order. */
export const orderReference = (order: PayPalOrder): string | undefined =>
  order.purchase_units[0]?.custom_id ?? order.purchase_units[0]?.reference_id;

/** The order's authorization (Paysaga makes one per order) and captures. */
export const orderAuthorization = (order: PayPalOrder): PayPalAuthorization | undefined =>
  order.purchase_units[0]?.payments?.authorizations?.[0];
export const orderCaptures = (order: PayPalOrder): PayPalCapture[] =>
  order.purchase_units[0]?.payments?.captures ?? [];

/**
 * The capture a refund draws on: the first with enough left unrefunded (Paysaga makes one per
 * order), else the first that moved money (PayPal then refuses the amount itself).
 */
export function refundableCapture(order: PayPalOrder, amount: number): PayPalCapture | undefined {
  const { currency } = orderMoney(order);
  const refunds = order.purchase_units[0]?.payments?.refunds ?? [];
  const moved = orderCaptures(order).filter((c) => MONEY_MOVED_CAPTURES.includes(c.status));
  const left = (capture: PayPalCapture) =>
    (capture.amount ? fromPayPalAmount(capture.amount.value, currency) : 0) -
    sumOf(
      refunds.filter(
        (r) => r.status !== 'FAILED' && r.status !== 'CANCELLED' && refundedCapture(r) === capture.id,
      ),
      currency,
    );
  return moved.find((capture) => left(capture) >= amount) ?? moved[0];
}

/** The capture a refund belongs to, from its `up` link (`.../captures/{id}`). */
function refundedCapture(refund: PayPalRefund): string | undefined {
  const up = refund.links?.find((link) => link.rel === 'up')?.href;
  return up ? /\/captures\/([^/?#]+)/.exec(up)?.[1] : undefined;
}

type Outcome = Pick<Authorization, 'status' | 'failureCode' | 'failureMessage'>;

function declinedCapture(capture: PayPalCapture): Outcome {
  const reason = capture.status_details?.reason;
  const mapped = lookup(reason);
  return {
    status: 'declined',
    failureCode: mapped?.kind === 'decline' ? mapped.code : 'card_declined',
    failureMessage: `PayPal declined the capture${reason ? ` (${reason})` : ''}`,
  };
}

/**
 * A completed order's outcome, from its payments: the capture for a sale, the authorization
 * (and its captures) for manual capture. Undefined while PayPal has no outcome yet (a PENDING
 * capture or authorization, or a status newer than this mapping).
 */
function completedOutcome(order: PayPalOrder, money: OrderMoney): Outcome | undefined {
  const captures = orderCaptures(order);
  const authorization = orderAuthorization(order);
  if (!authorization) {
    const capture = captures[0];
    if (!capture) return undefined;
    if (MONEY_MOVED_CAPTURES.includes(capture.status)) return { status: 'captured' };
    if (capture.status === 'DECLINED' || capture.status === 'FAILED') return declinedCapture(capture);
    return undefined;
  }
  switch (authorization.status) {
    case 'CREATED':
      return { status: 'authorized' };
    case 'CAPTURED':
    case 'PARTIALLY_CAPTURED':
      // Captured means money moved; a capture still PENDING has no outcome yet.
      return money.amountCaptured > 0 ? { status: 'captured' } : undefined;
    case 'VOIDED':
      // What was captured before the rest was voided (a partial, final capture) is captured.
      return money.amountCaptured > 0 ? { status: 'captured' } : { status: 'voided' };
    case 'DENIED':
      return {
        status: 'declined',
        failureCode: 'card_declined',
        failureMessage: 'PayPal denied the authorization',
      };
    default:
      return undefined;
  }
}

/**
 * An order as a port authorization; `Authorization.id` is the order id. CREATED and
 * PAYER_ACTION_REQUIRED wait for the buyer on PayPal (`requires_action` with the approval link).
 * An APPROVED order waits for the server's own capture or authorize call, which the connector
 * makes before mapping it: it is never passed here.
 */
export function toAuthorization(order: PayPalOrder): Authorization {
  const money = orderMoney(order);
  let outcome: Outcome | undefined;
  switch (order.status) {
    case 'CREATED':
    case 'PAYER_ACTION_REQUIRED':
      outcome = { status: 'requires_action' };
      break;
    case 'VOIDED':
      outcome = { status: 'voided' };
      break;
    case 'COMPLETED':
      outcome = completedOutcome(order, money);
      break;
    default:
      outcome = undefined;
  }
  if (!outcome)
    throw new GatewayUnavailableError(`PayPal order ${order.id} has no outcome yet (${order.status})`);
  return {
    id: order.id,
    ...money,
    ...outcome,
    actionUrl: outcome.status === 'requires_action' ? approvalUrl(order) : undefined,
  };
}

/** A decline answered as an error, as a port value: for the order when there is one. */
export function toDeclinedAuthorization(
  failure: PayPalFailure & { outcome: { kind: 'decline' } },
  base: { id: string; amount: number; currency: Currency; amountCaptured?: number; amountRefunded?: number },
): Authorization {
  return {
    amountCaptured: 0,
    amountRefunded: 0,
    ...base,
    status: 'declined',
    failureCode: failure.outcome.code,
    failureMessage: failure.message,
  };
}

export const isDecline = (
  failure: PayPalFailure,
): failure is PayPalFailure & { outcome: { kind: 'decline' } } => failure.outcome.kind === 'decline';

/** An order's money, for a port value built around it (a decline, a void of nothing held). */
export const orderBase = (order: PayPalOrder) => ({ id: order.id, ...orderMoney(order) });

export function toRefundStatus(status: string): RefundStatus {
  switch (status) {
    case 'COMPLETED':
      return 'succeeded';
    case 'FAILED':
    case 'CANCELLED':
      return 'failed';
    // PENDING, and any status newer than this mapping.
    default:
      return 'pending';
  }
}

export function toRefund(refund: PayPalRefund, orderId: string): GatewayRefund {
  const reason = refund.status_details?.reason;
  const status = toRefundStatus(refund.status);
  return {
    id: refund.id,
    authorizationId: orderId,
    status,
    amount: refund.amount
      ? fromPayPalAmount(refund.amount.value, fromPayPalCurrency(refund.amount.currency_code))
      : 0,
    failureMessage:
      status === 'failed'
        ? `PayPal refund ${refund.status.toLowerCase()}${reason ? ` (${reason})` : ''}`
        : undefined,
  };
}

/** The currency of a money object, else `fallback`. */
function moneyOf(
  money: { currency_code: string; value: string } | undefined,
): { amount: number; currency: Currency } | undefined {
  if (!money) return undefined;
  const currency = fromPayPalCurrency(money.currency_code);
  return { amount: fromPayPalAmount(money.value, currency), currency };
}

// ---- Webhooks --------------------------------------------------------------------------------

/** Event types that move a payment or a refund; every other type is acknowledged and ignored. */
export const PAYPAL_WEBHOOK_EVENTS = [
  'CHECKOUT.ORDER.APPROVED',
  'PAYMENT.CAPTURE.COMPLETED',
  'PAYMENT.CAPTURE.DENIED',
  'PAYMENT.CAPTURE.REFUNDED',
  'PAYMENT.AUTHORIZATION.VOIDED',
] as const;

const relatedOrder = (resource: { supplementary_data?: z.infer<typeof RelatedIds> }) =>
  resource.supplementary_data?.related_ids?.order_id;

/**
 * A verified PayPal event as port events (none, or one). Each only tells the workflow to look:
 * it re-reads the order (`status`). CHECKOUT.ORDER.APPROVED carries the status the order moves
 * to once the server completes it (`captured` for a sale, `authorized` for manual capture),
 * which that re-read does; its amounts are the order's as approved.
 */
export function toWebhookEvents(event: PayPalEvent): WebhookEvent[] {
  const eventId = event.id;
  switch (event.event_type) {
    case 'CHECKOUT.ORDER.APPROVED': {
      const order = PayPalOrderSchema.safeParse(event.resource);
      if (!order.success) return [];
      const reference = orderReference(order.data);
      if (!reference) return [];
      const status: AuthorizationStatus = order.data.intent === 'AUTHORIZE' ? 'authorized' : 'captured';
      const { amountCaptured: _c, amountRefunded: _r, ...money } = orderMoney(order.data);
      const authorization: Authorization = {
        ...money,
        amountCaptured: 0,
        amountRefunded: 0,
        id: order.data.id,
        status,
      };
      return [{ type: 'authorization.updated', eventId, authorization, reference }];
    }
    case 'PAYMENT.CAPTURE.COMPLETED':
    case 'PAYMENT.CAPTURE.DENIED': {
      const capture = PayPalCaptureSchema.safeParse(event.resource);
      if (!capture.success) return [];
      const orderId = relatedOrder(capture.data);
      const reference = capture.data.custom_id;
      const money = moneyOf(capture.data.amount);
      if (!orderId || !reference || !money) return [];
      const completed = event.event_type === 'PAYMENT.CAPTURE.COMPLETED';
      const authorization: Authorization = {
        id: orderId,
        amount: money.amount,
        currency: money.currency,
        amountCaptured: completed ? money.amount : 0,
        amountRefunded: 0,
        ...(completed ? { status: 'captured' } : declinedCapture(capture.data)),
      };
      return [{ type: 'authorization.updated', eventId, authorization, reference }];
    }
    case 'PAYMENT.AUTHORIZATION.VOIDED': {
      const voided = PayPalAuthorizationSchema.safeParse(event.resource);
      if (!voided.success) return [];
      const orderId = relatedOrder(voided.data);
      const reference = voided.data.custom_id;
      const money = moneyOf(voided.data.amount);
      if (!orderId || !reference || !money) return [];
      const authorization: Authorization = {
        id: orderId,
        ...money,
        amountCaptured: 0,
        amountRefunded: 0,
        status: 'voided',
      };
      return [{ type: 'authorization.updated', eventId, authorization, reference }];
    }
    case 'PAYMENT.CAPTURE.REFUNDED': {
      const refund = PayPalRefundSchema.safeParse(event.resource);
      if (!refund.success || !refund.data.amount) return [];
      return [
        {
          type: 'refund.updated',
          eventId,
          // Paysaga finds its refund by PayPal's refund id; the order id is there when PayPal sends it.
          refund: toRefund(refund.data, relatedOrder(refund.data) ?? ''),
          reference: refund.data.custom_id ?? '',
        },
      ];
    }
    default:
      return [];
  }
}

/** A webhook body as a PayPal event, or a final error: not one. */
export function parsePayPalEvent(rawBody: Buffer): PayPalEvent {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new GatewayRequestError('invalid_webhook_payload', 'Webhook body is not JSON', 400);
  }
  const parsed = PayPalEventSchema.safeParse(json);
  if (!parsed.success)
    throw new GatewayRequestError('invalid_webhook_payload', 'Webhook body is not a PayPal event', 400);
  return parsed.data;
}

// ---- Webhook signatures ----------------------------------------------------------------------

/** The hosts PayPal serves its webhook-signing certificates from (over HTTPS only). */
export const PAYPAL_CERT_HOSTS = [
  'api.paypal.com',
  'api.sandbox.paypal.com',
  'api-m.paypal.com',
  'api-m.sandbox.paypal.com',
] as const;

export const PAYPAL_SIGNATURE_ALGORITHM = 'SHA256withRSA';

export interface PayPalSignatureHeaders {
  transmissionId: string;
  transmissionTime: string;
  signature: Buffer;
  certUrl: string;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toUpperCase()];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined || one.trim() === '' ? undefined : one.trim();
}

/** PayPal's signature headers (Node lower-cases header names), or a WebhookSignatureError. */
export function readSignatureHeaders(
  headers: Record<string, string | string[] | undefined>,
): PayPalSignatureHeaders {
  const transmissionId = header(headers, 'paypal-transmission-id');
  const transmissionTime = header(headers, 'paypal-transmission-time');
  const signature = header(headers, 'paypal-transmission-sig');
  const certUrl = header(headers, 'paypal-cert-url');
  if (!transmissionId || !transmissionTime || !signature || !certUrl) {
    throw new WebhookSignatureError('missing_header', 'Missing PayPal transmission headers');
  }
  const algorithm = header(headers, 'paypal-auth-algo');
  if (algorithm !== undefined && algorithm !== PAYPAL_SIGNATURE_ALGORITHM) {
    throw new WebhookSignatureError(
      'malformed_header',
      `Unsupported PayPal signature algorithm ${algorithm}`,
    );
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) {
    throw new WebhookSignatureError('malformed_header', 'PAYPAL-TRANSMISSION-SIG is not base64');
  }
  return { transmissionId, transmissionTime, signature: Buffer.from(signature, 'base64'), certUrl };
}

/**
 * The certificate URL if PayPal serves it: HTTPS on one of PayPal's hosts, or a host given for a
 * test emulator (`host[:port]`, plain HTTP allowed there only). Anything else could be a
 * certificate the sender made itself.
 */
export function allowedCertUrl(certUrl: string, extraHosts: readonly string[] = []): URL {
  let url: URL;
  try {
    url = new URL(certUrl);
  } catch {
    throw new WebhookSignatureError('malformed_header', 'PAYPAL-CERT-URL is not a URL');
  }
  const paypal = url.protocol === 'https:' && (PAYPAL_CERT_HOSTS as readonly string[]).includes(url.host);
  const extra = (url.protocol === 'https:' || url.protocol === 'http:') && extraHosts.includes(url.host);
  if ((!paypal && !extra) || url.username !== '' || url.password !== '') {
    throw new WebhookSignatureError('signature_mismatch', `Certificate host ${url.host} is not PayPal's`);
  }
  return url;
}

/** What PayPal signs: `transmissionId|transmissionTime|webhookId|crc32(body)` (unsigned decimal). */
export function signedMessage(
  transmissionId: string,
  transmissionTime: string,
  webhookId: string,
  rawBody: Buffer,
): string {
  return `${transmissionId}|${transmissionTime}|${webhookId}|${crc32(rawBody) >>> 0}`;
}

/** A certificate's public key if it is valid at `nowMs`; WebhookSignatureError otherwise. */
export function certificateKey(pem: string, nowMs: number): KeyObject {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new WebhookSignatureError('signature_mismatch', 'PayPal certificate is not readable');
  }
  if (nowMs < Date.parse(certificate.validFrom) || nowMs > Date.parse(certificate.validTo)) {
    throw new WebhookSignatureError('signature_mismatch', 'PayPal certificate is not valid now');
  }
  return certificate.publicKey;
}

/** Throws WebhookSignatureError unless the signature over the body is made with `key`. */
export function verifyPayPalSignature(
  rawBody: Buffer,
  signed: PayPalSignatureHeaders,
  webhookId: string,
  key: KeyObject,
): void {
  const message = signedMessage(signed.transmissionId, signed.transmissionTime, webhookId, rawBody);
  let valid = false;
  try {
    valid = verifySignature('sha256', Buffer.from(message), key, signed.signature);
  } catch {
    valid = false;
  }
  if (!valid)
    throw new WebhookSignatureError('signature_mismatch', 'PayPal webhook signature does not match');
}
