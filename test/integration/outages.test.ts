import { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { authPlugin } from '../../src/api/plugins/auth.js';
import { errorsPlugin } from '../../src/api/plugins/errors.js';
import { idempotencyPlugin } from '../../src/api/plugins/idempotency.js';
import { IdempotencyKeys } from '../../src/app/idempotency.js';
import { connectTemporal } from '../../src/app/temporal-connection.js';
import {
  DEV_API_KEY,
  DEV_CUSTOMER_TOKEN_SECRET,
  DEV_WEBHOOK_ENCRYPTION_KEY,
  loadConfig,
} from '../../src/config.js';
import { CustomerTokens } from '../../src/api/customer-tokens.js';
import { CredentialCheck } from '../../src/api/identify.js';
import { TenantJwtVerifier } from '../../src/api/tenant-jwt.js';
import { IdentityDirectory } from '../../src/app/identity.js';
import { connectDatabase } from '../../src/db/client.js';
import { SecretBox } from '../../src/webhooks/secrets.js';
import { freePort } from '../../tools/stack/stack.js';
import { count, testDatabase } from '../support/db.js';
import { uid } from '../support/http.js';

/**
 * Dependency outages answer a fast 503 problem with Retry-After, never a 500 after a long wait.
 * The app runs in-process against a dependency that is not there: a port nothing listens on.
 */
const auth = { authorization: `Bearer ${DEV_API_KEY}` };
const paymentBody = () => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 1000,
  currency: 'USD',
  method: { type: 'card', token: 'tok_test_4242' },
});

async function appWith(deps: { databaseUrl: string; temporalAddress: string }) {
  const database = connectDatabase(deps.databaseUrl, { max: 2, connectionTimeoutMillis: 1_000 });
  const connection = connectTemporal(deps.temporalAddress);
  const app = await buildApp({
    config: loadConfig({}),
    db: database.db,
    temporal: new Client({ connection }),
    logger: false,
  });
  return { app, close: async () => (await app.close(), await connection.close(), await database.close()) };
}

function expectFast503(
  res: { statusCode: number; headers: Record<string, unknown>; json(): any },
  ms: number,
) {
  expect(res.statusCode).toBe(503);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(ms).toBeLessThan(5_000);
}

describe('Temporal unreachable', () => {
  let subject: Awaited<ReturnType<typeof appWith>>;
  const db = testDatabase();
  beforeAll(async () => {
    subject = await appWith({
      databaseUrl: inject('databaseUrl'),
      temporalAddress: `127.0.0.1:${await freePort()}`,
    });
  });
  afterAll(async () => {
    await subject.close();
    await db.close();
  });

  it('answers POST /v1/payments with a fast 503, also with Prefer: respond-async, and keeps no key', async () => {
    for (const prefer of [undefined, 'respond-async']) {
      const key = uid('idem');
      const started = Date.now();
      const res = await subject.app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...auth, 'idempotency-key': key, ...(prefer ? { prefer } : {}) },
        payload: paymentBody(),
      });
      expectFast503(res, Date.now() - started);
      expect(res.json()).toMatchObject({ code: 'service_unavailable', dependency: 'temporal' });
      // The key is released, so the client's retry with it runs the request again.
      expect(await count(db, 'SELECT 1 FROM idempotency_keys WHERE key = $1', [key])).toBe(0);
    }
  });

  it('opens the circuit: later requests fail at once', async () => {
    const started = Date.now();
    const res = await subject.app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: auth,
      payload: paymentBody(),
    });
    expectFast503(res, Date.now() - started);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('says which dependency is down in /readyz, within a couple of seconds', async () => {
    const started = Date.now();
    const res = await subject.app.inject({ method: 'GET', url: '/readyz' });
    expectFast503(res, Date.now() - started);
    expect(res.json()).toMatchObject({
      code: 'not_ready',
      dependencies: { postgres: { ok: true }, temporal: { ok: false } },
    });
  });
});

describe('PostgreSQL unreachable', () => {
  let subject: Awaited<ReturnType<typeof appWith>>;
  beforeAll(async () => {
    subject = await appWith({
      databaseUrl: `postgres://postgres:postgres@127.0.0.1:${await freePort()}/paysaga`,
      temporalAddress: inject('temporalAddress'),
    });
  });
  afterAll(() => subject.close());

  it('answers reads and writes with a fast 503', async () => {
    for (const request of [
      {
        method: 'POST' as const,
        url: '/v1/payments',
        payload: { ...paymentBody(), method: { type: 'wallet' } },
      },
      { method: 'POST' as const, url: '/v1/payments', payload: paymentBody(), key: uid('idem') },
      { method: 'GET' as const, url: '/v1/payments' },
    ]) {
      const started = Date.now();
      const res = await subject.app.inject({
        method: request.method,
        url: request.url,
        headers: { ...auth, ...(request.key ? { 'idempotency-key': request.key } : {}) },
        ...(request.payload ? { payload: request.payload } : {}),
      });
      expectFast503(res, Date.now() - started);
      expect(res.json()).toMatchObject({ code: 'service_unavailable', dependency: 'postgres' });
    }
    // A card payment needs nothing from the API's database: its answer comes from the workflow.
    const card = await subject.app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: auth,
      payload: paymentBody(),
    });
    expect(card.statusCode).toBe(200);
    expect(card.json()).toMatchObject({ status: 'succeeded', amountCaptured: 1000 });
    const ready = await subject.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().dependencies).toMatchObject({ postgres: { ok: false }, temporal: { ok: true } });
  });
});

describe('Idempotency-Key bookkeeping that fails after the work', () => {
  const handle = testDatabase();
  let app: FastifyInstance;
  let ran = 0;
  beforeAll(async () => {
    // The key is claimed for real; recording the outcome fails, as when PostgreSQL goes away
    // between the workflow's answer and the write after it.
    const db = new Proxy(handle.db, {
      get: (target, prop, receiver) =>
        prop === 'update'
          ? () => {
              throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
            }
          : Reflect.get(target, prop, receiver),
    });
    app = Fastify({ logger: false });
    await app.register(errorsPlugin);
    const config = loadConfig({ API_KEYS: `${DEV_API_KEY}:default` });
    const identity = new IdentityDirectory(undefined, config);
    await app.register(authPlugin, {
      identity,
      credentials: new CredentialCheck({
        identity,
        adminKeys: new Set<string>(),
        customerTokens: new CustomerTokens(DEV_CUSTOMER_TOKEN_SECRET),
        tenantJwt: new TenantJwtVerifier(),
      }),
      platformTenant: config.platformTenant,
      audit: { recordRevokedUse: async () => undefined },
    });
    await app.register(idempotencyPlugin, {
      keys: new IdempotencyKeys(db, new SecretBox(DEV_WEBHOOK_ENCRYPTION_KEY), {
        ttlHours: 24,
        leaseSeconds: 20,
      }),
      sweepIntervalMs: 0,
    });
    app.post('/work', { config: { idempotent: true } }, async () => {
      ran++;
      return { done: true };
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await handle.close();
  });

  it('still answers with the outcome, never a 500 for work that went through', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/work',
      headers: { ...auth, 'idempotency-key': uid('idem'), 'content-type': 'application/json' },
      payload: {},
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ done: true });
    expect(ran).toBe(1);
  });
});
