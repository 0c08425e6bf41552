import { afterAll, describe, expect, it } from 'vitest';
import { topUpWorkflowId } from '../../src/domain/ids.js';
import { testDatabase } from '../support/db.js';
import { chargesFor } from '../support/gateway.js';
import { apiRaw, expectLedgerClean, topUp, uid } from '../support/http.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

/** A customer with a saved 4242 card and, when `balance` is given, that much in the wallet. */
async function rider(balance?: number): Promise<{ customerId: string; pm: string }> {
  const customerId = uid('rider');
  expect((await apiRaw('POST', '/v1/customers', { id: customerId })).status).toBe(201);
  const saved = await apiRaw('POST', `/v1/customers/${customerId}/payment-methods`, {
    token: 'tok_test_4242',
  });
  expect(saved.status).toBe(201);
  if (balance !== undefined) await topUp(customerId, balance, 'EUR');
  return { customerId, pm: saved.body.id };
}

const autoTopUp = (customerId: string, body: Record<string, unknown>) =>
  apiRaw('PUT', `/v1/wallets/${customerId}/auto-top-up`, body);

const fare = (customerId: string, amount: number, extra: Record<string, unknown> = {}) =>
  apiRaw('POST', '/v1/payments', {
    orderId: uid('fare'),
    customerId,
    amount,
    currency: 'EUR',
    method: { type: 'wallet' },
    ...extra,
  });

const available = async (customerId: string) =>
  (await apiRaw('GET', `/v1/wallets/${customerId}`)).body.balances.find(
    (b: { currency: string }) => b.currency === 'EUR',
  )?.available as number | undefined;

async function walletEvents(customerId: string) {
  const { rows } = await db.pool.query<{ type: string; data: Record<string, unknown> }>(
    "SELECT type, data FROM events WHERE subject = $1 AND type LIKE 'wallet.auto_top_up.%' ORDER BY seq",
    [`wallets/${customerId}`],
  );
  return rows;
}

const autoTopUpCharge = (customerId: string, paymentId: string) =>
  chargesFor(topUpWorkflowId('default', customerId, `auto-${paymentId}`));

describe('wallet auto top-up', () => {
  it('pays a 1,200 fare from a 300 balance: one top-up of 2,000 from the saved card, one fare, 1,100 left', async () => {
    const { customerId, pm } = await rider(300);
    const set = await autoTopUp(customerId, {
      threshold: 500,
      amount: 2000,
      paymentMethodId: pm,
      currency: 'EUR',
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      customerId,
      threshold: 500,
      amount: 2000,
      dailyLimit: 10_000,
      paymentMethodId: pm,
    });
    expect((await apiRaw('GET', `/v1/wallets/${customerId}/auto-top-up`)).body).toEqual(set.body);

    const paid = await fare(customerId, 1200);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'succeeded', amountFromWallet: 1200, amountFromCard: 0 });
    expect(await available(customerId)).toBe(1100);
    // One charge, the top-up's (off-session, on the saved card); the fare charged no card.
    expect(await autoTopUpCharge(customerId, paid.body.id)).toMatchObject({
      authorizations: 1,
      captures: 1,
      capturedAmount: 2000,
    });
    expect((await chargesFor(paid.body.id)).authorizations).toBe(0);
    const events = await walletEvents(customerId);
    expect(events).toEqual([
      {
        type: 'wallet.auto_top_up.succeeded',
        data: { customerId, paymentId: paid.body.id, currency: 'EUR', amount: 2000, paymentMethodId: pm },
      },
    ]);

    // Above the threshold afterwards: the next fare needs no top-up.
    const next = await fare(customerId, 100);
    expect(next.body.status).toBe('succeeded');
    expect(await available(customerId)).toBe(1000);
    expect((await autoTopUpCharge(customerId, next.body.id)).authorizations).toBe(0);
  });

  it('a payment that fails after its top-up gets the top-up taken back and refunded', async () => {
    const { customerId, pm } = await rider();
    expect(
      (await autoTopUp(customerId, { threshold: 0, amount: 2000, paymentMethodId: pm, currency: 'EUR' }))
        .status,
    ).toBe(200);
    const held = await fare(customerId, 1200, { capture: 'manual' });
    expect(held.body.status).toBe('requires_capture');
    expect(await available(customerId)).toBe(800);

    const canceled = await apiRaw('POST', `/v1/payments/${held.body.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    expect(await available(customerId)).toBe(0);
    expect(await autoTopUpCharge(customerId, held.body.id)).toMatchObject({
      capturedAmount: 2000,
      refundedAmount: 2000,
    });
    const { rows } = await db.pool.query('SELECT status FROM wallet_auto_top_up_runs WHERE payment_id = $1', [
      held.body.id,
    ]);
    expect(rows).toEqual([{ status: 'reversed' }]);
  });

  it('stops at the daily limit, and says so', async () => {
    const { customerId, pm } = await rider();
    const set = await autoTopUp(customerId, {
      threshold: 0,
      amount: 1000,
      dailyLimit: 1000,
      paymentMethodId: pm,
      currency: 'EUR',
    });
    expect(set.status).toBe(200);
    expect((await fare(customerId, 800)).body.status).toBe('succeeded');
    expect(await available(customerId)).toBe(200);

    // The day's 1,000 is used: this fare is left to the 200 there is, and declined.
    const short = await fare(customerId, 800);
    expect(short.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'insufficient_funds',
    });
    expect((await autoTopUpCharge(customerId, short.body.id)).authorizations).toBe(0);
    const events = await walletEvents(customerId);
    expect(events.map((e) => e.type)).toEqual(['wallet.auto_top_up.succeeded', 'wallet.auto_top_up.failed']);
    expect(events[1]!.data).toMatchObject({ paymentId: short.body.id, reason: 'daily_limit_reached' });
  });

  it('refuses settings it cannot honour', async () => {
    const { customerId, pm } = await rider(100);
    const base = { threshold: 500, amount: 2000, paymentMethodId: pm, currency: 'EUR' };
    expect((await autoTopUp(customerId, { ...base, currency: 'USD' })).body.code).toBe('currency_mismatch');
    expect((await autoTopUp(customerId, { ...base, dailyLimit: 1000 })).body.code).toBe(
      'daily_limit_too_low',
    );
    expect((await autoTopUp(customerId, { ...base, paymentMethodId: 'pm_0000' })).body.code).toBe(
      'payment_method_not_found',
    );
    expect((await autoTopUp(uid('nobody'), base)).status).toBe(404);
    expect((await autoTopUp(customerId, { ...base, amount: 0 })).status).toBe(400);
    expect((await apiRaw('GET', `/v1/wallets/${customerId}/auto-top-up`)).status).toBe(404);
    expect((await autoTopUp(customerId, base)).status).toBe(200);
    expect((await apiRaw('DELETE', `/v1/wallets/${customerId}/auto-top-up`)).status).toBe(200);
    const without = await fare(customerId, 1200);
    expect(without.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'insufficient_funds',
    });
  });
});
