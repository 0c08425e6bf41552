import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkoutWorkflowId } from '../../src/domain/checkout.js';
import { paymentWorkflowId } from '../../src/domain/ids.js';
import type { PaymentRequest } from '../../src/domain/payment.js';
import { checkoutSessionWorkflow } from '../../src/workflows/checkout-session.js';
import {
  checkoutStatusQuery,
  DEFAULT_TIMEOUTS,
  expireCheckoutUpdate,
  statusQuery,
  type PaymentWorkflowInput,
} from '../../src/workflows/contract.js';
import { paymentWorkflow } from '../../src/workflows/payment.js';
import { GATEWAY_RETRY_BUDGET } from '../../src/workflows/activities.js';
import { FAKE_PUBLIC_URL, fakeActivities } from '../support/fake-activities.js';
import { recordHistory } from '../support/fixtures.js';
import { timeSkippingSuite } from '../support/time-skipping.js';

const suite = timeSkippingSuite();
const HOUR = 3_600_000;

async function startSession(
  taskQueue: string,
  orderId: string,
  expiresInMs: number,
  gateway?: { connector: string; sessionId: string },
) {
  const sessionId = `cs_${randomUUID().replaceAll('-', '')}`;
  const expiresAt = new Date((await suite.env.currentTimeMs()) + expiresInMs).toISOString();
  const handle = await suite.env.client.workflow.start(checkoutSessionWorkflow, {
    taskQueue,
    workflowId: checkoutWorkflowId('default', sessionId),
    // As an integration profile opens them: announced (checkout_session.created first).
    args: [
      { tenantId: 'default', sessionId, orderId, expiresAt, announce: true, ...(gateway ? { gateway } : {}) },
    ],
  });
  return { sessionId, expiresAt, handle };
}

/** A session whose page is on the (in-memory) gateway, as a Stripe tenant's is. */
async function startGatewaySession(
  taskQueue: string,
  fakes: ReturnType<typeof fakeActivities>,
  orderId: string,
  expiresInMs: number,
) {
  const page = await fakes.gateway.createCheckoutSession({
    idempotencyKey: `create ${orderId}`,
    reference: 'cs_paysaga',
    tenantId: 'default',
    orderId,
    amount: 1000,
    currency: 'USD',
    name: `Order ${orderId}`,
    successUrl: 'https://merchant.example/success',
    cancelUrl: 'https://merchant.example/cancel',
    expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
  });
  const started = await startSession(taskQueue, orderId, expiresInMs, {
    connector: 'sandbox',
    sessionId: page.id,
  });
  return { ...started, page };
}

function startPayment(
  taskQueue: string,
  orderId: string,
  token: string,
  checkoutSessionId: string,
  paidOnGateway?: { authorizationId: string },
) {
  const request: PaymentRequest = {
    orderId,
    customerId: 'cus_1',
    amount: 1000,
    currency: 'USD',
    method: { type: 'card', token },
    capture: 'automatic',
  };
  const input: PaymentWorkflowInput = {
    paymentId: `pay_${randomUUID().replaceAll('-', '')}`,
    tenantId: 'default',
    request,
    requestHash: 'h',
    timeouts: DEFAULT_TIMEOUTS,
    connector: 'sandbox',
    checkoutSessionId,
    ...(paidOnGateway ? { paidOnGateway } : {}),
  };
  return suite.env.client.workflow.start(paymentWorkflow, {
    taskQueue,
    workflowId: paymentWorkflowId('default', orderId),
    args: [input],
  });
}

