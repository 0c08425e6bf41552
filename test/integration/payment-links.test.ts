import { afterAll, describe, expect, inject, it } from 'vitest';
import { getPage, postCheckoutForm } from '../support/checkout.js';
import { count, testDatabase } from '../support/db.js';
import { apiRaw, expectLedgerClean, uid } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

/** The stack's PAYMENT_LINK_SESSIONS_PER_MINUTE (test/setup/global-stack.ts). */
const SESSIONS_PER_MINUTE = 3;

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

function linkBody(extra: Record<string, unknown> = {}) {
  return {
    amount: 2500,
    currency: 'EUR',
    description: uid('Concert ticket'),
    successUrl: 'https://merchant.example/tickets/thanks?show=7',
    cancelUrl: 'https://merchant.example/tickets',
    ...extra,
  };
}

async function createLink(extra: Record<string, unknown> = {}) {
  const res = await apiRaw('POST', '/v1/payment-links', linkBody(extra));
  if (res.status !== 201)
    throw new Error(`payment link not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; url: string; amount: number; currency: string; active: boolean };
}

const sessionsOf = (linkId: string) =>
  count(db, 'SELECT 1 FROM checkout_sessions WHERE payment_link_id = $1', [linkId]);

/** A visit of the link as a browser makes it, the redirect not followed: the session it opened. */
async function visit(linkId: string) {
  const page = await getPage(`/l/${linkId}`);
  const sessionId = page.location ? /\/checkout\/(cs_[0-9a-f]{32})$/.exec(page.location)?.[1] : undefined;
  return { ...page, sessionId };
}

describe('payment links API', () => {
  it('creates a link, reads it back, hides it from other tenants', async () => {
    const res = await apiRaw('POST', '/v1/payment-links', linkBody());
    expect(res.status).toBe(201);
    const link = res.body;
    expect(link.id).toMatch(/^plink_[0-9a-f]{32}$/);
    expect(link).toMatchObject({
      url: `${inject('apiUrl')}/l/${link.id}`,
      active: true,
      amount: 2500,
      currency: 'EUR',
      allowedMethods: ['card'],
      expiresInSeconds: 1800,
    });
    expect(link).not.toHaveProperty('tenantId');
    expect((await apiRaw('GET', `/v1/payment-links/${link.id}`)).body).toEqual(link);

    const other = { key: TENANT_KEYS.other };
    const read = await apiRaw('GET', `/v1/payment-links/${link.id}`, undefined, other);
    expect(read.status).toBe(404);
    expect(read.body.code).toBe('payment_link_not_found');
    const deactivate = await apiRaw('POST', `/v1/payment-links/${link.id}/deactivate`, undefined, other);
    expect(deactivate.status).toBe(404);
    const listed = await apiRaw('GET', '/v1/payment-links?limit=100', undefined, other);
    expect(listed.body.data.map((l: { id: string }) => l.id)).not.toContain(link.id);
    // Still active: the other tenant's deactivate changed nothing.
    expect((await apiRaw('GET', `/v1/payment-links/${link.id}`)).body.active).toBe(true);
    expect((await apiRaw('GET', `/v1/payment-links/plink_${'0'.repeat(32)}`)).status).toBe(404);
  });

  it('documents the routes in the OpenAPI document, not the public visit', async () => {
    const spec = await apiRaw('GET', '/docs/json', undefined, { key: null });
    const paths = Object.keys(spec.body.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/payment-links',
        '/v1/payment-links/{id}',
        '/v1/payment-links/{id}/deactivate',
      ]),
    );
    expect(paths).not.toContain('/l/{id}');
    const body = spec.body.paths['/v1/payment-links'].post.requestBody.content['application/json'].schema;
    expect(body.properties.amount.type).toBe('integer');
    expect(body.properties.allowedMethods.default).toEqual(['card']);
  });

  it("lists the tenant's links newest first, a page at a time", async () => {
    const a = await createLink();
    const b = await createLink();
    const c = await createLink();
    const first = await apiRaw('GET', '/v1/payment-links?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.data.map((l: { id: string }) => l.id)).toEqual([c.id, b.id]);
    expect(first.body.data[0].url).toBe(c.url);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await apiRaw(
      'GET',
      `/v1/payment-links?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`,
    );
    expect(second.body.data[0].id).toBe(a.id);

    await apiRaw('POST', `/v1/payment-links/${b.id}/deactivate`);
    const inactive = await apiRaw('GET', '/v1/payment-links?active=false&limit=100');
    const ids = inactive.body.data.map((l: { id: string }) => l.id);
    expect(ids).toContain(b.id);
    expect(ids).not.toContain(a.id);

    const bad = await apiRaw('GET', '/v1/payment-links?cursor=nonsense');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_cursor');
  });

  it.each([
    ['a fractional amount', { amount: 12.5 }],
    ['a zero amount', { amount: 0 }],
    ['an unknown currency', { currency: 'XYZ' }],
    ['a relative success URL', { successUrl: '/done' }],
    ['a javascript: cancel URL', { cancelUrl: 'javascript:alert(1)' }],
    ['a session expiry under a minute', { expiresInSeconds: 59 }],
    ['a session expiry over a day', { expiresInSeconds: 86_401 }],
    ['an unknown method', { allowedMethods: ['cash'] }],
    ['no method', { allowedMethods: [] }],
    ['an order id (a link opens a new order per visit)', { orderId: 'ord_1' }],
  ])('refuses %s with a 400 and stores nothing', async (_name, extra) => {
    const body = linkBody(extra);
    const res = await apiRaw('POST', '/v1/payment-links', body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await count(db, 'SELECT 1 FROM payment_links WHERE description = $1', [body.description])).toBe(0);
  });

  it.each([
    ['an http success URL off this machine', { successUrl: 'http://merchant.example/done' }],
    ['a cancel URL with a password in it', { cancelUrl: 'https://user:pw@merchant.example/cancel' }],
  ])('refuses %s as a return URL (422) and stores nothing', async (_name, extra) => {
    const body = linkBody(extra);
    const res = await apiRaw('POST', '/v1/payment-links', body);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'return_url_not_allowed' });
    expect(await count(db, 'SELECT 1 FROM payment_links WHERE description = $1', [body.description])).toBe(0);
  });

  it('honours Idempotency-Key on create and deactivate', async () => {
    const body = linkBody();
    const headers = { 'idempotency-key': uid('idem') };
    const first = await apiRaw('POST', '/v1/payment-links', body, { headers });
    const second = await apiRaw('POST', '/v1/payment-links', body, { headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
    expect(await count(db, 'SELECT 1 FROM payment_links WHERE description = $1', [body.description])).toBe(1);

    const deactivateHeaders = { 'idempotency-key': uid('idem') };
    const off = await apiRaw('POST', `/v1/payment-links/${first.body.id}/deactivate`, undefined, {
      headers: deactivateHeaders,
    });
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    const replay = await apiRaw('POST', `/v1/payment-links/${first.body.id}/deactivate`, undefined, {
      headers: deactivateHeaders,
    });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // Deactivating again, without a key, leaves it inactive.
    const again = await apiRaw('POST', `/v1/payment-links/${first.body.id}/deactivate`);
    expect(again.status).toBe(200);
    expect(again.body.active).toBe(false);
  });
});

describe('visiting a payment link', () => {
  it('opens a new session per visit, each recording the link; paying one completes it alone', async () => {
    const link = await createLink();
    const one = await visit(link.id);
    const two = await visit(link.id);
    for (const page of [one, two]) {
      expect(page.status).toBe(303);
      expect(page.location).toBe(`${inject('apiUrl')}/checkout/${page.sessionId}`);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('x-robots-tag')).toContain('noindex');
    }
    expect(one.sessionId).not.toBe(two.sessionId);

    const sessions = await Promise.all(
      [one, two].map(async (page) => (await apiRaw('GET', `/v1/checkout-sessions/${page.sessionId}`)).body),
    );
    for (const session of sessions) {
      expect(session).toMatchObject({
        status: 'open',
        amount: 2500,
        currency: 'EUR',
        paymentLinkId: link.id,
        allowedMethods: ['card'],
        successUrl: 'https://merchant.example/tickets/thanks?show=7',
      });
      expect(session.orderId).toMatch(new RegExp(`^${link.id}_[0-9a-f]{16}$`));
      expect(session.customerId).toMatch(/^guest_[0-9a-f]{16}$/);
      const lifetime = Date.parse(session.expiresAt) - Date.parse(session.createdAt);
      expect(lifetime).toBe(1800 * 1000);
    }
    expect(sessions[0].orderId).not.toBe(sessions[1].orderId);
    expect(sessions[0].customerId).not.toBe(sessions[1].customerId);

    const paid = await postCheckoutForm(one.sessionId!, { method: 'card', token: 'tok_test_4242' });
    expect(paid.status).toBe(303);
    expect(new URL(paid.location!).searchParams.get('session_id')).toBe(one.sessionId);
    await expect
      .poll(async () => (await apiRaw('GET', `/v1/checkout-sessions/${one.sessionId}`)).body.status, {
        timeout: 20_000,
      })
      .toBe('complete');
    const { rows } = await db.pool.query<{ type: string; data: Record<string, unknown> }>(
      'SELECT type, data FROM events WHERE subject = $1 ORDER BY seq',
      [`checkout_sessions/${one.sessionId}`],
    );
    expect(rows.map((row) => row.type)).toEqual(['checkout_session.completed']);
    expect(rows[0]!.data).toMatchObject({ status: 'complete', paymentLinkId: link.id });
    const payment = (await apiRaw('GET', `/v1/payments/${rows[0]!.data.paymentId as string}`)).body;
    expect(payment).toMatchObject({ status: 'succeeded', amount: 2500, orderId: sessions[0].orderId });

    // The other visitor's session is untouched, and the link still opens new ones.
    expect((await apiRaw('GET', `/v1/checkout-sessions/${two.sessionId}`)).body.status).toBe('open');
    expect(await sessionsOf(link.id)).toBe(2);
  });

  it('opens nothing for a HEAD request', async () => {
    const link = await createLink();
    const head = await fetch(`${inject('apiUrl')}/l/${link.id}`, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-robots-tag')).toContain('noindex');
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect(await sessionsOf(link.id)).toBe(0);
    // A GET does open one: the count above could have seen it.
    expect((await visit(link.id)).status).toBe(303);
    expect(await sessionsOf(link.id)).toBe(1);
  });

  it('shows a deactivated link as no longer active and opens no session', async () => {
    const link = await createLink();
    expect((await visit(link.id)).status).toBe(303);
    const off = await apiRaw('POST', `/v1/payment-links/${link.id}/deactivate`);
    expect(off.body).toMatchObject({ id: link.id, active: false });
    const page = await visit(link.id);
    expect(page.status).toBe(410);
    expect(page.location).toBeNull();
    expect(page.text).toContain('This payment link is no longer active');
    expect(page.headers.get('x-robots-tag')).toContain('noindex');
    expect(await sessionsOf(link.id)).toBe(1);
    const head = await fetch(`${inject('apiUrl')}/l/${link.id}`, { method: 'HEAD' });
    expect(head.status).toBe(410);
  });

  it(`opens at most ${SESSIONS_PER_MINUTE} sessions a minute per link: a 429 page beyond, no session`, async () => {
    const link = await createLink();
    const neighbour = await createLink();
    for (let i = 0; i < SESSIONS_PER_MINUTE; i += 1) expect((await visit(link.id)).status).toBe(303);
    const refused = await visit(link.id);
    expect(refused.status).toBe(429);
    expect(refused.location).toBeNull();
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.text).toContain('Try again in');
    expect(await sessionsOf(link.id)).toBe(SESSIONS_PER_MINUTE);
    // The limit is the link's: another link of the tenant still opens sessions.
    expect((await visit(neighbour.id)).status).toBe(303);
  });

  it('holds the limit under concurrent visits', async () => {
    const link = await createLink();
    const visits = await Promise.all(Array.from({ length: SESSIONS_PER_MINUTE + 3 }, () => visit(link.id)));
    const statuses = visits.map((page) => page.status).sort();
    expect(statuses).toEqual([...Array(SESSIONS_PER_MINUTE).fill(303), 429, 429, 429]);
    expect(await sessionsOf(link.id)).toBe(SESSIONS_PER_MINUTE);
  });

  it('answers an unknown link with a 404 page', async () => {
    const unknown = await visit(`plink_${'f'.repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('Payment link not found');
    expect((await visit('nonsense')).status).toBe(404);
  });
});
