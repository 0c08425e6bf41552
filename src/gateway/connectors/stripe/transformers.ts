import type Stripe from 'stripe';
import { CURRENCIES, CURRENCY_EXPONENTS, type Currency } from '../../../domain/money.js';
import type { FailureCode } from '../../../domain/payment.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../errors.js';
import type {
  Authorization,
  AuthorizationLookupRequest,
  AuthorizationStatus,
  AuthorizeRequest,
  CheckoutSessionRequest,
  GatewayCheckoutSession,
  GatewayCheckoutStatus,
  GatewayRefund,
  GatewaySavedMethod,
  RefundRequest,
  RefundStatus,
  SavedMethodStatus,
  SaveMethodRequest,
  WebhookEvent,
} from '../../port.js';

/**
 * Stripe as the connector reads it, and the one place it is translated into Paysaga's port
 * types: request parameters, PaymentIntent and Refund statuses, decline codes, errors and
 * webhook events. The connector (connector.ts) only calls the SDK.
 */

/** The PaymentIntent and Refund metadata key that carries Paysaga's payment id. */
export const PAYMENT_ID_METADATA = 'paysaga_payment_id';
/**
 * The PaymentIntent metadata key that carries the Idempotency-Key its creation was sent with, so
 * that the lookup finds the PaymentIntent an authorize made when its answer never came.
 */
export const IDEMPOTENCY_KEY_METADATA = 'paysaga_idempotency_key';
/** Paysaga's free-text refund reason (Stripe's own `reason` is a short enum). */
export const REFUND_REASON_METADATA = 'paysaga_refund_reason';
/** The SetupIntent metadata key that carries Paysaga's payment method id. */
export const PAYMENT_METHOD_METADATA = 'paysaga_payment_method';
/** Paysaga's tenant and customer ids on a Stripe Customer and SetupIntent. */
export const TENANT_ID_METADATA = 'paysaga_tenant';
export const CUSTOMER_ID_METADATA = 'paysaga_customer';

/**
 * Stripe's own exponent where it differs from ISO 4217's (https://docs.stripe.com/currencies,
 * "zero-decimal" and "special cases"): ISK is zero-decimal in ISO, but Stripe still counts it
 * in hundredths (that must end in 00); MGA has two decimals in ISO, but Stripe takes it as a
 * zero-decimal currency. HUF and TWD, which Stripe pays out only in whole units, are charged in
 * hundredths as in ISO; UGX is zero-decimal in both.
 */
const STRIPE_EXPONENTS: Partial<Record<Currency, number>> = { ISK: 2, MGA: 0 };

/** Three-decimal currencies, which Stripe takes only in multiples of 10 minor units. */
const STRIPE_THREE_DECIMAL: readonly Currency[] = ['KWD', 'BHD', 'JOD', 'OMR', 'TND'];

/** Powers of ten from ISO minor units to Stripe's units: positive multiplies, negative divides. */
function stripeShift(currency: Currency): number {
  const stripe = STRIPE_EXPONENTS[currency];
  return stripe === undefined ? 0 : stripe - CURRENCY_EXPONENTS[currency];
}

/**
 * Amount in Stripe's units. An amount Stripe cannot carry (a fraction of an ariary, a
 * three-decimal amount not a multiple of 10) is refused here with a clear message rather than
 * rounded.
 */
export function toStripeAmount(amount: number, currency: Currency): number {
  const shift = stripeShift(currency);
  if (shift > 0) return amount * 10 ** shift;
  if (shift < 0) {
    const divisor = 10 ** -shift;
    if (amount % divisor !== 0) {
      throw new GatewayRequestError(
        'amount_not_supported',
        `Stripe accepts ${currency} only in whole units (amounts in multiples of ${divisor} minor units)`,
        400,
      );
    }
    return amount / divisor;
  }
  if (STRIPE_THREE_DECIMAL.includes(currency) && amount % 10 !== 0) {
    throw new GatewayRequestError(
      'amount_not_supported',
      `Stripe accepts ${currency} amounts only in multiples of 10 minor units`,
      400,
    );
  }
  return amount;
}

