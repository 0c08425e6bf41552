/**
 * The contract between the API and the worker: task queue, workflow inputs, and the messages a
 * payment workflow accepts. Both sides import this file; nothing here does I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { Currency } from '../domain/money.js';
import type { CheckoutSessionStatus, CheckoutSessionView } from '../domain/checkout.js';
import type {
  FailureCode,
  PaymentMethod,
  PaymentRequest,
  PaymentStatus,
  PaymentView,
  SavedCardUse,
} from '../domain/payment.js';
import {
  DEFAULT_REFUND_PENDING_WINDOW_MS,
  DEFAULT_TIMEOUTS,
  TASK_QUEUE,
  type PaymentTimeouts,
} from '../domain/defaults.js';
import type { RefundFailureCode, RefundView } from '../domain/refund.js';

// Defaults the configuration shares with this contract live in the domain (no Temporal import).
export { DEFAULT_REFUND_PENDING_WINDOW_MS, DEFAULT_TIMEOUTS, TASK_QUEUE, type PaymentTimeouts };

/**
 * The connector of payments and top-ups whose input names none: every one started before
 * connectors were recorded went through the sandbox.
 */
export const LEGACY_CONNECTOR = 'sandbox';

export interface PaymentWorkflowInput {
  paymentId: string;
  tenantId: string;
  request: PaymentRequest;
  /** Hash of the caller's parameters: a repeated request for the order must match it. */
  requestHash: string;
  timeouts: PaymentTimeouts;
  /** Where the gateway sends the customer after 3-D Secure (Paysaga's signed return page). */
  returnUrl?: string | undefined;
  /**
   * The merchant's page the return page sends the customer on to; kept out of `request`, since a
   * repeated request with another one is the same payment.
   */
  merchantReturnUrl?: string | undefined;
  /**
   * The gateway connector for every card call of this payment (the API sets its default).
   * Histories from before it was recorded have none: the workflow reads `LEGACY_CONNECTOR`.
   */
  connector: string;
  /**
   * The tenant's route for this payment: `connector` first, then the fallbacks a card moves to
   * when the one before fails on the gateway's side before money moved (src/gateway/routing.ts).
   * Absent (one connector, and every history from before routing): no failover.
   */
  connectors?: string[] | undefined;
  /** The checkout session this payment was made from: told when the payment ends. */
  checkoutSessionId?: string | undefined;
  /**
   * The customer paid on the connector's hosted page (a Stripe Checkout Session): this is the
   * charge it made, captured there. The payment records it instead of charging a card.
   */
  paidOnGateway?: { authorizationId: string } | undefined;
  /**
   * The tenant lets a payment declined for a reason the customer can fix stay open for another
   * attempt. Absent (single attempt, and every history from before attempts): the first decline
   * fails the payment.
   */
  attempts?: AttemptPolicy | undefined;
  /**
   * The customer's wallet tops itself up from a saved card (PUT /v1/wallets/{id}/auto-top-up): a
   * wallet payment asks first whether it needs to. Absent: no wallet top-up is tried.
   */
  autoTopUp?: boolean | undefined;
}

export interface AttemptPolicy {
  /** How long after its creation the payment accepts new attempts. */
  windowMs: number;
  /** Hash of the caller's parameters without the method: a new attempt must match it. */
  baseRequestHash: string;
}

/** Another try at paying an order whose last attempt was declined. */
export interface AttemptRequest {
  method: PaymentMethod;
  /** Hash of the whole request with this method: the payment's request hash from now on. */
  requestHash: string;
  /** Hash of the request without the method: must be the payment's. */
  baseRequestHash: string;
  /** The merchant's page after 3-D Secure from this attempt on; absent: the payment's stays. */
  returnUrl?: string | undefined;
  /** This attempt's route (as the payment's `connectors`); absent: the payment's connector alone. */
  connectors?: string[] | undefined;
}

export interface SettleRequest {
  requestHash: string;
}

export interface CaptureRequest {
  /** Omitted: capture everything authorized. */
  amount?: number | undefined;
}

export interface ActionResult {
  /** The gateway's authorization id the webhook is about. */
  authorizationId: string;
}

