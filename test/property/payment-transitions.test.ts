import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canTransition,
  isSettled,
  isTerminal,
  PAYMENT_STATUSES,
  paymentReference,
  type PaymentStatus,
} from '../../src/domain/payment.js';
import { allocateRefund } from '../../src/domain/refund.js';

const status = fc.constantFrom(...PAYMENT_STATUSES);
const REFUND_STATUSES: readonly PaymentStatus[] = ['partially_refunded', 'refunded'];
const CLOSED: readonly PaymentStatus[] = ['failed', 'canceled', 'refunded'];
const next = (from: PaymentStatus) => PAYMENT_STATUSES.filter((to) => canTransition(from, to));
const RUNS = { numRuns: 300 };

describe('payment transition table (property)', () => {
  it('a terminal status moves only to a refund status', () => {
    fc.assert(
      fc.property(status, status, (from, to) => {
        if (isTerminal(from) && canTransition(from, to)) expect(REFUND_STATUSES).toContain(to);
      }),
      RUNS,
    );
  });

  it('nothing leaves failed, canceled or refunded', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CLOSED), status, (from, to) => {
        expect(canTransition(from, to)).toBe(false);
      }),
      RUNS,
    );
  });

  it('refund statuses are reached only from a succeeded or partially refunded payment', () => {
    fc.assert(
      fc.property(status, fc.constantFrom(...REFUND_STATUSES), (from, to) => {
        if (canTransition(from, to)) expect(['succeeded', 'partially_refunded']).toContain(from);
      }),
      RUNS,
    );
  });

  it('terminal implies settled, and only processing is unsettled', () => {
    fc.assert(
      fc.property(status, (s) => {
        if (isTerminal(s)) expect(isSettled(s)).toBe(true);
        expect(isSettled(s)).toBe(s !== 'processing');
      }),
      RUNS,
    );
  });

  it('no status moves back to processing once terminal, and terminal is closed under transitions', () => {
    fc.assert(
      fc.property(status, status, (from, to) => {
        if (isTerminal(from) && canTransition(from, to)) expect(isTerminal(to)).toBe(true);
        if (canTransition(from, to) && to === 'processing') expect(isTerminal(from)).toBe(false);
      }),
      RUNS,
    );
  });

  it('every random walk from processing ends terminal, and can always still reach a terminal status', () => {
    // From every status on the walk, some terminal status stays reachable (no non-terminal trap).
    const reachesTerminal = (from: PaymentStatus): boolean => {
      const seen = new Set<PaymentStatus>([from]);
      const queue = [from];
      while (queue.length > 0) {
        const s = queue.shift()!;
        if (isTerminal(s)) return true;
        for (const to of next(s)) {
          if (seen.has(to)) continue;
          seen.add(to);
          queue.push(to);
        }
      }
      return false;
    };
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (choices) => {
        let current: PaymentStatus = 'processing';
        let wasTerminal = false;
        for (const choice of choices) {
          expect(reachesTerminal(current)).toBe(true);
          const options = next(current);
          if (options.length === 0) break;
          current = options[choice % options.length]!;
          if (wasTerminal) expect(isTerminal(current)).toBe(true);
          wasTerminal ||= isTerminal(current);
        }
        // A dead end is always terminal: a walk can stop only where the payment is finished.
        if (next(current).length === 0) expect(isTerminal(current)).toBe(true);
      }),
      RUNS,
    );
  });

  it('allocateRefund splits a refund in integers within what each source has left', () => {
    const n = fc.nat({ max: 1_000_000 });
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 2_000_000 }), n, n, n, n, (amount, cw, cc, rw, rc) => {
        const split = allocateRefund(amount, { wallet: cw, card: cc }, { wallet: rw, card: rc });
        const walletRoom = Math.max(0, cw - rw);
        const cardRoom = Math.max(0, cc - rc);
        if (amount <= 0 || amount > walletRoom + cardRoom) {
          expect(split).toBeUndefined();
          return;
        }
        expect(split).toBeDefined();
        expect(split!.toWallet + split!.toCard).toBe(amount);
        expect(split!.toWallet).toBeGreaterThanOrEqual(0);
        expect(split!.toCard).toBeGreaterThanOrEqual(0);
        expect(split!.toWallet).toBeLessThanOrEqual(walletRoom);
        expect(split!.toCard).toBeLessThanOrEqual(cardRoom);
      }),
      RUNS,
    );
  });

  it('references read PAY-<UTC day>-<first eight hex digits of the id>', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9a-f]{8,32}$/),
        fc.date({
          min: new Date('2000-01-01T00:00:00Z'),
          max: new Date('2099-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (hex, date) => {
          const reference = paymentReference(`pay_${hex}`, date);
          const day = `${date.getUTCFullYear()}${String(date.getUTCMonth() + 1).padStart(2, '0')}${String(date.getUTCDate()).padStart(2, '0')}`;
          expect(reference).toBe(`PAY-${day}-${hex.slice(0, 8)}`);
        },
      ),
      RUNS,
    );
  });
});