export function fromStripeAmount(amount: number, currency: Currency): number {
  const shift = stripeShift(currency);
  if (shift < 0) return amount * 10 ** -shift;
  return shift > 0 ? Math.round(amount / 10 ** shift) : amount;
}

export function fromStripeCurrency(currency: string): Currency {
  const upper = currency.toUpperCase();
  if ((CURRENCIES as readonly string[]).includes(upper)) return upper as Currency;
  throw new GatewayRequestError(
    'invalid_response',
    `Stripe answered in unsupported currency ${currency}`,
    200,
  );
}

// ---- Request mapping -------------------------------------------------------------------------

/**
 * One PaymentIntent, created and confirmed in one call: `capture_method: manual` to only
 * authorize, card only (so no redirect-based method is offered), and Paysaga's payment id in the
 * metadata so webhooks find the payment, beside the request's idempotency key so the lookup finds
 * the PaymentIntent when this call's answer is lost (`isAuthorizationFor`). The card
 * token is a PaymentMethod id (`pm_...`), made by Stripe.js or Stripe's mobile SDKs on the
 * customer's device, or a saved one (`saveMethod`): that one is charged with its Customer, as
 * Stripe requires of an attached PaymentMethod. Off-session, Stripe declines a card that needs
 * authentication instead of asking for it, and no customer returns from anywhere. Stripe cites
 * the setup's network transaction id on merchant-initiated charges itself: there is no parameter
 * to pass one.
 */
export function toPaymentIntentParams(request: AuthorizeRequest): Stripe.PaymentIntentCreateParams {
  const { token, amount, currency, reference, capture, returnUrl, saved } = request;
  const offSession = saved?.offSession === true;
  return {
    amount: toStripeAmount(amount, currency),
    currency: currency.toLowerCase(),
    capture_method: capture ? 'automatic' : 'manual',
    confirm: true,
    allowed_payment_method_types: ['card'],
    payment_method: token,
    ...(saved?.gatewayCustomerId ? { customer: saved.gatewayCustomerId } : {}),
    ...(offSession ? { off_session: true } : {}),
    ...(returnUrl && !offSession ? { return_url: returnUrl } : {}),
    metadata: { [PAYMENT_ID_METADATA]: reference, [IDEMPOTENCY_KEY_METADATA]: request.idempotencyKey },
    expand: ['latest_charge'],
  };
}

/**
 * How far back the lookup of a lost authorization reads (`toAuthorizationListParams`): 24 hours,
 * as long as Stripe keeps an idempotency key. The lookup comes minutes after the request whose
 * answer was lost, but that request may be a retry of one sent much earlier with the same key (a
 * workflow task run again after a worker outage sends it again), and for 24 hours Stripe's answer
 * to it is the PaymentIntent made for the first one: so every PaymentIntent this key can have
 * made is in the window (and the host's clock may be minutes off). A window too wide costs only
 * pages, which the page bound turns into an error, never into "none"; one too narrow would answer
 * "none" for a charge that exists, and the payment would be charged again elsewhere.
 */
export const AUTHORIZATION_LOOKUP_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * One page of the PaymentIntents created in the lookup window before `now` (milliseconds), newest
 * first as Stripe lists them, after `startingAfter` (the last one of the page before). The List
 * API, unlike Search, is strongly consistent: a PaymentIntent is listed as soon as it is made.
 * Without `expand`: the one found is read again as `status` reads it.
 */
export function toAuthorizationListParams(
  now: number,
  limit: number,
  startingAfter?: string,
): Stripe.PaymentIntentListParams {
  return {
    created: { gte: Math.floor((now - AUTHORIZATION_LOOKUP_WINDOW_MS) / 1000) },
    limit,
    ...(startingAfter === undefined ? {} : { starting_after: startingAfter }),
  };
}

/** The PaymentIntent an authorize with this key made for this payment (`toPaymentIntentParams`). */
export function isAuthorizationFor(
  intent: Pick<Stripe.PaymentIntent, 'metadata'>,
  lookup: AuthorizationLookupRequest,
): boolean {
  return (
    intent.metadata[IDEMPOTENCY_KEY_METADATA] === lookup.idempotencyKey &&
    intent.metadata[PAYMENT_ID_METADATA] === lookup.reference
  );
}

