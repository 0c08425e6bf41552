import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import { findPayment } from '../db/payments.js';
import { findRefund, listRefunds } from '../db/refunds.js';
import { boundedWorkflowId, refundWorkflowId } from '../domain/ids.js';
import { isRefundSettled, refundRefusal, type RefundFailureCode, type RefundView } from '../domain/refund.js';
import { refundStatusQuery, TASK_QUEUE, type RefundOutcome } from '../workflows/contract.js';
import { refundWorkflow } from '../workflows/refund.js';
import { sha256 } from '../hash.js';
import { AppError } from './errors.js';
import type { TemporalGateway } from './temporal.js';
import { withTimeout } from './with-timeout.js';

export class RefundService {
  constructor(
    private readonly db: Executor,
    private readonly temporal: TemporalGateway,
    private readonly config: Pick<Config, 'syncWaitMs' | 'refundPendingWindowMs'>,
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
    if (!payment) throw new AppError('not_found', 'payment_not_found', `no payment ${paymentId}`);
    const naturalId = refundWorkflowId(tenantId, paymentId, options.key ?? randomUUID());
    // The refund's id comes from the whole natural id, as it did before long ids were bounded.
    const refundId = `re_${sha256(naturalId).slice(0, 24)}`;
    const workflowId = boundedWorkflowId(naturalId);
    // The stored refund decides, not Temporal: its workflow may be long deleted (retention).
    const stored = await findRefund(this.db, tenantId, refundId);
    if (stored && isRefundSettled(stored.status)) return { refund: stored, pending: false };
    const refusal = refundRefusal(payment.status);
    if (refusal) throw refusalOf(refusal);
    const deadline = Date.now() + this.config.syncWaitMs;
    // Calls after the wait still get a second to answer.
    const callBy = () => Math.max(deadline, Date.now() + 1_000);
    try {
      await this.temporal.run(callBy(), (client) =>
        client.workflow.start(refundWorkflow, {
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
    }
    // A wait for the outcome (with `wait`), then as long again for the refund's first write.
    const until = Date.now() + (options.wait ? 2 : 1) * this.config.syncWaitMs;
    const result = this.temporal.waitUntil(until, (client) =>
      client.workflow.getHandle<typeof refundWorkflow>(workflowId).result(),
    );
    const outcome = options.wait ? await withTimeout(result, this.config.syncWaitMs) : undefined;
    if (outcome) return this.settled(outcome);
    // Answer 202 with the refund as soon as its amount is claimed (one database statement in).
    while (Date.now() < until) {
      const stored = await findRefund(this.db, tenantId, refundId);
      if (stored) return { refund: stored, pending: true };
      const done = await withTimeout(result, 50);
      if (done) return this.settled(done);
    }
    // Not even the amount is claimed yet (no worker is running it): durable all the same.
    const running = await this.temporal
      .run(callBy(), (client) => client.workflow.getHandle(workflowId).query(refundStatusQuery))
      .catch(() => undefined);
    if (running) return { refund: running, pending: true };
    throw new AppError(
      'unavailable',
      'refund_processing',
      'the refund was accepted and has not started yet; retry with the same Idempotency-Key for its outcome',
      { retryAfterSeconds: 2 },
    );
  }

  private settled(outcome: RefundOutcome): { refund: RefundView; pending: boolean } {
    if (outcome.outcome === 'rejected') throw refusalOf(outcome);
    return { refund: outcome.refund, pending: false };
  }

  /** A payment's refunds, oldest first; not_found for a payment the tenant does not have. */
  async listForPayment(tenantId: string, paymentId: string): Promise<RefundView[]> {
    if (!(await findPayment(this.db, tenantId, paymentId)))
      throw new AppError('not_found', 'payment_not_found', `no payment ${paymentId}`);
    return listRefunds(this.db, tenantId, paymentId);
  }

  async get(tenantId: string, id: string): Promise<RefundView> {
    const refund = await findRefund(this.db, tenantId, id);
    if (!refund) throw new AppError('not_found', 'refund_not_found', `no refund ${id}`);
    return refund;
  }
}

/** A refund refused before any money moved: a conflict for a payment never captured, invalid otherwise. */
function refusalOf({ code, message }: { code: RefundFailureCode; message: string }): AppError {
  return new AppError(code === 'payment_not_captured' ? 'conflict' : 'invalid', code, message);
}
