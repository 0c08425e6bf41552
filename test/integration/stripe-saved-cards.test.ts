import { afterAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../support/db.js';
import { apiRaw, expectLedgerClean, uid } from '../support/http.js';
import {
  authenticateSetup,
  paymentMethodAtStripe,
  stripeEmulatorUrl,
  stripeRejections,
} from '../support/stripe.js';
import { TENANT_KEYS } from '../support/tenants.js';

/** Tenant `stripeco` saves cards as Stripe does: a Customer, a SetupIntent, an attached PaymentMethod. */
const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

const stripeco = (method: string, path: string, body?: unknown) =>
  apiRaw(method, path, body, { key: TENANT_KEYS.stripeco });

async function customerWith(token: string) {
  const customerId = uid('cus');
  expect((await stripeco('POST', '/v1/customers', { id: customerId })).status).toBe(201);
  const saved = await stripeco('POST', `/v1/customers/${customerId}/payment-methods`, { token });
  expect(saved.status, JSON.stringify(saved.body)).toBe(201);
  return { customerId, method: saved.body };
}

const stored = async (pm: string) =>
  (
    await db.pool.query<{ gateway_method_id: string; gateway_setup_id: string; gateway_customer_id: string }>(
      'SELECT gateway_method_id, gateway_setup_id, gateway_customer_id FROM payment_methods WHERE id = $1',
      [pm],
    )
  ).rows[0]!;

const pay = (customerId: string, method: unknown, extra: Record<string, unknown> = {}) =>
  stripeco('POST', '/v1/payments', {
    orderId: uid('ord'),
    customerId,
    amount: 2500,
    currency: 'EUR',
    method,
    ...extra,
  });

describe.skipIf(!stripeEmulatorUrl)('saved cards of a tenant on Stripe', () => {
  it('saves pm_card_visa (a Customer and a SetupIntent at Stripe) and pays two orders with it', async () => {
    const { customerId, method } = await customerWith('pm_card_visa');
    expect(method).toMatchObject({
      status: 'active',
      connector: 'stripe',
      brand: 'visa',
      last4: '4242',
      isDefault: true,
    });
    const ids = await stored(method.id);
    expect(ids.gateway_customer_id).toMatch(/^cus_/);
    expect(ids.gateway_setup_id).toMatch(/^seti_/);
    expect((await paymentMethodAtStripe(ids.gateway_method_id)).customer).toBe(ids.gateway_customer_id);

    for (const paid of [
      await pay(customerId, { type: 'saved', paymentMethodId: method.id, offSession: true }),
      await pay(customerId, { type: 'saved' }),
    ]) {
      expect(paid.status, JSON.stringify(paid.body)).toBe(200);
      expect(paid.body).toMatchObject({
        status: 'succeeded',
        method: { type: 'card', paymentMethodId: method.id, card: { last4: '4242' } },
      });
    }
    // A second card of the customer reuses its Stripe Customer.
    const second = await stripeco('POST', `/v1/customers/${customerId}/payment-methods`, {
      token: 'pm_card_visa',
    });
    expect((await stored(second.body.id)).gateway_customer_id).toBe(ids.gateway_customer_id);
    expect(await stripeRejections()).toEqual([]);
  });

  it('a 3-D Secure card: the setup completes by Stripe’s webhook, then off-session fails authentication_required', async () => {
    const { customerId, method } = await customerWith('pm_card_authenticationRequired');
    expect(method).toMatchObject({ status: 'requires_action', nextAction: { type: 'redirect_to_url' } });
    await authenticateSetup((await stored(method.id)).gateway_setup_id, 'succeeded');
    let current = method;
    for (const until = Date.now() + 10_000; current.status === 'requires_action' && Date.now() < until;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      current = (await stripeco('GET', `/v1/customers/${customerId}/payment-methods/${method.id}`)).body;
    }
    expect(current).toMatchObject({ status: 'active', last4: expect.any(String) });

    const offSession = await pay(customerId, { type: 'saved', paymentMethodId: method.id, offSession: true });
    expect(offSession.status).toBe(200);
    expect(offSession.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'authentication_required',
    });
    expect(await stripeRejections()).toEqual([]);
  });

  it('auto top-up: a 1,200 fare from a 300 balance tops up 2,000 from the saved card, 1,100 left', async () => {
    const { customerId, method } = await customerWith('pm_card_visa');
    const topUp = await stripeco('POST', `/v1/wallets/${customerId}/top-ups`, {
      amount: 300,
      currency: 'EUR',
      method: { type: 'saved' },
    });
    expect(topUp.status, JSON.stringify(topUp.body)).toBe(200);
    const set = await stripeco('PUT', `/v1/wallets/${customerId}/auto-top-up`, {
      threshold: 500,
      amount: 2000,
      currency: 'EUR',
      paymentMethodId: method.id,
    });
    expect(set.status).toBe(200);
    const paid = await pay(customerId, { type: 'wallet' }, { amount: 1200 });
    expect(paid.body).toMatchObject({ status: 'succeeded', amountFromWallet: 1200 });
    const wallet = await stripeco('GET', `/v1/wallets/${customerId}`);
    expect(wallet.body.balances).toEqual([{ currency: 'EUR', available: 1100, pending: 0 }]);
    expect(await stripeRejections()).toEqual([]);
  });
});
