import { describe, expect, inject, it } from 'vitest';
import { api, apiRaw } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

describe('protection at the door', () => {
  it('answers the 101st request of a key in a window with 429 and Retry-After; another key is unaffected', async () => {
    // Tenant `ratelimited` has 100 requests a minute (TENANT_RATE_LIMITS in the test stack).
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++)
      statuses.push(
        (await api('GET', '/v1/payments?limit=1', undefined, { key: TENANT_KEYS.ratelimitedA })).status,
      );
    expect(statuses.every((status) => status === 200)).toBe(true);

    const limited = await api('GET', '/v1/payments?limit=1', undefined, { key: TENANT_KEYS.ratelimitedA });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(limited.body).toMatchObject({ status: 429, code: 'rate_limited' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The other key of the same tenant has its own count, and other tenants are not limited.
    expect(
      (await api('GET', '/v1/payments?limit=1', undefined, { key: TENANT_KEYS.ratelimitedB })).status,
    ).toBe(200);
    expect((await api('GET', '/v1/payments?limit=1')).status).toBe(200);
    // Health and readiness are never limited.
    expect((await fetch(`${inject('apiUrl')}/healthz`)).status).toBe(200);
  });

  it('sends security headers', async () => {
    const response = await fetch(`${inject('apiUrl')}/healthz`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('refuses a body over 64 KiB with 413 problem+json', async () => {
    const big = await apiRaw('POST', '/v1/payments', undefined, {
      raw: JSON.stringify({ pad: 'x'.repeat(70_000) }),
    });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ status: 413 });
  });

  it('/readyz reports PostgreSQL, Temporal, each gateway and each broker with its latency', async () => {
    const response = await fetch(`${inject('apiUrl')}/readyz`);
    const body = (await response.json()) as any;
    expect(response.status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.dependencies.postgres).toMatchObject({ ok: true, latencyMs: expect.any(Number) as unknown });
    expect(body.dependencies.temporal).toMatchObject({ ok: true });
    expect(body.dependencies.gateways.sandbox).toMatchObject({
      ok: true,
      latencyMs: expect.any(Number) as unknown,
    });
    if (inject('stripeEmulatorUrl')) expect(body.dependencies.gateways.stripe).toMatchObject({ ok: true });
    const brokers = Object.keys(body.dependencies.brokers as object);
    if (inject('kafkaBrokers')) expect(brokers.some((name) => name.startsWith('kafka'))).toBe(true);
    if (inject('amqpUrl')) expect(brokers).toContain('rabbitmq');
    for (const name of brokers) expect(body.dependencies.brokers[name]).toMatchObject({ ok: true });
    // No credentials in the report.
    expect(JSON.stringify(body)).not.toMatch(/paysaga:paysaga|guest:guest|sk_test/);
  });
});
