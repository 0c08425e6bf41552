import { condition, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { gatewayActivities, store } from './activities.js';
import { classifyFailure, failureType } from './failures.js';
import { ErrorType } from '../domain/errors.js';
import { cloudEvent, type CloudEvent } from '../domain/events.js';
import { gatewayIdempotencyKey, transferId } from '../domain/ids.js';
import type { ReserveRefundResult } from '../db/refunds.js';
import { isRefundSettled, publicRefund, type RefundFailureCode, type RefundView } from '../domain/refund.js';
import {
  LEGACY_CONNECTOR,
  refundSettledSignal,
  refundStatusQuery,
  type RefundOutcome,
  type RefundSettlement,
  type RefundWorkflowInput,
} from './contract.js';

/**
 * One refund. The amount is claimed first (a conditional UPDATE that cannot over-refund), then
 * the card part goes through the gateway and the wallet part through the ledger. The card goes
 * first because it is the half that can fail; the wallet credit after it only retries, so a
 * split refund never has to take money back out of a wallet.
 */
export async function refundWorkflow(input: RefundWorkflowInput): Promise<RefundOutcome> {
  const { workflowId } = workflowInfo();
  let refund: RefundView | undefined;
  let settlement: RefundSettlement | undefined;
  setHandler(refundStatusQuery, () => refund);
  setHandler(refundSettledSignal, (s) => {
    settlement ??= s;
  });

  let reserved: ReserveRefundResult;
  try {
    reserved = await store.reserveRefund({
      refundId: input.refundId,
      tenantId: input.tenantId,
      paymentId: input.paymentId,
      workflowId,
      amount: input.amount,
      reason: input.reason,
      now: new Date().toISOString(),
    });
  } catch (error) {
    // The API refuses text PostgreSQL cannot store; if some still arrives, the refund is refused
    // before any money moves rather than retried forever.
    if (failureType(error) !== ErrorType.PersistenceRejected) throw error;
    return { outcome: 'rejected', code: 'processing_error', message: 'the refund could not be stored' };
  }
  if (!reserved.ok) return { outcome: 'rejected', code: reserved.code, message: reserved.message };
  refund = reserved.refund;
  // Settled by an earlier run of this refund whose workflow Temporal has since deleted: the money
  // moved then, and the gateway may have forgotten its idempotency key. Nothing is sent again.
  if (isRefundSettled(refund.status) && patched('refund-settled-once'))
    return { outcome: 'processed', refund };
  let seq = 0;
  const event = (type: string, data: unknown): CloudEvent =>
    cloudEvent({
      workflowId,
      seq: ++seq,
      type,
      subject: `refunds/${input.refundId}`,
      tenantId: input.tenantId,
      time: new Date().toISOString(),
      data,
    });

  async function finish(
    status: 'succeeded' | 'failed',
    failureCode?: RefundFailureCode,
    failureMessage?: string,
  ): Promise<RefundOutcome> {
    const now = new Date().toISOString();
    refund = { ...refund!, status, failureCode, failureMessage, updatedAt: now };
    const events = [event(`refund.${status}`, publicRefund(refund))];
    if (status === 'succeeded' && refund.amountToWallet > 0) {
      events.push(
        cloudEvent({
          workflowId,
          seq: ++seq,
          type: 'wallet.updated',
          subject: `wallets/${reserved.ok ? reserved.customerId : ''}`,
          tenantId: input.tenantId,
          time: now,
          data: {
            customerId: reserved.ok ? reserved.customerId : '',
            currency: refund.currency,
            amount: refund.amountToWallet,
            reason: 'refund',
          },
        }),
      );
    }
    await store.settleRefund({
      tenantId: input.tenantId,
      refundId: input.refundId,
      status,
      failureCode,
      failureMessage,
      now,
      events,
    });
    return { outcome: 'processed', refund };
  }

  if (refund.amountToCard > 0) {
    if (!reserved.gatewayAuthorizationId)
      return finish('failed', 'refund_failed', 'the payment has no card charge to refund');
    let result;
    try {
      result = await gatewayActivities().refundCard({
        // Refunds go back to the connector that took the money. Histories from before the
        // payment recorded it have no connector in this result: those were all the sandbox.
        connector: reserved.connector ?? LEGACY_CONNECTOR,
        tenantId: input.tenantId,
        idempotencyKey: gatewayIdempotencyKey(workflowId, 'card-refund'),
        authorizationId: reserved.gatewayAuthorizationId,
        amount: refund.amountToCard,
        reason: input.reason,
      });
    } catch (error) {
      const failure = classifyFailure(error);
      return failure.kind === 'refused' && failure.type === ErrorType.GatewayRequestError
        ? finish('failed', 'refund_failed', failure.message)
        : finish('failed', 'processing_error', 'the gateway could not be reached');
    }
    if (result.status === 'failed')
      return finish('failed', 'refund_failed', result.failureMessage ?? 'the gateway refused the refund');
    if (result.status === 'pending') {
      await store.markRefundPending({ refundId: input.refundId, gatewayRefundId: result.id });
      if (!(await condition(() => settlement !== undefined, input.pendingWindowMs))) {
        // Not silent: operators see requires_attention (API, event, Web UI) while it keeps waiting.
        const now = new Date().toISOString();
        refund = { ...refund, status: 'requires_attention', updatedAt: now };
        await store.settleRefund({
          tenantId: input.tenantId,
          refundId: input.refundId,
          status: 'requires_attention',
          now,
          events: [event('refund.requires_attention', publicRefund(refund))],
        });
        await condition(() => settlement !== undefined);
      }
      if (settlement?.status === 'failed')
        return finish(
          'failed',
          'refund_failed',
          settlement.failureMessage ?? 'the gateway failed the refund',
        );
    }
    await store.systemTransfer({
      transferId: transferId(workflowId, 'card-refund'),
      tenantId: input.tenantId,
      currency: refund.currency,
      amount: refund.amountToCard,
      from: 'merchant_revenue',
      to: 'gateway_clearing',
      description: 'card refund',
    });
  }
  if (refund.amountToWallet > 0) {
    await store.creditWallet({
      transferId: transferId(workflowId, 'wallet-refund'),
      tenantId: input.tenantId,
      customerId: reserved.customerId,
      currency: refund.currency,
      amount: refund.amountToWallet,
      from: 'merchant_revenue',
      description: 'refund',
    });
  }
  return finish('succeeded');
}
