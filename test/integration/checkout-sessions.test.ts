import { afterAll, describe, expect, inject, it } from 'vitest';
import { PAYMENT_STATUSES } from '../../src/domain/payment.js';
import { checkoutBody, createCheckout, getPage, postCheckoutForm } from '../support/checkout.js';
import { count, testDatabase } from '../support/db.js';
import { chargesFor } from '../support/gateway.js';
import { apiRaw, expectLedgerClean, topUp, uid } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';
import { Receiver } from '../support/webhook-receiver.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

/** The session's events in the outbox, oldest first. */
async function sessionEvents(sessionId: string) {
  const { rows } = await db.pool.query<{ type: string; data: Record<string, unknown> }>(
    'SELECT type, data FROM events WHERE subject = $1 ORDER BY seq',
    [`checkout_sessions/${sessionId}`],
  );
  return rows;
}

async function sessionStatus(id: string) {
  return (await apiRaw('GET', `/v1/checkout-sessions/${id}`)).body.status;
}

describe('checkout sessions API', () => {
  it('creates a session, reads it back, and hides it from other tenants', async () => {
    const before = Date.now();
    const res = await apiRaw('POST', '/v1/checkout-sessions', checkoutBody());
    expect(res.status).toBe(201);
    const session = res.body;
    expect(session.id).toMatch(/^cs_[0-9a-f]{32}$/);
    expect(session).toMatchObject({
      url: `${inject('apiUrl')}/checkout/${session.id}`,
      status: 'open',
      amount: 1250,
      currency: 'USD',
      allowedMethods: ['card', 'wallet'],
    });
    // Default expiry: 24 hours.
    const expiresIn = Date.parse(session.expiresAt) - before;
    expect(expiresIn).toBeGreaterThan(86_390_000);
    expect(expiresIn).toBeLessThan(86_410_000);
    expect((await apiRaw('GET', `/v1/checkout-sessions/${session.id}`)).body).toEqual(session);
    const other = await apiRaw('GET', `/v1/checkout-sessions/${session.id}`, undefined, {
      key: TENANT_KEYS.other,
    });
    expect(other.status).toBe(404);
    expect(other.body.code).toBe('checkout_session_not_found');
    expect(
      (
        await apiRaw('POST', `/v1/checkout-sessions/${session.id}/expire`, undefined, {
          key: TENANT_KEYS.other,
        })
      ).status,
    ).toBe(404);
    expect((await apiRaw('GET', `/v1/checkout-sessions/cs_${'0'.repeat(32)}`)).status).toBe(404);
  });

  it.each([
    ['a fractional amount', { amount: 12.5 }],
    ['a zero amount', { amount: 0 }],
    ['an unknown currency', { currency: 'XYZ' }],
    ['a relative success URL', { successUrl: '/done' }],
    ['a javascript: cancel URL', { cancelUrl: 'javascript:alert(1)' }],
    ['an ftp success URL', { successUrl: 'ftp://merchant.example/x' }],
    ['a success URL over 2048 characters', { successUrl: `https://merchant.example/${'a'.repeat(2030)}` }],
    ['an expiry under a minute', { expiresInSeconds: 59 }],
    ['an expiry over a day', { expiresInSeconds: 86_401 }],
    ['an unknown method', { allowedMethods: ['cash'] }],
    ['no method', { allowedMethods: [] }],
    ['a method twice', { allowedMethods: ['card', 'card'] }],
    ['an unknown field', { returnUrl: 'https://merchant.example/' }],
  ])('refuses %s with a 400 and stores nothing', async (_name, extra) => {
    const body = checkoutBody(extra);
    const res = await apiRaw('POST', '/v1/checkout-sessions', body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await count(db, 'SELECT 1 FROM checkout_sessions WHERE order_id = $1', [body.orderId])).toBe(0);
  });

  it.each([
    ['an http success URL off this machine', { successUrl: 'http://merchant.example/done' }],
    ['a cancel URL with a password in it', { cancelUrl: 'https://user:pw@merchant.example/cancel' }],
  ])('refuses %s as a return URL (422) and stores nothing', async (_name, extra) => {
    const body = checkoutBody(extra);
    const res = await apiRaw('POST', '/v1/checkout-sessions', body);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'return_url_not_allowed' });
    expect(await count(db, 'SELECT 1 FROM checkout_sessions WHERE order_id = $1', [body.orderId])).toBe(0);
  });

  it('refuses a second open session for the order, and allows one once it expired', async () => {
    const first = await createCheckout({ expiresInSeconds: 60 });
    const again = await apiRaw('POST', '/v1/checkout-sessions', checkoutBody({ orderId: first.orderId }));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'checkout_session_exists', checkoutSessionId: first.id });

    const expired = await apiRaw('POST', `/v1/checkout-sessions/${first.id}/expire`);
    expect(expired.status).toBe(200);
    expect(expired.body).toMatchObject({ id: first.id, status: 'expired' });
    expect(expired.body.expiredAt).toEqual(expect.any(String));
    const events = await sessionEvents(first.id);
    expect(events.map((event) => event.type)).toEqual(['checkout_session.expired']);
    expect(events[0]!.data).toMatchObject({ id: first.id, status: 'expired', orderId: first.orderId });

    const twice = await apiRaw('POST', `/v1/checkout-sessions/${first.id}/expire`);
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('checkout_session_not_open');
    const page = await getPage(`/checkout/${first.id}`);
    expect(page.text).toContain('This checkout has expired');
    const paid = await postCheckoutForm(first.id, { method: 'card', token: 'tok_test_4242' });
    expect(paid.status).toBe(409);
    expect(await count(db, 'SELECT 1 FROM payments WHERE order_id = $1', [first.orderId])).toBe(0);

    const next = await apiRaw('POST', '/v1/checkout-sessions', checkoutBody({ orderId: first.orderId }));
    expect(next.status).toBe(201);
  });

  it('honours Idempotency-Key on create', async () => {
    const body = checkoutBody();
    const key = uid('idem');
    const first = await apiRaw('POST', '/v1/checkout-sessions', body, {
      headers: { 'idempotency-key': key },
    });
    const second = await apiRaw('POST', '/v1/checkout-sessions', body, {
      headers: { 'idempotency-key': key },
    });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
  });
});

