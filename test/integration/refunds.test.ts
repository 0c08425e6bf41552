import { afterAll, describe, expect, it } from 'vitest';
import { count, testDatabase } from '../support/db.js';
import { chargesFor } from '../support/gateway.js';
import { api, expectLedgerClean, topUp, uid } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

async function cardPayment(amount = 4000, extra: Record<string, unknown> = {}) {
  const res = await api('POST', '/v1/payments', {
    orderId: uid('ord'),
    customerId: uid('cus'),
    amount,
    currency: 'USD',
    method: { type: 'card', token: 'tok_test_4242' },
    ...extra,
  });
  return res.body;
}
const refund = (
  paymentId: string,
  body: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) => api('POST', `/v1/payments/${paymentId}/refunds`, body, { headers });
const payment = async (id: string) => (await api('GET', `/v1/payments/${id}`)).body;

describe('refunds', () => {
  it('refunds a wallet payment in full back to the wallet', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 3000);
    const paid = (
      await api('POST', '/v1/payments', {
        orderId: uid('ord'),
        customerId,
        amount: 2000,
        currency: 'USD',
        method: { type: 'wallet' },
      })
    ).body;
    const res = await refund(paid.id, { reason: 'customer changed their mind' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'succeeded',
      amount: 2000,
      amountToWallet: 2000,
      amountToCard: 0,
      reason: 'customer changed their mind',
    });
    expect(await payment(paid.id)).toMatchObject({ status: 'refunded', amountRefunded: 2000 });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 3000,
    });
    const types = await db.pool.query('SELECT type FROM events WHERE subject IN ($1, $2) ORDER BY seq', [
      `refunds/${res.body.id}`,
      `wallets/${customerId}`,
    ]);
    expect(types.rows.map((r) => r.type)).toEqual(
      expect.arrayContaining(['refund.succeeded', 'wallet.updated']),
    );
    expect((await api('GET', `/v1/refunds/${res.body.id}`)).body).toEqual(res.body);
  });

  it('refunds a card payment in parts, then the rest, then refuses more', async () => {
    const paid = await cardPayment(4200);
    expect((await refund(paid.id, { amount: 1000 })).body).toMatchObject({
      status: 'succeeded',
      amountToCard: 1000,
    });
    expect(await payment(paid.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });
    expect((await refund(paid.id, { amount: 500 })).body.status).toBe('succeeded');
    expect((await refund(paid.id)).body).toMatchObject({ status: 'succeeded', amount: 2700 });
    expect(await payment(paid.id)).toMatchObject({ status: 'refunded', amountRefunded: 4200 });
    expect((await chargesFor(paid.id)).refundedAmount).toBe(4200);
    const more = await refund(paid.id, { amount: 1 });
    expect(more.status).toBe(422);
    expect(more.body.code).toBe('amount_exceeds_refundable');
    const listed = await api('GET', `/v1/payments/${paid.id}/refunds`);
    expect(listed.body.data.map((r: any) => r.amount).sort()).toEqual([1000, 2700, 500].sort());
  });

  it('refunds a split payment to the wallet first, then the card', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const paid = (
      await api('POST', '/v1/payments', {
        orderId: uid('ord'),
        customerId,
        amount: 4200,
        currency: 'USD',
        method: { type: 'split', token: 'tok_test_4242' },
      })
    ).body;
    const res = await refund(paid.id, { amount: 1500 });
    expect(res.body).toMatchObject({ status: 'succeeded', amountToWallet: 1000, amountToCard: 500 });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 1000,
    });
    expect((await chargesFor(paid.id)).refundedAmount).toBe(500);
  });

  it('treats a repeated Idempotency-Key as the same refund', async () => {
    const paid = await cardPayment();
    const key = uid('key');
    const first = await refund(paid.id, { amount: 700 }, { 'idempotency-key': key });
    const second = await refund(paid.id, { amount: 700 }, { 'idempotency-key': key });
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect((await chargesFor(paid.id)).refundedAmount).toBe(700);
    expect((await payment(paid.id)).amountRefunded).toBe(700);
  });

  it('refunds at most what a partial capture took', async () => {
    const auth = await cardPayment(4200, { capture: 'manual' });
    await api('POST', `/v1/payments/${auth.id}/capture`, { amount: 3000 });
    expect((await refund(auth.id, { amount: 3500 })).status).toBe(422);
    expect((await refund(auth.id)).body).toMatchObject({ status: 'succeeded', amount: 3000 });
  });

  it('refuses bad refunds with clear problems', async () => {
    const paid = await cardPayment();
    const manual = await cardPayment(1000, { capture: 'manual' });
    const declined = (
      await api('POST', '/v1/payments', {
        orderId: uid('ord'),
        customerId: uid('cus'),
        amount: 100,
        currency: 'USD',
        method: { type: 'card', token: 'tok_test_0000' },
      })
    ).body;
    const before = await count(db, 'SELECT 1 FROM refunds');
    expect((await refund(paid.id, { amount: -5 })).status).toBe(400);
    expect((await refund(paid.id, { amount: 0 })).status).toBe(400);
    expect((await refund(paid.id, { amount: 4001 })).body.code).toBe('amount_exceeds_refundable');
    expect((await refund('pay_doesnotexist', { amount: 1 })).body.code).toBe('payment_not_found');
    const otherTenant = await api(
      'POST',
      `/v1/payments/${paid.id}/refunds`,
      { amount: 1 },
      { key: TENANT_KEYS.other },
    );
    expect(otherTenant.status).toBe(404);
    for (const p of [manual, declined]) {
      const res = await refund(p.id, { amount: 1 });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('payment_not_captured');
    }
    expect(await count(db, 'SELECT 1 FROM refunds')).toBe(before);
    expect((await chargesFor(paid.id)).refundedAmount).toBe(0);
  });

  it('20 concurrent refunds asking for twice the captured amount never over-refund', async () => {
    const paid = await cardPayment(4000);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refund(paid.id, { amount: 400 })));
    const accepted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    const acceptedSum = accepted.reduce((sum, a) => sum + a.body.amount, 0);
    console.log(
      `concurrent refunds: ${accepted.length} accepted (${acceptedSum}), ${refused.length} refused`,
    );
    expect(acceptedSum).toBeLessThanOrEqual(4000);
    expect(acceptedSum).toBe(4000);
    for (const r of refused) expect(r.body.code).toBe('amount_exceeds_refundable');
    expect((await chargesFor(paid.id)).refundedAmount).toBe(acceptedSum);
    expect(await payment(paid.id)).toMatchObject({ status: 'refunded', amountRefunded: 4000 });
    const ledger = await db.pool.query(
      "SELECT COALESCE(SUM(amount), 0)::int AS total FROM ledger_transfers WHERE id LIKE $1 AND id LIKE '%#card-refund'",
      [`refund:default:${paid.id}:%`],
    );
    expect(ledger.rows[0].total).toBe(acceptedSum);
  });

  it('concurrent full refunds: one refunds, every other is 422 amount_exceeds_refundable', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const paid = (
      await api('POST', '/v1/payments', {
        orderId: uid('ord'),
        customerId,
        amount: 1000,
        currency: 'USD',
        method: { type: 'wallet' },
      })
    ).body;
    // A wallet refund settles in milliseconds, so later requests find the payment refunded.
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        new Promise((resolve) => setTimeout(resolve, i * 4)).then(() => refund(paid.id)),
      ),
    );
    const refused = answers.filter((a) => a.status !== 200);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(refused.map((a) => [a.status, a.body.code])).toEqual(
      refused.map(() => [422, 'amount_exceeds_refundable']),
    );
    expect(await payment(paid.id)).toMatchObject({ status: 'refunded', amountRefunded: 1000 });
  });

  it('refunds a card with a 255-character Idempotency-Key: the gateway gets a key it accepts', async () => {
    const paid = await cardPayment(1000);
    const res = await refund(paid.id, { amount: 400 }, { 'idempotency-key': uid('key').padEnd(255, 'k') });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'succeeded', amountToCard: 400 });
    expect((await chargesFor(paid.id)).refundedAmount).toBe(400);
  });
});
