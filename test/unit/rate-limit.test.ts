import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_API_KEY } from '../../src/config.js';
import { appWithUnreachableServices } from '../support/app.js';

/** Answered at the door (400: `limit` is not a number): it counts, and no service is reached. */
const request = (app: FastifyInstance, key: string | undefined, remoteAddress = '192.0.2.1') =>
  app.inject({
    method: 'GET',
    url: '/v1/payments?limit=x',
    remoteAddress,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });

describe('rate limits for requests without a valid key', () => {
  let app: FastifyInstance;
  beforeAll(
    async () =>
      ({ app } = await appWithUnreachableServices({
        RATE_LIMIT_MAX: '1000',
        RATE_LIMIT_ANONYMOUS_MAX: '10',
      })),
  );
  afterAll(async () => app.close());

  it('counts unknown keys and no key by address, apart from the tenants, whose counters they cannot evict', async () => {
    for (let i = 0; i < 5; i++) expect((await request(app, DEV_API_KEY)).statusCode).toBe(400);
    expect((await request(app, DEV_API_KEY)).headers['x-ratelimit-remaining']).toBe('994');

    // Guessing keys from one address: ten tries a window, then 429.
    const guesses = [];
    for (let i = 0; i < 11; i++)
      guesses.push(await request(app, `sk_live_${randomBytes(12).toString('hex')}`));
    expect(guesses.slice(0, 10).every((res) => res.statusCode === 401)).toBe(true);
    expect(guesses[10]!.statusCode).toBe(429);
    expect(guesses[10]!.json()).toMatchObject({ code: 'rate_limited' });
    expect(guesses[10]!.json().detail).toContain('without a valid API key');
    // No key at all, or a forged customer token, is the same caller.
    expect((await request(app, undefined)).statusCode).toBe(429);
    expect((await request(app, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).statusCode).toBe(429);

    // Random keys from more addresses than the limiter keeps counters for (5,000).
    for (let i = 0; i < 6000; i++)
      await request(
        app,
        `sk_${randomBytes(8).toString('hex')}`,
        `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
      );
    // The tenant's count went on where it was (not reset by an eviction), and it is not limited.
    const tenant = await request(app, DEV_API_KEY);
    expect(tenant.statusCode).toBe(400);
    expect(tenant.headers['x-ratelimit-remaining']).toBe('993');
  });
});

describe("rate limits for the customer's pages", () => {
  let app: FastifyInstance;
  beforeAll(
    async () =>
      ({ app } = await appWithUnreachableServices({
        RATE_LIMIT_ANONYMOUS_MAX: '10',
        RATE_LIMIT_PAGES_MAX: '5',
      })),
  );
  afterAll(async () => app.close());

  const page = (remoteAddress: string) =>
    app.inject({ method: 'GET', url: '/checkout/assets/checkout.js', remoteAddress });

  it('counts page requests by address in buckets of their own', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await page('192.0.2.7'));
    expect(answers.slice(0, 5).map((res) => res.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(answers[5]!.statusCode).toBe(429);
    expect(answers[5]!.headers['retry-after']).toBeDefined();
    expect(answers[5]!.json().detail).toContain('to these pages from this address');
    // Another address pays on; the same address still has its whole budget for keyless API calls.
    expect((await page('192.0.2.8')).statusCode).toBe(200);
    const api = await request(app, undefined, '192.0.2.7');
    expect(api.statusCode).toBe(401);
    expect(api.headers['x-ratelimit-remaining']).toBe('9');
  });
});