/** The Stripe Customer a saved card is attached to: Paysaga's ids only, no personal data. */
export function toCustomerParams(request: SaveMethodRequest): Stripe.CustomerCreateParams {
  return {
    metadata: { [TENANT_ID_METADATA]: request.tenantId, [CUSTOMER_ID_METADATA]: request.customerId },
  };
}

/**
 * One SetupIntent, created and confirmed in one call, for later charges without the customer
 * (`usage: off_session`, so Stripe asks for 3-D Secure now if the card wants it). Card only, as
 * for PaymentIntents; Paysaga's payment method id in the metadata so webhooks find the method;
 * the PaymentMethod expanded for its card.
 */
export function toSetupIntentParams(
  request: SaveMethodRequest,
  gatewayCustomerId: string,
): Stripe.SetupIntentCreateParams {
  return {
    customer: gatewayCustomerId,
    payment_method: request.token,
    confirm: true,
    usage: 'off_session',
    allowed_payment_method_types: ['card'],
    ...(request.returnUrl ? { return_url: request.returnUrl } : {}),
    metadata: { [PAYMENT_METHOD_METADATA]: request.reference, [TENANT_ID_METADATA]: request.tenantId },
    expand: ['payment_method'],
  };
}

/** The Checkout Session metadata keys that carry Paysaga's checkout session id and tenant. */
export const CHECKOUT_SESSION_METADATA = 'paysaga_session_id';
export const TENANT_METADATA = 'tenant';

/** Stripe keeps a Checkout Session open at least 30 minutes and at most 24 hours. */
export const STRIPE_CHECKOUT_EXPIRY_SECONDS = { min: 30 * 60, max: 24 * 60 * 60 } as const;
/** Room for the time the request takes to reach Stripe. */
const EXPIRY_MARGIN_SECONDS = 60;

/**
 * Stripe's `expires_at` for a session Paysaga expires at `expiresAt`: within Stripe's window.
 * Paysaga's shorter sessions (from 60 s) get Stripe's 30 minutes: Paysaga's own timer expires
 * the Stripe session at Paysaga's time.
 */
export function toStripeExpiresAt(expiresAt: string, nowMs: number): number {
  const now = Math.floor(nowMs / 1000);
  const wanted = Math.floor(Date.parse(expiresAt) / 1000);
  const earliest = now + STRIPE_CHECKOUT_EXPIRY_SECONDS.min + EXPIRY_MARGIN_SECONDS;
  const latest = now + STRIPE_CHECKOUT_EXPIRY_SECONDS.max - EXPIRY_MARGIN_SECONDS;
  return Math.min(Math.max(wanted, earliest), latest);
}

/** `url` with `session_id` set (Paysaga's session id, as on Paysaga's own page). */
function withSessionId(url: string, sessionId: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('session_id', sessionId);
  return parsed.toString();
}

/**
 * A Checkout Session in `payment` mode for one line: the order's amount, named by the session's
 * description. The PaymentIntent it makes carries Paysaga's ids in its metadata too, so its own
 * webhooks are known as a checkout's.
 */
export function toCheckoutSessionParams(
  request: CheckoutSessionRequest,
  nowMs: number,
): Stripe.Checkout.SessionCreateParams {
  const metadata = { [CHECKOUT_SESSION_METADATA]: request.reference, [TENANT_METADATA]: request.tenantId };
  return {
    mode: 'payment',
    line_items: [
      {
        quantity: 1,
        price_data: {
          currency: request.currency.toLowerCase(),
          unit_amount: toStripeAmount(request.amount, request.currency),
          product_data: { name: request.name },
        },
      },
    ],
    success_url: withSessionId(request.successUrl, request.reference),
    cancel_url: request.cancelUrl,
    client_reference_id: request.orderId,
    expires_at: toStripeExpiresAt(request.expiresAt, nowMs),
    metadata,
    payment_intent_data: { metadata },
  };
}

export function toCheckoutStatus(status: Stripe.Checkout.Session.Status | null): GatewayCheckoutStatus {
  switch (status) {
    case 'complete':
      return 'complete';
    case 'expired':
      return 'expired';
    // `open`, and a session Stripe has not given a status.
    default:
      return 'open';
  }
}

