import type { Currency } from '../../domain/money.js';
import type {
  SandboxAuthorizationStatus,
  SandboxDeclineCode,
  SandboxRefundStatus,
} from '../sandbox-mapping.js';

/** The sandbox PSP's JSON shapes, as its API and webhooks send them. */
export interface WireCard {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface WireAuthorization {
  id: string;
  object: 'authorization';
  status: SandboxAuthorizationStatus;
  amount: number;
  amountCaptured: number;
  amountRefunded: number;
  currency: Currency;
  reference: string;
  capture: boolean;
  card: WireCard;
  actionUrl?: string;
  failureCode?: SandboxDeclineCode;
  failureMessage?: string;
  created: number;
}

export interface WireRefund {
  id: string;
  object: 'refund';
  authorizationId: string;
  status: SandboxRefundStatus;
  amount: number;
  reason?: string;
  failureMessage?: string;
  created: number;
}

export type WebhookPayload =
  | { type: 'authorization.updated'; data: { authorization: WireAuthorization; reference: string } }
  | { type: 'refund.updated'; data: { refund: WireRefund; reference: string } };

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
  byReference: Record<string, ReferenceStats>;
}
