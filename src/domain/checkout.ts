/**
 * Checkout sessions: a hosted page where a customer pays for one order. The session id is the
 * capability in the page's URL, so it is long and random; the session lives as a workflow with a
 * timer to its expiry.
 */
import type { Currency } from './money.js';

export const CHECKOUT_SESSION_STATUSES = ['open', 'complete', 'expired'] as const;
export type CheckoutSessionStatus = (typeof CHECKOUT_SESSION_STATUSES)[number];

export const CHECKOUT_METHODS = ['card', 'wallet', 'paypal'] as const;
export type CheckoutMethod = (typeof CHECKOUT_METHODS)[number];

/**
 * How long a session stays open: 24 h by default and at most (as Stripe's), at least a minute
 * (shorter than Stripe's 30 min: a ride is paid for while the rider waits).
 */
export const CHECKOUT_EXPIRY_SECONDS = { min: 60, max: 86_400, default: 86_400 } as const;

export const CHECKOUT_EVENT_TYPES = [
  'checkout_session.created',
  'checkout_session.completed',
  'checkout_session.expired',
] as const;
export type CheckoutEventType = (typeof CHECKOUT_EVENT_TYPES)[number];

const CHECKOUT_PREFIX = 'checkout';

export function checkoutWorkflowId(tenantId: string, sessionId: string): string {
  return `${CHECKOUT_PREFIX}:${tenantId}:${sessionId}`;
}

/** The subject of a session's events (as the outbox writes it). */
export const checkoutSubject = (sessionId: string) => `checkout_sessions/${sessionId}`;

/** `cs_` and 32 hex digits: 128 random bits, the page's only credential. */
export const CHECKOUT_SESSION_ID = /^cs_[0-9a-f]{32}$/;

export interface CheckoutSessionView {
  id: string;
  tenantId: string;
  orderId: string;
  customerId: string;
  amount: number;
  currency: Currency;
  description?: string | undefined;
  successUrl: string;
  cancelUrl: string;
  allowedMethods: CheckoutMethod[];
  status: CheckoutSessionStatus;
  /** The payment that completed the session (set when it is `complete`). */
  paymentId?: string | undefined;
  /** The payment link whose visit opened the session, if one did. */
  paymentLinkId?: string | undefined;
  /** Set when the customer pays on the connector's own hosted page (Stripe Checkout). */
  gateway?: CheckoutGatewaySession | undefined;
  expiresAt: string;
  completedAt?: string | undefined;
  expiredAt?: string | undefined;
  createdAt: string;
  updatedAt: string;
}

/** A session's page on its connector: the connector's id for it and its URL. */
export interface CheckoutGatewaySession {
  connector: string;
  sessionId: string;
  url: string;
}

/**
 * The session as the API shows it: without the tenant; its `url` is the connector's page when it
 * has one, with that session's id as `gatewaySessionId`.
 */
export function publicCheckoutSession(view: CheckoutSessionView, publicUrl: string) {
  const { tenantId: _tenant, gateway, ...rest } = view;
  return {
    ...rest,
    url: gateway?.url ?? checkoutUrl(publicUrl, view.id),
    ...(gateway ? { connector: gateway.connector, gatewaySessionId: gateway.sessionId } : {}),
  };
}

export function checkoutUrl(publicUrl: string, sessionId: string): string {
  return `${publicUrl}/checkout/${sessionId}`;
}

/** `successUrl` with `session_id` added to its query, as Stripe's `{CHECKOUT_SESSION_ID}` does. */
export function successRedirect(successUrl: string, sessionId: string): string {
  const url = new URL(successUrl);
  url.searchParams.set('session_id', sessionId);
  return url.toString();
}
