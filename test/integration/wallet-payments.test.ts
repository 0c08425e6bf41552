import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, testDatabase } from '../support/db.js';
import { api, expectLedgerClean, topUp, uid, type PaymentBody } from '../support/http.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

describe('wallet payments through the API, Temporal and PostgreSQL', () => {
  let customerId: string;
  beforeAll(async () => {
    customerId = uid('cus');
    await topUp(customerId, 5000);
  });

  it('pays from the wallet and answers with the settled payment in one round trip', async () => {
    const orderId = uid('ord');
    const res = await api('POST', '/v1/payments', {
      orderId,
      customerId,
      amount: 2500,
      currency: 'USD',
      method: { type: 'wallet' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      orderId,
      customerId,
      amount: 2500,
      currency: 'USD',
      status: 'succeeded',
      amountCaptured: 2500,
    });
    expect(res.body.reference).toMatch(/^PAY-\d{8}-[0-9a-f]{8}$/);

    const read = await api('GET', `/v1/payments/${res.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);

    const wallet = await api('GET', `/v1/wallets/${customerId}`);
    expect(wallet.body.balances).toEqual([{ currency: 'USD', available: 2500, pending: 0 }]);

    const events = await db.pool.query('SELECT type, data FROM events WHERE subject = $1 ORDER BY seq', [
      `payments/${res.body.id}`,
    ]);
    expect(events.rows.map((e) => e.type)).toEqual(['payment.created', 'payment.succeeded']);
    expect(events.rows[1].data).toMatchObject({ id: res.body.id, status: 'succeeded' });
  });

  it('never charges twice for the same order', async () => {
    const orderId = uid('ord');
    const body: PaymentBody = {
      orderId,
      customerId,
      amount: 1000,
      currency: 'USD',
      method: { type: 'wallet' },
    };
    const first = await api('POST', '/v1/payments', body);
    const second = await api('POST', '/v1/payments', body);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(
      await count(db, 'SELECT 1 FROM ledger_transfers WHERE id LIKE $1', [`payment:default:${orderId}#%`]),
    ).toBe(2); // hold + post

    const different = await api('POST', '/v1/payments', { ...body, amount: 999 });
    expect(different.status).toBe(409);
    expect(different.body.code).toBe('order_already_paid');
  });

  it('answers 409 for a running payment asked for with other parameters, also asynchronously', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 5000);
    const body: PaymentBody = {
      orderId: uid('ord'),
      customerId,
      amount: 1200,
      currency: 'USD',
      method: { type: 'wallet' },
      capture: 'manual',
    };
    expect((await api('POST', '/v1/payments', body)).body.status).toBe('requires_capture');
    for (const headers of [{}, { prefer: 'respond-async' }] as Record<string, string>[]) {
      const other = await api('POST', '/v1/payments', { ...body, metadata: { note: 'x' } }, { headers });
      expect(other.status).toBe(409);
      expect(other.body.code).toBe('order_already_paid');
    }
    const same = await api('POST', '/v1/payments', body, { headers: { prefer: 'respond-async' } });
    expect(same.body).toMatchObject({ status: 'requires_capture', amount: 1200 });
  });

  it('declines with insufficient_funds and leaves the ledger untouched', async () => {
    const poor = uid('cus');
    await topUp(poor, 100);
    const transfersBefore = await count(db, 'SELECT 1 FROM ledger_transfers');
    const res = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: poor,
      amount: 101,
      currency: 'USD',
      method: { type: 'wallet' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'insufficient_funds',
      amountCaptured: 0,
    });
    expect(await count(db, 'SELECT 1 FROM ledger_transfers')).toBe(transfersBefore);
    const wallet = await api('GET', `/v1/wallets/${poor}`);
    expect(wallet.body.balances).toEqual([{ currency: 'USD', available: 100, pending: 0 }]);
  });

  it('refuses a payment in a currency the wallet does not hold', async () => {
    const res = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId,
      amount: 100,
      currency: 'EUR',
      method: { type: 'wallet' },
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.code).toBe('currency_mismatch');
  });

  it('answers 202 with the processing payment when the client prefers async', async () => {
    const res = await api(
      'POST',
      '/v1/payments',
      { orderId: uid('ord'), customerId, amount: 10, currency: 'USD', method: { type: 'wallet' } },
      { headers: { prefer: 'respond-async' } },
    );
    expect(res.status).toBe(202);
    expect(['processing', 'succeeded']).toContain(res.body.status);
    await expect
      .poll(async () => (await api('GET', `/v1/payments/${res.body.id}`)).body.status)
      .toBe('succeeded');
  });

  it('lists wallet transactions newest first, page by page with a cursor', async () => {
    const customer = uid('cus');
    for (const amount of [100, 200, 300]) await topUp(customer, amount);
    await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: customer,
      amount: 50,
      currency: 'USD',
      method: { type: 'wallet' },
    });
    const first = await api('GET', `/v1/wallets/${customer}/transactions?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api(
      'GET',
      `/v1/wallets/${customer}/transactions?limit=2&cursor=${first.body.nextCursor}`,
    );
    const third = await api(
      'GET',
      `/v1/wallets/${customer}/transactions?limit=2&cursor=${second.body.nextCursor}`,
    );
    const all = [...first.body.data, ...second.body.data, ...third.body.data];
    // hold (pending, then settled), post, and three top-ups: five transfers touch the wallet
    expect(all.map((t: any) => `${t.kind}:${t.direction}:${t.amount}`)).toEqual([
      'post:debit:50',
      'pending:debit:50',
      'single:credit:300',
      'single:credit:200',
      'single:credit:100',
    ]);
    expect(third.body.nextCursor).toBeNull();
  });
});