export function toGatewayCheckoutSession(session: Stripe.Checkout.Session): GatewayCheckoutSession {
  const intent = session.payment_intent;
  return {
    id: session.id,
    url: session.url ?? '',
    status: toCheckoutStatus(session.status),
    authorizationId: typeof intent === 'string' ? intent : (intent?.id ?? undefined),
  };
}

export function toCaptureParams(amount: number, currency: Currency): Stripe.PaymentIntentCaptureParams {
  return { amount_to_capture: toStripeAmount(amount, currency), expand: ['latest_charge'] };
}

export function toRefundParams(
  request: RefundRequest,
  currency: Currency,
  reference: string | undefined,
): Stripe.RefundCreateParams {
  const metadata: Record<string, string> = {};
  if (reference) metadata[PAYMENT_ID_METADATA] = reference;
  // Stripe's metadata values hold at most 500 characters.
  if (request.reason !== undefined) metadata[REFUND_REASON_METADATA] = request.reason.slice(0, 500);
  return {
    payment_intent: request.authorizationId,
    amount: toStripeAmount(request.amount, currency),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}

// ---- Decline codes ---------------------------------------------------------------------------

/**
 * Stripe's decline and card error codes (`decline_code`, else `code`) as Paysaga's failure
 * codes. A code missing here still declines, as `card_declined`: a decline is final whatever
 * its reason. https://docs.stripe.com/declines/codes and https://docs.stripe.com/error-codes
 */
export const STRIPE_DECLINE_CODES: Readonly<Record<string, FailureCode>> = {
  // The money is not there.
  insufficient_funds: 'insufficient_funds',
  card_velocity_exceeded: 'insufficient_funds',
  withdrawal_count_limit_exceeded: 'insufficient_funds',
  // The issuer said no without saying why.
  card_declined: 'card_declined',
  generic_decline: 'card_declined',
  do_not_honor: 'card_declined',
  do_not_try_again: 'card_declined',
  call_issuer: 'card_declined',
  card_not_supported: 'card_declined',
  currency_not_supported: 'card_declined',
  not_permitted: 'card_declined',
  restricted_card: 'card_declined',
  service_not_allowed: 'card_declined',
  transaction_not_allowed: 'card_declined',
  invalid_account: 'card_declined',
  new_account_information_available: 'card_declined',
  no_action_taken: 'card_declined',
  revocation_of_all_authorizations: 'card_declined',
  revocation_of_authorization: 'card_declined',
  stop_payment_order: 'card_declined',
  // The card has expired.
  expired_card: 'expired_card',
  // The card details are wrong.
  incorrect_cvc: 'invalid_card',
  invalid_cvc: 'invalid_card',
  incorrect_number: 'invalid_card',
  invalid_number: 'invalid_card',
  invalid_expiry_month: 'invalid_card',
  invalid_expiry_year: 'invalid_card',
  incorrect_zip: 'invalid_card',
  incorrect_pin: 'invalid_card',
  invalid_pin: 'invalid_card',
  pin_try_exceeded: 'invalid_card',
  testmode_decline: 'invalid_card',
  live_mode_test_card: 'invalid_card',
  // Fraud, lost and stolen cards.
  fraudulent: 'fraud_suspected',
  lost_card: 'fraud_suspected',
  stolen_card: 'fraud_suspected',
  pickup_card: 'fraud_suspected',
  merchant_blacklist: 'fraud_suspected',
  security_violation: 'fraud_suspected',
  // A card that needs authentication, charged off-session: the customer must pay on-session.
  authentication_required: 'authentication_required',
  // 3-D Secure was needed and failed, or was not done.
  authentication_not_handled: 'authentication_failed',
  payment_intent_authentication_failure: 'authentication_failed',
  setup_intent_authentication_failure: 'authentication_failed',
  // The issuer or network failed: declined, the customer may try again.
  processing_error: 'processing_error',
  issuer_not_available: 'processing_error',
  try_again_later: 'processing_error',
  reenter_transaction: 'processing_error',
  approve_with_id: 'processing_error',
  duplicate_transaction: 'processing_error',
};

/** The failure code of a decline: the issuer's `decline_code` first, then Stripe's `code`. */
export function toFailureCode(
  declineCode: string | undefined | null,
  code: string | undefined | null,
): FailureCode {
  for (const candidate of [declineCode, code]) {
    if (candidate && Object.hasOwn(STRIPE_DECLINE_CODES, candidate)) return STRIPE_DECLINE_CODES[candidate]!;
  }
  return 'card_declined';
}

// ---- Response mapping ------------------------------------------------------------------------

/**
 * A PaymentIntent's status as Paysaga's. `requires_payment_method` after a confirmation is a
 * decline (the card failed, or 3-D Secure did); `processing`, `requires_confirmation` and any
 * status newer than this mapping have no outcome yet: undefined, and the connector asks again.
 */
export function toAuthorizationStatus(status: Stripe.PaymentIntent.Status): AuthorizationStatus | undefined {
  switch (status) {
    case 'requires_capture':
      return 'authorized';
    case 'succeeded':
      return 'captured';
    case 'requires_action':
      return 'requires_action';
    case 'requires_payment_method':
      return 'declined';
    case 'canceled':
      return 'voided';
    // No outcome yet; and a status newer than this mapping has none this version can read.
    default:
      return undefined;
  }
}

function expandedCharge(intent: Stripe.PaymentIntent): Stripe.Charge | undefined {
  const charge = intent.latest_charge;
  return charge !== null && typeof charge === 'object' ? charge : undefined;
}

/** A PaymentIntent (with `latest_charge` expanded when the card details are wanted) as a port value. */
export function toAuthorization(intent: Stripe.PaymentIntent): Authorization {
  const status = toAuthorizationStatus(intent.status);
  if (status === undefined) {
    throw new GatewayUnavailableError(`Stripe PaymentIntent ${intent.id} is still ${intent.status}`);
  }
  const currency = fromStripeCurrency(intent.currency);
  const charge = expandedCharge(intent);
  const card = charge?.payment_method_details?.card;
  const redirect = intent.next_action?.redirect_to_url;
  const error = intent.last_payment_error;
  return {
    id: intent.id,
    status,
    amount: fromStripeAmount(intent.amount, currency),
    amountCaptured: fromStripeAmount(intent.amount_received, currency),
    amountRefunded: fromStripeAmount(charge?.amount_refunded ?? 0, currency),
    currency,
    card: card
      ? {
          brand: card.brand ?? 'unknown',
          last4: card.last4 ?? '',
          expMonth: card.exp_month,
          expYear: card.exp_year,
        }
      : undefined,
    actionUrl: status === 'requires_action' ? (redirect?.url ?? undefined) : undefined,
    failureCode: status === 'declined' ? toFailureCode(error?.decline_code, error?.code) : undefined,
    failureMessage: status === 'declined' ? (error?.message ?? 'The card was declined') : undefined,
    networkTransactionId: card?.network_transaction_id ?? undefined,
  };
}

/**
 * A SetupIntent's status as a saved method's. `requires_payment_method` after a confirmation is
 * a failed setup (the card was declined, or 3-D Secure failed), as is a canceled one;
 * `processing`, `requires_confirmation` and any newer status have no outcome yet: undefined.
 */
export function toSavedMethodStatus(status: Stripe.SetupIntent.Status): SavedMethodStatus | undefined {
  switch (status) {
    case 'succeeded':
      return 'active';
    case 'requires_action':
      return 'requires_action';
    case 'requires_payment_method':
    case 'canceled':
      return 'failed';
    default:
      return undefined;
  }
}

const idOf = (value: string | { id: string } | null | undefined): string | undefined =>
  typeof value === 'string' ? value : (value?.id ?? undefined);

function toCard(method: Stripe.PaymentMethod | undefined): GatewaySavedMethod['card'] {
  const card = method?.card;
  return card
    ? { brand: card.brand, last4: card.last4, expMonth: card.exp_month, expYear: card.exp_year }
    : undefined;
}

const DETACHED_MESSAGE = 'The card is no longer attached to a Stripe Customer';

/**
 * A SetupIntent (with `payment_method` expanded when the card is wanted) as a saved method. A
 * setup that succeeded whose PaymentMethod has since been detached can no longer be charged:
 * failed. Stripe does not show the setup's network transaction id; it cites it itself.
 */
export function toSavedMethod(setup: Stripe.SetupIntent): GatewaySavedMethod {
  const status = toSavedMethodStatus(setup.status);
  if (status === undefined) {
    throw new GatewayUnavailableError(`Stripe SetupIntent ${setup.id} is still ${setup.status}`);
  }
  const method =
    setup.payment_method !== null && typeof setup.payment_method === 'object'
      ? setup.payment_method
      : undefined;
  const error = setup.last_setup_error;
  const base: GatewaySavedMethod = {
    // A failed setup keeps its PaymentMethod only in the error.
    id: idOf(setup.payment_method) ?? idOf(error?.payment_method) ?? '',
    status,
    card: toCard(method ?? error?.payment_method),
    gatewayCustomerId: idOf(setup.customer),
    setupId: setup.id,
  };
  if (status === 'active' && method && method.customer === null)
    return { ...base, status: 'failed', failureCode: 'invalid_card', failureMessage: DETACHED_MESSAGE };
  if (status === 'requires_action')
    return { ...base, actionUrl: setup.next_action?.redirect_to_url?.url ?? undefined };
  if (status === 'failed') {
    return {
      ...base,
      failureCode: toFailureCode(error?.decline_code, error?.code),
      failureMessage: maskSecrets(
        error?.message ??
          (setup.status === 'canceled' ? 'The card setup was canceled' : 'The card was declined'),
      ),
    };
  }
  return base;
}

/** A saved PaymentMethod read on its own: attached to a Customer is active, detached is failed. */
export function toSavedMethodFromPaymentMethod(method: Stripe.PaymentMethod): GatewaySavedMethod {
  const gatewayCustomerId = idOf(method.customer);
  const base = { id: method.id, card: toCard(method), gatewayCustomerId };
  return gatewayCustomerId
    ? { ...base, status: 'active' }
    : { ...base, status: 'failed', failureCode: 'invalid_card', failureMessage: DETACHED_MESSAGE };
}

export function toRefundStatus(status: string | null): RefundStatus {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
    case 'canceled':
      return 'failed';
    // `pending`, `requires_action` (the customer must give bank details) and anything newer.
    default:
      return 'pending';
  }
}

