import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowUpdateStage } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { initialPaymentView, type PaymentRequest, type PaymentView } from '../../src/domain/payment.js';
import { paymentWorkflowId } from '../../src/domain/ids.js';
import {
  cancelUpdate,
  captureUpdate,
  completeActionUpdate,
  DEFAULT_TIMEOUTS,
  settledUpdate,
  statusQuery,
  type PaymentWorkflowInput,
} from '../../src/workflows/contract.js';
import { paymentWorkflow } from '../../src/workflows/payment.js';
import { fakeActivities } from '../support/fake-activities.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();

function request(method: PaymentRequest['method'], overrides: Partial<PaymentRequest> = {}): PaymentRequest {
  return {
    orderId: `ord_${randomUUID()}`,
    customerId: 'cus_1',
    amount: 1000,
    currency: 'USD',
    method,
    capture: 'automatic',
    ...overrides,
  };
}

type PaymentHandle = Awaited<ReturnType<typeof suite.env.client.workflow.start<typeof paymentWorkflow>>>;

/** Runs one payment workflow on a worker with fake activities; `drive` may interact while it runs. */
async function runPayment(
  req: PaymentRequest,
  fakes: ReturnType<typeof fakeActivities>,
  drive?: (handle: PaymentHandle) => Promise<void>,
  /** null: an input from before payments recorded their connector. */
  connector: string | null = 'sandbox',
) {
  return suite.withWorker(fakes.activities, async (taskQueue) => {
    const handle = await suite.env.client.workflow.start(paymentWorkflow, {
      taskQueue,
      workflowId: paymentWorkflowId('default', req.orderId),
      args: [
        {
          paymentId: 'pay_0123456789abcdef',
          tenantId: 'default',
          request: req,
          requestHash: 'h',
          timeouts: DEFAULT_TIMEOUTS,
          ...(connector === null ? {} : { connector }),
        } as PaymentWorkflowInput,
      ],
    });
    if (drive) await drive(handle);
    const result = await handle.result();
    return { result, handle };
  });
}

async function waitForStatus(
  handle: { query: (q: typeof statusQuery) => Promise<{ status: string }> },
  status: string,
) {
  await expect.poll(async () => (await handle.query(statusQuery)).status, { timeout: 20_000 }).toBe(status);
}

