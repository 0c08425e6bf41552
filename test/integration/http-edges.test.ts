import { describe, expect, it } from 'vitest';
import { DEV_ADMIN_KEY } from '../../src/config.js';
import { eventually } from '../support/brokers.js';
import { testDatabase } from '../support/db.js';
import { complete3ds } from '../support/gateway.js';
import { api, apiRaw, uid, type PaymentBody, type WebhookEndpointBody } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

/**
 * The edges of the HTTP surface a fuzzer (or a careless client) finds: what the OpenAPI document
 * says about errors, and errors Fastify or Node answer before any route runs. Real HTTP to the
 * API process of the test stack.
 */
const PROBLEM = 'application/problem+json';

function expectProblem(
  res: { status: number; headers: Headers; body: any },
  status: number,
  code: string,
): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain(PROBLEM);
  expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String) });
}

const validPayment = (): PaymentBody => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 1000,
  currency: 'USD',
  method: { type: 'wallet' },
});

describe('a. the OpenAPI document says errors are application/problem+json', () => {
  it('documents every 4xx/5xx response as problem+json only, and the server agrees', async () => {
    const spec = await api('GET', '/docs/json', undefined, { key: null });
    expect(spec.status).toBe(200);
    let errorResponses = 0;
    for (const [path, item] of Object.entries<any>(spec.body.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        for (const [status, response] of Object.entries<any>(operation.responses ?? {})) {
          if (!/^[45]/.test(status) || !response.content) continue;
          errorResponses++;
          expect(Object.keys(response.content), `${method} ${path} ${status}`).toEqual([PROBLEM]);
        }
      }
    }
    expect(errorResponses).toBeGreaterThan(20);
    expect(spec.body.paths['/v1/payments'].post.responses['4XX'].content[PROBLEM].schema).toEqual({
      $ref: '#/components/schemas/Problem',
    });
    const res = await api('POST', '/v1/payments', { ...validPayment(), amount: -1 });
    expectProblem(res, 400, 'validation_error');
  });

  it('keeps success responses application/json and no internal markers in the document', async () => {
    const spec = await api('GET', '/docs/json', undefined, { key: null });
    expect(Object.keys(spec.body.paths['/v1/payments'].post.responses['200'].content)).toEqual([
      'application/json',
    ]);
    expect(JSON.stringify(spec.body)).not.toContain('x-paysaga-access');
  });

  it('links a created payment to the operations that take its id', async () => {
    const spec = await api('GET', '/docs/json', undefined, { key: null });
    const links = spec.body.paths['/v1/payments'].post.responses['200'].links;
    expect(links.CapturePayment).toEqual({
      operationRef: '#/paths/~1v1~1payments~1{id}~1capture/post',
      parameters: { id: '$response.body#/id' },
    });
    expect(links.GetWallet.parameters).toEqual({ customerId: '$response.body#/customerId' });
  });
});

describe('b. /v1/ledger/verify documents its 401 and 403', () => {
  it('lists 401 and 403 problems next to 200', async () => {
    const spec = await api('GET', '/docs/json', undefined, { key: null });
    const responses = spec.body.paths['/v1/ledger/verify'].get.responses;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['200', '401', '403']));
    for (const status of ['401', '403']) expect(Object.keys(responses[status].content)).toEqual([PROBLEM]);
    // Tenant routes document 401 (and no 403: any valid tenant key may call them).
    expect(spec.body.paths['/v1/payments'].post.responses['401']).toBeDefined();
  });

  it('answers exactly what it documents', async () => {
    expectProblem(await api('GET', '/v1/ledger/verify', undefined, { key: null }), 401, 'unauthorized');
    expectProblem(await api('GET', '/v1/ledger/verify'), 403, 'forbidden');
    const ok = await api('GET', '/v1/ledger/verify', undefined, { key: DEV_ADMIN_KEY });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true });
  });
});