export function toRefund(refund: Stripe.Refund): GatewayRefund {
  const currency = fromStripeCurrency(refund.currency);
  const intent = refund.payment_intent;
  return {
    id: refund.id,
    authorizationId: typeof intent === 'string' ? intent : (intent?.id ?? ''),
    status: toRefundStatus(refund.status),
    amount: fromStripeAmount(refund.amount, currency),
    failureMessage: refund.failure_reason ?? undefined,
  };
}

// ---- Error mapping ---------------------------------------------------------------------------

/** The fields of the SDK's `StripeError` this mapping reads. */
export interface StripeErrorLike {
  type?: string | undefined;
  code?: string | undefined;
  decline_code?: string | undefined;
  statusCode?: number | undefined;
  message?: string | undefined;
  headers?: Record<string, string> | undefined;
  raw?: unknown;
}

/** The PaymentIntent a card error carries (Stripe returns it with a 402). */
function declinedIntent(error: StripeErrorLike): Stripe.PaymentIntent | undefined {
  const raw = error.raw as { payment_intent?: Stripe.PaymentIntent } | undefined;
  return raw?.payment_intent && typeof raw.payment_intent === 'object' ? raw.payment_intent : undefined;
}

const isCardError = (error: StripeErrorLike): boolean =>
  error.type === 'StripeCardError' || error.type === 'card_error';
