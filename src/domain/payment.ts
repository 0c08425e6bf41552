import { assertNever } from './assert-never.js';
import type { Currency } from './money.js';

export const PAYMENT_STATUSES = [
  'processing',
  'requires_action',
  'requires_capture',
  /** The last attempt was declined for a reason the customer can fix: open for another attempt. */
  'requires_payment_method',
  'succeeded',
  'failed',
  'canceled',
  'partially_refunded',
  'refunded',
  /** Money may have moved and could not be put back or recorded: an operator must look. */
  'requires_attention',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Business outcomes that are final: never retried, reported to the caller as declines. */
export const FAILURE_CODES = [
  'insufficient_funds',
  'card_declined',
  'expired_card',
  'invalid_card',
  'fraud_suspected',
  'authentication_failed',
  /** A saved card charged without the customer needs them to authenticate: pay again on-session. */
  'authentication_required',
  'expired',
  'processing_error',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/**
 * Declines the customer can fix with another card, a top-up or a second go at 3-D Secure: with
 * attempts allowed they leave the payment `requires_payment_method`. `fraud_suspected` is not
 * among them (a fraud block invites card testing when another card may simply be tried), nor is
 * `processing_error` (the payment could not be processed: nothing the customer did).
 */
export const CUSTOMER_FIXABLE_FAILURES: readonly FailureCode[] = [
  'insufficient_funds',
  'card_declined',
  'expired_card',
  'invalid_card',
  'authentication_failed',
  'authentication_required',
  'expired',
];

export function isCustomerFixable(code: FailureCode): boolean {
  return CUSTOMER_FIXABLE_FAILURES.includes(code);
}

/**
 * A card the customer saved (a payment method `pm_…`), as a payment charges it: the method's
 * `token` is then the gateway's id of the saved card.
 */
export interface SavedCardUse {
  /** Paysaga's payment method id. */
  paymentMethodId: string;
  /** Charged without the customer present (a merchant-initiated charge). */
  offSession: boolean;
  gatewayCustomerId?: string | undefined;
  networkTransactionId?: string | undefined;
  /** The card's expiry as saved: an expired card is refused before the gateway is called. */
  expMonth: number;
  expYear: number;
}

/**
 * The same card's token at other connectors than the route's first (connector → token): a card
 * can only move to a fallback connector that has a token of it.
 */
export type ConnectorTokens = Record<string, string>;

export type PaymentMethod =
  | { type: 'wallet' }
  | { type: 'card'; token: string; tokens?: ConnectorTokens | undefined; saved?: SavedCardUse | undefined }
  | { type: 'split'; token: string; tokens?: ConnectorTokens | undefined; saved?: SavedCardUse | undefined }
  /** The buyer approves on PayPal's page; `email` pre-fills PayPal's login. */
  | { type: 'paypal'; email?: string | undefined };

/** A payment's method as the API shows it: the type, the card, and the saved method it was. */
export interface MethodView {
  type: PaymentMethod['type'];
  card?: CardDetails | undefined;
  paymentMethodId?: string | undefined;
  offSession?: boolean | undefined;
}

export function methodView(method: PaymentMethod): MethodView {
  if (method.type === 'wallet' || method.type === 'paypal' || !method.saved) return { type: method.type };
  return {
    type: method.type,
    paymentMethodId: method.saved.paymentMethodId,
    offSession: method.saved.offSession,
  };
}

/** Expired once the last day of its expiry month has passed (UTC). */
export function isCardExpired(card: { expMonth: number; expYear: number }, now: Date): boolean {
  const year = now.getUTCFullYear();
  return card.expYear < year || (card.expYear === year && card.expMonth < now.getUTCMonth() + 1);
}
export type CaptureMethod = 'automatic' | 'manual';

export interface CardDetails {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface NextAction {
  type: 'redirect_to_url';
  url: string;
  expiresAt: string;
}

export const ATTEMPT_STATUSES = ['processing', 'requires_action', 'succeeded', 'failed', 'canceled'] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

/** One try at paying: the method the customer gave and what became of it. */
export interface PaymentAttempt {
  number: number;
  method: MethodView;
  status: AttemptStatus;
  failureCode?: FailureCode | undefined;
  failureMessage?: string | undefined;
  /** The gateway's authorization id of this attempt's card part. */
  gatewayReference?: string | undefined;
  /** The gateway connector this attempt's card calls went to. */
  connector: string;
  /** The card network's transaction id of this attempt's charge, where the gateway gives it. */
  networkTransactionId?: string | undefined;
  createdAt: string;
}

/** What the caller asked for; the part of a payment that must match on a repeated request. */
export interface PaymentRequest {
  orderId: string;
  customerId: string;
  amount: number;
  currency: Currency;
  method: PaymentMethod;
  capture: CaptureMethod;
  description?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** The customer's country (ISO 3166-1 alpha-2), which routing rules may match on. */
  country?: string | undefined;
}

/** The payment as the API returns it and as it is stored. */
export interface PaymentView {
  id: string;
  tenantId: string;
  orderId: string;
  customerId: string;
  amount: number;
  currency: Currency;
  status: PaymentStatus;
  method: MethodView;
  capture: CaptureMethod;
  amountCaptured: number;
  amountRefunded: number;
  amountFromWallet: number;
  amountFromCard: number;
  failureCode?: FailureCode | undefined;
  failureMessage?: string | undefined;
  nextAction?: NextAction | undefined;
  description?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** The customer's country the caller gave (routing rules may match on it). */
  country?: string | undefined;
  /** The merchant's page the customer returns to after 3-D Secure (not part of the request hash). */
  returnUrl?: string | undefined;
  /** Every attempt at paying, oldest first; the last one is the current one. */
  attempts: PaymentAttempt[];
  reference: string;
  requestHash: string;
  workflowId: string;
  gatewayAuthorizationId?: string | undefined;
  /** The gateway connector (src/gateway/registry.ts) every card call of this payment goes to. */
  connector: string;
  /** Incremented on every change; persistence keeps the highest. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A status the caller can act on: the synchronous API answers as soon as the payment reaches one. */
export function isSettled(status: PaymentStatus): boolean {
  switch (status) {
    case 'processing':
      return false;
    case 'requires_action':
    case 'requires_capture':
    case 'requires_payment_method':
    case 'succeeded':
    case 'failed':
    case 'canceled':
    case 'partially_refunded':
    case 'refunded':
    case 'requires_attention':
      return true;
    default:
      return assertNever(status, 'payment status');
  }
}

/** No further money moves for this payment except refunds. */
export function isTerminal(status: PaymentStatus): boolean {
  switch (status) {
    case 'processing':
    case 'requires_action':
    case 'requires_capture':
    case 'requires_payment_method':
      return false;
    case 'succeeded':
    case 'failed':
    case 'canceled':
    case 'partially_refunded':
    case 'refunded':
    case 'requires_attention':
      return true;
    default:
      return assertNever(status, 'payment status');
  }
}

const TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
  processing: [
    'requires_action',
    'requires_capture',
    'requires_payment_method',
    'succeeded',
    'failed',
    'canceled',
    'requires_attention',
  ],
  requires_action: [
    'processing',
    'requires_capture',
    'requires_payment_method',
    'succeeded',
    'failed',
    'canceled',
    'requires_attention',
  ],
  requires_capture: ['processing', 'succeeded', 'canceled', 'failed', 'requires_attention'],
  // The next attempt, or the end: canceled, or failed once the attempt window is over.
  requires_payment_method: ['processing', 'canceled', 'failed', 'requires_attention'],
  succeeded: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  failed: [],
  canceled: [],
  refunded: [],
  // An operator resolves it outside the workflow (a manual void, refund or ledger correction).
  requires_attention: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A payment as it starts: `processing`, nothing moved. The workflow's first state. */
export function initialPaymentView(args: {
  paymentId: string;
  tenantId: string;
  workflowId: string;
  request: PaymentRequest;
  requestHash: string;
  connector: string;
  merchantReturnUrl?: string | undefined;
  now: Date;
}): PaymentView {
  const { request, now } = args;
  return {
    id: args.paymentId,
    tenantId: args.tenantId,
    workflowId: args.workflowId,
    orderId: request.orderId,
    customerId: request.customerId,
    amount: request.amount,
    currency: request.currency,
    status: 'processing',
    method: methodView(request.method),
    capture: request.capture,
    amountCaptured: 0,
    amountRefunded: 0,
    amountFromWallet: 0,
    amountFromCard: 0,
    description: request.description,
    metadata: request.metadata,
    ...(request.country ? { country: request.country } : {}),
    returnUrl: args.merchantReturnUrl,
    attempts: [
      {
        number: 1,
        method: methodView(request.method),
        status: 'processing',
        connector: args.connector,
        createdAt: now.toISOString(),
      },
    ],
    reference: paymentReference(args.paymentId, now),
    requestHash: args.requestHash,
    connector: args.connector,
    version: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

/**
 * What a payment's status says of its current attempt; undefined where the attempt keeps what it
 * was (an operator looks at a `requires_attention` payment; a refund does not undo the attempt).
 */
export function attemptStatusOf(status: PaymentStatus): AttemptStatus | undefined {
  switch (status) {
    case 'processing':
    case 'requires_action':
      return status;
    // Authorized: the attempt did its part, whatever the merchant decides next.
    case 'requires_capture':
    case 'succeeded':
      return 'succeeded';
    case 'requires_payment_method':
    case 'failed':
      return 'failed';
    case 'canceled':
      return 'canceled';
    case 'partially_refunded':
    case 'refunded':
    case 'requires_attention':
      return undefined;
    default:
      return assertNever(status, 'payment status');
  }
}

/** `PAY-20251103-dd961ae0`: the creation date (UTC) and the first eight hex digits of the id. */
export function paymentReference(paymentId: string, createdAt: Date): string {
  const day = createdAt.toISOString().slice(0, 10).replaceAll('-', '');
  const hex = paymentId.replace(/^pay_/, '').slice(0, 8);
  return `PAY-${day}-${hex}`;
}

/** The payment as outsiders see it: no request hash, no internal ids. */
export function publicPayment(view: PaymentView) {
  const {
    requestHash: _hash,
    workflowId: _wf,
    gatewayAuthorizationId: _auth,
    connector: _connector,
    version: _v,
    tenantId: _t,
    ...rest
  } = view;
  return rest;
}
