import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { checkoutBody, getPage, postCheckoutForm } from '../support/checkout.js';
import { testDatabase } from '../support/db.js';
import { apiRaw, expectLedgerClean, uid, until } from '../support/http.js';
import { PAYPALCO_PAYPAL, TENANT_KEYS } from '../support/tenants.js';

/**
 * Tenant `paypalco` pays PayPal through the PayPal connector (the emulator, after PayPal's
 * OpenAPI documents): the buyer approves on the emulator's page, its signed webhook moves the
 * payment, refunds and captures go back to PayPal. Cards of the same tenant stay on the sandbox.
 */
const db = testDatabase();
const emulator = inject('paypalEmulatorUrl');
const paypalco = <T = any>(method: string, path: string, body?: unknown) =>
  apiRaw<T>(method, path, body, { key: TENANT_KEYS.paypalco });

const paypalPayment = (extra: Record<string, unknown> = {}) => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 4250,
  currency: 'EUR',
  method: { type: 'paypal' },
  ...extra,
});

async function control<T = any>(method: string, path: string): Promise<T> {
  const response = await fetch(`${emulator}/__emulator${path}`, { method });
  if (!response.ok) throw new Error(`emulator ${path}: ${response.status}`);
  return (await response.json()) as T;
}

/** The buyer presses Approve (or Cancel) on PayPal's page, as a browser posts its form. */
async function buyerPresses(approvalUrl: string, button: 'approve' | 'cancel') {
  const orderId = new URL(approvalUrl).searchParams.get('token');
  const response = await fetch(`${emulator}/checkoutnow/${orderId}/${button}`, {
    method: 'POST',
    redirect: 'manual',
  });
  expect(response.status).toBeGreaterThanOrEqual(300);
  expect(response.status).toBeLessThan(400);
  return { orderId: orderId!, location: response.headers.get('location') ?? '' };
}

const paymentOf = async (id: string) => (await paypalco('GET', `/v1/payments/${id}`)).body;
const settled = (id: string, status: string) =>
  until(
    () => paymentOf(id),
    (p) => p.status === status,
    `payment ${id} ${status}`,
  );

