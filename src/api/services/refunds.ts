import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../../config.js';
import type { Executor } from '../../db/client.js';
import { findPayment } from '../../db/payments.js';
import { findRefund, listRefunds } from '../../db/refunds.js';
import { refundWorkflowId } from '../../domain/ids.js';
import {
  isRefundSettled,
  refundRefusal,
  type RefundFailureCode,
  type RefundView,
} from '../../domain/refund.js';
import { refundStatusQuery, TASK_QUEUE, type RefundOutcome } from '../../workflows/contract.js';
import { refundWorkflow } from '../../workflows/refund.js';
import { sha256 } from '../../hash.js';
import { TemporalGateway, type TemporalCall } from '../../app/temporal.js';
import { ProblemError } from '../problem.js';
import { withTimeout } from '../../app/with-timeout.js';

export class RefundService {
  constructor(
    private readonly db: Executor,
    private readonly temporal: Client,
    private readonly config: Pick<Config, 'syncWaitMs' | 'refundPendingWindowMs'>,
    /** A Temporal call with a deadline, through the API's circuit breaker. */
    private readonly temporalCall: TemporalCall = new TemporalGateway(temporal).call,
  ) {}

  /**
   * Starts `refund:{tenant}:{payment}:{key}` and waits a short while for its outcome. The key is
   * the request's Idempotency-Key when there is one, so a retried request joins the same refund.
   */
  async create(
    tenantId: string,
    paymentId: string,
    body: { amount?: number | undefined; reason?: string | undefined },
    options: { key?: string | undefined; wait: boolean },
  ): Promise<{ refund: RefundView; pending: boolean }> {
    const payment = await findPayment(this.db, tenantId, paymentId);
    if (!payment) throw new ProblemError(404, 'payment_not_found', `no payment ${paymentId}`);
    const workflowId = refundWorkflowId(tenantId, paymentId, options.key ?? randomUUID());
    const refundId = `re_${sha256(workflowId).slice(0, 24)}`;
    // The stored refund decides, not Temporal: its workflow may be long deleted (retention).
    const stored = await findRefund(this.db, tenantId, refundId);
    if (stored && isRefundSettled(stored.status)) return { refund: stored, pending: false };
    const refusal = refundRefusal(payment.status);
    if (refusal) throw refusalProblem(refusal);
    const deadline = Date.now() + this.config.syncWaitMs;
    // Calls after the wait still get a second to answer.
    const call = <T>(fn: () => Promise<T>) => this.temporalCall(Math.max(deadline, Date.now() + 1_000), fn);
    let handle;
    try {
      handle = await call(() =>
        this.temporal.workflow.start(refundWorkflow, {
          workflowId,
          taskQueue: TASK_QUEUE,
          args: [
            { refundId, tenantId, paymentId, ...body, pendingWindowMs: this.config.refundPendingWindowMs },
          ],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      );
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      handle = this.temporal.workflow.getHandle<typeof refundWorkflow>(workflowId);
    }
    const result = handle.result();
    const outcome: RefundOutcome | undefined = options.wait
      ? await withTimeout(result, this.config.syncWaitMs)
      : undefined;
    if (outcome) return this.settled(outcome);
    // Answer 202 with the refund as soon as its amount is claimed (one database statement in).
    for (let waited = 0; waited < this.config.syncWaitMs; waited += 50) {
      const stored = await findRefund(this.db, tenantId, refundId);
      if (stored) return { refund: stored, pending: true };
      const done = await withTimeout(result, 50);
      if (done) return this.settled(done);
    }
    // Not even the amount is claimed yet (no worker is running it): durable all the same.
    const running = await call(() => handle.query(refundStatusQuery)).catch(() => undefined);
    if (running) return { refund: running, pending: true };
    throw new ProblemError(
      503,
      'refund_processing',
      'the refund was accepted and has not started yet; retry with the same Idempotency-Key for its outcome',
      {},
      { 'Retry-After': '2' },
    );
  }

  private settled(outcome: RefundOutcome): { refund: RefundView; pending: boolean } {
    if (outcome.outcome === 'rejected') throw refusalProblem(outcome);
    return { refund: outcome.refund, pending: false };
  }

  /** A payment's refunds, oldest first; 404 for a payment the tenant does not have. */
  async listForPayment(tenantId: string, paymentId: string): Promise<RefundView[]> {
    if (!(await findPayment(this.db, tenantId, paymentId)))
      throw new ProblemError(404, 'payment_not_found', `no payment ${paymentId}`);
    return listRefunds(this.db, tenantId, paymentId);
  }

  async get(tenantId: string, id: string): Promise<RefundView> {
    const refund = await findRefund(this.db, tenantId, id);
    if (!refund) throw new ProblemError(404, 'refund_not_found', `no refund ${id}`);
    return refund;
  }
}

/** A refund refused before any money moved: 409 for a payment never captured, 422 otherwise. */
function refusalProblem({ code, message }: { code: RefundFailureCode; message: string }): ProblemError {
  return new ProblemError(code === 'payment_not_captured' ? 409 : 422, code, message);
}
