import { afterAll, describe, expect, inject, it } from 'vitest';
import { checkoutBody, postCheckoutForm } from '../support/checkout.js';
import { testDatabase } from '../support/db.js';
import { apiRaw, expectLedgerClean } from '../support/http.js';
import {
  checkoutAtStripe,
  expireCheckoutAtStripe,
  failNext,
  intentAtStripe,
  payCheckoutAtStripe,
  sendStripeWebhook,
  stripeEmulatorUrl,
  stripeEvent,
  stripeRejections,
  stripeRequests,
  stripeWebhooksSent,
} from '../support/stripe.js';
import { TENANT_KEYS } from '../support/tenants.js';

/**
 * Tenant `stripeco` is on the Stripe connector: its checkout sessions are Stripe Checkout
 * Sessions (stripe-mock behind the emulator, which keeps their state and plays the customer).
 */
const db = testDatabase();
const stripeco = <T = any>(method: string, path: string, body?: unknown) =>
  apiRaw<T>(method, path, body, { key: TENANT_KEYS.stripeco });

async function sessionEvents(sessionId: string) {
  const { rows } = await db.pool.query<{ type: string; data: Record<string, unknown> }>(
    'SELECT type, data FROM events WHERE subject = $1 ORDER BY seq',
    [`checkout_sessions/${sessionId}`],
  );
  return rows;
}

const sessionStatus = async (id: string) =>
  (await stripeco('GET', `/v1/checkout-sessions/${id}`)).body.status as string;

async function createSession(extra: Record<string, unknown> = {}) {
  const res = await stripeco(
    'POST',
    '/v1/checkout-sessions',
    checkoutBody({ currency: 'EUR', amount: 4200, ...extra }),
  );
  expect(res.status).toBe(201);
  return res.body;
}

/** Waits until the emulator has delivered `count` webhooks of `type` (each answered 200). */
async function delivered(type: string, count: number) {
  await expect
    .poll(
      async () =>
        (await stripeWebhooksSent()).filter((hook) => hook.type === type && hook.status === 200).length,
      {
        timeout: 15_000,
      },
    )
    .toBeGreaterThanOrEqual(count);
}

