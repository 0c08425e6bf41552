/**
 * The requests Paysaga takes, as both doors validate them: the HTTP API's bodies and the broker
 * consumer's commands are the same schemas, so a message is refused where a request would be.
 */
import { z } from 'zod';
import { CURRENCIES, MAX_AMOUNT_MINOR } from '../domain/money.js';
import { storableText } from '../domain/text.js';
import { MAX_RETURN_URL_LENGTH } from '../domain/return-url.js';
import { CHECKOUT_EXPIRY_SECONDS, CHECKOUT_METHODS } from '../domain/checkout.js';

/** Every free-text field: bounded, and only text PostgreSQL can store (see domain/text.ts). */
export const text = storableText;

/** Ids callers choose (orders, customers): printable, no separators Paysaga uses in its own ids. */
export const externalId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only');

export const amount = z
  .number()
  .int('amount must be an integer in minor units')
  .positive('amount must be positive')
  .max(MAX_AMOUNT_MINOR, `amount must be at most ${MAX_AMOUNT_MINOR}`)
  .describe('Integer amount in minor units (2500 = 25.00 USD)');

export const currency = z.enum(CURRENCIES).describe('ISO 4217 currency code (uppercase)');

export const cardToken = z
  .string()
  .min(1)
  .max(100)
  .regex(
    /^(tok|pm)_[A-Za-z0-9_]+$/,
    "a card token of the tenant's connector: tok_... (sandbox, e.g. tok_test_4242) or pm_... (a Stripe PaymentMethod)",
  )
  .describe(
    "The card, tokenized on the customer's device by the tenant's connector: `tok_...` for the sandbox, a PaymentMethod `pm_...` for Stripe",
  )
  .meta({ examples: ['tok_test_4242', 'pm_card_visa'] });

/** Paysaga's id of a card a customer saved (`POST /v1/customers/{id}/payment-methods`). */
export const savedPaymentMethodId = z
  .string()
  .max(100)
  .regex(/^pm_[A-Za-z0-9]+$/, "a saved payment method's id: pm_...")
  .describe("A card the customer saved: Paysaga's `pm_...` id");

const offSession = z
  .boolean()
  .describe(
    'Charged without the customer present (a merchant-initiated charge): a card that needs 3-D Secure is declined `authentication_required` instead of asking the customer',
  );

/** The connector names a card's other tokens are keyed by (src/gateway/registry.ts). */
const connectorName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a connector name: sandbox, stripe, ...')
  .describe('A connector: sandbox, stripe, ...');

/** The same card tokenized at other connectors: what lets the payment move to a fallback connector. */
const connectorTokens = z
  .record(connectorName, cardToken)
  .refine((tokens) => Object.keys(tokens).length <= 5, 'at most 5 connectors')
  .meta({ maxProperties: 5 })
  .describe(
    "The same card's token at other connectors of the tenant's route (connector → token): a payment moves to a fallback connector only if it has the card's token there (GET /v1/routing)",
  );

export const paymentMethod = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('wallet') }),
  z
    .strictObject({ type: z.literal('card'), token: cardToken, tokens: connectorTokens.optional() })
    .describe("A card: `token` from the route's first connector, `tokens` the same card's at the others"),
  z
    .strictObject({
      type: z.literal('paypal'),
      email: z.email().max(254).optional().describe("The buyer's PayPal login, pre-filled on PayPal's page"),
    })
    .describe("The buyer approves the payment on PayPal's page (`nextAction.url`)"),
  z
    .strictObject({
      type: z.literal('split'),
      token: cardToken.optional(),
      paymentMethodId: savedPaymentMethodId.optional(),
      offSession: offSession.optional(),
    })
    .refine((m) => (m.token === undefined) !== (m.paymentMethodId === undefined), {
      message: 'a split takes either a token or a paymentMethodId',
      path: ['token'],
    })
    .refine((m) => m.offSession === undefined || m.paymentMethodId !== undefined, {
      message: 'offSession goes with a saved card (paymentMethodId)',
      path: ['offSession'],
    })
    // What the refinements say, for the OpenAPI document and its fuzzers.
    .meta({
      oneOf: [
        {
          required: ['token'],
          not: { anyOf: [{ required: ['paymentMethodId'] }, { required: ['offSession'] }] },
        },
        { required: ['paymentMethodId'], not: { required: ['token'] } },
      ],
    })
    .describe("The wallet's balance first, the rest from a card: a token, or a saved card"),
  z
    .strictObject({
      type: z.literal('saved'),
      paymentMethodId: savedPaymentMethodId
        .optional()
        .describe("A card the customer saved; omitted: the customer's default"),
      offSession: offSession.optional(),
    })
    .describe('A card the customer saved, charged by its gateway id: no token'),
]);
export type PaymentMethodInput = z.infer<typeof paymentMethod>;

