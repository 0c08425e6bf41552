/**
 * The API's schemas: its views of resources and its HTTP-only inputs (params, queries). The
 * request bodies both doors take are in app/schemas.ts, re-exported here for the routes.
 */
export * from '../app/schemas.js';
import { WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES } from '../webhooks/domain.js';
import { z } from 'zod';
import {
  amount,
  cardToken,
  checkoutMethods,
  pageFields,
  sessionLifetime,
  currency,
  externalId,
  paymentMethod,
  resourceId,
  returnUrl,
  savedPaymentMethodId,
  text,
} from '../app/schemas.js';
import { MAX_CUSTOMER_TOKEN_SECONDS } from './customer-tokens.js';
import { CHECKOUT_METHODS, CHECKOUT_SESSION_STATUSES } from '../domain/checkout.js';
import {
  PAYMENT_LINK_DEFAULT_METHODS,
  PAYMENT_LINK_SESSION_EXPIRY_DEFAULT_SECONDS,
} from '../domain/payment-link.js';
import { ATTEMPT_STATUSES, FAILURE_CODES, PAYMENT_STATUSES } from '../domain/payment.js';
import { REFUND_FAILURE_CODES, REFUND_STATUSES } from '../domain/refund.js';

export const cardDetails = z.object({
  brand: z.string(),
  last4: z.string(),
  expMonth: z.number().int(),
  expYear: z.number().int(),
});

const methodView = z.object({
  type: z.enum(['wallet', 'card', 'split', 'paypal']),
  card: cardDetails.optional(),
  paymentMethodId: z.string().optional().describe('The saved card charged, when the payment named one'),
  offSession: z.boolean().optional().describe('The saved card was charged without the customer present'),
});

export const paymentAttempt = z
  .object({
    number: z.number().int().describe('1 for the first attempt'),
    method: methodView,
    status: z.enum(ATTEMPT_STATUSES),
    failureCode: z.enum(FAILURE_CODES).optional(),
    failureMessage: z.string().optional(),
    gatewayReference: z.string().optional().describe("The gateway's authorization id of the card part"),
    connector: z.string().describe('The gateway connector the card part went through'),
    networkTransactionId: z
      .string()
      .optional()
      .describe("The card network's id of this attempt's charge, where the gateway gives it"),
    createdAt: z.string(),
  })
  .meta({ id: 'PaymentAttempt' });

export const payment = z
  .object({
    id: z.string(),
    orderId: z.string(),
    customerId: z.string(),
    amount: z.number().int(),
    currency: z.string(),
    status: z.enum(PAYMENT_STATUSES),
    method: methodView,
    capture: z.enum(['automatic', 'manual']),
    amountCaptured: z.number().int(),
    amountRefunded: z.number().int(),
    amountFromWallet: z.number().int(),
    amountFromCard: z.number().int(),
    failureCode: z.enum(FAILURE_CODES).optional(),
    failureMessage: z.string().optional(),
    nextAction: z
      .object({ type: z.literal('redirect_to_url'), url: z.string(), expiresAt: z.string() })
      .optional(),
    description: z.string().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    country: z.string().optional().describe("The customer's country the payment was routed by"),
    returnUrl: z.string().optional(),
    attempts: z
      .array(paymentAttempt)
      .describe('Every attempt at paying, oldest first; the last one is the current one'),
    reference: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Payment' });

export const paymentIdParams = z.strictObject({ id: resourceId });

export const listPaymentsQuery = z.strictObject({
  customerId: externalId.optional(),
  status: z.enum(PAYMENT_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
});

/** A new attempt at a payment that is `requires_payment_method`: the same payment, another method. */
export const createAttemptBody = z.strictObject({
  method: paymentMethod,
  returnUrl: returnUrl
    .optional()
    .describe("The merchant's page after 3-D Secure from this attempt on; omitted: the payment's stays"),
});

export const capturePaymentBody = z.strictObject({ amount: amount.optional() }).nullish();

export const createRefundBody = z
  .strictObject({
    amount: amount.optional().describe('Minor units to refund; omitted: everything still refundable'),
    reason: text(500).min(1).optional(),
  })
  .nullish();

export const refund = z
  .object({
    id: z.string(),
    paymentId: z.string(),
    amount: z.number().int(),
    amountToWallet: z.number().int(),
    amountToCard: z.number().int(),
    currency: z.string(),
    reason: z.string().optional(),
    status: z.enum(REFUND_STATUSES),
    failureCode: z.enum(REFUND_FAILURE_CODES).optional(),
    failureMessage: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Refund' });

export const customerParams = z.strictObject({ customerId: externalId });

export const topUpBody = z
  .strictObject({
    amount,
    currency,
    token: cardToken.optional(),
    method: z
      .strictObject({
        type: z.literal('saved'),
        paymentMethodId: savedPaymentMethodId
          .optional()
          .describe("A card the customer saved; omitted: the customer's default"),
        offSession: z.boolean().optional().describe('Charged without the customer present'),
      })
      .optional()
      .describe('Charges a card the customer saved instead of a token'),
  })
  .refine((body) => (body.token === undefined) !== (body.method === undefined), {
    message: 'a top-up takes either a token or a saved method',
    path: ['token'],
  })
  .meta({ oneOf: [{ required: ['token'] }, { required: ['method'] }] });

export const walletBalance = z.object({
  currency: z.string(),
  available: z.number().int(),
  pending: z.number().int(),
});
export const wallet = z
  .object({ customerId: z.string(), balances: z.array(walletBalance) })
  .meta({ id: 'Wallet' });

export const problem = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string(),
    detail: z.string().optional(),
  })
  .meta({ id: 'Problem' });

/** Every route's error responses: problem+json (the OpenAPI document says so, see plugins/docs.ts). */
export const errorResponses = { '4xx': problem, '5xx': problem };

export const walletTransaction = z
  .object({
    id: z.string(),
    kind: z.string(),
    direction: z.enum(['credit', 'debit']),
    amount: z.number().int(),
    currency: z.string(),
    state: z.string(),
    description: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'WalletTransaction' });

export const walletTransactionsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^\d{1,16}$/, 'cursor is not one this API returned')
    .optional(),
});

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable() });

