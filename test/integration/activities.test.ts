import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createCheckoutActivities } from '../../src/activities/checkout.js';
import { createLedgerActivities } from '../../src/activities/ledger.js';
import { createPaymentActivities } from '../../src/activities/payments.js';
import { refusingPermanentErrors } from '../../src/activities/permanent.js';
import { createRefundActivities } from '../../src/activities/refunds.js';
import { insertCheckoutSession, setCheckoutGatewaySession } from '../../src/db/checkout-sessions.js';
import type { PaymentClaim } from '../../src/db/payments.js';
import { getWalletBalances } from '../../src/db/wallets.js';
import { ErrorType } from '../../src/domain/errors.js';
import { initialPaymentView } from '../../src/domain/payment.js';
import { count, testDatabase } from '../support/db.js';

/**
 * Activities alone, in Temporal's mock activity context, against the real PostgreSQL: the
 * failure types and retry flags the workflows rely on.
 */
const handle = testDatabase();
const payments = refusingPermanentErrors(createPaymentActivities(handle.db));
const ledger = refusingPermanentErrors(createLedgerActivities(handle.db));
const refunds = createRefundActivities(handle.db);
const PUBLIC_URL = 'https://pay.activities.test';
const checkout = refusingPermanentErrors(createCheckoutActivities(handle.db, PUBLIC_URL));
const env = new MockActivityEnvironment();
afterAll(() => handle.close());

function view(overrides: Record<string, unknown> = {}) {
  const id = `pay_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  return {
    ...initialPaymentView({
      paymentId: id,
      tenantId: 'activities',
      workflowId: `payment:activities:${id}`,
      request: {
        orderId: `ord_${id}`,
        customerId: 'cus_activities',
        amount: 1000,
        currency: 'USD',
        method: { type: 'wallet' },
        capture: 'automatic',
      },
      requestHash: 'h',
      connector: 'sandbox',
      now: new Date(),
    }),
    version: 1,
    ...overrides,
  };
}

async function failureOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

/** A new customer whose wallet holds `amount` USD. */
async function fundedWallet(amount: number): Promise<string> {
  const customerId = `cus_${randomUUID().slice(0, 8)}`;
  await ledger.creditWallet({
    transferId: `t_${randomUUID()}`,
    tenantId: 'activities',
    customerId,
    currency: 'USD',
    amount,
    from: 'merchant_revenue',
  });
  return customerId;
}

describe('payment activities', () => {
  it('records a payment and its event once, however often it is retried', async () => {
    const v = view();
    for (let i = 0; i < 3; i++)
      await env.run((input: Parameters<typeof payments.recordPayment>[0]) => payments.recordPayment(input), {
        view: v,
        eventType: 'payment.created',
      });
    expect(await count(handle, 'SELECT 1 FROM payments WHERE id = $1', [v.id])).toBe(1);
    expect(await count(handle, "SELECT 1 FROM events WHERE subject = 'payments/' || $1", [v.id])).toBe(1);
  });

  it('refuses text PostgreSQL cannot store once, non-retryable, and stores nothing', async () => {
    for (const bad of [{ description: 'a\u0000b' }, { metadata: { note: 'x\ud800' } }]) {
      const v = view(bad);
      const failure = await failureOf(
        env.run((input: Parameters<typeof payments.recordPayment>[0]) => payments.recordPayment(input), {
          view: v,
          eventType: 'payment.created',
        }),
      );
      expect(failure.type).toBe(ErrorType.PersistenceRejected);
      expect(failure.nonRetryable).toBe(true);
      expect(await count(handle, 'SELECT 1 FROM payments WHERE id = $1', [v.id])).toBe(0);
    }
  });

  it("claims an order for its first run (retries included); a later run gets the earlier run's payment", async () => {
    const first = view();
    const claim = (v: typeof first): Promise<PaymentClaim> =>
      env.run((input: Parameters<typeof payments.claimPayment>[0]) => payments.claimPayment(input), {
        view: v,
      });
    expect(await claim(first)).toEqual({ claimed: true });
    expect(await claim(first)).toEqual({ claimed: true });
    await payments.recordPayment({
      view: { ...first, status: 'failed', version: 2 },
      eventType: 'payment.failed',
    });
    const later = { ...first, createdAt: new Date(Date.parse(first.createdAt) + 1).toISOString() };
    const lost = await claim(later);
    expect(lost).toMatchObject({ claimed: false, stored: { id: first.id, status: 'failed', version: 2 } });
    expect(lost.claimed === false && lost.stored.createdAt).toBe(first.createdAt);
    expect(await count(handle, "SELECT 1 FROM events WHERE subject = 'payments/' || $1", [first.id])).toBe(2);
  });
});

describe('refund activities', () => {
  it('refuses a refund of a fully refunded payment as amount_exceeds_refundable, not payment_not_captured', async () => {
    const v = view({
      status: 'refunded',
      amountCaptured: 1000,
      amountRefunded: 1000,
      amountFromWallet: 1000,
    });
    await payments.recordPayment({ view: v });
    const reserved = await refunds.reserveRefund({
      refundId: `re_${randomUUID().slice(0, 8)}`,
      tenantId: v.tenantId,
      paymentId: v.id,
      workflowId: `refund:${v.tenantId}:${v.id}:k`,
      now: new Date().toISOString(),
    });
    expect(reserved).toMatchObject({ ok: false, code: 'amount_exceeds_refundable' });
  });
});

describe('ledger activities', () => {
  it('refuses a hold beyond the wallet as InsufficientFunds: final, and benign (no WARN stack)', async () => {
    const customerId = `cus_${randomUUID().slice(0, 8)}`;
    const failure = await failureOf(
      env.run((input: Parameters<typeof ledger.holdWallet>[0]) => ledger.holdWallet(input), {
        transferId: `t_${randomUUID()}`,
        tenantId: 'activities',
        customerId,
        currency: 'USD' as const,
        amount: 500,
      }),
    );
    expect(failure.type).toBe(ErrorType.InsufficientFunds);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.category).toBe('BENIGN');
  });

  it('pays nothing from the wallet for an order an earlier run of which failed', async () => {
    const customerId = await fundedWallet(5000);
    const earlier = view({ customerId, status: 'failed', failureCode: 'insufficient_funds', version: 2 });
    await payments.recordPayment({ view: earlier, eventType: 'payment.failed' });
    const created = { ...view({ customerId }), id: earlier.id, orderId: earlier.orderId };
    const paid = await ledger.payFromWallet({
      holdId: `${earlier.workflowId}#wallet-hold`,
      postId: `${earlier.workflowId}#wallet-post`,
      created,
      succeeded: {
        ...created,
        status: 'succeeded',
        amountCaptured: 1000,
        amountFromWallet: 1000,
        version: 2,
      },
    });
    expect(paid).toMatchObject({ claimed: false, stored: { status: 'failed' } });
    expect(
      await count(handle, 'SELECT 1 FROM ledger_transfers WHERE id LIKE $1', [`${earlier.workflowId}#%`]),
    ).toBe(0);
    const [wallet] = await getWalletBalances(handle.db, 'activities', customerId);
    expect(Number(wallet?.available)).toBe(5000);
  });

  it('pays once for an order an earlier run of which paid with the same transfer ids, and leaves its payment as it is', async () => {
    const customerId = await fundedWallet(5000);
    const run = (createdAt: string) => {
      const created = { ...first, createdAt, updatedAt: createdAt };
      return {
        holdId: `${first.workflowId}#wallet-hold`,
        postId: `${first.workflowId}#wallet-post`,
        created,
        succeeded: {
          ...created,
          status: 'succeeded' as const,
          amountCaptured: 1000,
          amountFromWallet: 1000,
          version: 2,
        },
      };
    };
    const first = view({ customerId });
    const earlier = run(first.createdAt);
    expect(await ledger.payFromWallet(earlier)).toEqual({ claimed: true });
    // Its workflow is gone; a new run of the order starts later, with the same ids.
    const later = run(new Date(Date.parse(first.createdAt) + 60_000).toISOString());
    const paid = await ledger.payFromWallet(later);
    expect(paid).toMatchObject({
      claimed: false,
      stored: { status: 'succeeded', createdAt: first.createdAt },
    });
    const [wallet] = await getWalletBalances(handle.db, 'activities', customerId);
    expect(Number(wallet?.available)).toBe(4000);
  });

  it('lets a transient database error through to be retried', async () => {
    const broken = refusingPermanentErrors({
      async ping(): Promise<void> {
        throw Object.assign(new Error('terminating connection due to administrator command'), {
          code: '57P01',
        });
      },
    });
    const error = await env.run(() => broken.ping()).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ApplicationFailure);
    expect((error as Error).message).toContain('administrator command');
  });
});