describe.skipIf(!stripeEmulatorUrl)('checkout sessions of a tenant on Stripe', () => {
  afterAll(async () => {
    expect(await stripeRejections()).toEqual([]);
    await expectLedgerClean();
    await db.close();
  });

  it("creates a Stripe Checkout Session: the session's url is Stripe's page", async () => {
    const before = Math.floor(Date.now() / 1000);
    const session = await createSession({ description: undefined, expiresInSeconds: 120 });
    expect(session).toMatchObject({ status: 'open', connector: 'stripe' });
    expect(session.gatewaySessionId).toMatch(/^cs_test_/);
    expect(session.url).toBe(`${stripeEmulatorUrl}/__emulator/checkout/${session.gatewaySessionId}`);
    expect((await stripeco('GET', `/v1/checkout-sessions/${session.id}`)).body).toEqual(session);

    const create = (await stripeRequests()).find(
      (request) =>
        request.path === '/v1/checkout/sessions' &&
        request.params['metadata[paysaga_session_id]'] === session.id,
    );
    expect(create?.idempotencyKey).toContain(session.id);
    expect(create?.params).toMatchObject({
      mode: 'payment',
      'line_items[0][quantity]': '1',
      'line_items[0][price_data][currency]': 'eur',
      'line_items[0][price_data][unit_amount]': '4200',
      'line_items[0][price_data][product_data][name]': `Order ${session.orderId}`,
      client_reference_id: session.orderId,
      cancel_url: session.cancelUrl,
      'metadata[tenant]': 'stripeco',
    });
    const success = new URL(create!.params.success_url!);
    expect(success.searchParams.get('session_id')).toBe(session.id);
    expect(success.searchParams.get('ride')).toBe('42');
    // Two minutes in Paysaga, at least Stripe's 30 minutes at Stripe (Paysaga's timer ends it there).
    const expiresAt = Number(create!.params.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 60);
    expect(expiresAt).toBeLessThan(before + 24 * 60 * 60);
    // Paysaga's own page sends the customer to Stripe's and takes no payment itself.
    const page = await fetch(`${inject('apiUrl')}/checkout/${session.id}`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe(session.url);
    const posted = await postCheckoutForm(session.id, { method: 'card', token: 'tok_test_4242' });
    expect(posted).toMatchObject({ status: 303, location: session.url });
    expect((await stripeco('GET', `/v1/payments?customerId=${session.customerId}`)).body.data).toEqual([]);
    await stripeco('POST', `/v1/checkout-sessions/${session.id}/expire`);
  });

  it('answers 503 and keeps nothing when Stripe does not answer the create; a retry creates it', async () => {
    const body = checkoutBody({ currency: 'EUR', amount: 4200 });
    await failNext(1, 500);
    const refused = await stripeco('POST', '/v1/checkout-sessions', body);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('gateway_unavailable');
    const { rows } = await db.pool.query('SELECT id FROM checkout_sessions WHERE order_id = $1', [
      body.orderId,
    ]);
    expect(rows).toEqual([]);
    const created = await stripeco('POST', '/v1/checkout-sessions', body);
    expect(created.status).toBe(201);
    await stripeco('POST', `/v1/checkout-sessions/${created.body.id}/expire`);
  });

  it('paid on Stripe: the order is a succeeded payment of the PaymentIntent, and the session completes', async () => {
    const session = await createSession();
    const paid = await payCheckoutAtStripe(session.gatewaySessionId);
    const intentId = paid.payment_intent as string;
    expect(intentId).toMatch(/^pi_/);
    await expect.poll(() => sessionStatus(session.id), { timeout: 20_000 }).toBe('complete');

    const read = (await stripeco('GET', `/v1/checkout-sessions/${session.id}`)).body;
    const payment = (await stripeco('GET', `/v1/payments/${read.paymentId}`)).body;
    expect(payment).toMatchObject({
      orderId: session.orderId,
      customerId: session.customerId,
      status: 'succeeded',
      amount: 4200,
      amountCaptured: 4200,
      currency: 'EUR',
      method: { type: 'card' },
      attempts: [{ number: 1, status: 'succeeded', connector: 'stripe', gatewayReference: intentId }],
    });
    const { rows: stored } = await db.pool.query<{ auth: string; connector: string }>(
      'SELECT gateway_authorization_id AS auth, connector FROM payments WHERE id = $1',
      [payment.id],
    );
    expect(stored[0]).toEqual({ auth: intentId, connector: 'stripe' });
    expect(await intentAtStripe(intentId)).toMatchObject({ status: 'succeeded', amount_received: 4200 });
    const events = await sessionEvents(session.id);
    expect(events.map((event) => event.type)).toEqual(['checkout_session.completed']);
    expect(events[0]!.data).toMatchObject({
      status: 'complete',
      paymentId: payment.id,
      connector: 'stripe',
      gatewaySessionId: session.gatewaySessionId,
    });
    const { rows } = await db.pool.query<{ type: string }>(
      "SELECT type FROM events WHERE subject = $1 AND type = 'payment.succeeded'",
      [`payments/${payment.id}`],
    );
    expect(rows).toHaveLength(1);

    // Stripe delivers again: nothing moves twice.
    const again = stripeEvent('checkout.session.completed', await checkoutAtStripe(session.gatewaySessionId));
    expect((await sendStripeWebhook(again)).status).toBe(200);
    expect((await sessionEvents(session.id)).length).toBe(1);
    // The payment is refundable through Stripe like any other.
    const refund = await stripeco('POST', `/v1/payments/${payment.id}/refunds`, { amount: 1000 });
    expect(refund.body).toMatchObject({ status: 'succeeded', amount: 1000 });
  });

  it("expiring the session expires Stripe's too, and Stripe's expired webhook moves nothing more", async () => {
    const session = await createSession();
    const expired = await stripeco('POST', `/v1/checkout-sessions/${session.id}/expire`);
    expect(expired.status).toBe(200);
    expect(expired.body.status).toBe('expired');
    expect((await checkoutAtStripe(session.gatewaySessionId)).status).toBe('expired');
    await delivered('checkout.session.expired', 1);
    const events = await sessionEvents(session.id);
    expect(events.map((event) => event.type)).toEqual(['checkout_session.expired']);
    expect((await stripeco('POST', `/v1/checkout-sessions/${session.id}/expire`)).status).toBe(409);
  });

  it("Stripe's own expiry (its webhook) expires the session", async () => {
    const session = await createSession();
    await expireCheckoutAtStripe(session.gatewaySessionId);
    await expect.poll(() => sessionStatus(session.id), { timeout: 20_000 }).toBe('expired');
    expect((await sessionEvents(session.id)).map((event) => event.type)).toEqual([
      'checkout_session.expired',
    ]);
  });

  it("moves no session from a webhook that names another tenant's or an unknown session", async () => {
    const other = await apiRaw('POST', '/v1/checkout-sessions', checkoutBody());
    expect(other.status).toBe(201);
    const session = await createSession();
    const atStripe = await checkoutAtStripe(session.gatewaySessionId);
    // Signed by stripeco's account, naming the default tenant's session: not stripeco's to move.
    const forged = stripeEvent('checkout.session.expired', {
      ...atStripe,
      status: 'expired',
      metadata: { paysaga_session_id: other.body.id, tenant: 'default' },
    });
    expect((await sendStripeWebhook(forged)).status).toBe(200);
    // Naming stripeco's session but another Stripe Checkout Session.
    const mismatched = stripeEvent('checkout.session.expired', {
      ...atStripe,
      id: 'cs_test_other',
      status: 'expired',
    });
    expect((await sendStripeWebhook(mismatched)).status).toBe(200);
    // Signed with another secret: refused.
    const unsigned = stripeEvent('checkout.session.expired', { ...atStripe, status: 'expired' });
    expect((await sendStripeWebhook(unsigned, 'whsec_not_stripeco')).status).toBe(400);
    expect((await apiRaw('GET', `/v1/checkout-sessions/${other.body.id}`)).body.status).toBe('open');
    expect(await sessionStatus(session.id)).toBe('open');
    await apiRaw('POST', `/v1/checkout-sessions/${other.body.id}/expire`);
    await stripeco('POST', `/v1/checkout-sessions/${session.id}/expire`);
  });
});
