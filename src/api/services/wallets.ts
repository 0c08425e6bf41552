import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Executor } from '../../db/client.js';
import {
  getWalletBalances,
  listWalletTransactions,
  type WalletBalance,
  type WalletTransaction,
} from '../../db/wallets.js';
import { topUpWorkflowId } from '../../domain/ids.js';
import type { Currency } from '../../domain/money.js';
import { TASK_QUEUE, type TopUpResult } from '../../workflows/contract.js';
import { topUpWorkflow } from '../../workflows/top-up.js';
import { connectorOf, type Config } from '../../config.js';
import { TemporalGateway, type TemporalCall } from '../../app/temporal.js';
import { ProblemError } from '../problem.js';
import { withTimeout } from '../../app/with-timeout.js';

export interface TopUpRequest {
  amount: number;
  currency: Currency;
  token: string;
}

export interface Wallet {
  customerId: string;
  balances: WalletBalance[];
}

export class WalletService {
  constructor(
    private readonly db: Executor,
    private readonly temporal: Client,
    private readonly config: Pick<Config, 'syncWaitMs' | 'defaultConnector' | 'tenantConnectors'>,
    /** A Temporal call with a deadline, through the API's circuit breaker. */
    private readonly temporalCall: TemporalCall = new TemporalGateway(temporal).call,
  ) {}

  /**
   * Runs `topup:{tenant}:{customer}:{key}` to completion. The same key never charges twice:
   * a running top-up is joined, a finished one answers with its recorded result.
   */
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
      throw new ProblemError(400, 'invalid_cursor', 'cursor is not one this API returned');
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

  /** Tops the wallet up by card and answers with the wallet after it. */
  async topUp(tenantId: string, customerId: string, key: string, request: TopUpRequest): Promise<Wallet> {
    const workflowId = topUpWorkflowId(tenantId, customerId, key);
    const deadline = Date.now() + this.config.syncWaitMs;
    const call = <T>(fn: () => Promise<T>) => this.temporalCall(deadline, fn);
    let result: TopUpResult | undefined;
    try {
      const handle = await call(() =>
        this.temporal.workflow.start(topUpWorkflow, {
          workflowId,
          taskQueue: TASK_QUEUE,
          args: [{ tenantId, customerId, ...request, connector: connectorOf(this.config, tenantId) }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      );
      result = await withTimeout(handle.result(), Math.max(0, deadline - Date.now()));
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const handle = this.temporal.workflow.getHandle<typeof topUpWorkflow>(workflowId);
      result = await withTimeout(handle.result(), Math.max(0, deadline - Date.now()));
    }
    if (!result) {
      // Durable: it finishes once a worker runs it; the same Idempotency-Key joins it.
      throw new ProblemError(
        503,
        'top_up_processing',
        'the top-up has not finished yet; retry with the same Idempotency-Key for its outcome',
        {},
        { 'Retry-After': '2' },
      );
    }
    if (result.status === 'failed') {
      // 402 as Stripe answers card errors: the request was valid, the card was not.
      throw new ProblemError(402, result.failureCode, result.failureMessage);
    }
    return this.get(tenantId, customerId);
  }
}
