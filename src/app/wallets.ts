import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Executor } from '../db/client.js';
import {
  getWalletBalances,
  listWalletTransactions,
  type WalletBalance,
  type WalletTransaction,
} from '../db/wallets.js';
import { boundedWorkflowId, topUpWorkflowId } from '../domain/ids.js';
import { connectorAmountRefusal } from '../gateway/amount-rules.js';
import type { Currency } from '../domain/money.js';
import type { SavedCardUse } from '../domain/payment.js';
import type { PaymentMethodService } from './payment-methods.js';
import { TASK_QUEUE } from '../workflows/contract.js';
import { topUpWorkflow } from '../workflows/top-up.js';
import type { Config } from '../config.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { AppError } from './errors.js';
import { AUTO_TOP_UP_DAILY_TOP_UPS, type AutoTopUpBody } from './schemas.js';
import { deleteAutoTopUp, findAutoTopUp, upsertAutoTopUp, type AutoTopUpRecord } from '../db/auto-top-ups.js';
import { requireCustomer } from './customers.js';
import { MAX_AMOUNT_MINOR } from '../domain/money.js';
import type { TemporalGateway } from './temporal.js';

/** A card token, or a saved card (exactly one: the schema sees to it). */
export interface TopUpRequest {
  amount: number;
  currency: Currency;
  token?: string | undefined;
  method?:
    { type: 'saved'; paymentMethodId?: string | undefined; offSession?: boolean | undefined } | undefined;
}

export interface Wallet {
  customerId: string;
  balances: WalletBalance[];
}

/** A wallet in another currency is refused as invalid, never converted; an empty one takes any. */
export async function assertWalletHolds(
  db: Executor,
  tenantId: string,
  customerId: string,
  currency: Currency,
): Promise<void> {
  const balances = await getWalletBalances(db, tenantId, customerId);
  assertWalletCurrency(
    balances.map((b) => b.currency),
    currency,
  );
}

/** A wallet that holds other currencies (and not this one) is refused; an empty one takes any. */
export function assertWalletCurrency(held: readonly string[], currency: Currency): void {
  if (held.length > 0 && !held.includes(currency))
    throw new AppError(
      'invalid',
      'currency_mismatch',
      `the customer's wallet holds ${held.join(', ')}, not ${currency}`,
    );
}

export class WalletService {
  constructor(
    private readonly db: Executor,
    private readonly temporal: TemporalGateway,
    private readonly config: Pick<Config, 'syncWaitMs'>,
    /** The connector each tenant's top-ups go through. */
    private readonly connectors: Pick<ConnectorRegistry, 'connectorFor'>,
    /** Cards customers saved: what a top-up with a `saved` method charges. */
    private readonly savedMethods?: Pick<PaymentMethodService, 'resolve' | 'assertUsable'>,
  ) {}

  /**
   * The wallet tops itself up from a saved card when a payment would leave it short: one setting
   * per customer, replaced by the next PUT. The card must be the customer's and active, the
   * currency the wallet's.
   */
  async setAutoTopUp(tenantId: string, customerId: string, body: AutoTopUpBody): Promise<AutoTopUpRecord> {
    const dailyLimit = Math.min(body.dailyLimit ?? body.amount * AUTO_TOP_UP_DAILY_TOP_UPS, MAX_AMOUNT_MINOR);
    if (dailyLimit < body.amount)
      throw new AppError('invalid', 'daily_limit_too_low', 'dailyLimit must be at least amount');
    await requireCustomer(this.db, tenantId, customerId);
    if (!this.savedMethods)
      throw new AppError('invalid', 'payment_methods_not_supported', 'saved cards are not available here');
    await this.savedMethods.assertUsable(tenantId, customerId, body.paymentMethodId);
    await assertWalletHolds(this.db, tenantId, customerId, body.currency);
    const refusal = connectorAmountRefusal(
      this.connectors.connectorFor(tenantId),
      body.amount,
      body.currency,
    );
    if (refusal) throw new AppError('invalid', 'amount_not_supported', refusal);
    return upsertAutoTopUp(this.db, tenantId, { customerId, ...body, dailyLimit });
  }

  async getAutoTopUp(tenantId: string, customerId: string): Promise<AutoTopUpRecord> {
    const settings = await findAutoTopUp(this.db, tenantId, customerId);
    if (!settings)
      throw new AppError(
        'not_found',
        'auto_top_up_not_found',
        `customer ${customerId} has no automatic top-up`,
      );
    return settings;
  }

