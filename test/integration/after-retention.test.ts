import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { requestHashOf } from '../../src/app/payments.js';
import { paymentWorkflowId, refundWorkflowId } from '../../src/domain/ids.js';
import { publicPayment, type PaymentRequest } from '../../src/domain/payment.js';
import { publicRefund } from '../../src/domain/refund.js';
import { DEFAULT_TIMEOUTS, TASK_QUEUE } from '../../src/workflows/contract.js';
import { paymentWorkflow } from '../../src/workflows/payment.js';
import { refundWorkflow } from '../../src/workflows/refund.js';
import { stackTemporal } from '../support/temporal.js';
import { testDatabase } from '../support/db.js';
import { chargesFor, gateway } from '../support/gateway.js';
import { api, expectLedgerClean, uid, type PaymentBody } from '../support/http.js';

/**
 * An order or refund asked for again after Temporal deleted its closed workflow (as retention
 * does) and the gateway forgot its idempotency keys (as Stripe does after 24 hours): PostgreSQL's
 * record answers, and no money moves a second time.
 */
const db = testDatabase();
const temporal = stackTemporal();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

/** What retention does to a closed workflow: its execution and history are gone. */
async function deleteWorkflow(workflowId: string): Promise<void> {
  await temporal.client.workflowService.deleteWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId },
  });
  await expect
    .poll(
      () =>
        temporal.client.workflow
          .getHandle(workflowId)
          .describe()
          .then(
            () => 'present',
            (error: unknown) => (error instanceof WorkflowNotFoundError ? 'deleted' : String(error)),
          ),
      { timeout: 90_000, interval: 250 },
    )
    .toBe('deleted');
}

const forgetGatewayKeys = () => gateway('POST', '/_sandbox/forget-idempotency-keys');

/** What the Idempotency-Key's TTL does to its stored answer. */
const expireIdempotencyKey = (key: string) =>
  db.pool.query('DELETE FROM idempotency_keys WHERE key = $1', [key]);

describe('exactly once after Temporal forgot the workflow', () => {
  it('answers a paid order from PostgreSQL: no second charge, nothing rewritten', async () => {
    const order: PaymentBody = {
      orderId: uid('o-del'),
      customerId: uid('cus'),
      amount: 700,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    };
    const first = await api('POST', '/v1/payments', order, { headers: { 'idempotency-key': uid('k') } });
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('succeeded');
    await deleteWorkflow(paymentWorkflowId('default', order.orderId));
    await forgetGatewayKeys();

    const again = await api('POST', '/v1/payments', order, { headers: { 'idempotency-key': uid('k') } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const other = await api('POST', '/v1/payments', { ...order, amount: 900 });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('order_already_paid');

    // Were the workflow started all the same, it would claim the order, find it paid, and stop.
    const request = { ...order, capture: 'automatic' } as PaymentRequest;
    const rerun = await temporal.client.workflow.execute(paymentWorkflow, {
      taskQueue: TASK_QUEUE,
      workflowId: paymentWorkflowId('default', order.orderId),
      args: [
        {
          paymentId: first.body.id,
          tenantId: 'default',
          request,
          requestHash: requestHashOf(request),
          timeouts: DEFAULT_TIMEOUTS,
          connector: 'sandbox',
        },
      ],
    });
    expect(publicPayment(rerun)).toEqual(first.body);

    expect(await chargesFor(first.body.id)).toMatchObject({ authorizations: 1, capturedAmount: 700 });
    expect((await api('GET', `/v1/payments/${first.body.id}`)).body).toEqual(first.body);
    await expectLedgerClean();
  });

  it('answers a settled refund from PostgreSQL and never refunds at the gateway again', async () => {
    const paid = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 1000,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(paid.body.status).toBe('succeeded');
    const key = uid('refund-key');
    const refund = () =>
      api(
        'POST',
        `/v1/payments/${paid.body.id}/refunds`,
        { amount: 300 },
        { headers: { 'idempotency-key': key } },
      );
    const first = await refund();
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('succeeded');
    const workflowId = refundWorkflowId('default', paid.body.id, key);
    await deleteWorkflow(workflowId);
    await forgetGatewayKeys();
    await expireIdempotencyKey(key);

    const again = await refund();
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    // Were the workflow started all the same, it would find the refund settled and stop.
    const rerun = await temporal.client.workflow.execute(refundWorkflow, {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [
        {
          refundId: first.body.id,
          tenantId: 'default',
          paymentId: paid.body.id,
          amount: 300,
          pendingWindowMs: 60_000,
        },
      ],
    });
    expect(rerun.outcome === 'processed' && publicRefund(rerun.refund)).toEqual(first.body);
    expect((await chargesFor(paid.body.id)).refundedAmount).toBe(300);
    expect((await api('GET', `/v1/payments/${paid.body.id}`)).body).toMatchObject({
      status: 'partially_refunded',
      amountRefunded: 300,
    });
  });
});