/**
 * Metadata keys Paysaga sets itself (`paysaga.reply` makes the event relay answer the food-ordering
 * saga): a caller's payment must not be able to claim them.
 */
export const RESERVED_METADATA_PREFIX = 'paysaga.';

/**
 * Stripe's bounds (keys of at most 40 characters, values of at most 500) and fewer keys (20
 * against Stripe's 50), so a payment's events stay a few tens of kB, far from a broker's 1 MB.
 */
export const METADATA_LIMITS = { maxKeys: 20, maxKeyLength: 40, maxValueLength: 500 } as const;

const metadataKey = text(METADATA_LIMITS.maxKeyLength)
  .min(1)
  // For the OpenAPI document; the record's check below gives the error its path and message.
  .meta({ not: { pattern: `^${RESERVED_METADATA_PREFIX.replace('.', '\\.')}` } });

export const metadata = z
  .record(metadataKey, text(METADATA_LIMITS.maxValueLength))
  .refine(
    (m) => Object.keys(m).length <= METADATA_LIMITS.maxKeys,
    `at most ${METADATA_LIMITS.maxKeys} metadata keys`,
  )
  .superRefine((m, context) => {
    for (const key of Object.keys(m).filter((k) => k.startsWith(RESERVED_METADATA_PREFIX)))
      context.addIssue({
        code: 'custom',
        path: [key],
        message: `keys starting with "${RESERVED_METADATA_PREFIX}" are reserved for Paysaga`,
      });
  })
  .meta({ maxProperties: METADATA_LIMITS.maxKeys })
  .describe(
    `Up to ${METADATA_LIMITS.maxKeys} keys of 1 to ${METADATA_LIMITS.maxKeyLength} characters, none starting ` +
      `with "${RESERVED_METADATA_PREFIX}" (reserved); values of at most ${METADATA_LIMITS.maxValueLength} characters`,
  );

/**
 * Where the customer's browser goes after 3-D Secure. The schema only parses it (400 when it is no
 * URL); which URLs are allowed is the application's policy (422 `return_url_not_allowed`).
 * Storable text like every free-text field, but the OpenAPI document says so with `format: uri`
 * alone (a URI has no NUL), without the NUL pattern: a fuzzer asked for a string of the longest
 * length that both matches the pattern and is a URI can search for minutes (Schemathesis's
 * coverage phase did, in CI and in a fresh clone here, with the seed CI uses).
 */
export const returnUrl = text(MAX_RETURN_URL_LENGTH, { nulPattern: false })
  .refine((value) => URL.canParse(value), 'returnUrl must be an absolute URL')
  .meta({ format: 'uri' })
  .describe(
    "The merchant's page the customer returns to after 3-D Secure, with `payment_id` and `status` added to its query: " +
      '`https:` (`http:` only for a loopback host in development), no user name or password. Not part of the ' +
      'parameters a repeated request must match.',
  );

export const createPaymentBody = z.strictObject({
  orderId: externalId,
  customerId: externalId,
  amount,
  currency,
  method: paymentMethod,
  capture: z.enum(['automatic', 'manual']).default('automatic'),
  description: text(1000).optional(),
  metadata: metadata.optional(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code, upper case')
    .optional()
    .describe("The customer's country (ISO 3166-1 alpha-2): routing rules may send payments by it"),
  returnUrl: returnUrl.optional(),
});
export type CreatePaymentBody = z.infer<typeof createPaymentBody>;

/** Paysaga's own ids (`pay_...`, `re_...`): a malformed one is a 400, an unknown one a 404. */
export const resourceId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_]+$/, 'letters, digits and "_" only');

/** Where a checkout sends the customer: an absolute http(s) URL. */
const redirectUrl = z
  .url({ protocol: /^https?$/, error: 'an absolute http(s) URL' })
  .max(2048)
  .describe('An absolute http(s) URL, at most 2048 characters');