describe('the hosted checkout page', () => {
  it('shows the order, the amount and a card form under a strict CSP; unknown ids are a 404 page', async () => {
    const session = await createCheckout({
      amount: 123_456,
      currency: 'KWD',
      description: '<b>Ride</b> & tip',
    });
    const page = await getPage(`/checkout/${session.id}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain(new URL(inject('gatewayUrl')).origin);
    expect(page.text).toContain('<html lang="en">');
    expect(page.text).toContain('123.456 KWD');
    expect(page.text).toContain('&lt;b&gt;Ride&lt;/b&gt; &amp; tip');
    expect(page.text).not.toContain('<b>Ride</b>');
    expect(page.text).toMatch(/<label for="card-number">/);
    expect(page.text).toContain('autocomplete="cc-number"');
    // The pay button waits for the script; the card inputs have no name, so no form post can carry them.
    expect(page.text).toMatch(/<button type="submit" disabled>/);
    expect(page.text).not.toMatch(/<input id="card-number"[^>]*name=/);
    expect(page.text).toContain(`href="${session.cancelUrl}"`);
    // No wallet balance: no wallet button.
    expect(page.text).not.toContain('Pay from wallet');

    const unknown = await getPage(`/checkout/cs_${'f'.repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('Checkout not found');
    expect((await getPage('/checkout/nonsense')).status).toBe(404);
  });

  it('pays with tok_test_4242 from the form: 303 to successUrl with session_id, session complete, event written', async () => {
    const session = await createCheckout();
    const res = await postCheckoutForm(session.id, { method: 'card', token: 'tok_test_4242' });
    expect(res.status).toBe(303);
    const location = new URL(res.location!);
    expect(`${location.origin}${location.pathname}`).toBe('https://merchant.example/rides/done');
    expect(location.searchParams.get('ride')).toBe('42');
    expect(location.searchParams.get('session_id')).toBe(session.id);

    await expect.poll(() => sessionStatus(session.id), { timeout: 20_000 }).toBe('complete');
    const read = (await apiRaw('GET', `/v1/checkout-sessions/${session.id}`)).body;
    expect(read.paymentId).toMatch(/^pay_/);
    const payment = (await apiRaw('GET', `/v1/payments/${read.paymentId}`)).body;
    expect(payment).toMatchObject({ status: 'succeeded', orderId: session.orderId, amount: 1250 });
    const events = await sessionEvents(session.id);
    expect(events.map((event) => event.type)).toEqual(['checkout_session.completed']);
    expect(events[0]!.data).toMatchObject({ status: 'complete', paymentId: read.paymentId });

    // Paid: the page says so, and expiring is refused.
    expect((await getPage(`/checkout/${session.id}`)).text).toContain('This checkout is paid');
    expect((await apiRaw('POST', `/v1/checkout-sessions/${session.id}/expire`)).status).toBe(409);
  });

  it('shows a decline on the page for another try', async () => {
    const session = await createCheckout();
    const declined = await postCheckoutForm(session.id, { method: 'card', token: 'tok_test_0000' });
    expect(declined.status).toBe(200);
    expect(declined.text).toMatch(/role="alert">Your card was declined\. Try another card\./);
    expect(await sessionStatus(session.id)).toBe('open');

    const second = await postCheckoutForm(session.id, { method: 'card', token: 'tok_test_4242' });
    if ((PAYMENT_STATUSES as readonly string[]).includes('requires_payment_method')) {
      // A declined attempt leaves the payment open: another card is a new attempt of it.
      expect(second.status).toBe(303);
      expect(new URL(second.location!).searchParams.get('session_id')).toBe(session.id);
    } else {
      // A declined payment is final: the order cannot be paid again, and the page says so.
      expect(second.status).toBe(409);
      expect(second.text).toMatch(/role="alert">This order already has a payment/);
    }
  });

  it('refuses a form post without a token, changing nothing', async () => {
    const session = await createCheckout();
    const res = await postCheckoutForm(session.id, { method: 'card', token: '' });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/role="alert">Enter your card details/);
    expect(await count(db, 'SELECT 1 FROM payments WHERE order_id = $1', [session.orderId])).toBe(0);
  });

  it('pays from the wallet when it holds the amount', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 5000);
    const session = await createCheckout({ customerId });
    expect((await getPage(`/checkout/${session.id}`)).text).toContain('Pay from wallet');
    const res = await postCheckoutForm(session.id, { method: 'wallet' });
    expect(res.status).toBe(303);
    expect(new URL(res.location!).searchParams.get('session_id')).toBe(session.id);
    await expect.poll(() => sessionStatus(session.id), { timeout: 20_000 }).toBe('complete');

    // A card-only session never offers the wallet, and refuses it.
    const cardOnly = await createCheckout({ customerId, allowedMethods: ['card'] });
    expect((await getPage(`/checkout/${cardOnly.id}`)).text).not.toContain('Pay from wallet');
    expect((await postCheckoutForm(cardOnly.id, { method: 'wallet' })).status).toBe(422);
  });

  it('comes back from 3-D Secure through its return route to successUrl', async () => {
    const session = await createCheckout();
    const started = await postCheckoutForm(session.id, { method: 'card', token: 'tok_test_3333' });
    expect(started.status).toBe(303);
    const challenge = new URL(started.location!);
    expect(challenge.origin).toBe(new URL(inject('gatewayUrl')).origin);
    const authorization = /\/3ds\/([^/?#]+)/.exec(challenge.pathname)![1]!;
    // The challenge page's form, as the browser posts it: the sandbox sends the customer back.
    const completed = await fetch(`${inject('gatewayUrl')}/3ds/${authorization}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=succeed',
      redirect: 'manual',
    });
    expect(completed.status).toBe(303);
    const back = new URL(completed.headers.get('location')!);
    expect(back.pathname).toBe(`/checkout/${session.id}/return`);
    const returned = await getPage(`${back.pathname}${back.search}`);
    expect(returned.status).toBe(303);
    expect(new URL(returned.location!).searchParams.get('session_id')).toBe(session.id);
    await expect.poll(() => sessionStatus(session.id), { timeout: 20_000 }).toBe('complete');
  });

  it('cancels a payment left waiting for 3-D Secure when the session is expired', async () => {
    const session = await createCheckout();
    expect((await postCheckoutForm(session.id, { method: 'card', token: 'tok_test_3333' })).status).toBe(303);
    expect((await apiRaw('POST', `/v1/checkout-sessions/${session.id}/expire`)).status).toBe(200);
    const paymentStatus = async () =>
      (
        await db.pool.query<{ status: string }>('SELECT status FROM payments WHERE order_id = $1', [
          session.orderId,
        ])
      ).rows[0]?.status;
    await expect.poll(paymentStatus, { timeout: 20_000 }).toBe('canceled');
    const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM payments WHERE order_id = $1', [
      session.orderId,
    ]);
    expect(await chargesFor(rows[0]!.id)).toMatchObject({ captures: 0, capturedAmount: 0, voids: 1 });
  });

  it("carries the session's events on the customer's WebSocket with the payment's", async () => {
    const session = await createCheckout();
    const token = (await apiRaw('POST', '/v1/customer-tokens', { customerId: session.customerId })).body
      .token;
    const socket = new WebSocket(`${inject('apiUrl').replace('http', 'ws')}/v1/stream?access_token=${token}`);
    const received: { type: string; subject: string; data: Record<string, unknown> }[] = [];
    socket.addEventListener('message', (event) => received.push(JSON.parse(String(event.data))));
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve);
      socket.addEventListener('error', reject);
    });
    try {
      expect((await postCheckoutForm(session.id, { method: 'card', token: 'tok_test_4242' })).status).toBe(
        303,
      );
      await expect
        .poll(() => received.map((event) => event.type), { timeout: 20_000 })
        .toEqual(expect.arrayContaining(['payment.succeeded', 'checkout_session.completed']));
      const completed = received.find((event) => event.type === 'checkout_session.completed')!;
      expect(completed.subject).toBe(`checkout_sessions/${session.id}`);
      expect(completed.data).toMatchObject({
        id: session.id,
        customerId: session.customerId,
        status: 'complete',
      });
    } finally {
      socket.close();
    }
  });

  it('sends the session events to a webhook endpoint subscribed to them', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const endpoint = await apiRaw('POST', '/v1/webhook-endpoints', {
      url: receiver.url,
      events: ['checkout_session.completed', 'checkout_session.expired'],
    });
    expect(endpoint.status).toBe(201);
    try {
      const paid = await createCheckout();
      const abandoned = await createCheckout();
      expect((await postCheckoutForm(paid.id, { method: 'card', token: 'tok_test_4242' })).status).toBe(303);
      expect((await apiRaw('POST', `/v1/checkout-sessions/${abandoned.id}/expire`)).status).toBe(200);
      const subjects = [`checkout_sessions/${paid.id}`, `checkout_sessions/${abandoned.id}`];
      await expect
        .poll(
          () => receiver.of(subjects).map((delivery) => `${delivery.event.subject} ${delivery.event.type}`),
          {
            timeout: 30_000,
          },
        )
        .toEqual(
          expect.arrayContaining([
            `checkout_sessions/${paid.id} checkout_session.completed`,
            `checkout_sessions/${abandoned.id} checkout_session.expired`,
          ]),
        );
      // Subscribed to session events only: the payment's own events are not sent to it.
      expect(receiver.received.every((delivery) => delivery.event.type.startsWith('checkout_session.'))).toBe(
        true,
      );
    } finally {
      await apiRaw('DELETE', `/v1/webhook-endpoints/${endpoint.body.id}`);
      await receiver.stop();
    }
  });
});