const isInvalidRequest = (error: StripeErrorLike): boolean =>
  error.type === 'StripeInvalidRequestError' || error.type === 'invalid_request_error';

/**
 * A PaymentMethod that cannot be charged: one Stripe does not know (an unusable card, as an
 * unknown token is on the sandbox), or one used once without a Customer or detached from its
 * Customer (a deleted saved card), which Stripe refuses with no code of its own.
 */
function isUnusableMethod(error: StripeErrorLike): boolean {
  if (!isInvalidRequest(error)) return false;
  if (error.code === 'resource_missing')
    return /payment_method|token/.test(
      String((error.raw as { param?: string } | undefined)?.param ?? error.message),
    );
  return (
    error.code === undefined && /detached from a Customer|may not be used again/i.test(error.message ?? '')
  );
}

/**
 * What an authorization's error means: a decline (a value), a fault to retry, or a refusal.
 * Card errors decline; so does a PaymentMethod that cannot be charged.
 */
export function toAuthorizeOutcome(error: StripeErrorLike, request: AuthorizeRequest): Authorization {
  const unusable = isUnusableMethod(error);
  if (!isCardError(error) && !unusable) throw toGatewayError(error);
  const intent = declinedIntent(error);
  return {
    id: intent?.id ?? '',
    status: 'declined',
    amount: request.amount,
    amountCaptured: 0,
    amountRefunded: 0,
    currency: request.currency,
    failureCode: unusable ? 'invalid_card' : toFailureCode(error.decline_code, error.code),
    failureMessage: maskSecrets(error.message ?? 'The card was declined'),
  };
}