/** Clients ask for an answer without waiting for the payment to settle (RFC 7240). */
export const respondAsync = (prefer: string | string[] | undefined) =>
  /respond-async/i.test([prefer ?? ''].flat().join(','));

export const createWebhookEndpointBody = z.strictObject({
  url: z
    .string()
    .max(2048)
    // As a pattern, so the OpenAPI document says what is accepted.
    .regex(
      /^https?:\/\/[A-Za-z0-9.-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/,
      'an http or https URL',
    )
    // A URL the pattern takes but no URL parser does (a host such as `a.5`, read as a bad IPv4
    // address) is refused by the address check: 422 url_not_allowed, not a schema error.
    .describe('Where events are POSTed; https in production'),
  events: z
    .array(z.enum([...WEBHOOK_EVENT_TYPES, '*']))
    .min(1)
    .max(WEBHOOK_EVENT_TYPES.length + 1)
    .optional()
    .describe('Event types to receive; omitted or `["*"]`: all'),
  description: text(500).optional(),
});

export const rotateWebhookSecretBody = z
  .strictObject({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(24 * 3600)
      .describe('How long the previous secret keeps signing beside the new one (default 1 day)'),
  })
  .nullish();

export const webhookEndpoint = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()).nullable(),
    description: z.string().nullable(),
    status: z.enum(['enabled', 'disabled', 'deleted']),
    disabledReason: z.string().nullable(),
    previousSecretExpiresAt: z.string().nullable(),
    createdAt: z.string(),
    secret: z.string().optional().describe('Only when created or rotated: keep it, it is not shown again'),
  })
  .meta({ id: 'WebhookEndpoint' });

export const webhookDelivery = z
  .object({
    id: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES),
    attempts: z.array(
      z.object({
        attempt: z.number().int(),
        trigger: z.enum(['workflow', 'manual']),
        statusCode: z.number().int().nullable(),
        error: z
          .string()
          .nullable()
          .describe(
            'Why there was no 2xx: `answered 503`, `timed out`, `connection refused`, `address not allowed`, ...',
          ),
        latencyMs: z.number().int(),
        nextRetryAt: z.string().nullable(),
        at: z.string(),
      }),
    ),
    nextAttemptAt: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'WebhookDelivery' });

export const webhookDeliveryParams = z.strictObject({ id: resourceId, deliveryId: resourceId });

export const webhookDeliveriesQuery = z.strictObject({
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
  order: z
    .enum(['newest', 'oldest'])
    .default('newest')
    .describe('`oldest` with `status=pending`: the delivery holding the line comes first'),
  limit: z.coerce.number().int().min(1).max(100).default(100),
  cursor: z
    .string()
    // Fifteen digits are always a safe integer: any cursor the pattern accepts is a position.
    .regex(/^\d{1,15}$/, 'cursor is not one this API returned')
    .optional(),
});

