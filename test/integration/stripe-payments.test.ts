import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectPath } from '../../tools/stack/stack.js';
import { testDatabase } from '../support/db.js';
import { api, apiRaw, expectLedgerClean, uid, type PaymentBody } from '../support/http.js';
import {
  authenticate,
  failNext,
  intentAtStripe,
  sendStripeWebhook,
  settleRefund,
  stripeEmulatorUrl,
  stripeEvent,
  stripeRejections,
  stripeRequests,
} from '../support/stripe.js';
import { STRIPECO_STRIPE, TENANT_KEYS } from '../support/tenants.js';

/**
 * Tenant `stripeco` is on the Stripe connector (stripe-mock behind the emulator); everything
 * else in the stack is what every other test uses: the same API, workflows, ledger.
 */
const db = testDatabase();
const key = TENANT_KEYS.stripeco;
const stripeco = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  apiRaw<T>(method, path, body, { key, ...(headers ? { headers } : {}) });

const card = (token: string, extra: Partial<PaymentBody> = {}): PaymentBody => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 4200,
  currency: 'EUR',
  method: { type: 'card', token },
  ...extra,
});

async function intentOf(paymentId: string): Promise<string> {
  const { rows } = await db.pool.query<{ auth: string; connector: string }>(
    'SELECT gateway_authorization_id AS auth, connector FROM payments WHERE id = $1',
    [paymentId],
  );
  expect(rows[0]?.connector).toBe('stripe');
  return rows[0]!.auth;
}

const statusOf = async (id: string) => (await stripeco('GET', `/v1/payments/${id}`)).body.status as string;