/**
 * What a SetupIntent's error means: the card declined on setup (Stripe returns the SetupIntent
 * with a 402) or a PaymentMethod that cannot be saved is a failed method; the rest is a fault to
 * retry or a refusal, as for authorizations.
 */
export function toSaveMethodOutcome(error: StripeErrorLike, gatewayCustomerId: string): GatewaySavedMethod {
  const unusable = isUnusableMethod(error);
  if (!isCardError(error) && !unusable) throw toGatewayError(error);
  const raw = error.raw as
    { setup_intent?: Stripe.SetupIntent; payment_method?: Stripe.PaymentMethod } | undefined;
  const setup = raw?.setup_intent && typeof raw.setup_intent === 'object' ? raw.setup_intent : undefined;
  return {
    id: idOf(raw?.payment_method) ?? idOf(setup?.payment_method) ?? '',
    status: 'failed',
    card: toCard(raw?.payment_method),
    gatewayCustomerId,
    setupId: setup?.id,
    failureCode: unusable ? 'invalid_card' : toFailureCode(error.decline_code, error.code),
    failureMessage: maskSecrets(error.message ?? 'The card was declined'),
  };
}

/**
 * A detach of a PaymentMethod that is gone already: unknown to Stripe, or not attached to a
 * Customer (detached before, or never saved), which Stripe refuses with no code of its own.
 */
export function isAlreadyDetached(error: StripeErrorLike): boolean {
  return (
    isInvalidRequest(error) &&
    (error.code === 'resource_missing' || /not attached to a customer/i.test(error.message ?? ''))
  );
}

/**
 * A message with every Stripe secret in it masked (`sk_test_****6789`). Stripe masks keys in its
 * own messages; other servers answering on its behalf (stripe-mock, a proxy) may echo them.
 */
export function maskSecrets(message: string): string {
  return message.replace(
    /\b(sk|rk|whsec)_((?:test|live)_)?([A-Za-z0-9_]+)/g,
    (_match, kind: string, mode = '', rest: string) =>
      `${kind}_${mode}****${rest.length > 8 ? rest.slice(-4) : ''}`,
  );
}

/** Error codes Stripe answers while an object is locked or a same-key request is in flight. */
const TRANSIENT_CODES = new Set(['lock_timeout', 'idempotency_key_in_use', 'rate_limit']);

/**
 * The retry contract (src/gateway/errors.ts) for Stripe: no answer, 5xx, 429, 408, lock
 * timeouts and a same-key request in flight are transient; Stripe's `Stripe-Should-Retry`
 * header overrides the status when it is sent. Everything else (invalid requests,
 * authentication, permissions, an idempotency key reused with other parameters) is final.
 * Messages are Stripe's, which never contain the API key.
 */
export function toGatewayError(error: StripeErrorLike): GatewayUnavailableError | GatewayRequestError {
  const status = error.statusCode;
  const message = maskSecrets(`Stripe: ${error.message ?? error.type ?? 'request failed'}`);
  const shouldRetry = error.headers?.['stripe-should-retry'];
  const transient =
    shouldRetry === 'true' ||
    (shouldRetry !== 'false' &&
      (error.type === 'StripeConnectionError' ||
        error.type === 'StripeAPIError' ||
        error.type === 'StripeRateLimitError' ||
        status === undefined ||
        status >= 500 ||
        status === 429 ||
        status === 408 ||
        (error.code !== undefined && TRANSIENT_CODES.has(error.code))));
  if (transient) return new GatewayUnavailableError(message, status);
  return new GatewayRequestError(error.code ?? error.type ?? 'stripe_error', message, status ?? 400);
}

