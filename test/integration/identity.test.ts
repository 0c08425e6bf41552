import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import { DEV_ADMIN_KEY } from '../../src/config.js';
import { projectPath } from '../../tools/stack/stack.js';
import { count, testDatabase } from '../support/db.js';
import { apiRaw, uid, until, type ApiResponse } from '../support/http.js';
import { startApi } from '../support/in-process-api.js';
import { startIssuer, type TestIssuer } from '../support/oidc-issuer.js';

const asAdmin = (method: string, path: string, body?: unknown) =>
  apiRaw(method, path, body, { key: DEV_ADMIN_KEY });

/** A card payment of tenant `key`'s, on the API at `url` (the stack's by default). */
async function pay(key: string, customerId = uid('cus'), url = inject('apiUrl')): Promise<ApiResponse> {
  const response = await fetch(`${url}/v1/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      orderId: uid('ord'),
      customerId,
      amount: 1200,
      currency: 'EUR',
      method: { type: 'card', token: 'tok_test_4242' },
    }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function read(key: string, path: string, url = inject('apiUrl')): Promise<number> {
  return (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } })).status;
}

async function newTenant(settings: Record<string, unknown> = {}): Promise<string> {
  const id = uid('tnt').toLowerCase();
  const created = await asAdmin('POST', '/v1/admin/tenants', { id, name: `Tenant ${id}`, settings });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return id;
}

async function newKey(
  tenantId: string,
  scope = 'full',
): Promise<{ id: string; secret: string; prefix: string }> {
  const created = await asAdmin('POST', `/v1/admin/tenants/${tenantId}/api-keys`, { scope });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

describe('tenants and API keys as data', () => {
  const db = testDatabase();
  let second: Awaited<ReturnType<typeof startApi>>;
  const secrets: string[] = [];

  beforeAll(async () => {
    // A second API process on the same PostgreSQL: what one process changes, the other must know.
    second = await startApi();
  });
  afterAll(async () => {
    await second.close();
    await db.close();
  });

  it('creates a tenant and a key over the admin API; the key pays at once, on every API process', async () => {
    const tenantId = await newTenant();
    const key = await newKey(tenantId);
    secrets.push(key.secret);
    expect(key.secret).toMatch(/^sk_test_[A-Za-z0-9]{32}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 12));

    const paid = await pay(key.secret);
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);
    expect(paid.body).toMatchObject({ status: 'succeeded', amount: 1200 });
    expect(paid.body.id).toMatch(/^pay_/);
    // The other process knew it by the notice: no restart, no reload by hand.
    expect((await pay(key.secret, uid('cus'), second.url)).body.status).toBe('succeeded');

    // The payment is the new tenant's: the default tenant does not see it.
    expect(await read(key.secret, `/v1/payments/${paid.body.id}`)).toBe(200);
    expect(await read('sk_test_paysaga', `/v1/payments/${paid.body.id}`)).toBe(404);

    // Listed without its secret; stored as a hash only.
    const listed = await asAdmin('GET', `/v1/admin/tenants/${tenantId}/api-keys`);
    expect(listed.body.data).toEqual([
      expect.objectContaining({ id: key.id, scope: 'full', prefix: key.prefix }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(key.secret);
    expect(
      await count(db, `SELECT count(*) FROM api_keys WHERE secret_hash = encode(sha256($1::bytea), 'hex')`, [
        key.secret,
      ]),
    ).toBe(1);
  });

  it('rolls a key: both work until the overlap ends, then only the new one', async () => {
    const tenantId = await newTenant();
    const old = await newKey(tenantId);
    const rolled = await asAdmin('POST', `/v1/admin/tenants/${tenantId}/api-keys/${old.id}/roll`, {
      expiresInSeconds: 3,
    });
    expect(rolled.status).toBe(201);
    const fresh = rolled.body as { secret: string; rolledFrom: string; previous: { expiresAt: string } };
    secrets.push(old.secret, fresh.secret);
    expect(fresh.rolledFrom).toBe(old.id);
    expect(fresh.secret).not.toBe(old.secret);

    expect(await read(old.secret, '/v1/payments?limit=1')).toBe(200);
    expect(await read(fresh.secret, '/v1/payments?limit=1')).toBe(200);
    expect(await read(old.secret, '/v1/payments?limit=1', second.url)).toBe(200);

    const expiresAt = Date.parse(fresh.previous.expiresAt);
    await until(
      () => read(old.secret, '/v1/payments?limit=1'),
      (status) => status === 401,
      'the old key to expire',
      10_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(await read(old.secret, '/v1/payments?limit=1', second.url)).toBe(401);
    expect(await read(fresh.secret, '/v1/payments?limit=1')).toBe(200);
  });

  it('revokes a key: 401 on every API process within a second, and a later use is audited', async () => {
    const tenantId = await newTenant();
    const key = await newKey(tenantId);
    secrets.push(key.secret);
    expect(await read(key.secret, '/v1/payments?limit=1')).toBe(200);
    expect(await read(key.secret, '/v1/payments?limit=1', second.url)).toBe(200);

    const revoked = await asAdmin('DELETE', `/v1/admin/tenants/${tenantId}/api-keys/${key.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const at = Date.now();
    for (const url of [inject('apiUrl'), second.url]) {
      for (;;) {
        const status = await read(key.secret, '/v1/payments?limit=1', url);
        if (status === 401) break;
        expect(status).toBe(200);
        expect(Date.now() - at, `still accepted on ${url}`).toBeLessThan(1000);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    expect(Date.now() - at).toBeLessThan(1000);

    const audit = await until(
      () => asAdmin('GET', `/v1/admin/audit?tenantId=${tenantId}&action=api_key.used_after_revocation`),
      (response) => response.body.data.length > 0,
      'the use after revocation in the audit trail',
    );
    expect(audit.body.data[0]).toMatchObject({
      action: 'api_key.used_after_revocation',
      tenantId,
      target: { type: 'api_key', id: key.id },
      ip: expect.any(String),
    });
  });

  it('closes a live stream the key opened once the key is revoked', async () => {
    const tenantId = await newTenant();
    const key = await newKey(tenantId);
    secrets.push(key.secret);
    const socket = new WsClient(`${inject('apiUrl').replace('http', 'ws')}/v1/stream`, {
      headers: { authorization: `Bearer ${key.secret}` },
    });
    const closed = new Promise<number>((resolve) => socket.once('close', resolve));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    await asAdmin('DELETE', `/v1/admin/tenants/${tenantId}/api-keys/${key.id}`);
    // Policy violation: the credential that opened it no longer acts.
    expect(await closed).toBe(1008);
  });

  it('keeps a read-only key to reads and a publishable key to opening checkout pages', async () => {
    const tenantId = await newTenant();
    const readOnly = await newKey(tenantId, 'read_only');
    const publishable = await newKey(tenantId, 'publishable');
    secrets.push(readOnly.secret, publishable.secret);
    expect(readOnly.secret).toMatch(/^rk_test_/);
    expect(publishable.secret).toMatch(/^pk_test_/);

    expect(await read(readOnly.secret, '/v1/payments?limit=1')).toBe(200);
    const refused = await pay(readOnly.secret);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'forbidden_for_read_only_key' });

    const session = (allowedMethods: string[]) =>
      apiRaw(
        'POST',
        '/v1/checkout-sessions',
        {
          orderId: uid('ord'),
          customerId: uid('cus'),
          amount: 900,
          currency: 'EUR',
          allowedMethods,
          successUrl: 'https://shop.example/paid',
          cancelUrl: 'https://shop.example/cart',
        },
        { key: publishable.secret, headers: { 'idempotency-key': uid('idem') } },
      );
    const opened = await session(['card']);
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(opened.body.url).toEqual(expect.any(String));
    // A wallet is a named customer's money: not for a key every visitor of the page holds.
    expect((await session(['card', 'wallet'])).body).toMatchObject({
      status: 403,
      code: 'forbidden_for_publishable_key',
    });
    expect((await pay(publishable.secret)).body).toMatchObject({ code: 'forbidden_for_publishable_key' });
    expect(await read(publishable.secret, '/v1/payments?limit=1')).toBe(403);
    const token = await apiRaw(
      'POST',
      '/v1/customer-tokens',
      { customerId: 'cus_x' },
      { key: publishable.secret },
    );
    expect(token.body).toMatchObject({ status: 403, code: 'forbidden_for_publishable_key' });
  });

  it('suspends a tenant: every key and token of it stops; settings are checked before they are stored', async () => {
    const tenantId = await newTenant();
    const key = await newKey(tenantId);
    secrets.push(key.secret);
    const paid = await pay(key.secret, 'cus_s');
    const customerToken = (
      await apiRaw('POST', '/v1/customer-tokens', { customerId: 'cus_s' }, { key: key.secret })
    ).body.token as string;
    expect(await read(customerToken, `/v1/payments/${paid.body.id}`)).toBe(200);
    expect((await asAdmin('PATCH', `/v1/admin/tenants/${tenantId}`, { status: 'suspended' })).status).toBe(
      200,
    );
    await until(
      () => read(key.secret, '/v1/payments?limit=1'),
      (s) => s === 403,
      'the suspension',
      2_000,
    );
    expect((await pay(key.secret)).body).toMatchObject({ code: 'tenant_suspended' });

    const unknownConnector = await asAdmin('PATCH', `/v1/admin/tenants/${tenantId}`, {
      settings: { connector: 'adyen' },
    });
    expect(unknownConnector.status).toBe(422);
    expect(unknownConnector.body.code).toBe('invalid_tenant_settings');
    const wildcard = await asAdmin('PATCH', `/v1/admin/tenants/${tenantId}`, {
      settings: { corsOrigins: ['*'] },
    });
    expect(wildcard.status).toBe(400);
    const taken = await asAdmin('POST', '/v1/admin/tenants', { id: 'default', name: 'again' });
    expect(taken.status).toBe(409);
    expect((await apiRaw('GET', '/v1/admin/tenants', undefined, { key: key.secret })).status).toBe(403);
    const stored = await asAdmin('GET', `/v1/admin/tenants/${tenantId}`);
    expect(stored.body).toMatchObject({
      id: tenantId,
      status: 'suspended',
      source: 'database',
      settings: {},
    });
  });

  it("applies a tenant's own rate limit, set over the admin API, without a restart", async () => {
    const tenantId = await newTenant({ rateLimit: { max: 3 } });
    const key = await newKey(tenantId);
    secrets.push(key.secret);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await read(key.secret, '/v1/payments?limit=1'));
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('audits every change with who, when and from where, and sends each to the platform tenant', async () => {
    const tenantId = await newTenant();
    const key = await newKey(tenantId);
    secrets.push(key.secret);
    const rolled = await asAdmin('POST', `/v1/admin/tenants/${tenantId}/api-keys/${key.id}/roll`, {
      expiresInSeconds: 0,
    });
    secrets.push(rolled.body.secret);
    await asAdmin('DELETE', `/v1/admin/tenants/${tenantId}/api-keys/${rolled.body.id}`);
    await asAdmin('PATCH', `/v1/admin/tenants/${tenantId}`, { name: 'Renamed' });

    const audit = await asAdmin('GET', `/v1/admin/audit?tenantId=${tenantId}`);
    expect(audit.status).toBe(200);
    const actions = audit.body.data.map((record: { action: string }) => record.action);
    expect(actions).toEqual([
      'tenant.updated',
      'api_key.revoked',
      'api_key.rolled',
      'api_key.created',
      'tenant.created',
    ]);
    for (const record of audit.body.data)
      expect(record).toMatchObject({
        at: expect.any(String),
        actor: { type: 'admin_key', id: expect.stringMatching(/^[0-9a-f]{8}$/) },
        ip: expect.any(String),
      });
    // Paged, newest first.
    const first = await asAdmin('GET', `/v1/admin/audit?tenantId=${tenantId}&limit=2`);
    expect(first.body.hasMore).toBe(true);
    const next = await asAdmin(
      'GET',
      `/v1/admin/audit?tenantId=${tenantId}&limit=2&startingAfter=${first.body.nextCursor}`,
    );
    expect(next.body.data.map((r: { action: string }) => r.action)).toEqual([
      'api_key.rolled',
      'api_key.created',
    ]);

    // Each record is an event on the platform tenant's sinks (the outbox), ids and names only.
    const events = await db.pool.query(
      `SELECT type, tenant_id, data FROM events WHERE tenant_id = 'platform' AND data->>'tenantId' = $1 ORDER BY seq`,
      [tenantId],
    );
    expect(events.rows.map((row) => row.type)).toEqual(actions.map((a: string) => `audit.${a}`).reverse());
  });

  it('never writes a secret to the logs, the events or the stored responses', async () => {
    expect(secrets.length).toBeGreaterThan(5);
    const stored = await db.pool.query(
      `SELECT (SELECT coalesce(string_agg(data::text, ''), '') FROM events) AS events,
              (SELECT coalesce(string_agg(a::text, ''), '') FROM audit_log a) AS audit,
              (SELECT coalesce(string_agg(i::text, ''), '') FROM idempotency_keys i) AS idempotency`,
    );
    const { events, audit, idempotency } = stored.rows[0];
    // The API's log reaches the file a moment after the request: wait for this test's own marker.
    const marker = uid('marker');
    await apiRaw('GET', `/v1/payments?limit=1&${marker}=1`);
    const log = await until(
      async () => readFileSync(projectPath('.tmp', 'test-stack.log'), 'utf8'),
      (text) => text.includes(marker),
      'the API log to show the marker request',
    );
    for (const secret of secrets) {
      expect(events).not.toContain(secret);
      expect(audit).not.toContain(secret);
      expect(idempotency).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });
});

describe("tenants' own identity providers", () => {
  let issuer: TestIssuer;
  let tenantId: string;
  let merchantKey: string;
  const payments: Record<string, string> = {};

  beforeAll(async () => {
    issuer = await startIssuer();
    tenantId = await newTenant({
      jwt: {
        issuer: issuer.issuer,
        audience: 'paysaga-api',
        jwksUrl: issuer.jwksUrl,
        rolesClaim: 'realm_access.roles',
      },
    });
    merchantKey = (await newKey(tenantId)).secret;
    for (const customer of ['cus_A', 'cus_B']) {
      const paid = await pay(merchantKey, customer);
      expect(paid.body.status).toBe('succeeded');
      payments[customer] = paid.body.id;
    }
  });
  afterAll(async () => {
    await issuer.close();
  });

  const token = (claims: Record<string, unknown>, options: Parameters<TestIssuer['sign']>[1] = {}) =>
    issuer.sign(claims, { audience: 'paysaga-api', ...options });

  it("a customer's token reads its own payment and not another customer's", async () => {
    const jwt = await token({ sub: 'cus_A', realm_access: { roles: ['customer'] } });
    expect(await read(jwt, `/v1/payments/${payments.cus_A}`)).toBe(200);
    expect(await read(jwt, `/v1/payments/${payments.cus_B}`)).toBe(403);
    // A customer creates no payments and reads no lists of the tenant's.
    expect((await pay(jwt, 'cus_A')).status).toBe(403);
  });

  it('refuses a wrong audience, an expired token and an unknown key id with 401', async () => {
    const claims = { sub: 'cus_A', realm_access: { roles: ['customer'] } };
    expect(
      await read(await token(claims, { audience: 'another-api' }), `/v1/payments/${payments.cus_A}`),
    ).toBe(401);
    expect(
      await read(await token(claims, { expiresInSeconds: -120 }), `/v1/payments/${payments.cus_A}`),
    ).toBe(401);
    const before = issuer.jwksRequests();
    const unknownKid = await issuer.signWithUnpublishedKey(claims, { audience: 'paysaga-api' });
    expect(await read(unknownKid, `/v1/payments/${payments.cus_A}`)).toBe(401);
    // The key set was fetched again for the unknown kid (the test stack's cooldown is 0), and the
    // kid was still unknown.
    expect(issuer.jwksRequests()).toBeGreaterThan(before);
  });

  it('takes a rotated signing key after refreshing the key set; while the key set cannot be fetched, a new key is a 503, never let in', async () => {
    await issuer.rotate();
    const claims = { sub: 'cus_A', realm_access: { roles: ['customer'] } };
    expect(await read(await token(claims), `/v1/payments/${payments.cus_A}`)).toBe(200);

    issuer.setDown(true);
    try {
      // The cached key still verifies; a key rotated in during the outage cannot be fetched.
      expect(await read(await token(claims), `/v1/payments/${payments.cus_A}`)).toBe(200);
      await issuer.rotate();
      const response = await fetch(`${inject('apiUrl')}/v1/payments/${payments.cus_A}`, {
        headers: { authorization: `Bearer ${await token(claims)}` },
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(await response.json()).toMatchObject({ code: 'identity_provider_unavailable' });
    } finally {
      issuer.setDown(false);
    }
    expect(await read(await token(claims), `/v1/payments/${payments.cus_A}`)).toBe(200);
  });

  it('a merchant token acts as the tenant; an admin token reaches its own tenant only', async () => {
    const merchant = await token({ sub: 'ops@tenant', realm_access: { roles: ['merchant'] } });
    expect((await pay(merchant, 'cus_C')).body.status).toBe('succeeded');
    expect(await read(merchant, `/v1/admin/tenants/${tenantId}`)).toBe(403);

    const admin = await token({ sub: 'admin@tenant', realm_access: { roles: ['admin'] } });
    expect(await read(admin, `/v1/admin/tenants/${tenantId}`)).toBe(200);
    expect(await read(admin, '/v1/admin/tenants/default')).toBe(404);
    const created = await apiRaw(
      'POST',
      `/v1/admin/tenants/${tenantId}/api-keys`,
      { scope: 'read_only' },
      { key: admin },
    );
    expect(created.status).toBe(201);
    const audit = await asAdmin('GET', `/v1/admin/audit?tenantId=${tenantId}&action=api_key.created`);
    expect(audit.body.data[0]).toMatchObject({ actor: { type: 'jwt', id: 'admin@tenant' } });

    // Not the operator's: the ledger across tenants, the tenant's status, limit or identity provider.
    expect(await read(admin, '/v1/ledger/verify')).toBe(403);
    expect(await read(admin, '/v1/admin/tenants')).toBe(200);
    for (const body of [
      { status: 'suspended' },
      { settings: { rateLimit: { max: 1_000_000 } } },
      { settings: { jwt: null } },
    ])
      expect((await apiRaw('PATCH', `/v1/admin/tenants/${tenantId}`, body, { key: admin })).status).toBe(403);
    expect(
      (await apiRaw('PATCH', `/v1/admin/tenants/${tenantId}`, { name: 'Own name' }, { key: admin })).status,
    ).toBe(200);
  });

  it("gives an issuer's tokens for an audience to one tenant only", async () => {
    const taken = await asAdmin('POST', '/v1/admin/tenants', {
      id: uid('tnt').toLowerCase(),
      name: 'Same issuer',
      settings: { jwt: { issuer: issuer.issuer, audience: 'paysaga-api', jwksUrl: issuer.jwksUrl } },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('jwt_issuer_taken');
    const both = await asAdmin('POST', '/v1/admin/tenants', {
      id: uid('tnt').toLowerCase(),
      name: 'Both',
      settings: {
        jwt: {
          issuer: 'https://idp.example',
          audience: 'x',
          jwksUrl: issuer.jwksUrl,
          keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }],
        },
      },
    });
    expect(both.status).toBe(422);
  });
});
