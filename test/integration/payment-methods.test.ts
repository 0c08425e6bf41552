import { afterAll, describe, expect, it } from 'vitest';
import { count, testDatabase } from '../support/db.js';
import { chargesFor, complete3ds, gateway } from '../support/gateway.js';
import { api, apiRaw, expectLedgerClean, uid, type PaymentBody } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

async function newCustomer(): Promise<string> {
  const id = uid('cus');
  const res = await apiRaw('POST', '/v1/customers', { id });
  expect(res.status).toBe(201);
  return id;
}

async function save(customerId: string, token: string, extra: Record<string, unknown> = {}) {
  return apiRaw('POST', `/v1/customers/${customerId}/payment-methods`, { token, ...extra });
}

async function saved(customerId: string, token: string): Promise<string> {
  const res = await save(customerId, token);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const payWith = (customerId: string, method: PaymentBody['method'], extra: Partial<PaymentBody> = {}) =>
  apiRaw('POST', '/v1/payments', {
    orderId: uid('ord'),
    customerId,
    amount: 2500,
    currency: 'USD',
    method,
    ...extra,
  });

/** Reads the method until it has left `requires_action` (the gateway's webhook is asynchronous). */
async function settledMethod(customerId: string, id: string) {
  const until = Date.now() + 10_000;
  for (;;) {
    const res = await apiRaw('GET', `/v1/customers/${customerId}/payment-methods/${id}`);
    if (res.body.status !== 'requires_action' || Date.now() > until) return res.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('saved payment methods', () => {
  it('saves tok_test_4242 and pays two orders with it, no token: two charges, one per order', async () => {
    const customerId = await newCustomer();
    const res = await save(customerId, 'tok_test_4242');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^pm_[0-9a-f]{24}$/),
      customerId,
      status: 'active',
      connector: 'sandbox',
      brand: 'visa',
      last4: '4242',
      expMonth: 12,
      expYear: 2034,
      isDefault: true,
      createdAt: expect.any(String),
    });
    const pm = res.body.id as string;
    // The token is the gateway's: Paysaga keeps no card number and no token.
    expect(
      await count(db, "SELECT 1 FROM payment_methods WHERE id = $1 AND gateway_method_id LIKE 'pm_%'", [pm]),
    ).toBe(1);
    expect((await apiRaw('GET', `/v1/customers/${customerId}`)).body.defaultPaymentMethodId).toBe(pm);

    const first = await payWith(customerId, { type: 'saved', paymentMethodId: pm });
    const second = await payWith(customerId, { type: 'saved' });
    for (const paid of [first, second]) {
      expect(paid.status, JSON.stringify(paid.body)).toBe(200);
      expect(paid.body).toMatchObject({
        status: 'succeeded',
        amountCaptured: 2500,
        method: { type: 'card', paymentMethodId: pm, offSession: false, card: { last4: '4242' } },
        attempts: [{ status: 'succeeded', networkTransactionId: expect.stringMatching(/^ntx_/) }],
      });
      expect(await chargesFor(paid.body.id)).toMatchObject({
        authorizations: 1,
        captures: 1,
        capturedAmount: 2500,
      });
    }
    expect(first.body.id).not.toBe(second.body.id);

    // The same request again is the same payment, charged once.
    const again = await apiRaw('POST', '/v1/payments', {
      orderId: first.body.orderId,
      customerId,
      amount: 2500,
      currency: 'USD',
      method: { type: 'saved', paymentMethodId: pm },
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect((await chargesFor(first.body.id)).authorizations).toBe(1);

    const list = await apiRaw('GET', `/v1/customers/${customerId}/payment-methods`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((m: { id: string }) => m.id)).toEqual([pm]);
  });

  it('a card that needs 3-D Secure: setup waits for the customer, and off-session it fails authentication_required', async () => {
    const customerId = await newCustomer();
    const res = await save(customerId, 'tok_test_3333');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'requires_action',
      isDefault: false,
      nextAction: { type: 'redirect_to_url', url: expect.stringContaining('/3ds/') },
    });
    const pm = res.body.id as string;
    const early = await payWith(customerId, { type: 'saved', paymentMethodId: pm });
    expect(early.status).toBe(422);
    expect(early.body.code).toBe('payment_method_not_ready');

    // The customer completes the setup on the bank's page; the gateway's webhook moves it on.
    expect((await complete3ds(res.body.nextAction.url, 'succeed')).status).toBe(200);
    const active = await settledMethod(customerId, pm);
    expect(active).toMatchObject({ status: 'active', last4: '3333', isDefault: true });
    expect(active).not.toHaveProperty('nextAction');

    const offSession = await payWith(customerId, { type: 'saved', paymentMethodId: pm, offSession: true });
    expect(offSession.status).toBe(200);
    expect(offSession.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'authentication_required',
      method: { type: 'card', paymentMethodId: pm, offSession: true },
    });
    expect(await chargesFor(offSession.body.id)).toMatchObject({ captures: 0, capturedAmount: 0 });

    // The customer comes back and pays the same order on-session: 3-D Secure, then paid.
    const onSession = await apiRaw('POST', `/v1/payments/${offSession.body.id}/attempts`, {
      method: { type: 'saved', paymentMethodId: pm },
    });
    expect(onSession.status).toBe(200);
    expect(onSession.body).toMatchObject({ status: 'requires_action', attempts: [{}, { number: 2 }] });
    await complete3ds(onSession.body.nextAction.url, 'succeed');
    const until = Date.now() + 10_000;
    let payment = onSession.body;
    while (payment.status !== 'succeeded' && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      payment = (await apiRaw('GET', `/v1/payments/${offSession.body.id}`)).body;
    }
    expect(payment).toMatchObject({ status: 'succeeded', amountCaptured: 2500 });
    expect((await chargesFor(offSession.body.id)).captures).toBe(1);
  });

  it('a saved card past its expiry is refused expired_card without a gateway call', async () => {
    const customerId = await newCustomer();
    const pm = await saved(customerId, 'tok_test_4242');
    await db.pool.query('UPDATE payment_methods SET exp_month = 1, exp_year = 2024 WHERE id = $1', [pm]);
    const res = await payWith(customerId, { type: 'saved', paymentMethodId: pm }, { capture: 'manual' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'expired_card',
      attempts: [{ status: 'failed', failureCode: 'expired_card' }],
    });
    expect((await chargesFor(res.body.id)).authorizations).toBe(0);

    const topUp = await apiRaw('POST', `/v1/wallets/${customerId}/top-ups`, {
      amount: 1000,
      currency: 'USD',
      method: { type: 'saved', paymentMethodId: pm },
    });
    expect(topUp.status).toBe(402);
    expect(topUp.body.code).toBe('expired_card');
  });

  it('deleting a card while a payment uses it: that payment finishes, later ones are refused', async () => {
    const customerId = await newCustomer();
    const pm = await saved(customerId, 'tok_test_3333');
    const setup = await apiRaw('GET', `/v1/customers/${customerId}/payment-methods/${pm}`);
    await complete3ds(setup.body.nextAction.url, 'succeed');
    expect((await settledMethod(customerId, pm)).status).toBe('active');

    const pending = await payWith(customerId, { type: 'saved', paymentMethodId: pm });
    expect(pending.body.status).toBe('requires_action');
    const deleted = await apiRaw('DELETE', `/v1/customers/${customerId}/payment-methods/${pm}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ id: pm, deleted: true });

    await complete3ds(pending.body.nextAction.url, 'succeed');
    const until = Date.now() + 10_000;
    let payment = pending.body;
    while (['requires_action', 'processing'].includes(payment.status) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      payment = (await apiRaw('GET', `/v1/payments/${pending.body.id}`)).body;
    }
    expect(payment.status).toBe('succeeded');

    expect((await apiRaw('GET', `/v1/customers/${customerId}/payment-methods/${pm}`)).status).toBe(404);
    expect((await apiRaw('GET', `/v1/customers/${customerId}`)).body).not.toHaveProperty(
      'defaultPaymentMethodId',
    );
    const later = await payWith(customerId, { type: 'saved', paymentMethodId: pm });
    expect(later.status).toBe(422);
    expect(later.body.code).toBe('payment_method_not_found');
    const noDefault = await payWith(customerId, { type: 'saved' });
    expect(noDefault.status).toBe(422);
    expect(noDefault.body.code).toBe('no_default_payment_method');
    // Detached at the gateway too: its id can no longer be charged there.
    const gatewayId = (
      await db.pool.query<{ id: string }>(
        'SELECT gateway_method_id AS id FROM payment_methods WHERE id = $1',
        [pm],
      )
    ).rows[0]!.id;
    expect((await gateway('GET', `/payment_methods/${gatewayId}`)).body.status).toBe('detached');
    expect((await apiRaw('DELETE', `/v1/customers/${customerId}/payment-methods/${pm}`)).status).toBe(404);
  });

  it('splits and top-ups charge a saved card', async () => {
    const customerId = await newCustomer();
    const pm = await saved(customerId, 'tok_test_4242');
    const topUp = await api('POST', `/v1/wallets/${customerId}/top-ups`, {
      amount: 1000,
      currency: 'EUR',
      method: { type: 'saved' },
    });
    expect(topUp.status).toBe(200);
    expect(topUp.body.balances).toEqual([{ currency: 'EUR', available: 1000, pending: 0 }]);

    const split = await payWith(
      customerId,
      { type: 'split', paymentMethodId: pm },
      { amount: 2500, currency: 'EUR' },
    );
    expect(split.status).toBe(200);
    expect(split.body).toMatchObject({
      status: 'succeeded',
      amountFromWallet: 1000,
      amountFromCard: 1500,
      method: { type: 'split', paymentMethodId: pm, card: { last4: '4242' } },
    });
    expect(await chargesFor(split.body.id)).toMatchObject({ captures: 1, capturedAmount: 1500 });
  });

  it('refuses what it cannot keep, and keeps nothing then', async () => {
    const customerId = await newCustomer();
    const declined = await save(customerId, 'tok_test_0000');
    expect(declined.status).toBe(402);
    expect(declined.body.code).toBe('card_declined');
    expect(await count(db, 'SELECT 1 FROM payment_methods WHERE customer_id = $1', [customerId])).toBe(0);

    const unknown = await save(uid('cus'), 'tok_test_4242');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('customer_not_found');

    const invalid = await save(customerId, '4242424242424242');
    expect(invalid.status).toBe(400);

    // Another customer's card is not this customer's, as a default or in a payment.
    const otherCustomer = await newCustomer();
    const theirs = await saved(otherCustomer, 'tok_test_4242');
    const patch = await apiRaw('PATCH', `/v1/customers/${customerId}`, { defaultPaymentMethodId: theirs });
    expect(patch.status).toBe(422);
    expect(patch.body.code).toBe('payment_method_not_found');
    const pay = await payWith(customerId, { type: 'saved', paymentMethodId: theirs });
    expect(pay.status).toBe(422);
    expect(pay.body.code).toBe('payment_method_not_found');

    // Another tenant sees none of it.
    const foreign = await apiRaw(
      'GET',
      `/v1/customers/${otherCustomer}/payment-methods/${theirs}`,
      undefined,
      {
        key: TENANT_KEYS.other,
      },
    );
    expect(foreign.status).toBe(404);

    // A second card made the default, then cleared.
    const mine = await saved(customerId, 'tok_test_4242');
    const second = await saved(customerId, 'tok_test_4242');
    const made = await apiRaw('PATCH', `/v1/customers/${customerId}`, { defaultPaymentMethodId: second });
    expect(made.status).toBe(200);
    expect(made.body.defaultPaymentMethodId).toBe(second);
    const listed = (await apiRaw('GET', `/v1/customers/${customerId}/payment-methods`)).body.data;
    expect(listed.map((m: { id: string; isDefault: boolean }) => [m.id, m.isDefault])).toEqual([
      [second, true],
      [mine, false],
    ]);
    const cleared = await apiRaw('PATCH', `/v1/customers/${customerId}`, { defaultPaymentMethodId: null });
    expect(cleared.body).not.toHaveProperty('defaultPaymentMethodId');
  });
});