  async deleteAutoTopUp(
    tenantId: string,
    customerId: string,
  ): Promise<{ customerId: string; deleted: true }> {
    if (!(await deleteAutoTopUp(this.db, tenantId, customerId)))
      throw new AppError(
        'not_found',
        'auto_top_up_not_found',
        `customer ${customerId} has no automatic top-up`,
      );
    return { customerId, deleted: true };
  }

  /** The customer's balances, one per currency. */
  async get(tenantId: string, customerId: string): Promise<Wallet> {
    return { customerId, balances: await getWalletBalances(this.db, tenantId, customerId) };
  }

  /** The wallet's ledger transfers, newest first; the cursor is the last transfer's sequence. */
  async transactions(
    tenantId: string,
    customerId: string,
    query: { limit: number; cursor?: string | undefined },
  ): Promise<{ data: Omit<WalletTransaction, 'seq'>[]; nextCursor: string | null }> {
    const before = query.cursor === undefined ? undefined : Number(query.cursor);
    // Checked before the query: a cursor past the safe integers would reach PostgreSQL as 7.5e+20.
    if (before !== undefined && !Number.isSafeInteger(before))
      throw new AppError('invalid_request', 'invalid_cursor', 'cursor is not one this API returned');
    const rows = await listWalletTransactions(this.db, tenantId, customerId, { limit: query.limit, before });
    const last = rows.length === query.limit ? rows[rows.length - 1] : undefined;
    return {
      data: rows.map(({ seq: _seq, ...row }) => ({
        ...row,
        createdAt: new Date(row.createdAt).toISOString(),
      })),
      nextCursor: last ? String(last.seq) : null,
    };
  }

  /**
   * Tops the wallet up by card and answers with the wallet after it: runs
   * `topup:{tenant}:{customer}:{key}` to completion. The same key never charges twice: a running
   * top-up is joined, a finished one answers with its recorded result.
   */
  async topUp(tenantId: string, customerId: string, key: string, request: TopUpRequest): Promise<Wallet> {
    const workflowId = boundedWorkflowId(topUpWorkflowId(tenantId, customerId, key));
    // What the tenant's gateway cannot charge is refused as invalid before anything starts.
    const refusal = connectorAmountRefusal(
      this.connectors.connectorFor(tenantId),
      request.amount,
      request.currency,
    );
    if (refusal) throw new AppError('invalid', 'amount_not_supported', refusal);
    const card = await this.cardOf(tenantId, customerId, request);
    const deadline = Date.now() + this.config.syncWaitMs;
    try {
      await this.temporal.run(deadline, (client) =>
        client.workflow.start(topUpWorkflow, {
          workflowId,
          taskQueue: TASK_QUEUE,
          args: [
            {
              tenantId,
              customerId,
              amount: request.amount,
              currency: request.currency,
              ...card,
              connector: this.connectors.connectorFor(tenantId),
            },
          ],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      );
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    const result = await this.temporal.waitUntil(deadline, (client) =>
      client.workflow.getHandle<typeof topUpWorkflow>(workflowId).result(),
    );
    if (!result) {
      // Durable: it finishes once a worker runs it; the same Idempotency-Key joins it.
      throw new AppError(
        'unavailable',
        'top_up_processing',
        'the top-up has not finished yet; retry with the same Idempotency-Key for its outcome',
        { retryAfterSeconds: 2 },
      );
    }
    if (result.status === 'failed') {
      // Declined (402 over HTTP, as Stripe answers card errors): the request was valid, the card was not.
      throw new AppError('declined', result.failureCode, result.failureMessage);
    }
    return this.get(tenantId, customerId);
  }

  /** The card to charge: the token given, or the saved card named (or the customer's default). */
  private async cardOf(
    tenantId: string,
    customerId: string,
    request: TopUpRequest,
  ): Promise<{ token: string; saved?: SavedCardUse | undefined }> {
    if (request.token !== undefined || !request.method) return { token: request.token ?? '' };
    if (!this.savedMethods)
      throw new AppError('invalid', 'payment_methods_not_supported', 'saved cards are not available here');
    const method = await this.savedMethods.resolve(tenantId, customerId, request.method);
    if (method.type === 'wallet' || method.type === 'paypal')
      throw new Error('a saved card resolved to another method');
    return { token: method.token, saved: method.saved };
  }
}