describe('c. errors answered before a route runs are problems too', () => {
  it('malformed percent-encoding in the path: 400 invalid_url', async () => {
    expectProblem(await api('GET', '/v1/payments/%zz'), 400, 'invalid_url');
    expectProblem(await api('GET', '/v1/refunds/%E0%A4%A'), 400, 'invalid_url');
  });

  it('a NUL in a path parameter or query value: 400 validation_error, never a 500', async () => {
    const path = await api('GET', '/v1/payments/pay_%00');
    expectProblem(path, 400, 'validation_error');
    expect(path.body.errors).toEqual([{ path: 'params.id', message: expect.stringContaining('NUL') }]);
    expectProblem(await api('GET', '/v1/payments?customerId=a%00b'), 400, 'validation_error');
  });

  it('an over-long path parameter: 400 validation_error (no 414 from the router)', async () => {
    expectProblem(await api('GET', `/v1/payments/${'p'.repeat(150)}`), 400, 'validation_error');
    expectProblem(await api('GET', `/v1/payments/${'p'.repeat(5000)}`), 400, 'validation_error');
    // A schema-valid customer id of 200 characters reaches the route.
    const wallet = await api('GET', `/v1/wallets/${'c'.repeat(200)}`);
    expect(wallet.status).toBe(200);
  });

  it('a URL or headers over Node’s header limit: 431 headers_too_large', async () => {
    expectProblem(await api('GET', `/v1/payments/${'p'.repeat(20_000)}`), 431, 'headers_too_large');
    const res = await api('GET', '/v1/payments', undefined, { headers: { 'x-padding': 'x'.repeat(20_000) } });
    expectProblem(res, 431, 'headers_too_large');
  });

  it('a method a known path does not have: 405 method_not_allowed with Allow', async () => {
    const res = await api('DELETE', '/v1/payments');
    expectProblem(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS, POST');
    // QUERY carries a body: without this check it was a 400 about a missing content type.
    const query = await api('QUERY', '/v1/payments/pay_x');
    expectProblem(query, 405, 'method_not_allowed');
    expect(query.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    // Unknown paths stay 404.
    expectProblem(await api('DELETE', '/v1/nothing-here'), 404, 'route_not_found');
  });
});

describe('d. __proto__ and constructor.prototype in a JSON body', () => {
  it('refuses __proto__ with a 400 that says why', async () => {
    for (const raw of [
      '{"__proto__": {"isAdmin": true}}',
      `{"orderId":"o","metadata":{"__proto__":"x"}}`,
      '{"a":[{"\\u005f_proto__":1}]}',
    ]) {
      const res = await apiRaw('POST', '/v1/payments', undefined, { raw });
      expectProblem(res, 400, 'invalid_json');
      expect(res.body.detail).toContain('"__proto__"');
      expect(res.body.detail).not.toContain('not valid JSON');
    }
  });

  it('refuses constructor.prototype, but a plain "constructor" key is just data', async () => {
    const res = await apiRaw('POST', '/v1/payments', undefined, {
      raw: '{"constructor": {"prototype": {"polluted": true}}}',
    });
    expectProblem(res, 400, 'invalid_json');
    expect(res.body.detail).toContain('constructor.prototype');
    const plain = await apiRaw('POST', '/v1/payments', {
      ...validPayment(),
      currency: 'XXX',
      metadata: { constructor: 'c', prototype: 'p' },
    });
    expectProblem(plain, 400, 'validation_error');
    expect(JSON.stringify(plain.body.errors)).toContain('currency');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('e. duplicate keys in a JSON body', () => {
  it('refuses a key given twice, at any depth, however it is escaped', async () => {
    const cases: [string, string][] = [
      ['{"amount": 1, "amount": 2}', 'body.amount'],
      ['{"method": {"type": "wallet", "type": "card"}}', 'body.method.type'],
      ['{"a": [{}, {"k": 1, "k": 1}]}', 'body.a[1].k'],
      ['{"orderId": "x", "order\\u0049d": "y"}', 'body.orderId'],
    ];
    for (const [raw, path] of cases) {
      const res = await apiRaw('POST', '/v1/wallets/dup_customer/top-ups', undefined, { raw });
      expectProblem(res, 400, 'invalid_json');
      expect(res.body.detail).toContain('more than once');
      expect(res.body.errors).toEqual([{ path, message: 'duplicate key' }]);
    }
  });

  it('accepts the same key in different objects and keeps other JSON errors as they were', async () => {
    const res = await apiRaw('POST', '/v1/payments', undefined, {
      raw: '{"metadata": {"k": "1"}, "method": {"k": "1"}}',
    });
    expectProblem(res, 400, 'validation_error');
    expectProblem(await apiRaw('POST', '/v1/payments', undefined, { raw: '{"a":' }), 400, 'invalid_json');
    expectProblem(await apiRaw('POST', '/v1/payments', undefined, { raw: '' }), 400, 'invalid_json');
  });

  it('leaves the webhook route its raw body: a signature problem, not a JSON one', async () => {
    const res = await api('POST', '/v1/webhooks/sandbox', undefined, {
      key: null,
      raw: '{"type": "a", "type": "b"}',
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_signature');
  });
});

describe('f. Idempotency-Key records', () => {
  it("keep a webhook endpoint's secret sealed, and a replay still answers it", async () => {
    const db = testDatabase();
    const key = { key: TENANT_KEYS.other };
    const storedSecret = async (idempotencyKey: string) =>
      (
        await db.pool.query<{ secret: string }>(
          `SELECT response_body->>'secret' AS secret FROM idempotency_keys WHERE tenant_id = 'other' AND key = $1`,
          [idempotencyKey],
        )
      ).rows[0]!.secret;
    try {
      const createKey = uid('idem');
      const body: WebhookEndpointBody = {
        url: 'http://127.0.0.1:9/paysaga-hooks',
        events: ['payment.succeeded'],
      };
      const created = await api('POST', '/v1/webhook-endpoints', body, {
        ...key,
        headers: { 'idempotency-key': createKey },
      });
      expect(created.status).toBe(201);
      expect(created.body.secret).toMatch(/^whsec_/);
      const rotateKey = uid('idem');
      const rotate = () =>
        api(
          'POST',
          `/v1/webhook-endpoints/${created.body.id}/rotate-secret`,
          { overlapSeconds: 0 },
          { ...key, headers: { 'idempotency-key': rotateKey } },
        );
      const rotated = await rotate();
      expect(rotated.status).toBe(200);

      for (const [idempotencyKey, secret] of [
        [createKey, created.body.secret],
        [rotateKey, rotated.body.secret],
      ]) {
        const stored = await storedSecret(idempotencyKey!);
        expect(stored).not.toContain('whsec_');
        expect(stored).not.toContain(secret!.slice(6));
      }
      const replayed = await api('POST', '/v1/webhook-endpoints', body, {
        ...key,
        headers: { 'idempotency-key': createKey },
      });
      expect(replayed.headers.get('idempotent-replayed')).toBe('true');
      expect(replayed.body).toEqual(created.body);
      expect((await rotate()).body).toEqual(rotated.body);
      await api('DELETE', `/v1/webhook-endpoints/${created.body.id}`, undefined, key);
    } finally {
      await db.close();
    }
  });

  it('are deleted once expired (the API sweeps them), and kept until then', async () => {
    const db = testDatabase();
    try {
      const insert = (key: string, expiresIn: string) =>
        db.pool.query(
          `INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, state, response_status, response_body, locked_until, expires_at)
           VALUES ('other', 'POST /v1/payments', $1, 'h', 'done', 200, '{}', now(), now() + $2::interval)`,
          [key, expiresIn],
        );
      const expired = uid('idem');
      const live = uid('idem');
      await insert(expired, '-1 hour');
      await insert(live, '24 hours');
      const exists = async (key: string) =>
        (await db.pool.query(`SELECT 1 FROM idempotency_keys WHERE key = $1`, [key])).rowCount === 1;
      await eventually(async () => !(await exists(expired)), 30_000, 'the expired key to be deleted');
      expect(await exists(live)).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('answer a replayed 202 with the payment as it is now, once it has settled', async () => {
    // A 3-D Secure card answered at once (Prefer: respond-async): 202, not settled yet.
    const body: PaymentBody = {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 1000,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_3333' },
    };
    const headers = { 'idempotency-key': uid('idem'), prefer: 'respond-async' };
    const accepted = await api('POST', '/v1/payments', body, { headers });
    expect(accepted.status).toBe(202);
    expect(['processing', 'requires_action']).toContain(accepted.body.status);
    const { nextAction } = (await api('GET', `/v1/payments/${accepted.body.id}`)).body;
    await complete3ds(nextAction!.url, 'succeed');
    await eventually(
      async () => (await api('GET', `/v1/payments/${accepted.body.id}`)).body.status === 'succeeded',
      30_000,
      'the payment to succeed',
    );
    const replayed = await api('POST', '/v1/payments', body, { headers });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.status).toBe(200);
    expect(replayed.body).toMatchObject({ id: accepted.body.id, status: 'succeeded', amountCaptured: 1000 });
  });
});
