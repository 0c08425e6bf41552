import { ApplicationFailure } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import { systemAccountId, walletAccountId, type SystemAccount } from '../domain/accounts.js';
import { ErrorType } from '../domain/errors.js';
import type { Currency } from '../domain/money.js';
import type { PaymentStatus, PaymentView } from '../domain/payment.js';
import type { Executor } from '../db/client.js';
import {
  cachedHoldAndPost,
  createTransfer,
  ensureAccounts,
  LedgerError,
  type AccountSpec,
  type TransferInput,
} from '../db/ledger.js';
import {
  claimOf,
  earlierRunGuard,
  earlierRunPayment,
  paymentWrites,
  paymentWriteSlots,
  paymentWriteValues,
  writePayment,
  type PaymentClaim,
} from '../db/payments.js';
import { noteRecorded, noteYielded, paymentEvent, type RecordNotes } from './payments.js';

/** A wallet payment's one statement (its hold and posting, its row and both events), built once. */
const holdAndPostPayment = cachedHoldAndPost((db, slots) => paymentWriteSlots(db, slots, 2), earlierRunGuard);

export interface WalletHoldInput {
  transferId: string;
  tenantId: string;
  customerId: string;
  currency: Currency;
  amount: number;
  /** Split payments hold what the wallet has, up to `amount`. */
  upToAvailable?: boolean;
}

export interface SettleHoldInput {
  transferId: string;
  tenantId: string;
  pendingId: string;
  amount?: number | undefined;
}

export interface WalletCreditInput {
  transferId: string;
  tenantId: string;
  customerId: string;
  currency: Currency;
  amount: number;
  from: SystemAccount;
  description?: string;
}

export interface SystemTransferInput {
  transferId: string;
  tenantId: string;
  currency: Currency;
  amount: number;
  from: SystemAccount;
  to: SystemAccount;
  description?: string;
}

/**
 * A card charge captured at a sale, recorded at once: the money from gateway clearing to the
 * merchant's revenue and the payment's `succeeded` state (with its event) in one statement.
 */
export interface CardSettlementInput {
  transferId: string;
  amount: number;
  succeeded: PaymentView;
  /** The status the payment leaves (for the payments counter). */
  previousStatus: PaymentStatus;
}

/**
 * A wallet payment captured at once: the hold, its posting and the payment's states (`created`,
 * then `succeeded`, with their events) are written in one transaction, so the money moves exactly
 * when the payment says it did, and the ledger shows the same two-phase transfers as a payment
 * captured later.
 */
export interface WalletPaymentInput {
  holdId: string;
  postId: string;
  created: PaymentView;
  succeeded: PaymentView;
}

export interface WalletDebitInput {
  transferId: string;
  tenantId: string;
  customerId: string;
  currency: Currency;
  amount: number;
  to: SystemAccount;
  description?: string | undefined;
}