describe('checkout session workflow (time-skipping server, fake activities)', () => {
  it('a session opened over the API is not announced: its only event is its end, as before', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const sessionId = `cs_${randomUUID().replaceAll('-', '')}`;
      const handle = await suite.env.client.workflow.start(checkoutSessionWorkflow, {
        taskQueue,
        workflowId: checkoutWorkflowId('default', sessionId),
        args: [
          {
            tenantId: 'default',
            sessionId,
            orderId: `ord_${randomUUID()}`,
            expiresAt: new Date((await suite.env.currentTimeMs()) + HOUR).toISOString(),
          },
        ],
      });
      expect((await handle.executeUpdate(expireCheckoutUpdate)).status).toBe('expired');
      await handle.result();
    });
    expect(fakes.calls).toEqual(['expireCheckoutSession']);
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual(['checkout_session.expired']);
  });

  it('announces the session as its first step, once, with its page in checkout_session.created', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const { handle, sessionId } = await startSession(taskQueue, `ord_${randomUUID()}`, 24 * HOUR);
      await expect.poll(() => fakes.calls).toEqual(['announceCheckoutSession']);
      // Still open: the announcement does not end it.
      expect(await handle.query(checkoutStatusQuery)).toBe('open');
      expect((await handle.executeUpdate(expireCheckoutUpdate)).status).toBe('expired');
      await handle.result();

      const created = fakes.checkoutEvents[0]!;
      expect(created).toMatchObject({
        type: 'checkout_session.created',
        subject: `checkout_sessions/${sessionId}`,
        tenantid: 'default',
        data: { id: sessionId, status: 'open', url: `${FAKE_PUBLIC_URL}/checkout/${sessionId}` },
      });
      // As the API shows the session: no tenant.
      expect(created.data).not.toHaveProperty('tenantId');
      // Its own id, apart from the end's (both derived from the session's workflow).
      expect(created.id).not.toBe(fakes.checkoutEvents[1]!.id);

      // The workflow's first step is the announcement (before its expiry timer), and it ran once.
      const steps = ((await handle.fetchHistory()).events ?? []).flatMap((event) => {
        if (event.timerStartedEventAttributes) return ['timer'];
        const payload = event.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
        return payload ? [JSON.parse(Buffer.from(payload).toString()).activity_type as string] : [];
      });
      expect(steps).toEqual(['announceCheckoutSession', 'timer', 'expireCheckoutSession']);
      await recordHistory(handle, 'checkoutsession-created-expired');
    });
    expect(fakes.calls).toEqual(['announceCheckoutSession', 'expireCheckoutSession']);
  });

  it('expires at its timer when nobody pays, writing checkout_session.expired', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const { handle, expiresAt } = await startSession(taskQueue, `ord_${randomUUID()}`, 24 * HOUR);
      expect(await handle.query(checkoutStatusQuery)).toBe('open');
      const ended = await handle.result();
      expect(ended.status).toBe('expired');
      // The timer fired at expiresAt, not before.
      expect(Date.parse(ended.expiredAt!)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
      await recordHistory(handle, 'checkoutsession-expired');
    });
    expect(fakes.calls).toEqual(['announceCheckoutSession', 'expireCheckoutSession']);
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.expired',
    ]);
    expect(fakes.checkoutEvents[1]!.subject).toMatch(/^checkout_sessions\/cs_/);
  });

  it('completes when its payment succeeds and never expires afterwards', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const orderId = `ord_${randomUUID()}`;
      const { handle, sessionId } = await startSession(taskQueue, orderId, HOUR);
      const payment = await startPayment(taskQueue, orderId, 'tok_ok', sessionId);
      expect((await payment.result()).status).toBe('succeeded');
      const ended = await handle.result();
      expect(ended).toMatchObject({ status: 'complete', paymentId: (await payment.query(statusQuery)).id });
      await recordHistory(handle, 'checkoutsession-complete');
      await recordHistory(payment, 'payment-card-checkout-session');
      // Past the expiry: the workflow has ended, no timer is left to expire it.
      await suite.env.sleep(2 * HOUR);
    });
    expect(fakes.calls.filter((call) => call.includes('CheckoutSession'))).toEqual([
      'announceCheckoutSession',
      'completeCheckoutSession',
    ]);
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.completed',
    ]);
  });

  it('stays open after a declined payment, then expires', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const orderId = `ord_${randomUUID()}`;
      const { handle, sessionId, expiresAt } = await startSession(taskQueue, orderId, HOUR);
      const payment = await startPayment(taskQueue, orderId, 'tok_decline', sessionId);
      expect((await payment.result()).status).toBe('failed');
      expect((await handle.result()).status).toBe('expired');
      // Ended by its timer (the test server may skip to it while the payment runs), not by the decline.
      expect(Date.parse(fakes.checkoutEvents.at(-1)!.time)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    });
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.expired',
    ]);
  });

  it('cancels a payment still waiting for 3-D Secure when it expires', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const orderId = `ord_${randomUUID()}`;
      // Shorter than the payment's own action window: the session's expiry cancels it first.
      const { handle, sessionId } = await startSession(
        taskQueue,
        orderId,
        DEFAULT_TIMEOUTS.actionWindowMs / 2,
      );
      const payment = await startPayment(taskQueue, orderId, 'tok_3ds', sessionId);
      await expect
        .poll(async () => (await payment.query(statusQuery)).status, { timeout: 20_000 })
        .toBe('requires_action');
      expect((await handle.result()).status).toBe('expired');
      expect(await payment.result()).toMatchObject({ status: 'canceled' });
      await recordHistory(payment, 'payment-card-3ds-checkout-session-expired');
    });
    expect(fakes.calls).toContain('voidCard');
  });

  it('is expired on request before its timer', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const { handle } = await startSession(taskQueue, `ord_${randomUUID()}`, 24 * HOUR);
      const ended = await handle.executeUpdate(expireCheckoutUpdate);
      expect(ended.status).toBe('expired');
      expect((await handle.result()).status).toBe('expired');
    });
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.expired',
    ]);
  });

  it("expires the gateway's page with the session, at its timer", async () => {
    const fakes = fakeActivities();
    let pageId = '';
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const { handle, page } = await startGatewaySession(taskQueue, fakes, `ord_${randomUUID()}`, HOUR);
      pageId = page.id;
      expect((await handle.result()).status).toBe('expired');
    });
    expect(fakes.calls).toEqual([
      'announceCheckoutSession',
      'expireGatewayCheckoutSession',
      'expireCheckoutSession',
    ]);
    const page = await fakes.gateway.expireCheckoutSession({ idempotencyKey: 'again', sessionId: pageId });
    expect(page.status).toBe('expired');
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.expired',
    ]);
  });

  it('paid on the gateway: the payment records its sale (no card call) and completes the session', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const orderId = `ord_${randomUUID()}`;
      const { handle, sessionId, page } = await startGatewaySession(taskQueue, fakes, orderId, HOUR);
      const authorizationId = fakes.gateway.payCheckout(page.id);
      const payment = await startPayment(taskQueue, orderId, authorizationId, sessionId, { authorizationId });
      expect(await payment.result()).toMatchObject({
        status: 'succeeded',
        amountCaptured: 1000,
        amountFromCard: 1000,
        gatewayAuthorizationId: authorizationId,
      });
      expect(await handle.result()).toMatchObject({ status: 'complete' });
      await recordHistory(payment, 'payment-card-paid-on-gateway');
    });
    // The session's own first step runs alongside the payment: its order among these is not the point.
    expect(
      fakes.calls.filter((call) => !call.startsWith('record') && call !== 'announceCheckoutSession'),
    ).toEqual(['getAuthorization', 'settleCardPayment:1000', 'completeCheckoutSession']);
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.completed',
    ]);
  });

  it("expired while its gateway page was being paid: the page's payment completes it", async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const orderId = `ord_${randomUUID()}`;
      const { handle, sessionId, page } = await startGatewaySession(taskQueue, fakes, orderId, HOUR);
      const authorizationId = fakes.gateway.payCheckout(page.id);
      const expiring = handle.executeUpdate(expireCheckoutUpdate);
      await expect.poll(() => fakes.calls.includes('expireGatewayCheckoutSession')).toBe(true);
      // The gateway's webhook makes the order's payment from the page's charge.
      await startPayment(taskQueue, orderId, authorizationId, sessionId, { authorizationId });
      expect(await expiring).toMatchObject({ status: 'complete' });
    });
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.completed',
    ]);
  });

  it("fails a payment whose gateway charge is not a captured one of the order's amount", async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const orderId = `ord_${randomUUID()}`;
      const other = await fakes.gateway.authorize({
        idempotencyKey: 'other',
        token: 'tok_ok',
        amount: 999,
        currency: 'USD',
        reference: 'pay_other',
        capture: true,
      });
      const payment = await startPayment(taskQueue, orderId, other.id, 'cs_none', {
        authorizationId: other.id,
      });
      expect(await payment.result()).toMatchObject({ status: 'failed', failureCode: 'processing_error' });
    });
    expect(fakes.calls).not.toContain('settleCardPayment:1000');
  });

  it('expires even when the gateway stays down past its retry budget', async () => {
    const fakes = fakeActivities();
    await suite.withWorker(fakes.activities, async (taskQueue) => {
      const { handle } = await startGatewaySession(taskQueue, fakes, `ord_${randomUUID()}`, HOUR);
      fakes.gateway.goDown('checkout');
      expect((await handle.executeUpdate(expireCheckoutUpdate)).status).toBe('expired');
    });
    expect(fakes.attempts.expireGatewayCheckoutSession).toBe(GATEWAY_RETRY_BUDGET.maximumAttempts);
    expect(fakes.checkoutEvents.map((event) => event.type)).toEqual([
      'checkout_session.created',
      'checkout_session.expired',
    ]);
  });
});