// ---- Webhooks --------------------------------------------------------------------------------

/** Event types that move a payment or a refund; every other type is acknowledged and ignored. */
export const STRIPE_PAYMENT_INTENT_EVENTS = [
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.amount_capturable_updated',
  'payment_intent.canceled',
] as const;
export const STRIPE_REFUND_EVENTS = ['charge.refund.updated', 'refund.updated', 'refund.failed'] as const;
/** A Checkout Session paid (at once, or later for delayed methods) or expired. */
export const STRIPE_CHECKOUT_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.expired',
] as const;

/**
 * A card saved (at once, or after 3-D Secure), failing to be, or waiting for the customer. Stripe
 * sends the SetupIntent with its PaymentMethod's id only: no card in these events.
 */
export const STRIPE_SETUP_INTENT_EVENTS = [
  'setup_intent.succeeded',
  'setup_intent.setup_failed',
  'setup_intent.requires_action',
  'setup_intent.canceled',
] as const;

/** A verified Stripe event as port events (none, one, or one per refund of a charge). */
export function toWebhookEvents(event: Stripe.Event): WebhookEvent[] {
  const type = event.type as string;
  if ((STRIPE_SETUP_INTENT_EVENTS as readonly string[]).includes(type)) {
    const setup = event.data.object as Stripe.SetupIntent;
    const reference = setup.metadata?.[PAYMENT_METHOD_METADATA];
    // A SetupIntent made outside Paysaga names none of its payment methods: nothing to move.
    if (!reference || toSavedMethodStatus(setup.status) === undefined) return [];
    return [{ type: 'payment_method.updated', eventId: event.id, method: toSavedMethod(setup), reference }];
  }
  if ((STRIPE_PAYMENT_INTENT_EVENTS as readonly string[]).includes(type)) {
    const intent = event.data.object as Stripe.PaymentIntent;
    const reference = intent.metadata?.[PAYMENT_ID_METADATA];
    if (!reference || toAuthorizationStatus(intent.status) === undefined) return [];
    return [
      { type: 'authorization.updated', eventId: event.id, authorization: toAuthorization(intent), reference },
    ];
  }
  if ((STRIPE_REFUND_EVENTS as readonly string[]).includes(type)) {
    const refund = event.data.object as Stripe.Refund;
    return [refundEvent(event.id, refund)];
  }
  if ((STRIPE_CHECKOUT_EVENTS as readonly string[]).includes(type)) {
    const session = event.data.object as Stripe.Checkout.Session;
    const reference = session.metadata?.[CHECKOUT_SESSION_METADATA];
    const tenantId = session.metadata?.[TENANT_METADATA];
    // A Checkout Session made outside Paysaga names none of its sessions: nothing to move.
    if (!reference || !tenantId) return [];
    // Paid, but not yet (a delayed payment method): its `async_payment_succeeded` follows.
    if (type === 'checkout.session.completed' && session.payment_status === 'unpaid') return [];
    const mapped = toGatewayCheckoutSession(session);
    return [
      {
        type: 'checkout_session.updated',
        eventId: event.id,
        session: type === 'checkout.session.expired' ? { ...mapped, status: 'expired' } : mapped,
        reference,
        tenantId,
      },
    ];
  }
  if (type === 'charge.refunded') {
    // The charge lists its refunds only on API versions before 2022-11-15; later ones send
    // `charge.refund.updated` for each refund as well.
    const charge = event.data.object as Stripe.Charge;
    return (charge.refunds?.data ?? []).map((refund) => refundEvent(event.id, refund));
  }
  return [];
}

function refundEvent(eventId: string, refund: Stripe.Refund): WebhookEvent {
  return {
    type: 'refund.updated',
    eventId,
    refund: toRefund(refund),
    reference: refund.metadata?.[PAYMENT_ID_METADATA] ?? '',
  };
}
