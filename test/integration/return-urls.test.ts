/**
 * The customer's way back after 3-D Secure, as a browser takes it: the sandbox's challenge form
 * redirects to Paysaga's signed return page, which sends the customer on to the merchant's
 * `returnUrl` with the outcome, or shows a page that says what happened.
 */
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { count, testDatabase } from '../support/db.js';
import { resetFaults, setFaults } from '../support/gateway.js';
import { api, uid, type PaymentBody } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

const db = testDatabase();
afterEach(async () => {
  await resetFaults();
});
afterAll(async () => {
  await db.close();
});

const card = (token: string, extra: Partial<PaymentBody> = {}): PaymentBody => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 4200,
  currency: 'USD',
  method: { type: 'card', token },
  ...extra,
});

/** A 3-D Secure payment, waiting for the customer. */
async function awaitingCustomer(extra: Partial<PaymentBody> = {}, key?: string) {
  const res = await api('POST', '/v1/payments', card('tok_test_3333', extra), key ? { key } : {});
  expect(res.status).toBe(200);
  expect(res.body.status).toBe('requires_action');
  return res.body as { id: string; nextAction: { url: string } };
}

/** The customer submits the sandbox's challenge form; the browser is sent to its Location. */
async function submitChallenge(nextActionUrl: string, outcome: 'succeed' | 'fail'): Promise<string> {
  const done = await fetch(`${nextActionUrl}/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `outcome=${outcome}`,
    redirect: 'manual',
  });
  expect(done.status).toBe(303);
  return done.headers.get('location') ?? '';
}

/** The browser follows the link to Paysaga's return page: no API key. */
const openReturnPage = (link: string) => fetch(link, { redirect: 'manual' });

function expectReturnLink(link: string, paymentId: string) {
  expect(link.startsWith(`${inject('apiUrl')}/pay/return/${paymentId}?sig=`)).toBe(true);
}

describe('return URLs after 3-D Secure', () => {
  it("sends the customer on to the merchant's returnUrl with the payment id and its status", async () => {
    const returnUrl = 'https://shop.example/orders/42/done?lang=en';
    const payment = await awaitingCustomer({ returnUrl });
    const link = await submitChallenge(payment.nextAction.url, 'succeed');
    expectReturnLink(link, payment.id);

    const back = await openReturnPage(link);
    expect(back.status).toBe(303);
    expect(back.headers.get('cache-control')).toBe('no-store');
    expect(back.headers.get('referrer-policy')).toBe('no-referrer');
    const target = new URL(back.headers.get('location') ?? '');
    expect(target.origin + target.pathname).toBe('https://shop.example/orders/42/done');
    expect(Object.fromEntries(target.searchParams)).toEqual({
      lang: 'en',
      payment_id: payment.id,
      status: 'succeeded',
    });
    // The return page moved the payment on: it is succeeded for the merchant too.
    const read = await api('GET', `/v1/payments/${payment.id}`);
    expect(read.body).toMatchObject({ status: 'succeeded', returnUrl });
  });

  it("moves the payment on itself when the customer is back before the gateway's webhook", async () => {
    // The sandbox holds the 3-D Secure webhook back for 30 s (manual capture: no later event of
    // this payment overtakes and releases it), and the page answers within its 5 s wait: only
    // the return page can have moved the payment on.
    await setFaults({ outOfOrderWebhooks: true, outOfOrderDelayMs: 30_000 });
    const payment = await awaitingCustomer({ returnUrl: 'https://shop.example/done', capture: 'manual' });
    const started = Date.now();
    const back = await openReturnPage(await submitChallenge(payment.nextAction.url, 'succeed'));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(back.status).toBe(303);
    expect(new URL(back.headers.get('location') ?? '').searchParams.get('status')).toBe('requires_capture');
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.status).toBe('requires_capture');
    expect((await api('POST', `/v1/payments/${payment.id}/cancel`)).body.status).toBe('canceled');
  });

  it('shows a page saying the payment succeeded when the merchant gave no returnUrl', async () => {
    const payment = await awaitingCustomer();
    const link = await submitChallenge(payment.nextAction.url, 'succeed');
    expectReturnLink(link, payment.id);

    const page = await openReturnPage(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await page.text();
    expect(html).toContain('<h1>Payment succeeded</h1>');
    expect(html).toContain('<html lang="en">');
    // Only the status: no amount, card or customer.
    expect(html).not.toMatch(/4200|42\.00|4242|3333|visa|cus_/i);
    expect((await api('GET', `/v1/payments/${payment.id}`)).body.returnUrl).toBeUndefined();
  });

  it.each([
    ['open for another attempt', undefined, 'requires_payment_method'],
    ['failed for a single-attempt tenant', TENANT_KEYS.single, 'failed'],
  ])('a failed 3-D Secure comes back as its status (%s)', async (_name, key, status) => {
    const payment = await awaitingCustomer({ returnUrl: 'https://shop.example/done' }, key);
    const back = await openReturnPage(await submitChallenge(payment.nextAction.url, 'fail'));
    expect(back.status).toBe(303);
    const target = new URL(back.headers.get('location') ?? '');
    expect(target.searchParams.get('payment_id')).toBe(payment.id);
    expect(target.searchParams.get('status')).toBe(status);
    const stored = await api('GET', `/v1/payments/${payment.id}`, undefined, key ? { key } : {});
    expect(stored.body).toMatchObject({ status, failureCode: 'authentication_failed' });
  });

  it('a failed 3-D Secure without returnUrl shows the failure without its details', async () => {
    const payment = await awaitingCustomer();
    const page = await openReturnPage(await submitChallenge(payment.nextAction.url, 'fail'));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<h1>Payment not completed</h1>');
    const { failureMessage } = (await api('GET', `/v1/payments/${payment.id}`)).body;
    expect(failureMessage).toBeTruthy();
    expect(html).not.toContain(failureMessage);
  });

  it.each([
    ['POST /v1/payments/{id}/attempts', 'route'],
    ['POST /v1/payments for the order', 'create'],
  ])(
    'a new attempt (%s) may name another returnUrl: after its 3-D Secure the customer goes there',
    async (_name, via) => {
      const first = await awaitingCustomer({ returnUrl: 'https://shop.example/first' });
      const declined = await openReturnPage(await submitChallenge(first.nextAction.url, 'fail'));
      expect(new URL(declined.headers.get('location') ?? '').searchParams.get('status')).toBe(
        'requires_payment_method',
      );
      const returnUrl = 'https://shop.example/second?try=2';
      const method = { type: 'card' as const, token: 'tok_test_3333' };
      const again =
        via === 'route'
          ? await api('POST', `/v1/payments/${first.id}/attempts`, { method, returnUrl })
          : await api('POST', '/v1/payments', {
              ...card('tok_test_3333'),
              orderId: (await api('GET', `/v1/payments/${first.id}`)).body.orderId,
              customerId: (await api('GET', `/v1/payments/${first.id}`)).body.customerId,
              returnUrl,
            });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id: first.id, status: 'requires_action', returnUrl });
      const back = await openReturnPage(await submitChallenge(again.body.nextAction!.url, 'succeed'));
      const target = new URL(back.headers.get('location') ?? '');
      expect(target.origin + target.pathname).toBe('https://shop.example/second');
      expect(Object.fromEntries(target.searchParams)).toEqual({
        try: '2',
        payment_id: first.id,
        status: 'succeeded',
      });
    },
  );

  it('refuses a new attempt whose returnUrl the policy does not allow, and runs none', async () => {
    const first = await awaitingCustomer();
    await openReturnPage(await submitChallenge(first.nextAction.url, 'fail'));
    const refused = await api('POST', `/v1/payments/${first.id}/attempts`, {
      method: { type: 'card', token: 'tok_test_4242' },
      returnUrl: 'http://shop.example/plain',
    });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'return_url_not_allowed' });
    const read = await api('GET', `/v1/payments/${first.id}`);
    expect(read.body.status).toBe('requires_payment_method');
    expect(read.body.attempts).toHaveLength(1);
  });

  it('a link with a tampered, missing or foreign signature is a plain 404 page', async () => {
    const payment = await awaitingCustomer({ returnUrl: 'https://shop.example/done' });
    const link = new URL(await submitChallenge(payment.nextAction.url, 'succeed'));
    const sig = link.searchParams.get('sig') ?? '';
    const tampered = new URL(link);
    tampered.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`);
    const missing = new URL(link);
    missing.searchParams.delete('sig');
    // Another payment's signature opens no other payment.
    const other = await awaitingCustomer();
    const foreign = new URL(link);
    foreign.pathname = `/pay/return/${other.id}`;
    const unknown = new URL(link);
    unknown.pathname = '/pay/return/pay_0000000000000000';
    for (const url of [tampered, missing, foreign, unknown]) {
      const page = await openReturnPage(url.toString());
      expect(page.status, url.toString()).toBe(404);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await page.text();
      expect(html).toContain('<h1>Page not found</h1>');
      expect(html).not.toContain(payment.id);
    }
    // The untouched link still works.
    expect((await openReturnPage(link.toString())).status).toBe(303);
  });

  it('refuses a returnUrl the policy does not allow with 422, and creates no payment', async () => {
    const body = card('tok_test_4242', { returnUrl: 'http://example.com/return' });
    const res = await api('POST', '/v1/payments', body);
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('return_url_not_allowed');
    expect(await count(db, 'SELECT 1 FROM payments WHERE order_id = $1', [body.orderId])).toBe(0);
  });

  it('documents returnUrl in the OpenAPI document, on the request and on the payment', async () => {
    const spec = await api('GET', '/docs/json', undefined, { key: null });
    const body = spec.body.paths['/v1/payments'].post.requestBody.content['application/json'].schema;
    expect(body.properties.returnUrl).toMatchObject({ type: 'string', format: 'uri', maxLength: 2048 });
    expect(body.required).not.toContain('returnUrl');
    expect(spec.body.components.schemas.Payment.properties.returnUrl).toMatchObject({ type: 'string' });
  });

  it('answers 400 for a returnUrl that is no URL', async () => {
    const res = await api('POST', '/v1/payments', card('tok_test_4242', { returnUrl: 'not a url' }));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_error');
  });

  it('returns the returnUrl with the payment; a repeat with another returnUrl is the same payment', async () => {
    const body = card('tok_test_4242', { returnUrl: 'http://127.0.0.1:8080/shop/return' });
    const res = await api('POST', '/v1/payments', body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'succeeded', returnUrl: body.returnUrl });
    expect((await api('GET', `/v1/payments/${res.body.id}`)).body.returnUrl).toBe(body.returnUrl);
    const again = await api('POST', '/v1/payments', { ...body, returnUrl: 'https://shop.example/other' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: res.body.id, returnUrl: body.returnUrl });
  });
});
