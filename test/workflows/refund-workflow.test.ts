import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  refundSettledSignal,
  refundStatusQuery,
  type RefundWorkflowInput,
} from '../../src/workflows/contract.js';
import { refundWorkflow } from '../../src/workflows/refund.js';
import { fakeActivities } from '../support/fake-activities.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();
const DAY = 24 * 60 * 60 * 1000;

type RefundHandle = Awaited<ReturnType<typeof suite.env.client.workflow.start<typeof refundWorkflow>>>;

async function runRefund(
  fakes: ReturnType<typeof fakeActivities>,
  input: Partial<RefundWorkflowInput>,
  drive?: (handle: RefundHandle) => Promise<void>,
  fixture?: string,
) {
  return suite.withWorker(fakes.activities, async (taskQueue) => {
    const handle = await suite.env.client.workflow.start(refundWorkflow, {
      taskQueue,
      workflowId: `refund:default:pay_1:${randomUUID()}`,
      args: [
        { refundId: 're_1', tenantId: 'default', paymentId: 'pay_1', pendingWindowMs: 3 * DAY, ...input },
      ],
    });
    if (drive) await drive(handle);
    const result = await handle.result();
    if (fixture) await recordHistory(handle, fixture);
    return result;
  });
}

describe('RefundWorkflow (time-skipping server, fake activities)', () => {
  it('refunds the card part through the connector that authorized the payment', async () => {
    const fakes = fakeActivities({ captured: { wallet: 0, card: 1000 }, connector: 'acme' });
    expect(await runRefund(fakes, { amount: 400 })).toMatchObject({ refund: { status: 'succeeded' } });
    expect(fakes.calls).toContain('refundCard:400');
    expect(fakes.connectors).toEqual(['acme']);
  });

  it('refunds the wallet part in the ledger and the card part at the gateway, card first', async () => {
    const fakes = fakeActivities({ captured: { wallet: 300, card: 700 } });
    const outcome = await runRefund(fakes, { amount: 500 }, undefined, 'refund-split');
    expect(outcome).toMatchObject({
      outcome: 'processed',
      refund: { status: 'succeeded', amountToWallet: 300, amountToCard: 200 },
    });
    expect(fakes.calls).toEqual([
      'reserveRefund:500',
      'refundCard:200',
      'systemTransfer:merchant_revenue->gateway_clearing:200',
      'creditWallet:300',
      'settleRefund:succeeded:refund.succeeded,wallet.updated',
    ]);
  });

  it('rejects more than the captured amount without touching the gateway', async () => {
    const fakes = fakeActivities({ captured: { wallet: 0, card: 1000 } });
    expect(await runRefund(fakes, { amount: 1001 })).toMatchObject({
      outcome: 'rejected',
      code: 'amount_exceeds_refundable',
    });
    expect(fakes.calls).toEqual(['reserveRefund:1001']);
  });

  it('flags a refund pending past its window as requires_attention, then finishes it on the webhook', async () => {
    const fakes = fakeActivities();
    fakes.gateway.refundStatus = 'pending';
    const outcome = await runRefund(
      fakes,
      { amount: 400 },
      async (handle) => {
        await suite.env.sleep(3 * DAY + 60_000); // skips server time past the pending window
        await expect.poll(() => fakes.settled.includes('requires_attention'), { timeout: 20_000 }).toBe(true);
        expect((await handle.query(refundStatusQuery))?.status).toBe('requires_attention');
        await handle.signal(refundSettledSignal, { status: 'succeeded' });
      },
      'refund-pending-requires-attention',
    );
    expect(outcome).toMatchObject({ outcome: 'processed', refund: { status: 'succeeded' } });
    expect(fakes.calls).toContain('markRefundPending:re_1');
    expect(fakes.settled).toEqual(['requires_attention', 'succeeded']);
  });

  it('fails with processing_error once the gateway retry budget is spent, crediting nothing', async () => {
    const fakes = fakeActivities();
    fakes.gateway.goDown('refund');
    const outcome = await runRefund(fakes, { amount: 400 });
    expect(outcome).toMatchObject({
      outcome: 'processed',
      refund: { status: 'failed', failureCode: 'processing_error' },
    });
    expect(fakes.attempts.refundCard).toBe(8);
    expect(fakes.calls.filter((c) => c.startsWith('systemTransfer') || c.startsWith('creditWallet'))).toEqual(
      [],
    );
    expect(fakes.settled).toEqual(['failed']);
  });

  it.each(['succeeded', 'failed'] as const)(
    'a refund an earlier run settled (%s) is returned as stored, and the gateway is never called again',
    async (status) => {
      const fakes = fakeActivities({ settledRefund: status });
      const outcome = await runRefund(
        fakes,
        { amount: 300 },
        undefined,
        status === 'succeeded' ? 'refund-earlier-run' : undefined,
      );
      expect(outcome).toMatchObject({ outcome: 'processed', refund: { status, amount: 300 } });
      expect(fakes.calls).toEqual(['reserveRefund:300']);
    },
  );
});
