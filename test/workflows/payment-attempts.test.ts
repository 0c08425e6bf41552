import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ErrorType } from '../../src/domain/errors.js';
import { gatewayIdempotencyKey, paymentWorkflowId, transferId } from '../../src/domain/ids.js';
import type { PaymentMethod, PaymentRequest, PaymentView } from '../../src/domain/payment.js';
import {
  attemptUpdate,
  cancelUpdate,
  captureUpdate,
  DEFAULT_TIMEOUTS,
  settledUpdate,
  statusQuery,
  type AttemptPolicy,
  type AttemptRequest,
  type PaymentWorkflowInput,
} from '../../src/workflows/contract.js';
import { paymentWorkflow } from '../../src/workflows/payment.js';
import { fakeActivities } from '../support/fake-activities.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();

const DAY_MS = 86_400_000;
const POLICY: AttemptPolicy = { windowMs: DAY_MS, baseRequestHash: 'base' };

function request(method: PaymentMethod): PaymentRequest {
  return {
    orderId: `ord_${randomUUID()}`,
    customerId: 'cus_1',
    amount: 1000,
    currency: 'USD',
    method,
    capture: 'automatic',
  };
}

type PaymentHandle = Awaited<ReturnType<typeof suite.env.client.workflow.start<typeof paymentWorkflow>>>;

/** Runs one payment workflow with the attempt policy `attempts` (undefined: a single attempt). */
async function runPayment(
  req: PaymentRequest,
  fakes: ReturnType<typeof fakeActivities>,
  attempts: AttemptPolicy | undefined,
  drive?: (handle: PaymentHandle, workflowId: string) => Promise<void>,
) {
  const workflowId = paymentWorkflowId('default', req.orderId);
  return suite.withWorker(fakes.activities, async (taskQueue) => {
    const input: PaymentWorkflowInput = {
      paymentId: 'pay_0123456789abcdef',
      tenantId: 'default',
      request: req,
      requestHash: 'h1',
      timeouts: DEFAULT_TIMEOUTS,
      connector: 'sandbox',
      ...(attempts ? { attempts } : {}),
    };
    const handle = await suite.env.client.workflow.start(paymentWorkflow, {
      taskQueue,
      workflowId,
      args: [input],
    });
    if (drive) await drive(handle, workflowId);
    return { result: await handle.result(), handle, workflowId };
  });
}

async function waitForStatus(handle: PaymentHandle, status: string) {
  await expect.poll(async () => (await handle.query(statusQuery)).status, { timeout: 20_000 }).toBe(status);
}