/** The methods a page offers: each at most once. */
export const checkoutMethods = z
  .array(z.enum(CHECKOUT_METHODS))
  .min(1)
  .max(CHECKOUT_METHODS.length)
  .refine((methods) => new Set(methods).size === methods.length, 'each method at most once')
  // The refinement does not reach the OpenAPI document: say it there too.
  .meta({ uniqueItems: true });

/** What a checkout session and a payment link both show and where both send the customer. */
export const pageFields = {
  description: text(1000).optional().describe('What the customer pays for, shown on the page'),
  successUrl: redirectUrl.describe('Where the customer goes once paid; `session_id` is added to its query'),
  cancelUrl: redirectUrl.describe('Where the page\'s "Cancel" link goes'),
};

/** A session's lifetime in seconds, within the range every session has. */
export const sessionLifetime = (defaultSeconds: number, description: string) =>
  z
    .number()
    .int()
    .min(CHECKOUT_EXPIRY_SECONDS.min)
    .max(CHECKOUT_EXPIRY_SECONDS.max)
    .default(defaultSeconds)
    .describe(description);

export const createCheckoutSessionBody = z.strictObject({
  orderId: externalId,
  customerId: externalId,
  amount,
  currency,
  ...pageFields,
  expiresInSeconds: sessionLifetime(
    CHECKOUT_EXPIRY_SECONDS.default,
    'How long the session stays open: 60 to 86400 seconds, default 86400 (24 h)',
  ),
  allowedMethods: checkoutMethods
    .default(['card', 'wallet'])
    .describe(
      'What the page offers: `card`, `wallet` (shown when the wallet holds the amount), `paypal` (the tenant needs a PayPal account: 422 `method_not_supported` otherwise)',
    ),
});

/**
 * A customer's email: at most 254 characters (RFC 5321's path limit), a local part of at most 64
 * (RFC 5321 too, which zod's pattern does not check). Its validation messages name the field,
 * never the value: an email is personal data and a problem may be logged.
 */
export const customerEmail = z
  .email({ error: 'email must be an email address' })
  .max(254, 'email must be at most 254 characters')
  .refine((email) => email.slice(0, email.lastIndexOf('@')).length <= 64, 'email must be an email address');

export const customerName = text(200);

export const createCustomerBody = z.strictObject({
  id: externalId.describe("The merchant's own id of the customer (a payment's `customerId`)"),
  email: customerEmail.optional(),
  name: customerName.optional(),
  metadata: metadata.optional(),
});
export type CreateCustomerBody = z.infer<typeof createCustomerBody>;

export const updateCustomerBody = z.strictObject({
  email: customerEmail.nullable().optional().describe('`null` clears it'),
  name: customerName.nullable().optional().describe('`null` clears it'),
  defaultPaymentMethodId: savedPaymentMethodId
    .nullable()
    .optional()
    .describe('An active saved card of the customer; `null` clears it'),
  metadata: metadata.optional().describe('Replaces the whole map; `{}` clears it'),
});
export type UpdateCustomerBody = z.infer<typeof updateCustomerBody>;

export const savePaymentMethodBody = z.strictObject({
  token: cardToken,
  setAsDefault: z
    .boolean()
    .optional()
    .describe("Make it the customer's default (the first active card becomes the default anyway)"),
  returnUrl: returnUrl
    .optional()
    .describe(
      "The merchant's page the customer returns to after 3-D Secure on setup, with `payment_method` added",
    ),
});
export type SavePaymentMethodBody = z.infer<typeof savePaymentMethodBody>;

/** With no `dailyLimit`, a wallet tops itself up at most this many times its `amount` a day. */
export const AUTO_TOP_UP_DAILY_TOP_UPS = 5;

export const autoTopUpBody = z.strictObject({
  threshold: z
    .number()
    .int('threshold must be an integer in minor units')
    .min(0)
    .max(MAX_AMOUNT_MINOR)
    .describe(
      'Top up when a payment would leave less than this available, in minor units (or could not be paid)',
    ),
  amount: amount.describe('How much each automatic top-up adds, in minor units'),
  currency,
  paymentMethodId: savedPaymentMethodId.describe('The saved card the top-ups charge (off-session)'),
  dailyLimit: amount
    .optional()
    .describe(
      `The most the wallet is topped up automatically in one UTC day, in minor units; at least \`amount\`. Default: ${AUTO_TOP_UP_DAILY_TOP_UPS} times \`amount\``,
    ),
});
export type AutoTopUpBody = z.infer<typeof autoTopUpBody>;
