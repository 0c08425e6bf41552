import { afterAll, describe, expect, it } from 'vitest';
import { count, testDatabase } from '../support/db.js';
import { chargesFor, complete3ds } from '../support/gateway.js';
import { api, apiRaw, expectLedgerClean, uid } from '../support/http.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

/**
 * Currencies from ISO 4217's whole list, end to end: the Namibian dollar (two decimals), which
 * Paysaga once refused, through a wallet and through the sandbox gateway's card flow.
 */
describe('currencies beyond the old hand list', () => {
  it('tops a NAD wallet up by card and pays from it', async () => {
    const customerId = uid('cus');
    const topUp = await api(
      'POST',
      `/v1/wallets/${customerId}/top-ups`,
      { amount: 1250, currency: 'NAD', token: 'tok_test_4242' },
      { headers: { 'idempotency-key': uid('key') } },
    );
    expect(topUp.status).toBe(200);
    expect(topUp.body.balances).toEqual([{ currency: 'NAD', available: 1250, pending: 0 }]);

    const paid = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId,
      amount: 1250,
      currency: 'NAD',
      method: { type: 'wallet' },
    });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'succeeded', currency: 'NAD', amountCaptured: 1250 });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances).toEqual([
      { currency: 'NAD', available: 0, pending: 0 },
    ]);
  });

  it('charges a NAD card through 3-D Secure, whose page shows 12.50 NAD', async () => {
    const res = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 1250,
      currency: 'NAD',
      method: { type: 'card', token: 'tok_test_3333' },
    });
    expect(res.body).toMatchObject({ status: 'requires_action', currency: 'NAD' });
    const challenge = await fetch(res.body.nextAction!.url);
    expect(challenge.status).toBe(200);
    expect(await challenge.text()).toContain('Authorize 12.50 NAD');
    expect((await complete3ds(res.body.nextAction!.url, 'succeed')).status).toBe(200);
    await expect
      .poll(async () => (await api('GET', `/v1/payments/${res.body.id}`)).body.status, { timeout: 15_000 })
      .toBe('succeeded');
    const payment = (await api('GET', `/v1/payments/${res.body.id}`)).body;
    expect(payment).toMatchObject({ currency: 'NAD', amount: 1250, amountCaptured: 1250 });
    expect(await chargesFor(res.body.id)).toMatchObject({ captures: 1, capturedAmount: 1250 });
  });

  it('refuses a code that is not money (gold) with a 400 problem and writes nothing', async () => {
    const customerId = uid('cus');
    const res = await apiRaw('POST', `/v1/wallets/${customerId}/top-ups`, {
      amount: 1250,
      currency: 'XAU',
      token: 'tok_test_4242',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(JSON.stringify(res.body)).toContain('currency');
    expect(await count(db, 'SELECT 1 FROM ledger_accounts WHERE customer_id = $1', [customerId])).toBe(0);
  });
});