/** The typed failure a workflow validator rejected an update with. */
async function rejection(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (error as WorkflowUpdateFailedError).cause;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

describe('PaymentWorkflow attempts (time-skipping server, fake activities)', () => {
  it('a declined card, then a good one in the same workflow, with keys and transfer ids of its own', async () => {
    const fakes = fakeActivities({ walletBalance: 300 });
    let answer: PaymentView | undefined;
    const { result, workflowId, handle } = await runPayment(
      request({ type: 'split', token: 'tok_decline' }),
      fakes,
      POLICY,
      async (handle) => {
        await waitForStatus(handle, 'requires_payment_method');
        const open = await handle.query(statusQuery);
        expect(open).toMatchObject({ failureCode: 'card_declined', amountFromWallet: 0, amountFromCard: 0 });
        // Concurrent identical creates still get the payment as it stands.
        expect(await handle.executeUpdate(settledUpdate, { args: [{ requestHash: 'h1' }] })).toMatchObject({
          status: 'requires_payment_method',
        });
        answer = await handle.executeUpdate(attemptUpdate, {
          args: [{ method: { type: 'split', token: 'tok_ok' }, requestHash: 'h2', baseRequestHash: 'base' }],
        });
      },
    );
    await recordHistory(handle, 'payment-split-declined-then-paid');
    expect(answer).toMatchObject({ status: 'succeeded', requestHash: 'h2' });
    expect(result).toMatchObject({
      status: 'succeeded',
      amountCaptured: 1000,
      amountFromWallet: 300,
      amountFromCard: 700,
    });
    // The decline of attempt 1 is on its attempt, no longer on the payment.
    expect(result.failureCode).toBeUndefined();
    expect(result.attempts).toMatchObject([
      { number: 1, status: 'failed', failureCode: 'card_declined', method: { type: 'split' } },
      {
        number: 2,
        status: 'succeeded',
        method: { type: 'split' },
        gatewayReference: expect.any(String),
        connector: 'sandbox',
      },
    ]);
    expect(fakes.calls).toEqual([
      'holdWallet:1000',
      'authorizeCard:700',
      'voidWalletHold',
      'holdWallet:1000',
      'authorizeCard:700',
      'captureCard:700',
      'systemTransfer:gateway_clearing->merchant_revenue:700',
      'postWalletHold:300',
    ]);
    // Attempt 1 keeps the keys payments always had; attempt 2's are its own, so nothing moves twice.
    expect(fakes.ids).toEqual([
      transferId(workflowId, 'wallet-hold'),
      gatewayIdempotencyKey(workflowId, 'authorize'),
      transferId(workflowId, 'wallet-void'),
      transferId(workflowId, 'wallet-hold:2'),
      gatewayIdempotencyKey(workflowId, 'authorize:2'),
      gatewayIdempotencyKey(workflowId, 'capture:2'),
      transferId(workflowId, 'card-capture:2'),
      transferId(workflowId, 'wallet-post:2'),
    ]);
    expect(fakes.balance()).toBe(0);
    expect(fakes.events).toEqual(['payment.attempt_failed', 'payment.succeeded']);
    // Amounts and card details ride along with the next status change.
    expect(fakes.recorded.map((v) => v.status)).toEqual([
      'processing',
      'requires_payment_method',
      'processing',
      'succeeded',
    ]);
  });

  it('a card sale declined then paid: the second sale has its own idempotency key and capture id', async () => {
    const fakes = fakeActivities();
    const { result, workflowId } = await runPayment(
      request({ type: 'card', token: 'tok_decline' }),
      fakes,
      POLICY,
      async (handle) => {
        await waitForStatus(handle, 'requires_payment_method');
        await handle.executeUpdate(attemptUpdate, {
          args: [{ method: { type: 'card', token: 'tok_ok' }, requestHash: 'h2', baseRequestHash: 'base' }],
        });
      },
    );
    expect(result).toMatchObject({ status: 'succeeded', amountFromCard: 1000 });
    expect(result.attempts.map((a) => [a.status, a.failureCode])).toEqual([
      ['failed', 'card_declined'],
      ['succeeded', undefined],
    ]);
    expect(fakes.calls).toEqual([
      'authorizeCard:1000:sale',
      'authorizeCard:1000:sale',
      'settleCardPayment:1000',
    ]);
    expect(fakes.ids).toEqual([
      gatewayIdempotencyKey(workflowId, 'authorize'),
      gatewayIdempotencyKey(workflowId, 'authorize:2'),
      transferId(workflowId, 'card-capture:2'),
    ]);
  });

  it('declined twice, then authorized for a manual capture: every attempt has its own keys', async () => {
    const fakes = fakeActivities();
    const attempt = (token: string, hash: string): { args: [AttemptRequest] } => ({
      args: [{ method: { type: 'card', token }, requestHash: hash, baseRequestHash: 'base' }],
    });
    const { result, workflowId } = await runPayment(
      { ...request({ type: 'card', token: 'tok_decline' }), capture: 'manual' },
      fakes,
      POLICY,
      async (handle) => {
        await waitForStatus(handle, 'requires_payment_method');
        expect(
          await handle.executeUpdate(attemptUpdate, attempt('tok_insufficient_funds', 'h2')),
        ).toMatchObject({
          status: 'requires_payment_method',
          failureCode: 'insufficient_funds',
        });
        expect(await handle.executeUpdate(attemptUpdate, attempt('tok_ok', 'h3'))).toMatchObject({
          status: 'requires_capture',
        });
        await handle.executeUpdate(captureUpdate, { args: [{ amount: 600 }] });
      },
    );
    expect(result).toMatchObject({ status: 'succeeded', amountCaptured: 600, requestHash: 'h3' });
    expect(result.attempts.map((a) => [a.number, a.status, a.failureCode])).toEqual([
      [1, 'failed', 'card_declined'],
      [2, 'failed', 'insufficient_funds'],
      [3, 'succeeded', undefined],
    ]);
    expect(fakes.ids).toEqual([
      gatewayIdempotencyKey(workflowId, 'authorize'),
      gatewayIdempotencyKey(workflowId, 'authorize:2'),
      gatewayIdempotencyKey(workflowId, 'authorize:3'),
      gatewayIdempotencyKey(workflowId, 'capture:3'),
      transferId(workflowId, 'card-capture:3'),
    ]);
    expect(fakes.events).toEqual([
      'payment.attempt_failed',
      'payment.attempt_failed',
      'payment.requires_capture',
      'payment.succeeded',
    ]);
  });

  it('fails with the last decline once the attempt window is over', async () => {
    const fakes = fakeActivities();
    const start = await suite.env.currentTimeMs();
    const { result } = await runPayment(request({ type: 'card', token: 'tok_decline' }), fakes, POLICY);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'card_declined' });
    expect(result.attempts).toMatchObject([{ status: 'failed', failureCode: 'card_declined' }]);
    expect((await suite.env.currentTimeMs()) - start).toBeGreaterThanOrEqual(DAY_MS);
    expect(fakes.events).toEqual(['payment.attempt_failed', 'payment.failed']);
    expect(fakes.recorded.map((v) => v.status)).toEqual(['processing', 'requires_payment_method', 'failed']);
  });

  it('a payment waiting for a new attempt can be canceled', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(
      request({ type: 'card', token: 'tok_decline' }),
      fakes,
      POLICY,
      async (handle) => {
        await waitForStatus(handle, 'requires_payment_method');
        expect(await handle.executeUpdate(cancelUpdate)).toMatchObject({ status: 'canceled' });
      },
    );
    expect(result).toMatchObject({ status: 'canceled', amountCaptured: 0 });
    expect(result.attempts).toMatchObject([{ status: 'failed', failureCode: 'card_declined' }]);
    expect(fakes.events).toEqual(['payment.attempt_failed', 'payment.canceled']);
    expect(fakes.calls).toEqual(['authorizeCard:1000:sale']);
  });

  it('without an attempt policy the first decline fails the payment, as always', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(request({ type: 'card', token: 'tok_decline' }), fakes, undefined);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'card_declined' });
    expect(result.attempts).toMatchObject([{ number: 1, status: 'failed', failureCode: 'card_declined' }]);
    expect(fakes.events).toEqual(['payment.failed']);
  });

  it('a wallet short of funds is paid by the identical request after a top-up', async () => {
    const fakes = fakeActivities({ walletBalance: 400 });
    const { result, workflowId, handle } = await runPayment(
      request({ type: 'wallet' }),
      fakes,
      POLICY,
      async (handle) => {
        await waitForStatus(handle, 'requires_payment_method');
        expect((await handle.query(statusQuery)).failureCode).toBe('insufficient_funds');
        fakes.topUp(600);
        await handle.executeUpdate(attemptUpdate, {
          args: [{ method: { type: 'wallet' }, requestHash: 'h1', baseRequestHash: 'base' }],
        });
      },
    );
    await recordHistory(handle, 'payment-wallet-topped-up-then-paid');
    expect(result).toMatchObject({ status: 'succeeded', amountFromWallet: 1000, requestHash: 'h1' });
    expect(fakes.balance()).toBe(0);
    expect(fakes.calls).toEqual(['payFromWallet:1000', 'holdWallet:1000', 'postWalletHold:1000']);
    expect(fakes.ids.slice(2)).toEqual([
      transferId(workflowId, 'wallet-hold:2'),
      transferId(workflowId, 'wallet-post:2'),
    ]);
    expect(result.attempts.map((a) => [a.status, a.failureCode])).toEqual([
      ['failed', 'insufficient_funds'],
      ['succeeded', undefined],
    ]);
  });

  it('a gateway that cannot process the payment fails it at once: nothing the customer can fix', async () => {
    const fakes = fakeActivities({ walletBalance: 300 });
    fakes.gateway.goDown('authorize');
    const { result } = await runPayment(request({ type: 'split', token: 'tok_ok' }), fakes, POLICY);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'processing_error' });
    expect(fakes.events).toEqual(['payment.failed']);
    expect(fakes.balance()).toBe(300);
  });

  it('refuses an attempt while one is in flight, and one for another amount or customer', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(
      request({ type: 'card', token: 'tok_3ds' }),
      fakes,
      POLICY,
      async (handle) => {
        await waitForStatus(handle, 'requires_action');
        // In flight: not open for an attempt.
        expect(
          await rejection(
            handle.executeUpdate(attemptUpdate, {
              args: [
                { method: { type: 'card', token: 'tok_ok' }, requestHash: 'h2', baseRequestHash: 'base' },
              ],
            }),
          ),
        ).toBe(ErrorType.InvalidPaymentState);
        // Another amount or customer is another payment, whatever the state.
        expect(
          await rejection(
            handle.executeUpdate(attemptUpdate, {
              args: [
                { method: { type: 'card', token: 'tok_ok' }, requestHash: 'h3', baseRequestHash: 'other' },
              ],
            }),
          ),
        ).toBe(ErrorType.OrderAlreadyPaid);
        await handle.executeUpdate(cancelUpdate);
      },
    );
    expect(result).toMatchObject({ status: 'canceled' });
    expect(result.attempts).toMatchObject([{ status: 'canceled' }]);
  });

  it('3-D Secure not completed in time reopens the payment; the next attempt completes it', async () => {
    const fakes = fakeActivities();
    const { result, workflowId } = await runPayment(
      request({ type: 'card', token: 'tok_3ds' }),
      fakes,
      POLICY,
      async (handle) => {
        await waitForStatus(handle, 'requires_action');
        await suite.env.sleep(DEFAULT_TIMEOUTS.actionWindowMs + 1000);
        await waitForStatus(handle, 'requires_payment_method');
        const open = await handle.query(statusQuery);
        expect(open.failureCode).toBe('expired');
        expect(open.nextAction).toBeUndefined();
        await handle.executeUpdate(attemptUpdate, {
          args: [{ method: { type: 'card', token: 'tok_ok' }, requestHash: 'h2', baseRequestHash: 'base' }],
        });
      },
    );
    expect(result).toMatchObject({ status: 'succeeded' });
    expect(fakes.calls).toEqual([
      'authorizeCard:1000:sale',
      'voidCard',
      'authorizeCard:1000:sale',
      'settleCardPayment:1000',
    ]);
    expect(fakes.ids.slice(0, 2)).toEqual([
      gatewayIdempotencyKey(workflowId, 'authorize'),
      gatewayIdempotencyKey(workflowId, 'void'),
    ]);
    expect(result.attempts.map((a) => [a.status, a.failureCode])).toEqual([
      ['failed', 'expired'],
      ['succeeded', undefined],
    ]);
  });
});
