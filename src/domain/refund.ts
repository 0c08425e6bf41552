import { assertNever } from './assert-never.js';
import type { Currency } from './money.js';
import type { PaymentStatus } from './payment.js';

export const REFUND_STATUSES = ['pending', 'requires_attention', 'succeeded', 'failed'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export const REFUND_FAILURE_CODES = [
  'amount_exceeds_refundable',
  'payment_not_captured',
  'refund_failed',
  'processing_error',
] as const;
export type RefundFailureCode = (typeof REFUND_FAILURE_CODES)[number];

export interface RefundView {
  id: string;
  tenantId: string;
  paymentId: string;
  workflowId: string;
  amount: number;
  /** How the amount is split: a wallet gets its part back in the ledger, a card through the gateway. */
  amountToWallet: number;
  amountToCard: number;
  currency: Currency;
  reason?: string | undefined;
  status: RefundStatus;
  failureCode?: RefundFailureCode | undefined;
  failureMessage?: string | undefined;
  createdAt: string;
  updatedAt: string;
}

/** A refund that has reached its outcome: nothing about it changes any more. */
export function isRefundSettled(status: RefundStatus): boolean {
  return status === 'succeeded' || status === 'failed';
}

export type RefundRefusal = {
  code: Extract<RefundFailureCode, 'amount_exceeds_refundable' | 'payment_not_captured'>;
  message: string;
};

/**
 * Why a payment in `status` takes no refund, if it takes none. A fully refunded payment was
 * captured: what a refund asks for exceeds what is left (also for the loser of two concurrent full
 * refunds, which finds the payment refunded); only a payment never captured is
 * `payment_not_captured`.
 */
export function refundRefusal(status: PaymentStatus): RefundRefusal | undefined {
  switch (status) {
    case 'succeeded':
    case 'partially_refunded':
      return undefined;
    case 'refunded':
      return { code: 'amount_exceeds_refundable', message: 'the payment is already fully refunded' };
    case 'processing':
    case 'requires_action':
    case 'requires_capture':
    case 'requires_payment_method':
    case 'failed':
    case 'canceled':
    case 'requires_attention':
      return { code: 'payment_not_captured', message: `a ${status} payment cannot be refunded` };
    default:
      return assertNever(status, 'payment status');
  }
}

/**
 * Splits a refund between the payment's sources: the wallet part first (what was captured from
 * the wallet and not yet refunded), the card for the rest. Mirrors the capture, which also
 * takes the wallet first.
 */
export function allocateRefund(
  amount: number,
  captured: { wallet: number; card: number },
  reserved: { wallet: number; card: number },
): { toWallet: number; toCard: number } | undefined {
  const walletRoom = Math.max(0, captured.wallet - reserved.wallet);
  const cardRoom = Math.max(0, captured.card - reserved.card);
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > walletRoom + cardRoom) return undefined;
  const toWallet = Math.min(amount, walletRoom);
  return { toWallet, toCard: amount - toWallet };
}

/** The refund as outsiders see it: no tenant, no workflow id. */
export function publicRefund(refund: RefundView) {
  const { tenantId: _t, workflowId: _w, ...rest } = refund;
  return rest;
}