describe('PaymentWorkflow (time-skipping server, fake activities)', () => {
  it('pays from the wallet in one step: hold, post and both states in one activity', async () => {
    const fakes = fakeActivities({ walletBalance: 5000 });
    const { result, handle } = await runPayment(request({ type: 'wallet' }), fakes);
    expect(result).toMatchObject({
      status: 'succeeded',
      amountCaptured: 1000,
      amountFromWallet: 1000,
      amountFromCard: 0,
      version: 2,
    });
    expect(fakes.calls).toEqual(['payFromWallet:1000']);
    expect(fakes.balance()).toBe(4000);
    expect(fakes.recorded.map((v) => `${v.status}:${v.version}`)).toEqual(['processing:1', 'succeeded:2']);
    await recordHistory(handle, 'payment-wallet-one-step');
  });

  it('fails with insufficient_funds, recorded as created then failed, and runs no compensation', async () => {
    const fakes = fakeActivities({ walletBalance: 10 });
    const { result } = await runPayment(request({ type: 'wallet' }), fakes);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'insufficient_funds' });
    expect(fakes.calls).toEqual(['payFromWallet:1000']);
    expect(fakes.balance()).toBe(10);
    expect(fakes.recorded.map((v) => v.status)).toEqual(['processing', 'failed']);
  });

  it('a wallet payment captured manually still holds first, then posts the captured amount', async () => {
    const fakes = fakeActivities({ walletBalance: 5000 });
    const { result } = await runPayment(
      request({ type: 'wallet' }, { capture: 'manual' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_capture');
        await handle.executeUpdate(captureUpdate, { args: [{ amount: 600 }] });
      },
    );
    expect(result).toMatchObject({ status: 'succeeded', amountCaptured: 600, amountFromWallet: 600 });
    expect(fakes.calls).toEqual(['holdWallet:1000', 'postWalletHold:600']);
    expect(fakes.balance()).toBe(4400);
  });

  it('voids an uncaptured authorization after the 7-day window', async () => {
    const fakes = fakeActivities();
    const start = await suite.env.currentTimeMs();
    const { result } = await runPayment(
      request({ type: 'card', token: 'tok_ok' }, { capture: 'manual' }),
      fakes,
    );
    expect(result).toMatchObject({ status: 'canceled', failureCode: 'expired', amountCaptured: 0 });
    expect(fakes.calls).toEqual(['authorizeCard:1000', 'voidCard']);
    expect((await suite.env.currentTimeMs()) - start).toBeGreaterThanOrEqual(
      DEFAULT_TIMEOUTS.authorizationWindowMs,
    );
  });

  it('captures part of a manual authorization', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(
      request({ type: 'card', token: 'tok_ok' }, { capture: 'manual' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_capture');
        const captured = await handle.executeUpdate(captureUpdate, { args: [{ amount: 600 }] });
        expect(captured).toMatchObject({ status: 'succeeded', amountCaptured: 600 });
      },
    );
    expect(result.amountCaptured).toBe(600);
    expect(fakes.calls).toEqual([
      'authorizeCard:1000',
      'captureCard:600',
      'systemTransfer:gateway_clearing->merchant_revenue:600',
    ]);
  });

  it('sends every gateway call to the connector of the payment: authorize, re-read, capture', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(
      request({ type: 'card', token: 'tok_3ds' }, { capture: 'manual' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_action');
        fakes.gateway.completeChallenge('auth_1', 'succeed');
        await handle.executeUpdate(completeActionUpdate, { args: [{ authorizationId: 'auth_1' }] });
        await waitForStatus(handle, 'requires_capture');
        await handle.executeUpdate(captureUpdate, { args: [{}] });
      },
      'acme',
    );
    expect(result).toMatchObject({ status: 'succeeded', connector: 'acme' });
    expect(fakes.calls.filter((call) => !call.startsWith('systemTransfer'))).toEqual([
      'authorizeCard:1000',
      'getAuthorization',
      'captureCard:1000',
    ]);
    expect(fakes.connectors).toEqual(['acme', 'acme', 'acme']);
    expect(fakes.recorded.every((view) => view.connector === 'acme')).toBe(true);
  });

  it('reads a payment input without a connector (older histories) as the sandbox, voids included', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(
      request({ type: 'card', token: 'tok_3ds' }),
      fakes,
      undefined,
      undefined,
    );
    expect(result).toMatchObject({ status: 'failed', failureCode: 'expired', connector: 'sandbox' });
    expect(fakes.calls).toEqual(['authorizeCard:1000:sale', 'voidCard']);
    expect(fakes.connectors).toEqual(['sandbox', 'sandbox']);
  });

  it('expires a payment whose 3-D Secure is never completed', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(request({ type: 'card', token: 'tok_3ds' }), fakes);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'expired' });
    expect(
      fakes.recorded.some(
        (v) => v.status === 'requires_action' && v.nextAction?.url === 'https://gateway.test/3ds/auth_1',
      ),
    ).toBe(true);
    expect(fakes.calls).toEqual(['authorizeCard:1000:sale', 'voidCard']);
  });

  it('continues after 3-D Secure succeeds and fails after it fails', async () => {
    for (const [outcome, expected] of [
      ['succeed', { status: 'succeeded', amountCaptured: 1000 }],
      ['fail', { status: 'failed', failureCode: 'authentication_failed' }],
    ] as const) {
      const fakes = fakeActivities();
      const { result } = await runPayment(
        request({ type: 'card', token: 'tok_3ds' }),
        fakes,
        async (handle) => {
          await waitForStatus(handle, 'requires_action');
          fakes.gateway.completeChallenge('auth_1', outcome);
          await handle.executeUpdate(completeActionUpdate, { args: [{ authorizationId: 'auth_1' }] });
        },
      );
      expect(result).toMatchObject(expected);
    }
  });

  it('a premature 3-D Secure webhook changes nothing; the real one moves the payment on', async () => {
    const fakes = fakeActivities();
    const { result, handle } = await runPayment(
      request({ type: 'card', token: 'tok_3ds' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_action');
        // A signed webhook arrives while the gateway still waits for the customer.
        const early = await handle.executeUpdate(completeActionUpdate, {
          args: [{ authorizationId: 'auth_1' }],
        });
        expect(early.status).toBe('requires_action');
        expect((await handle.query(statusQuery)).status).toBe('requires_action');
        fakes.gateway.completeChallenge('auth_1', 'succeed');
        await handle.executeUpdate(completeActionUpdate, { args: [{ authorizationId: 'auth_1' }] });
      },
    );
    await recordHistory(handle, 'payment-card-3ds-premature-webhook');
    expect(result).toMatchObject({ status: 'succeeded', amountCaptured: 1000 });
    expect(fakes.calls).toEqual([
      'authorizeCard:1000:sale',
      'getAuthorization',
      'getAuthorization',
      'settleCardPayment:1000',
    ]);
  });

  it('a premature webhook does not stop the 3-D Secure window from expiring', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(
      request({ type: 'card', token: 'tok_3ds' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_action');
        await handle.executeUpdate(completeActionUpdate, { args: [{ authorizationId: 'auth_1' }] });
      },
    );
    expect(result).toMatchObject({ status: 'failed', failureCode: 'expired' });
    expect(fakes.calls).toEqual(['authorizeCard:1000:sale', 'getAuthorization', 'voidCard']);
  });

  it('text PostgreSQL refuses fails the payment once, before money moves, instead of retrying forever', async () => {
    const fakes = fakeActivities({ walletBalance: 5000 });
    const { result } = await runPayment(
      request({ type: 'wallet' }, { description: 'a\u0000b', metadata: { note: 'x' } }),
      fakes,
    );
    expect(result).toMatchObject({ status: 'failed', failureCode: 'processing_error' });
    expect(result.description).toBeUndefined();
    expect(fakes.attempts.payFromWallet).toBe(1);
    expect(fakes.attempts.claimPayment).toBe(1);
    expect(fakes.calls).toEqual(['payFromWallet:1000']);
    expect(fakes.recorded.map((v) => v.status)).toEqual(['failed']);
    expect(fakes.balance()).toBe(5000);
  });

  it('a partial capture of a split payment reports the parts it captured', async () => {
    const fakes = fakeActivities({ walletBalance: 300 });
    const { result, handle } = await runPayment(
      request({ type: 'split', token: 'tok_ok' }, { capture: 'manual' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_capture');
        await handle.executeUpdate(captureUpdate, { args: [{ amount: 500 }] });
      },
    );
    await recordHistory(handle, 'payment-split-manual-partial-capture');
    expect(result).toMatchObject({
      status: 'succeeded',
      amountCaptured: 500,
      amountFromWallet: 300,
      amountFromCard: 200,
    });
  });

  it('ends requires_attention, not failed, when a compensation cannot run', async () => {
    const fakes = fakeActivities({ walletBalance: 300 });
    fakes.gateway.goDown('void');
    const { result, handle } = await runPayment(
      request({ type: 'split', token: 'tok_ok' }, { capture: 'manual' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_capture');
        // Accepted only: waiting on the workflow's result lets the server skip the void's retries.
        await handle.startUpdate(cancelUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
      },
    );
    expect(result).toMatchObject({
      status: 'requires_attention',
      failureMessage: expect.stringContaining('void card'),
    });
    // The wallet hold was still released; the card void was tried to the end of its budget.
    expect(fakes.calls.filter((c) => c === 'voidCard')).toHaveLength(8);
    expect(fakes.calls.at(-1)).toBe('voidWalletHold');
    expect(fakes.balance()).toBe(300);
    expect(fakes.recorded.at(-1)?.status).toBe('requires_attention');
    await recordHistory(handle, 'payment-split-cancel-void-fails');
  });

  it('never voids a captured card: a ledger that refuses the capture ends requires_attention', async () => {
    const fakes = fakeActivities({ captureLedgerRefused: true });
    const { result, handle } = await runPayment(request({ type: 'card', token: 'tok_ok' }), fakes);
    expect(result).toMatchObject({ status: 'requires_attention' });
    expect(result.failureMessage).toContain('captured');
    // A sale: captured with its authorization, then refused by the ledger.
    expect(fakes.calls).toEqual(['authorizeCard:1000:sale', 'settleCardPayment:1000']);
    expect(fakes.recorded.at(-1)?.status).toBe('requires_attention');
    await recordHistory(handle, 'payment-card-capture-ledger-refused');
  });

  it('charges a card captured at once as a sale: one gateway call, then the posting and succeeded in one step', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(request({ type: 'card', token: 'tok_ok' }), fakes);
    expect(result).toMatchObject({ status: 'succeeded', amountCaptured: 1000, amountFromCard: 1000 });
    expect(fakes.calls).toEqual(['authorizeCard:1000:sale', 'settleCardPayment:1000']);
    expect(fakes.recorded.map((view) => view.status)).toEqual(['processing', 'succeeded']);
  });

  it('captures a sale the gateway only authorized', async () => {
    const fakes = fakeActivities();
    const { result } = await runPayment(request({ type: 'card', token: 'tok_authorize_only' }), fakes);
    expect(result).toMatchObject({ status: 'succeeded', amountCaptured: 1000 });
    expect(fakes.calls).toEqual([
      'authorizeCard:1000:sale',
      'captureCard:1000',
      'systemTransfer:gateway_clearing->merchant_revenue:1000',
    ]);
  });

  it('fails with processing_error once the gateway retry budget is spent, and releases the wallet part', async () => {
    const fakes = fakeActivities({ walletBalance: 300 });
    fakes.gateway.goDown('authorize');
    const { result } = await runPayment(request({ type: 'split', token: 'tok_ok' }), fakes);
    expect(result).toMatchObject({ status: 'failed', failureCode: 'processing_error' });
    expect(fakes.attempts.authorizeCard).toBe(8);
    expect(fakes.calls.at(-1)).toBe('voidWalletHold');
    expect(fakes.balance()).toBe(300);
  });

  it('splits wallet first and card for the rest; a declined card part releases the wallet hold', async () => {
    const ok = fakeActivities({ walletBalance: 300 });
    const { result } = await runPayment(request({ type: 'split', token: 'tok_ok' }), ok);
    expect(result).toMatchObject({ status: 'succeeded', amountFromWallet: 300, amountFromCard: 700 });
    expect(ok.calls).toEqual([
      'holdWallet:1000',
      'authorizeCard:700',
      'captureCard:700',
      'systemTransfer:gateway_clearing->merchant_revenue:700',
      'postWalletHold:300',
    ]);

    const declined = fakeActivities({ walletBalance: 300 });
    const { result: failed, handle } = await runPayment(
      request({ type: 'split', token: 'tok_decline' }),
      declined,
    );
    await recordHistory(handle, 'payment-split-card-declined');
    // Nothing was captured from either source.
    expect(failed).toMatchObject({
      status: 'failed',
      failureCode: 'card_declined',
      amountCaptured: 0,
      amountFromWallet: 0,
      amountFromCard: 0,
    });
    expect(declined.recorded.at(-1)).toMatchObject({ status: 'failed', amountFromWallet: 0 });
    expect(declined.calls).toEqual(['holdWallet:1000', 'authorizeCard:700', 'voidWalletHold']);
    expect(declined.balance()).toBe(300);
  });

  it('a canceled split payment reports nothing taken from the wallet or the card', async () => {
    const fakes = fakeActivities({ walletBalance: 300 });
    const { result } = await runPayment(
      request({ type: 'split', token: 'tok_ok' }, { capture: 'manual' }),
      fakes,
      async (handle) => {
        await waitForStatus(handle, 'requires_capture');
        expect((await handle.query(statusQuery)).amountFromWallet).toBe(300);
        await handle.executeUpdate(cancelUpdate);
      },
    );
    expect(result).toMatchObject({
      status: 'canceled',
      amountCaptured: 0,
      amountFromWallet: 0,
      amountFromCard: 0,
    });
    expect(fakes.balance()).toBe(300);
  });

  describe('an order whose earlier run Temporal has deleted (retention)', () => {
    const earlier = (req: PaymentRequest): PaymentView => ({
      ...initialPaymentView({
        paymentId: 'pay_0123456789abcdef',
        tenantId: 'default',
        workflowId: paymentWorkflowId('default', req.orderId),
        request: req,
        requestHash: 'h',
        connector: 'sandbox',
        now: new Date('2026-01-01T00:00:00.000Z'),
      }),
      status: 'succeeded',
      amountCaptured: req.amount,
      amountFromCard: req.method.type === 'wallet' ? 0 : req.amount,
      amountFromWallet: req.method.type === 'wallet' ? req.amount : 0,
      version: 2,
    });

    it.each([
      ['card', { type: 'card', token: 'tok_ok' }],
      ['wallet', { type: 'wallet' }],
      ['split', { type: 'split', token: 'tok_ok' }],
    ] as const)('a %s payment moves no money and ends with the stored payment', async (_name, method) => {
      const req = request(method);
      const stored = earlier(req);
      const fakes = fakeActivities({ walletBalance: 5000, earlierRun: stored });
      const { result, handle } = await runPayment(req, fakes);
      expect(result).toEqual(stored);
      expect(fakes.calls.filter((call) => !call.startsWith('payFromWallet'))).toEqual([]);
      expect(fakes.recorded).toEqual([]);
      expect(fakes.balance()).toBe(5000);
      if (method.type === 'card') await recordHistory(handle, 'payment-card-earlier-run');
    });

    it("answers a request that differs from the earlier run's with order_already_paid", async () => {
      const req = request({ type: 'card', token: 'tok_ok' });
      const fakes = fakeActivities({ earlierRun: { ...earlier(req), requestHash: 'h-earlier' } });
      await suite.withWorker(fakes.activities, async (taskQueue) => {
        const answer = suite.env.client.workflow.executeUpdateWithStart(settledUpdate, {
          args: [{ requestHash: 'h' }],
          startWorkflowOperation: new WithStartWorkflowOperation(paymentWorkflow, {
            taskQueue,
            workflowId: paymentWorkflowId('default', req.orderId),
            workflowIdConflictPolicy: 'USE_EXISTING',
            args: [
              {
                paymentId: 'pay_0123456789abcdef',
                tenantId: 'default',
                request: req,
                requestHash: 'h',
                timeouts: DEFAULT_TIMEOUTS,
                connector: 'sandbox',
              },
            ],
          }),
        });
        const failure = await answer.then(
          () => undefined,
          (error: unknown) => (error as { cause?: { type?: string } }).cause?.type,
        );
        expect(failure).toBe('OrderAlreadyPaid');
      });
      expect(fakes.calls).toEqual([]);
    });
  });
});
