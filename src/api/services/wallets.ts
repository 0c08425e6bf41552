import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { topUpWorkflowId } from '../../domain/ids.js';
import type { Currency } from '../../domain/money.js';
import { TASK_QUEUE, type TopUpResult } from '../../workflows/contract.js';
import { topUpWorkflow } from '../../workflows/top-up.js';
import { ProblemError } from '../problem.js';

export interface TopUpRequest {
  amount: number;
  currency: Currency;
  token: string;
}

export class WalletService {
  constructor(private readonly temporal: Client) {}

  /**
   * Runs `topup:{tenant}:{customer}:{key}` to completion. The same key never charges twice:
   * a running top-up is joined, a finished one answers with its recorded result.
   */
  async topUp(tenantId: string, customerId: string, key: string, request: TopUpRequest): Promise<void> {
    const workflowId = topUpWorkflowId(tenantId, customerId, key);
    let result: TopUpResult;
    try {
      const handle = await this.temporal.workflow.start(topUpWorkflow, {
        workflowId,
        taskQueue: TASK_QUEUE,
        args: [{ tenantId, customerId, ...request }],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      result = await handle.result();
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      result = await this.temporal.workflow.getHandle<typeof topUpWorkflow>(workflowId).result();
    }
    if (result.status === 'failed') {
      // 402 as Stripe answers card errors: the request was valid, the card was not.
      throw new ProblemError(402, result.failureCode, result.failureMessage);
    }
  }
}