export const customerTokenBody = z.strictObject({
  customerId: externalId,
  expiresInSeconds: z.number().int().min(60).max(MAX_CUSTOMER_TOKEN_SECONDS).default(900),
});

export const checkoutSession = z
  .object({
    id: z.string(),
    url: z.string(),
    status: z.enum(CHECKOUT_SESSION_STATUSES),
    orderId: z.string(),
    customerId: z.string(),
    amount: z.number().int(),
    currency: z.string(),
    description: z.string().optional(),
    successUrl: z.string(),
    cancelUrl: z.string(),
    allowedMethods: z.array(z.enum(CHECKOUT_METHODS)),
    paymentId: z.string().optional(),
    paymentLinkId: z.string().optional().describe('The payment link whose visit opened the session'),
    connector: z.string().optional().meta({
      description: "Set when the customer pays on the connector's own hosted page (`url`): `stripe`",
    }),
    gatewaySessionId: z
      .string()
      .optional()
      .meta({ description: "The connector's id for its page (a Stripe Checkout Session `cs_...`)" }),
    expiresAt: z.string(),
    completedAt: z.string().optional(),
    expiredAt: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'CheckoutSession' });

export const createPaymentLinkBody = z.strictObject({
  amount,
  currency,
  ...pageFields,
  expiresInSeconds: sessionLifetime(
    PAYMENT_LINK_SESSION_EXPIRY_DEFAULT_SECONDS,
    'How long each session the link opens stays open: 60 to 86400 seconds, default 1800',
  ),
  allowedMethods: checkoutMethods
    .default([...PAYMENT_LINK_DEFAULT_METHODS])
    .describe('What the page offers; default `card` alone (a visitor is a guest, who has no wallet)'),
});

export const paymentLink = z
  .object({
    id: z.string(),
    url: z.string().describe('The public URL to share: each visit opens a new checkout session'),
    active: z.boolean(),
    amount: z.number().int(),
    currency: z.string(),
    description: z.string().optional(),
    successUrl: z.string(),
    cancelUrl: z.string(),
    allowedMethods: z.array(z.enum(CHECKOUT_METHODS)),
    expiresInSeconds: z.number().int().describe('The lifetime of each session the link opens'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'PaymentLink' });

export const listPaymentLinksQuery = z.strictObject({
  active: z.enum(['true', 'false']).optional().describe('Only active (`true`) or inactive (`false`) links'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
});

export const customer = z
  .object({
    id: z.string(),
    email: z.string().optional(),
    name: z.string().optional(),
    metadata: z.record(z.string(), z.string()),
    defaultPaymentMethodId: z
      .string()
      .optional()
      .describe('The saved card a `saved` payment without `paymentMethodId` charges'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Customer' });

export const savedPaymentMethod = z
  .object({
    id: z.string().describe("Paysaga's id of the saved card, `pm_...`"),
    customerId: z.string(),
    status: z
      .enum(['active', 'requires_action', 'failed'])
      .describe(
        '`requires_action`: the customer must authenticate the card (3-D Secure on setup) at `nextAction.url`',
      ),
    connector: z.string().describe('The gateway that keeps the card'),
    brand: z.string().optional(),
    last4: z.string().optional(),
    expMonth: z.number().int().optional(),
    expYear: z.number().int().optional(),
    isDefault: z.boolean(),
    nextAction: z.object({ type: z.literal('redirect_to_url'), url: z.string() }).optional(),
    failureCode: z.string().optional(),
    failureMessage: z.string().optional(),
    createdAt: z.string(),
  })
  .meta({ id: 'SavedPaymentMethod' });

export const paymentMethodParams = z.strictObject({ id: externalId, paymentMethodId: savedPaymentMethodId });

export const deletedPaymentMethod = z.object({ id: z.string(), deleted: z.literal(true) });

export const autoTopUp = z
  .object({
    customerId: z.string(),
    currency: z.string(),
    threshold: z.number().int(),
    amount: z.number().int(),
    dailyLimit: z.number().int(),
    paymentMethodId: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'AutoTopUp' });

export const deletedAutoTopUp = z.object({ customerId: z.string(), deleted: z.literal(true) });

export const customerIdParams = z.strictObject({ id: externalId });

export const listCustomersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
});
