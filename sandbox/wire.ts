import type { Currency } from '../src/domain/money.js';

/**
 * The sandbox PSP's JSON vocabulary, as its API and webhooks send it. It is the PSP's own:
 * Paysaga's sandbox connector keeps its independent reading of these shapes
 * (src/gateway/connectors/sandbox/transformers.ts), as it would for any third-party PSP.
 */
export const AUTHORIZATION_STATUSES = [
  'requires_action',
  'authorized',
  'captured',
  'declined',
  'voided',
] as const;
export type AuthorizationStatus = (typeof AUTHORIZATION_STATUSES)[number];

export const DECLINE_CODES = [
  'card_declined',
  'insufficient_funds',
  'expired_card',
  'invalid_card',
  'fraud_suspected',
  'authentication_failed',
  /** A saved card charged off-session needs the customer to authenticate. */
  'authentication_required',
  'processing_error',
] as const;
export type DeclineCode = (typeof DECLINE_CODES)[number];

export const REFUND_STATUSES = ['succeeded', 'pending', 'failed'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** API error code answered when an authorization names a token the sandbox never issued. */
export const TOKEN_NOT_FOUND = 'token_not_found';

export interface WireCard {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface WireAuthorization {
  id: string;
  object: 'authorization';
  status: AuthorizationStatus;
  amount: number;
  amountCaptured: number;
  amountRefunded: number;
  currency: Currency;
  reference: string;
  capture: boolean;
  card: WireCard;
  actionUrl?: string;
  failureCode?: DeclineCode;
  failureMessage?: string;
  /** The card network's id of this transaction (customer-initiated ones start a chain). */
  networkTransactionId?: string;
  created: number;
}

/** A list answer, as `GET /authorizations?idempotency_key=` gives (at most one item there). */
export interface WireList<T> {
  object: 'list';
  data: T[];
}

export const PAYMENT_METHOD_STATUSES = ['active', 'requires_action', 'failed', 'detached'] as const;
export type PaymentMethodStatus = (typeof PAYMENT_METHOD_STATUSES)[number];

/** A card stored for later charges: its id is the token those authorizations name. */
export interface WirePaymentMethod {
  id: string;
  object: 'payment_method';
  status: PaymentMethodStatus;
  card: WireCard;
  reference: string;
  actionUrl?: string;
  networkTransactionId?: string;
  failureCode?: DeclineCode;
  failureMessage?: string;
  created: number;
}

export interface WireRefund {
  id: string;
  object: 'refund';
  authorizationId: string;
  status: RefundStatus;
  amount: number;
  reason?: string;
  failureMessage?: string;
  created: number;
}

export type WebhookPayload =
  | { type: 'authorization.updated'; data: { authorization: WireAuthorization; reference: string } }
  | { type: 'refund.updated'; data: { refund: WireRefund; reference: string } }
  | { type: 'payment_method.updated'; data: { paymentMethod: WirePaymentMethod; reference: string } };

export type RefundMode = 'succeed' | 'pending' | 'fail' | 'pending_fail';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ReferenceStats {
  authorizations: number;
  captures: number;
  voids: number;
  capturedAmount: number;
  refundedAmount: number;
}

export interface SandboxStats {
  /** Authorizations actually created (declines included), never replays. */
  charges: number;
  /** Captures performed, including sales captured at authorization and after 3-D Secure. */
  captures: number;
  voids: number;
  refunds: number;
  /** Cards stored (setups started), never replays. */
  paymentMethods: number;
  byReference: Record<string, ReferenceStats>;
}