/** Used with update-with-start: returns the payment once it reaches a settled status. */
export const settledUpdate = defineUpdate<PaymentView, [SettleRequest]>('settled');
/** A new attempt; returns the payment once this attempt reaches a settled status. */
export const attemptUpdate = defineUpdate<PaymentView, [AttemptRequest]>('attempt');
export const captureUpdate = defineUpdate<PaymentView, [CaptureRequest]>('capture');
export const cancelUpdate = defineUpdate<PaymentView, []>('cancel');
/** 3-D Secure finished (a gateway webhook); the workflow re-reads the authorization from the gateway. */
export const completeActionUpdate = defineUpdate<PaymentView, [ActionResult]>('complete_action');
export const completeActionSignal = defineSignal<[ActionResult]>('complete_action_signal');
/** Cancel if the payment still may be (a checkout session that expired while its customer was away). */
export const cancelSignal = defineSignal<[]>('cancel_signal');
export const statusQuery = defineQuery<PaymentView>('status');

export const SearchAttributes = {
  TenantId: defineSearchAttributeKey('TenantId', 'KEYWORD'),
  OrderId: defineSearchAttributeKey('OrderId', 'KEYWORD'),
  CustomerId: defineSearchAttributeKey('CustomerId', 'KEYWORD'),
  PaymentStatus: defineSearchAttributeKey('PaymentStatus', 'KEYWORD'),
  AmountMinor: defineSearchAttributeKey('AmountMinor', 'INT'),
  Currency: defineSearchAttributeKey('Currency', 'KEYWORD'),
} as const;

/** `name=Type` pairs for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_FLAGS = [
  'TenantId=Keyword',
  'OrderId=Keyword',
  'CustomerId=Keyword',
  'PaymentStatus=Keyword',
  'AmountMinor=Int',
  'Currency=Keyword',
];

export interface TopUpWorkflowInput {
  tenantId: string;
  customerId: string;
  amount: number;
  currency: Currency;
  token: string;
  /** The gateway connector to charge through; missing in older histories (`LEGACY_CONNECTOR`). */
  connector?: string | undefined;
  /** `token` is a card the customer saved (the gateway's id of it). */
  saved?: SavedCardUse | undefined;
}

export type TopUpResult =
  | {
      status: 'succeeded';
      /** The card charge (absent in results from before it was returned). */
      authorizationId?: string | undefined;
    }
  | { status: 'failed'; failureCode: FailureCode; failureMessage: string };

export interface RefundWorkflowInput {
  refundId: string;
  tenantId: string;
  paymentId: string;
  /** Omitted: everything still refundable. */
  amount?: number | undefined;
  reason?: string | undefined;
  /** How long a gateway refund may stay pending before it is flagged requires_attention. */
  pendingWindowMs: number;
}

export type RefundOutcome =
  | { outcome: 'rejected'; code: RefundFailureCode; message: string }
  | { outcome: 'processed'; refund: RefundView };

export interface RefundSettlement {
  status: 'succeeded' | 'failed';
  failureMessage?: string | undefined;
}

/** The gateway finished a pending refund (a signed webhook). */
export const refundSettledSignal = defineSignal<[RefundSettlement]>('refund_settled');
export const refundStatusQuery = defineQuery<RefundView | undefined>('refund_status');

export interface CheckoutSessionWorkflowInput {
  tenantId: string;
  sessionId: string;
  orderId: string;
  expiresAt: string;
  /** The session's page on its connector (Stripe Checkout), which expires with it. */
  gateway?: { connector: string; sessionId: string } | undefined;
  /**
   * Write `checkout_session.created` (the session and its page's URL) first: for sessions an
   * integration profile opens, whose system learns the page's URL from that event alone. Absent:
   * the session's events are its end's only, as they always were.
   */
  announce?: boolean | undefined;
}

export interface CheckoutPaymentEnded {
  paymentId: string;
  status: PaymentStatus;
}

/** Sent by a payment made from a checkout session when it ends. */
export const checkoutPaymentSignal = defineSignal<[CheckoutPaymentEnded]>('checkout_payment_ended');
/** `POST /v1/checkout-sessions/{id}/expire`: answers the session once it is expired. */
export const expireCheckoutUpdate = defineUpdate<CheckoutSessionView, []>('expire_checkout');
export const checkoutStatusQuery = defineQuery<CheckoutSessionStatus>('checkout_status');