describe('PayPal payments', () => {
  afterAll(async () => {
    await expectLedgerClean();
    await db.close();
  });

  it('a PayPal payment waits for the buyer at an approval URL; approval sends a signed webhook and it succeeds', async () => {
    const created = await paypalco('POST', '/v1/payments', paypalPayment());
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      status: 'requires_action',
      attempts: [{ connector: 'paypal' }],
      method: { type: 'paypal' },
      nextAction: { type: 'redirect_to_url' },
    });
    const approvalUrl: string = created.body.nextAction.url;
    expect(approvalUrl.startsWith(`${emulator}/checkoutnow?token=`)).toBe(true);

    const { orderId, location } = await buyerPresses(approvalUrl, 'approve');
    // The buyer comes back to Paysaga's signed return page, with PayPal's token added.
    expect(location).toContain(`/pay/return/${created.body.id}`);
    expect(location).toContain(`token=${orderId}`);
    const paid = await settled(created.body.id, 'succeeded');
    expect(paid).toMatchObject({ amountCaptured: 4250, amountFromCard: 4250 });
    expect(paid.attempts).toEqual([
      expect.objectContaining({ connector: 'paypal', status: 'succeeded', gatewayReference: orderId }),
    ]);
    const sent = await control<{ eventType: string; outcome: number }[]>('GET', '/webhooks');
    expect(sent).toContainEqual(
      expect.objectContaining({ eventType: 'CHECKOUT.ORDER.APPROVED', outcome: 200 }),
    );
    const stats = await control('GET', '/stats');
    expect(stats.captures[created.body.id]).toBe(1);
  });

  it('a partial refund goes to PayPal and succeeds', async () => {
    const created = await paypalco('POST', '/v1/payments', paypalPayment());
    await buyerPresses(created.body.nextAction.url, 'approve');
    await settled(created.body.id, 'succeeded');
    const refund = await paypalco('POST', `/v1/payments/${created.body.id}/refunds`, { amount: 1000 });
    expect(refund.status).toBe(200);
    expect(refund.body).toMatchObject({ status: 'succeeded', amount: 1000 });
    expect(await paymentOf(created.body.id)).toMatchObject({
      status: 'partially_refunded',
      amountRefunded: 1000,
    });
    expect((await control('GET', '/stats')).refunds[created.body.id]).toBe(1);
  });

  it('manual capture authorizes at PayPal and captures there, for part of the amount', async () => {
    const created = await paypalco('POST', '/v1/payments', paypalPayment({ capture: 'manual' }));
    await buyerPresses(created.body.nextAction.url, 'approve');
    await settled(created.body.id, 'requires_capture');
    const captured = await paypalco('POST', `/v1/payments/${created.body.id}/capture`, { amount: 3000 });
    expect(captured.status).toBe(200);
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 3000 });
    const stats = await control('GET', '/stats');
    expect(stats.authorizations[created.body.id]).toBe(1);
    expect(stats.captures[created.body.id]).toBe(1);
  });

  it('a buyer whose PayPal funding is declined leaves the payment open for another attempt', async () => {
    const created = await paypalco(
      'POST',
      '/v1/payments',
      paypalPayment({ method: { type: 'paypal', email: 'instrument-declined@buyer.example' } }),
    );
    expect(created.body.status).toBe('requires_action');
    await buyerPresses(created.body.nextAction.url, 'approve');
    const declined = await settled(created.body.id, 'requires_payment_method');
    expect(declined.failureCode).toBe('card_declined');
    expect((await control('GET', '/stats')).captures[created.body.id] ?? 0).toBe(0);
  });

  it('a forged PayPal webhook is refused with 400 and moves nothing', async () => {
    const created = await paypalco('POST', '/v1/payments', paypalPayment());
    const orderId = new URL(created.body.nextAction.url).searchParams.get('token');
    const body = Buffer.from(
      JSON.stringify({
        id: `WH-${randomUUID()}`,
        event_type: 'CHECKOUT.ORDER.APPROVED',
        resource_type: 'checkout-order',
        create_time: new Date().toISOString(),
        resource: {
          id: orderId,
          intent: 'CAPTURE',
          status: 'APPROVED',
          purchase_units: [
            {
              reference_id: created.body.id,
              custom_id: created.body.id,
              amount: { currency_code: 'EUR', value: '42.50' },
            },
          ],
        },
      }),
    );
    // Signed with a key of the forger's own, naming the emulator's (trusted) certificate.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const transmissionId = randomUUID();
    const transmissionTime = new Date().toISOString();
    const message = `${transmissionId}|${transmissionTime}|${PAYPALCO_PAYPAL.webhookId}|${crc32(body) >>> 0}`;
    const sendSignedWith = (certUrl: string) =>
      fetch(`${inject('apiUrl')}/v1/webhooks/paypal`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'paypal-transmission-id': transmissionId,
          'paypal-transmission-time': transmissionTime,
          'paypal-transmission-sig': sign('sha256', Buffer.from(message), privateKey).toString('base64'),
          'paypal-cert-url': certUrl,
          'paypal-auth-algo': 'SHA256withRSA',
        },
        body,
      });
    const sent = await control<{ headers: Record<string, string> }[]>('GET', '/webhooks');
    const certUrl = sent.find((w) => w.headers['paypal-cert-url'])?.headers['paypal-cert-url'];
    expect(certUrl).toBeDefined();
    const forged = await sendSignedWith(certUrl!);
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ code: 'invalid_signature' });
    // A certificate from a host that is not PayPal's is not even fetched.
    const elsewhere = await sendSignedWith('https://attacker.example/cert.pem');
    expect(elsewhere.status).toBe(400);
    expect((await paymentOf(created.body.id)).status).toBe('requires_action');
    expect((await control('GET', '/stats')).captures[created.body.id] ?? 0).toBe(0);
  });

  it('cards of the same tenant stay on the sandbox, and GET /v1/routing says so', async () => {
    const card = await paypalco('POST', '/v1/payments', {
      ...paypalPayment(),
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(card.body).toMatchObject({ status: 'succeeded', attempts: [{ connector: 'sandbox' }] });
    const routing = await paypalco('GET', '/v1/routing');
    expect(routing.status).toBe(200);
    expect(routing.body).toEqual({
      defaultConnector: 'sandbox',
      connectors: [
        { name: 'sandbox', methods: ['card'] },
        { name: 'paypal', methods: ['paypal'] },
      ],
      rules: [],
    });
  });

  it('the hosted checkout page offers PayPal: the buyer approves there and comes back to a complete session', async () => {
    const created = await paypalco(
      'POST',
      '/v1/checkout-sessions',
      checkoutBody({ currency: 'EUR', allowedMethods: ['card', 'paypal'] }),
    );
    expect(created.status).toBe(201);
    const session = created.body;
    const page = await getPage(`/checkout/${session.id}`);
    expect(page.text).toContain('Continue to PayPal');
    const paid = await postCheckoutForm(session.id, { method: 'paypal' });
    expect(paid.status).toBe(303);
    expect(paid.location!.startsWith(`${emulator}/checkoutnow?token=`)).toBe(true);
    const { location } = await buyerPresses(paid.location!, 'approve');
    const back = new URL(location);
    expect(back.pathname).toBe(`/checkout/${session.id}/return`);
    const returned = await getPage(`${back.pathname}${back.search}`);
    expect(returned.status).toBe(303);
    expect(returned.location).toContain('https://merchant.example/rides/done');
    const read = await until(
      async () => (await paypalco('GET', `/v1/checkout-sessions/${session.id}`)).body,
      (s) => s.status === 'complete',
      'the session to complete',
    );
    const payment = await paymentOf(read.paymentId);
    expect(payment).toMatchObject({ status: 'succeeded', method: { type: 'paypal' } });
  });

  it('a checkout session offering PayPal without a PayPal account is refused with 422', async () => {
    const refused = await apiRaw(
      'POST',
      '/v1/checkout-sessions',
      checkoutBody({ allowedMethods: ['paypal'] }),
    );
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'method_not_supported' });
  });

  it('a tenant without a PayPal account gets 422 for a PayPal payment, and nothing is created', async () => {
    const body = paypalPayment();
    const refused = await apiRaw('POST', '/v1/payments', body);
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'method_not_supported' });
    const { rows } = await db.pool.query('SELECT 1 FROM payments WHERE order_id = $1', [body.orderId]);
    expect(rows).toEqual([]);
  });
});
