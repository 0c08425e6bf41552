import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { testDatabase } from '../support/db.js';
import { api } from '../support/http.js';

describe('API surface', () => {
  it('serves the OpenAPI document and Swagger UI without a key', async () => {
    const spec = await api('GET', '/docs/json', undefined, { key: null });
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/payments',
        '/v1/payments/{id}/refunds',
        '/v1/wallets/{customerId}/top-ups',
        '/v1/refunds/{id}',
      ]),
    );
    expect(
      spec.body.paths['/v1/payments'].post.requestBody.content['application/json'].schema.properties.amount
        .type,
    ).toBe('integer');
    // Body-less capture and refund are documented as such: the body is optional.
    expect(spec.body.paths['/v1/payments/{id}/refunds'].post.requestBody.required).toBe(false);
    expect(spec.body.paths['/v1/payments/{id}/capture'].post.requestBody.required).toBe(false);
    expect(spec.body.paths['/v1/payments'].post.requestBody.required).toBe(true);
    const ui = await api('GET', '/docs/', undefined, { key: null });
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('<html');
  });

  it('answers health and readiness', async () => {
    expect((await api('GET', '/healthz', undefined, { key: null })).body).toEqual({ status: 'ok' });
    const ready = await api('GET', '/readyz', undefined, { key: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      dependencies: { postgres: { ok: true }, temporal: { ok: true, circuit: 'closed' } },
    });
    // Other test files share this stack and may hold a sink or a gateway down meanwhile: that is
    // `degraded` (still ready for payments), never unready.
    expect(['ready', 'degraded']).toContain(ready.body.status);
  });
});

describe('error handler', () => {
  let app: FastifyInstance;
  let connection: Connection;
  const db = testDatabase();
  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
    app = await buildApp({
      config: loadConfig({}),
      db: db.db,
      temporal: new Client({ connection }),
      logger: false,
    });
    app.get('/boom', { config: { public: true } }, () => {
      throw new Error('password=hunter2 at db.internal:5432');
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await connection.close();
    await db.close();
  });

  it('masks 5xx: a problem with a stable code and none of the internal message', async () => {
    const res = await app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 500, code: 'internal_error' });
    expect(res.body).not.toContain('hunter2');
    expect(res.body).not.toContain('db.internal');
  });
});
