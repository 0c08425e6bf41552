/**
 * Payment links: one reusable URL for a fixed amount, shared with anyone (a post, a QR code, an
 * e-mail). Each visit opens a new checkout session for a new order of a guest customer; the link
 * itself is not a credential (it is meant to be public), the sessions it opens are.
 */
import type { CheckoutMethod } from './checkout.js';
import type { Currency } from './money.js';

/** `plink_` and 32 hex digits. */
export const PAYMENT_LINK_ID = /^plink_[0-9a-f]{32}$/;

/**
 * How long each session a link opens stays open: 30 min by default (Stripe's, long enough to
 * type a card), within a checkout session's bounds.
 */
export const PAYMENT_LINK_SESSION_EXPIRY_DEFAULT_SECONDS = 1800;

/** A visitor is anonymous and has no wallet: links take cards unless told otherwise. */
export const PAYMENT_LINK_DEFAULT_METHODS: readonly CheckoutMethod[] = ['card'];

export interface PaymentLinkView {
  id: string;
  tenantId: string;
  amount: number;
  currency: Currency;
  description?: string | undefined;
  successUrl: string;
  cancelUrl: string;
  allowedMethods: CheckoutMethod[];
  /** The lifetime of each session the link opens. */
  expiresInSeconds: number;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

export function paymentLinkUrl(publicUrl: string, linkId: string): string {
  return `${publicUrl}/l/${linkId}`;
}

/** The link as the API shows it: without the tenant, with its URL. */
export function publicPaymentLink(view: PaymentLinkView, publicUrl: string) {
  const { tenantId: _tenant, ...rest } = view;
  return { ...rest, url: paymentLinkUrl(publicUrl, view.id) };
}
