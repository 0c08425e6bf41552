import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { CustomerTokens, MAX_CUSTOMER_TOKEN_SECONDS } from '../../src/api/customer-tokens.js';
import { DEV_CUSTOMER_TOKEN_SECRET } from '../../src/config.js';
import { appWithUnreachableServices } from '../support/app.js';

/** A token signed with the API's own secret, with whatever times the test wants. */
function signed(issuedAt: number, expiresAt: number): Promise<string> {
  return new SignJWT({ tid: 'default' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('paysaga')
    .setAudience('paysaga-customer')
    .setSubject('cus_1')
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(DEV_CUSTOMER_TOKEN_SECRET));
}

const now = () => Math.floor(Date.now() / 1000);

describe('customer token lifetime', () => {
  let app: FastifyInstance;
  let reached: string[];
  beforeAll(async () => ({ app, reached } = await appWithUnreachableServices()));
  afterAll(async () => app.close());

  const read = (token: string) =>
    app.inject({ method: 'GET', url: '/v1/payments/pay_1', headers: { authorization: `Bearer ${token}` } });

  it('is never issued longer than the cap', async () => {
    const tokens = new CustomerTokens(DEV_CUSTOMER_TOKEN_SECRET);
    await expect(tokens.issue('default', 'cus_1', MAX_CUSTOMER_TOKEN_SECONDS + 1)).rejects.toThrow(
      RangeError,
    );
    const { token } = await tokens.issue('default', 'cus_1', MAX_CUSTOMER_TOKEN_SECONDS);
    expect(await tokens.verify(token)).toMatchObject({ tenantId: 'default', customerId: 'cus_1' });
  });

  it('refuses a validly signed token that lives longer than the cap, or claims to be issued later', async () => {
    for (const token of [
      await signed(now(), now() + MAX_CUSTOMER_TOKEN_SECONDS + 60),
      await signed(now(), now() + 10 * 365 * 86_400),
      // Issued "in a year" for an hour: it would be valid for a year and an hour.
      await signed(now() + 365 * 86_400, now() + 365 * 86_400 + 3600),
    ]) {
      const res = await read(token);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'unauthorized' });
    }
    expect(reached).toEqual([]);
  });

  it('asks for at most the cap at POST /v1/customer-tokens', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/customer-tokens',
      headers: { authorization: 'Bearer sk_test_paysaga' },
      payload: { customerId: 'cus_1', expiresInSeconds: MAX_CUSTOMER_TOKEN_SECONDS + 1 },
    });
    expect(res.statusCode).toBe(400);
  });
});
