import { findAutoTopUp, reserveAutoTopUpRun, settleAutoTopUpRun } from '../db/auto-top-ups.js';
import type { Executor } from '../db/client.js';
import { findPaymentMethod, savedCardUse } from '../db/payment-methods.js';
import { getWalletBalances } from '../db/wallets.js';
import type { Currency } from '../domain/money.js';
import type { SavedCardUse } from '../domain/payment.js';

export interface AutoTopUpQuestion {
  tenantId: string;
  customerId: string;
  paymentId: string;
  currency: Currency;
  /** What the payment takes from the wallet. */
  amount: number;
  /** The workflow's UTC day (`2026-12-05`): the day whose limit the top-up counts against. */
  day: string;
}

/** What the payment does about its wallet before it pays: nothing, a top-up, or a refused one. */
export type AutoTopUpPlan =
  | { kind: 'none' }
  | {
      kind: 'top_up';
      amount: number;
      paymentMethodId: string;
      connector: string;
      token: string;
      saved: SavedCardUse;
    }
  | {
      kind: 'refused';
      amount: number;
      paymentMethodId: string;
      reason: AutoTopUpRefusal;
      message: string;
    };

/** Why a wallet was not topped up (a top-up the card declined says `declined` and its code). */
export type AutoTopUpRefusal = 'daily_limit_reached' | 'would_not_cover' | 'payment_method_unusable';

/**
 * A wallet's automatic top-up, as a payment from it asks: needed when the payment would not be
 * covered, or would leave less than the threshold; refused (an event says why) when the saved
 * card cannot be used, the top-up would still not cover the payment, or the day's limit is
 * reached. A top-up granted is reserved against the day's limit, once per payment.
 */
export function createAutoTopUpActivities(db: Executor) {
  return {
    async planAutoTopUp(question: AutoTopUpQuestion): Promise<AutoTopUpPlan> {
      const { tenantId, customerId, currency } = question;
      const settings = await findAutoTopUp(db, tenantId, customerId);
      if (!settings || settings.currency !== currency) return { kind: 'none' };
      const balance = (await getWalletBalances(db, tenantId, customerId)).find(
        (b) => b.currency === currency,
      );
      const available = Number(balance?.available ?? 0);
      const after = available - question.amount;
      if (after >= settings.threshold) return { kind: 'none' };
      const { amount, paymentMethodId } = settings;
      const refused = (reason: AutoTopUpRefusal, message: string): AutoTopUpPlan => ({
        kind: 'refused',
        amount,
        paymentMethodId,
        reason,
        message,
      });
      if (after + amount < 0)
        return refused('would_not_cover', `a top-up of ${amount} would not cover the payment`);
      const method = await findPaymentMethod(db, tenantId, paymentMethodId);
      if (!method || method.status !== 'active' || !method.card || method.customerId !== customerId)
        return refused(
          'payment_method_unusable',
          `the saved card ${paymentMethodId} can no longer be charged`,
        );
      const reservation = await reserveAutoTopUpRun(db, {
        ...question,
        amount,
        dailyLimit: settings.dailyLimit,
      });
      // An earlier run of this order topped the wallet up already: once per payment.
      if (reservation === 'done') return { kind: 'none' };
      if (reservation === 'limit')
        return refused(
          'daily_limit_reached',
          `the wallet's daily top-up limit of ${settings.dailyLimit} is reached`,
        );
      return {
        kind: 'top_up',
        amount,
        paymentMethodId,
        connector: method.connector,
        token: method.gatewayMethodId,
        // Nobody is asked: the wallet tops itself up as the payment runs.
        saved: savedCardUse(method, method.card, true),
      };
    },

    async settleAutoTopUp(input: {
      tenantId: string;
      paymentId: string;
      status: 'succeeded' | 'failed' | 'reversed';
    }): Promise<void> {
      await settleAutoTopUpRun(db, input.tenantId, input.paymentId, input.status);
    },
  };
}
