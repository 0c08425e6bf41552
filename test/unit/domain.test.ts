import { describe, expect, it } from 'vitest';
import { formatMinor } from '../../src/domain/money.js';
import {
  attemptStatusOf,
  canTransition,
  CUSTOMER_FIXABLE_FAILURES,
  FAILURE_CODES,
  isSettled,
  isTerminal,
  PAYMENT_STATUSES,
  paymentReference,
} from '../../src/domain/payment.js';
import { createHash } from 'node:crypto';
import { sha256Hex } from '../../src/domain/sha256.js';
import {
  boundedWorkflowId,
  MAX_WORKFLOW_ID_LENGTH,
  parsePaymentWorkflowId,
  paymentWorkflowId,
  refundWorkflowId,
  transferId,
} from '../../src/domain/ids.js';
import { canonicalJson } from '../../src/hash.js';
import { allocateRefund } from '../../src/domain/refund.js';

describe('money', () => {
  it('knows zero- and three-decimal currencies', () => {
    expect(formatMinor(2500, 'USD')).toBe('25.00 USD');
    expect(formatMinor(2500, 'JPY')).toBe('2500 JPY');
    expect(formatMinor(2500, 'KWD')).toBe('2.500 KWD');
    expect(formatMinor(5, 'EUR')).toBe('0.05 EUR');
    expect(formatMinor(-5, 'BHD')).toBe('-0.005 BHD');
  });
});

describe('payment status rules', () => {
  it('settles on every status but processing', () => {
    expect(PAYMENT_STATUSES.filter((s) => !isSettled(s))).toEqual(['processing']);
  });

  it('treats only finished payments as terminal', () => {
    expect(PAYMENT_STATUSES.filter((s) => !isTerminal(s))).toEqual([
      'processing',
      'requires_action',
      'requires_capture',
      'requires_payment_method',
    ]);
  });

  it('keeps a declined payment open for the next attempt, a cancel or the end of its window', () => {
    for (const from of ['processing', 'requires_action'] as const)
      expect(canTransition(from, 'requires_payment_method')).toBe(true);
    for (const to of ['processing', 'canceled', 'failed'] as const)
      expect(canTransition('requires_payment_method', to)).toBe(true);
    // Never straight to paid: a new attempt runs first.
    expect(canTransition('requires_payment_method', 'succeeded')).toBe(false);
    expect(canTransition('failed', 'requires_payment_method')).toBe(false);
    expect(canTransition('succeeded', 'requires_payment_method')).toBe(false);
  });

  it('reopens only for declines the customer can fix', () => {
    expect(FAILURE_CODES.filter((code) => !CUSTOMER_FIXABLE_FAILURES.includes(code))).toEqual([
      'fraud_suspected',
      'processing_error',
    ]);
  });

  it("maps the payment's status to its current attempt's", () => {
    expect(attemptStatusOf('requires_payment_method')).toBe('failed');
    expect(attemptStatusOf('requires_capture')).toBe('succeeded');
    expect(attemptStatusOf('requires_action')).toBe('requires_action');
    expect(attemptStatusOf('refunded')).toBeUndefined();
  });

  it('allows refunds only after success and nothing after failure', () => {
    expect(canTransition('succeeded', 'partially_refunded')).toBe(true);
    expect(canTransition('failed', 'succeeded')).toBe(false);
    expect(canTransition('canceled', 'processing')).toBe(false);
    expect(canTransition('refunded', 'partially_refunded')).toBe(false);
    expect(canTransition('requires_capture', 'succeeded')).toBe(true);
  });

  it('builds references like PAY-20251103-dd961ae0', () => {
    expect(paymentReference('pay_dd961ae0ffff', new Date('2025-11-03T23:59:00Z'))).toBe(
      'PAY-20251103-dd961ae0',
    );
  });
});

describe('ids', () => {
  it('round-trips payment workflow ids, including order ids with colons', () => {
    const id = paymentWorkflowId('acme', 'ord:1:2');
    expect(id).toBe('payment:acme:ord:1:2');
    expect(parsePaymentWorkflowId(id)).toEqual({ tenantId: 'acme', orderId: 'ord:1:2' });
    expect(parsePaymentWorkflowId('refund:acme:x')).toBeUndefined();
  });

  it('keeps every workflow id that fits SQL persistence, and bounds a longer one by its hash', () => {
    const fits = paymentWorkflowId('acme', 'o'.repeat(MAX_WORKFLOW_ID_LENGTH - 'payment:acme:'.length));
    expect(boundedWorkflowId(fits)).toBe(fits);
    const long = refundWorkflowId('acme', 'pay_0123456789abcdef01234567', 'k'.repeat(255));
    const bounded = boundedWorkflowId(long);
    expect(bounded).toHaveLength(MAX_WORKFLOW_ID_LENGTH);
    expect(bounded.startsWith('refund:acme:pay_0123456789abcdef01234567:kkk')).toBe(true);
    expect(bounded.endsWith(`~${createHash('sha256').update(long).digest('hex')}`)).toBe(true);
    // Another key of the same length and prefix is another workflow.
    expect(boundedWorkflowId(`${long.slice(0, -1)}j`)).not.toBe(bounded);
    expect(boundedWorkflowId(long)).toBe(bounded);
    // A bounded payment id no longer names its order: the logs do not guess it.
    expect(
      parsePaymentWorkflowId(boundedWorkflowId(paymentWorkflowId('t'.repeat(80), 'o'.repeat(200)))),
    ).toBeUndefined();
  });

  it("the workflows' own SHA-256 is SHA-256", () => {
    for (const text of [
      '',
      'abc',
      'a'.repeat(55),
      'a'.repeat(56),
      'a'.repeat(64),
      'é€😀'.repeat(40),
      'x'.repeat(1000),
    ])
      expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('derives refund and transfer ids deterministically', () => {
    expect(refundWorkflowId('t', 'pay_1', 'k')).toBe('refund:t:pay_1:k');
    expect(transferId('payment:t:o', 'wallet-hold')).toBe('payment:t:o#wallet-hold');
  });
});

describe('canonical JSON', () => {
  it('ignores key order and undefined values', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: undefined } })).toBe(
      canonicalJson({ a: { d: [1, 2] }, b: 1 }),
    );
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});

describe('refund allocation', () => {
  it('takes the wallet part first, then the card', () => {
    expect(allocateRefund(500, { wallet: 300, card: 700 }, { wallet: 0, card: 0 })).toEqual({
      toWallet: 300,
      toCard: 200,
    });
    expect(allocateRefund(500, { wallet: 300, card: 700 }, { wallet: 300, card: 0 })).toEqual({
      toWallet: 0,
      toCard: 500,
    });
  });

  it('refuses more than is left, zero and fractions', () => {
    expect(allocateRefund(801, { wallet: 300, card: 700 }, { wallet: 0, card: 200 })).toBeUndefined();
    expect(allocateRefund(0, { wallet: 300, card: 700 }, { wallet: 0, card: 0 })).toBeUndefined();
    expect(allocateRefund(1.5, { wallet: 300, card: 700 }, { wallet: 0, card: 0 })).toBeUndefined();
  });
});