export function createLedgerActivities(db: Executor, notes: RecordNotes = {}) {
  // Accounts never disappear, so one successful ensure per process is enough.
  const ensured = new Set<string>();
  async function ensure(accounts: AccountSpec[]) {
    const missing = accounts.filter((a) => !ensured.has(a.id));
    if (missing.length === 0) return;
    await ensureAccounts(db, missing);
    for (const a of missing) ensured.add(a.id);
  }
  const wallet = (tenantId: string, customerId: string, currency: Currency): AccountSpec => ({
    id: walletAccountId(tenantId, customerId, currency),
    tenantId,
    kind: 'wallet',
    customerId,
    code: 'wallet',
    currency,
  });
  const system = (tenantId: string, name: SystemAccount, currency: Currency): AccountSpec => ({
    id: systemAccountId(tenantId, name, currency),
    tenantId,
    kind: 'system',
    code: name,
    currency,
  });

  async function transfer(input: TransferInput, alongside: Parameters<typeof createTransfer>[2] = []) {
    try {
      return await createTransfer(db, input, alongside);
    } catch (error) {
      throw toFailure(error);
    }
  }

  /** A single posted transfer between two accounts, created on first use. */
  async function post(
    from: AccountSpec,
    to: AccountSpec,
    input: {
      transferId: string;
      tenantId: string;
      amount: number;
      currency: Currency;
      description?: string | undefined;
    },
  ) {
    await ensure([from, to]);
    await transfer({
      kind: 'single',
      id: input.transferId,
      tenantId: input.tenantId,
      debitAccountId: from.id,
      creditAccountId: to.id,
      amount: input.amount,
      currency: input.currency,
      description: input.description,
    });
  }

  return {
    /** Reserves wallet funds for a payment (pending transfer to merchant revenue). */
    async holdWallet(input: WalletHoldInput): Promise<{ held: number }> {
      const from = wallet(input.tenantId, input.customerId, input.currency);
      const to = system(input.tenantId, 'merchant_revenue', input.currency);
      await ensure([from, to]);
      const { transfer: t } = await transfer({
        kind: 'pending',
        id: input.transferId,
        tenantId: input.tenantId,
        debitAccountId: from.id,
        creditAccountId: to.id,
        amount: input.amount,
        currency: input.currency,
        upToAvailable: input.upToAvailable,
        description: 'payment hold',
      });
      return { held: t.amount };
    },

    /**
     * Moves nothing, and returns the stored payment, when an earlier run of the order (whose
     * workflow Temporal has since deleted) wrote one: the ledger's transfer ids would not stop
     * this run from paying an order that earlier run failed. The statement itself refuses to
     * write then (`earlierRunGuard`), so the earlier run's payment is read only after a refusal.
     */
    async payFromWallet({ holdId, postId, created, succeeded }: WalletPaymentInput): Promise<PaymentClaim> {
      const { tenantId, customerId, currency, amount } = succeeded;
      const from = wallet(tenantId, customerId, currency);
      const to = system(tenantId, 'merchant_revenue', currency);
      const events = [paymentEvent(created, 'payment.created'), paymentEvent(succeeded, 'payment.succeeded')];
      // One statement: the hold, its posting, the balances, the payment row and its events.
      const pay = () =>
        holdAndPostPayment(
          db,
          {
            holdId,
            postId,
            tenantId,
            debitAccountId: from.id,
            creditAccountId: to.id,
            amount,
            currency,
            description: 'payment hold',
          },
          paymentWriteValues(succeeded, events),
        );
      let replayed: boolean;
      try {
        // The accounts are created only when the statement finds one missing (it then changed
        // nothing): a wallet with money in it exists, so a payment is one round trip, not two.
        ({ replayed } = await pay().catch(async (error: unknown) => {
          if (!(error instanceof LedgerError && error.code === 'account_not_found')) throw error;
          await ensure([from, to]);
          return pay();
        }));
      } catch (error) {
        // Nothing was written. An earlier run's payment comes before any other refusal (the
        // statement may report another one first, an overdraft for instance).
        const earlier = await earlierRunPayment(db, created);
        if (earlier) return noteYielded(notes, created.id, claimOf(earlier));
        throw toFailure(error);
      }
      if (replayed) {
        // The transfers' ids were taken by the same transfers: this run's first attempt, or an
        // earlier run that paid the order with them (its payment stays as it is).
        const earlier = await earlierRunPayment(db, created);
        if (earlier) return noteYielded(notes, created.id, claimOf(earlier));
        // A retry after the first attempt committed: the payment was written with the money;
        // writing it again (version-guarded, events by id) changes nothing unless it had not been.
        await writePayment(db, succeeded, events).catch((error: unknown) => {
          throw toFailure(error);
        });
      }
      noteRecorded(notes, { view: created, eventType: 'payment.created' });
      noteRecorded(notes, {
        view: succeeded,
        eventType: 'payment.succeeded',
        previousStatus: created.status,
      });
      return { claimed: true };
    },

    async settleCardPayment({
      transferId,
      amount,
      succeeded,
      previousStatus,
    }: CardSettlementInput): Promise<void> {
      const { tenantId, currency } = succeeded;
      const from = system(tenantId, 'gateway_clearing', currency);
      const to = system(tenantId, 'merchant_revenue', currency);
      await ensure([from, to]);
      await transfer(
        {
          kind: 'single',
          id: transferId,
          tenantId,
          debitAccountId: from.id,
          creditAccountId: to.id,
          amount,
          currency,
          description: 'card payment captured',
        },
        paymentWrites(db, succeeded, [paymentEvent(succeeded, 'payment.succeeded')]),
      );
      noteRecorded(notes, { view: succeeded, eventType: 'payment.succeeded', previousStatus });
    },

    async postWalletHold(input: SettleHoldInput): Promise<void> {
      await transfer({
        kind: 'post',
        id: input.transferId,
        tenantId: input.tenantId,
        pendingId: input.pendingId,
        amount: input.amount,
      });
    },

    async voidWalletHold(input: SettleHoldInput): Promise<void> {
      await transfer({
        kind: 'void',
        id: input.transferId,
        tenantId: input.tenantId,
        pendingId: input.pendingId,
      });
    },

    async creditWallet(input: WalletCreditInput): Promise<void> {
      const from = system(input.tenantId, input.from, input.currency);
      const to = wallet(input.tenantId, input.customerId, input.currency);
      await post(from, to, { ...input, description: input.description ?? 'wallet credit' });
    },

    /** Takes money back out of a wallet (an automatic top-up undone); refused if it was spent. */
    async debitWallet(input: WalletDebitInput): Promise<void> {
      const from = wallet(input.tenantId, input.customerId, input.currency);
      const to = system(input.tenantId, input.to, input.currency);
      await post(from, to, { ...input, description: input.description ?? 'wallet debit' });
    },

    /** Money between two system accounts, e.g. a captured card charge into merchant revenue. */
    async systemTransfer(input: SystemTransferInput): Promise<void> {
      const from = system(input.tenantId, input.from, input.currency);
      const to = system(input.tenantId, input.to, input.currency);
      await post(from, to, input);
    },
  };
}

/** Ledger refusals are business outcomes: non-retryable, with a stable type for the workflow. */
function toFailure(error: unknown): unknown {
  if (!(error instanceof LedgerError)) return error;
  const type =
    error.code === 'insufficient_funds'
      ? ErrorType.InsufficientFunds
      : error.code === 'currency_mismatch'
        ? ErrorType.CurrencyMismatch
        : ErrorType.LedgerConflict;
  return ApplicationFailure.create({
    type,
    message: error.message,
    nonRetryable: true,
    details: [error.code],
    // A refusal such as insufficient funds is an expected outcome: logged at DEBUG, not as a WARN stack.
    category: ApplicationFailureCategory.BENIGN,
  });
}
