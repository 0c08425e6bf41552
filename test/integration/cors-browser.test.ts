import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEV_ADMIN_KEY } from '../../src/config.js';
import { findChromium } from '../support/browser.js';
import { count, testDatabase } from '../support/db.js';
import { apiRaw, uid } from '../support/http.js';

const chromium = findChromium('the CORS browser tests');

/** A web app's own site: one blank page, and the pages the checkout sends the customer back to. */
function site(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>App</title></head>` +
        `<body><main><h1>${request.url?.startsWith('/paid') ? 'Paid' : 'App'}</h1></main></body></html>`,
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

/** What `fetch` in the page got: the status and body, or the error a refused CORS request throws. */
type PageFetch = { status: number; body: any } | { error: string };

function fetchFrom(
  page: Page,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
) {
  return page.evaluate(
    async (target, options): Promise<PageFetch> => {
      try {
        const response = await fetch(target, options);
        return { status: response.status, body: await response.json() };
      } catch (error) {
        return { error: String(error) };
      }
    },
    url,
    init,
  );
}

describe.skipIf(!chromium)("a tenant's browser app, across origins (Chromium)", () => {
  const api = inject('apiUrl');
  let browser: Browser;
  let allowed: { server: Server; origin: string };
  let foreign: { server: Server; origin: string };
  let publishable: string;
  let tenantId: string;
  const db = testDatabase();
  let secret: string;

  beforeAll(async () => {
    [allowed, foreign] = await Promise.all([site(), site()]);
    tenantId = uid('web').toLowerCase();
    const admin = { key: DEV_ADMIN_KEY };
    const created = await apiRaw(
      'POST',
      '/v1/admin/tenants',
      { id: tenantId, name: 'Web shop', settings: { corsOrigins: [allowed.origin] } },
      admin,
    );
    expect(created.status).toBe(201);
    publishable = (
      await apiRaw('POST', `/v1/admin/tenants/${tenantId}/api-keys`, { scope: 'publishable' }, admin)
    ).body.secret;
    secret = (await apiRaw('POST', `/v1/admin/tenants/${tenantId}/api-keys`, { scope: 'full' }, admin)).body
      .secret;
    browser = await puppeteer.launch({
      executablePath: chromium!,
      headless: true,
      // Containers run tests as root, where Chromium's sandbox cannot start.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await db.close();
    for (const each of [allowed, foreign]) await new Promise((resolve) => each?.server.close(resolve));
  });

  /** How many checkout sessions the tenant has: a refused request opened none. */
  const sessions = () => count(db, 'SELECT count(*) FROM checkout_sessions WHERE tenant_id = $1', [tenantId]);

  async function pageAt(origin: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${origin}/`, { waitUntil: 'load' });
    return page;
  }

  const sessionBody = (origin: string) =>
    JSON.stringify({
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 1500,
      currency: 'EUR',
      allowedMethods: ['card'],
      successUrl: `${origin}/paid`,
      cancelUrl: `${origin}/cart`,
    });

  it('opens a checkout page with a publishable key from an allowed origin, and the customer pays on it', async () => {
    const page = await pageAt(allowed.origin);
    const opened = await fetchFrom(page, `${api}/v1/checkout-sessions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${publishable}`,
        'content-type': 'application/json',
        'idempotency-key': uid('idem'),
      },
      body: sessionBody(allowed.origin),
    });
    expect(opened).toMatchObject({ status: 201, body: { url: expect.any(String) } });
    const { url, id } = (opened as { body: { url: string; id: string } }).body;

    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('#card-form[data-ready="1"]');
    await page.type('#card-number', '4242 4242 4242 4242');
    await page.type('#card-expiry', '12 / 34');
    await page.type('#card-cvc', '123');
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('#card-form button[type="submit"]'),
    ]);
    const landed = new URL(page.url());
    expect(`${landed.origin}${landed.pathname}`).toBe(`${allowed.origin}/paid`);
    expect(landed.searchParams.get('session_id')).toBe(id);
    await page.close();
  });

  it("reads a customer's own payment with a customer token from the allowed origin; another customer's is a readable 403", async () => {
    const pay = (customerId: string) =>
      apiRaw(
        'POST',
        '/v1/payments',
        {
          orderId: uid('ord'),
          customerId,
          amount: 700,
          currency: 'EUR',
          method: { type: 'card', token: 'tok_test_4242' },
        },
        { key: secret },
      );
    const mine = await pay('cus_web_a');
    const theirs = await pay('cus_web_b');
    expect(mine.body.status).toBe('succeeded');
    const token = (await apiRaw('POST', '/v1/customer-tokens', { customerId: 'cus_web_a' }, { key: secret }))
      .body.token as string;

    const page = await pageAt(allowed.origin);
    const headers = { authorization: `Bearer ${token}` };
    expect(await fetchFrom(page, `${api}/v1/payments/${mine.body.id}`, { headers })).toMatchObject({
      status: 200,
      body: { id: mine.body.id, customerId: 'cus_web_a' },
    });
    expect(await fetchFrom(page, `${api}/v1/payments/${theirs.body.id}`, { headers })).toMatchObject({
      status: 403,
      body: { code: 'forbidden_for_customer_token' },
    });
    expect(await fetchFrom(page, `${api}/v1/wallets/cus_web_a`, { headers })).toMatchObject({ status: 200 });
    await page.close();
  });

  it('refuses the same calls from an origin the tenant does not allow', async () => {
    const page = await pageAt(foreign.origin);
    const open = () =>
      fetchFrom(page, `${api}/v1/checkout-sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publishable}`, 'content-type': 'application/json' },
        body: sessionBody(foreign.origin),
      });
    // No tenant allows it: the browser's preflight got no CORS headers, the request was never sent.
    expect(await open()).toEqual({ error: expect.stringMatching(/TypeError: Failed to fetch/) });

    // Another tenant allows it: the preflight passes (it carries no key), and the request with
    // this tenant's key is refused before anything runs, without CORS headers.
    const other = uid('web').toLowerCase();
    expect(
      (
        await apiRaw(
          'POST',
          '/v1/admin/tenants',
          { id: other, name: 'Another shop', settings: { corsOrigins: [foreign.origin] } },
          { key: DEV_ADMIN_KEY },
        )
      ).status,
    ).toBe(201);
    const before = await sessions();
    expect(await open()).toEqual({ error: expect.stringMatching(/TypeError: Failed to fetch/) });
    expect(await sessions()).toBe(before);
    await page.close();
  });

  it('answers a preflight from the allowed origin with CORS headers, and from another with none', async () => {
    const preflight = (origin: string) =>
      fetch(`${api}/v1/checkout-sessions`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type, idempotency-key, x-unknown',
        },
      });
    const ok = await preflight(allowed.origin);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(allowed.origin);
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toBe(
      'authorization, content-type, idempotency-key',
    );
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    expect(ok.headers.get('vary')).toMatch(/origin/i);
    const other = await preflight('https://nobody.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('access-control-allow-methods')).toBeNull();

    // A "simple" request needs no preflight: the API refuses it before anything runs.
    const simple = await fetch(`${api}/v1/payments?limit=1`, {
      headers: { origin: 'https://nobody.example', authorization: `Bearer ${secret}` },
    });
    expect(simple.status).toBe(403);
    expect(await simple.json()).toMatchObject({ code: 'origin_not_allowed' });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });
});