describe.skipIf(!stripeEmulatorUrl)('payments of a tenant on Stripe', () => {
  afterAll(async () => {
    expect(await stripeRejections()).toEqual([]);
    await expectLedgerClean();
    await db.close();
  });

  it('charges a card through a PaymentIntent, with the same API and workflow as the sandbox', async () => {
    const res = await stripeco('POST', '/v1/payments', card('pm_card_visa'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'succeeded',
      amountCaptured: 4200,
      method: { type: 'card', card: { brand: 'visa', last4: '4242' } },
    });
    const intent = await intentAtStripe(await intentOf(res.body.id));
    expect(intent).toMatchObject({ status: 'succeeded', amount_received: 4200, currency: 'eur' });
    expect(intent.metadata).toEqual({
      paysaga_payment_id: res.body.id,
      paysaga_idempotency_key: expect.any(String) as unknown,
    });
  });

  it('authorizes for manual capture, then captures part: Stripe keeps the rest', async () => {
    const res = await stripeco('POST', '/v1/payments', card('pm_card_visa', { capture: 'manual' }));
    expect(res.body.status).toBe('requires_capture');
    const intentId = await intentOf(res.body.id);
    expect((await intentAtStripe(intentId)).status).toBe('requires_capture');
    const captured = await stripeco('POST', `/v1/payments/${res.body.id}/capture`, { amount: 3000 });
    expect(captured.status).toBe(200);
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 3000 });
    expect(await intentAtStripe(intentId)).toMatchObject({ status: 'succeeded', amount_received: 3000 });
  });

  it('cancels an authorized payment: the PaymentIntent is canceled', async () => {
    const res = await stripeco('POST', '/v1/payments', card('pm_card_visa', { capture: 'manual' }));
    const canceled = await stripeco('POST', `/v1/payments/${res.body.id}/cancel`);
    expect(canceled.body.status).toBe('canceled');
    expect((await intentAtStripe(await intentOf(res.body.id))).status).toBe('canceled');
  });

  it('refunds part at once, and settles a pending refund by the charge.refund.updated webhook', async () => {
    const paid = await stripeco('POST', '/v1/payments', card('pm_card_visa'));
    const first = await stripeco('POST', `/v1/payments/${paid.body.id}/refunds`, { amount: 1000 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'succeeded', amount: 1000 });
    expect(await statusOf(paid.body.id)).toBe('partially_refunded');

    // The caller does not wait for a refund Stripe has not finished.
    const pending = await stripeco(
      'POST',
      `/v1/payments/${paid.body.id}/refunds`,
      { amount: 3200, reason: 'settle later' },
      { prefer: 'respond-async' },
    );
    expect(pending.status).toBe(202);
    // Stripe answered `pending`: the workflow records its refund id and waits for the webhook. (The
    // refund is `pending` from its reservation on, before Stripe is called: wait for Stripe's id.)
    const gatewayRefundId = async () =>
      (
        await db.pool.query<{ gw: string | null }>(
          'SELECT gateway_refund_id AS gw FROM refunds WHERE id = $1',
          [pending.body.id],
        )
      ).rows[0]?.gw ?? '';
    await expect.poll(gatewayRefundId, { timeout: 15_000 }).toMatch(/^re_/);
    expect((await stripeco('GET', `/v1/refunds/${pending.body.id}`)).body.status).toBe('pending');
    const refundId = await gatewayRefundId();
    const settled = await settleRefund(refundId, 'succeeded');
    const event = stripeEvent('charge.refund.updated', settled);
    expect((await sendStripeWebhook(event)).status).toBe(200);
    await expect
      .poll(async () => (await stripeco('GET', `/v1/refunds/${pending.body.id}`)).body.status, {
        timeout: 15_000,
      })
      .toBe('succeeded');
    expect(await statusOf(paid.body.id)).toBe('refunded');
    // Stripe sends an event again: answered, and nothing moves twice.
    expect((await sendStripeWebhook(event)).body).toEqual({ received: true, duplicate: true });
  });

  it('waits for 3-D Secure at the URL Stripe gives, and finishes on the signed webhook', async () => {
    const res = await stripeco(
      'POST',
      '/v1/payments',
      card('pm_card_authenticationRequired', { capture: 'manual' }),
    );
    expect(res.body.status).toBe('requires_action');
    const intentId = await intentOf(res.body.id);
    expect(res.body.nextAction).toMatchObject({
      type: 'redirect_to_url',
      url: `${stripeEmulatorUrl}/__emulator/3ds/${intentId}`,
    });

    // The customer authenticates at Stripe; Stripe tells Paysaga.
    const intent = await authenticate(intentId, 'succeeded');
    const event = stripeEvent('payment_intent.amount_capturable_updated', intent);
    expect((await sendStripeWebhook(event)).status).toBe(200);
    await expect.poll(() => statusOf(res.body.id), { timeout: 15_000 }).toBe('requires_capture');
    expect((await sendStripeWebhook(event)).body).toEqual({ received: true, duplicate: true });

    const captured = await stripeco('POST', `/v1/payments/${res.body.id}/capture`);
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 4200 });
  });

  it("finishes 3-D Secure on Stripe's page: the customer completes it, Stripe sends the webhook", async () => {
    const res = await stripeco('POST', '/v1/payments', card('pm_card_authenticationRequired'));
    const url = res.body.nextAction.url as string;
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Complete authentication');
    const done = await fetch(`${url}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=succeeded',
      redirect: 'manual',
    });
    // Back to the return URL Paysaga gave (its signed return page), as Stripe redirects.
    expect(done.status).toBe(303);
    const location = done.headers.get('location') ?? '';
    expect(location.startsWith(`${inject('apiUrl')}/pay/return/${res.body.id}?sig=`)).toBe(true);
    expect(location).toMatch(/\?sig=[\w-]{43}$/);
    await expect.poll(() => statusOf(res.body.id), { timeout: 15_000 }).toBe('succeeded');
    expect((await intentAtStripe(await intentOf(res.body.id))).amount_received).toBe(4200);
  });

  it('declines with authentication_failed when the customer fails 3-D Secure, open for another attempt', async () => {
    const res = await stripeco('POST', '/v1/payments', card('pm_card_threeDSecure2Required'));
    const intentId = await intentOf(res.body.id);
    const intent = await authenticate(intentId, 'failed');
    expect((await sendStripeWebhook(stripeEvent('payment_intent.payment_failed', intent))).status).toBe(200);
    await expect.poll(() => statusOf(res.body.id), { timeout: 15_000 }).toBe('requires_payment_method');
    expect((await stripeco('GET', `/v1/payments/${res.body.id}`)).body.failureCode).toBe(
      'authentication_failed',
    );
  });

  it.each([
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds', 'requires_payment_method'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'requires_payment_method'],
    // A fraud block is final: another card is not invited.
    ['pm_card_chargeDeclinedFraudulent', 'fraud_suspected', 'failed'],
  ])(
    'a decline (%s) with %s leaves the payment %s and moves no money',
    async (token, failureCode, status) => {
      const res = await stripeco('POST', '/v1/payments', card(token));
      expect(res.body).toMatchObject({ status, failureCode, amountCaptured: 0 });
    },
  );

  it('sends Stripe its own units where they differ from ISO 4217: MGA in whole ariary, NAD as is', async () => {
    const mga = await stripeco(
      'POST',
      '/v1/payments',
      card('pm_card_visa', { amount: 150_000, currency: 'MGA' }),
    );
    expect(mga.body).toMatchObject({ status: 'succeeded', currency: 'MGA', amountCaptured: 150_000 });
    expect(await intentAtStripe(await intentOf(mga.body.id))).toMatchObject({
      amount_received: 1500,
      currency: 'mga',
    });
    const nad = await stripeco(
      'POST',
      '/v1/payments',
      card('pm_card_visa', { amount: 1250, currency: 'NAD' }),
    );
    expect(nad.body).toMatchObject({ status: 'succeeded', currency: 'NAD', amountCaptured: 1250 });
    expect(await intentAtStripe(await intentOf(nad.body.id))).toMatchObject({
      amount_received: 1250,
      currency: 'nad',
    });
  });

  it('refuses an MGA amount with a fraction of an ariary with a 422, before anything starts', async () => {
    const body = card('pm_card_visa', { amount: 150_050, currency: 'MGA' });
    const res = await stripeco('POST', '/v1/payments', body);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'amount_not_supported' });
    expect(res.body.detail).toContain('MGA only in whole units');
    const customerId = uid('cus');
    const topUp = await stripeco('POST', `/v1/wallets/${customerId}/top-ups`, {
      amount: 1234,
      currency: 'KWD',
      token: 'pm_card_visa',
    });
    expect(topUp.status).toBe(422);
    expect(topUp.body).toMatchObject({ code: 'amount_not_supported' });
    const { rows } = await db.pool.query(
      'SELECT 1 FROM payments WHERE order_id = $1 UNION ALL SELECT 1 FROM ledger_accounts WHERE customer_id = $2',
      [body.orderId, customerId],
    );
    expect(rows).toEqual([]);
    const creates = (await stripeRequests()).filter(
      (r) =>
        r.path === '/v1/payment_intents' &&
        (r.params.currency === 'kwd' || (r.params.currency === 'mga' && r.params.amount !== '1500')),
    );
    expect(creates).toEqual([]);
  });

  it('retries a Stripe 5xx with the same idempotency key: one PaymentIntent', async () => {
    await failNext(2, 503);
    const res = await stripeco('POST', '/v1/payments', card('pm_card_visa'));
    expect(res.body.status).toBe('succeeded');
    const intentId = await intentOf(res.body.id);
    const creates = (await stripeRequests()).filter(
      (r) => r.path === '/v1/payment_intents' && r.params['metadata[paysaga_payment_id]'] === res.body.id,
    );
    expect(creates.length).toBeGreaterThanOrEqual(3);
    expect(new Set(creates.map((r) => r.idempotencyKey)).size).toBe(1);
    expect((await intentAtStripe(intentId)).amount_received).toBe(4200);
  });

  it('refuses a forged webhook with 400 and moves nothing', async () => {
    const res = await stripeco('POST', '/v1/payments', card('pm_card_authenticationRequired'));
    const intentId = await intentOf(res.body.id);
    const forged = stripeEvent('payment_intent.succeeded', {
      ...(await intentAtStripe(intentId)),
      status: 'succeeded',
    });
    const wrongSecret = await sendStripeWebhook(forged, 'whsec_forged');
    expect(wrongSecret.status).toBe(400);
    expect(wrongSecret.body).toMatchObject({ code: 'invalid_signature' });
    const unsigned = await fetch(`${inject('apiUrl')}/v1/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: forged,
    });
    expect(unsigned.status).toBe(400);
    expect(await statusOf(res.body.id)).toBe('requires_action');
  });

  it("a webhook signed by one tenant's Stripe account moves no other tenant's payment", async () => {
    // A sandbox payment of tenant default, and an event about it signed with stripeco's secret.
    const other = await api('POST', '/v1/payments', {
      ...card('tok_test_3333'),
      currency: 'USD',
    });
    expect(other.body.status).toBe('requires_action');
    const paid = await stripeco('POST', '/v1/payments', card('pm_card_visa'));
    const event = stripeEvent('payment_intent.succeeded', {
      ...(await intentAtStripe(await intentOf(paid.body.id))),
      metadata: { paysaga_payment_id: other.body.id },
    });
    expect((await sendStripeWebhook(event)).status).toBe(200);
    expect((await api('GET', `/v1/payments/${other.body.id}`)).body.status).toBe('requires_action');
  });

  it('never shows a Stripe secret in the logs, the errors or the OpenAPI', async () => {
    const spec = JSON.stringify((await api('GET', '/docs/json', undefined, { key: null })).body);
    const log = readFileSync(projectPath('.tmp', 'test-stack.log'), 'utf8');
    for (const secret of [STRIPECO_STRIPE.apiKey, STRIPECO_STRIPE.webhookSecret]) {
      expect(spec).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
    expect(spec).not.toContain('STRIPE_API_KEY');
  });
});