describe('checkout activities', () => {
  /** A stored open session of tenant `activities`, as the API's create writes it. */
  async function storedSession() {
    const id = `cs_${randomUUID().replaceAll('-', '')}`;
    const now = new Date().toISOString();
    expect(
      await insertCheckoutSession(handle.db, {
        id,
        tenantId: 'activities',
        orderId: `ord_${id}`,
        customerId: 'cus_activities',
        amount: 1250,
        currency: 'USD',
        successUrl: 'https://merchant.example/done',
        cancelUrl: 'https://merchant.example/cancel',
        allowedMethods: ['card'],
        status: 'open',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        createdAt: now,
        updatedAt: now,
      }),
    ).toBe(true);
    return id;
  }
  const announce = (sessionId: string) =>
    env.run(
      (input: Parameters<typeof checkout.announceCheckoutSession>[0]) =>
        checkout.announceCheckoutSession(input),
      { tenantId: 'activities', sessionId },
    );
  const createdEvents = async (sessionId: string) =>
    (
      await handle.pool.query<{ data: Record<string, unknown> }>(
        "SELECT data FROM events WHERE subject = $1 AND type = 'checkout_session.created'",
        [`checkout_sessions/${sessionId}`],
      )
    ).rows;

  it('announces a session once, however often it is retried, with its hosted page', async () => {
    const id = await storedSession();
    for (let i = 0; i < 3; i++) expect(await announce(id)).toBe(true);
    const events = await createdEvents(id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ id, status: 'open', url: `${PUBLIC_URL}/checkout/${id}` });
    expect(events[0]!.data).not.toHaveProperty('tenantId');
  });

  it("names the connector's page when the session has one", async () => {
    const id = await storedSession();
    const page = {
      connector: 'stripe',
      sessionId: 'cs_test_page',
      url: 'https://checkout.stripe.test/c/pay',
    };
    await setCheckoutGatewaySession(handle.db, id, page);
    expect(await announce(id)).toBe(true);
    expect((await createdEvents(id))[0]!.data).toMatchObject({
      url: page.url,
      connector: 'stripe',
      gatewaySessionId: 'cs_test_page',
    });
  });

  it('writes nothing for a session that is not stored', async () => {
    const id = `cs_${randomUUID().replaceAll('-', '')}`;
    expect(await announce(id)).toBe(false);
    expect(await createdEvents(id)).toEqual([]);
  });
});
