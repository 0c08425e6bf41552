import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appWithUnreachableServices } from '../support/app.js';
import { badInputCases, DOOR_CODES } from '../support/bad-input-cases.js';
import { requestParts } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

/**
 * Bad input gets a 4xx problem and never reaches a service (so never a workflow nor the
 * database). The same cases run end to end, with rows counted, in test/integration.
 */
const cases = badInputCases({
  customerId: 'cus_badinput',
  manualPaymentId: () => 'pay_0123456789abcdef01234567',
}).filter(([, , , , , code]) => DOOR_CODES.has(code));

let app: FastifyInstance;
let reached: string[];
beforeAll(async () => {
  ({ app, reached } = await appWithUnreachableServices());
});
afterAll(() => app.close());

describe('bad input is answered at the door (app.inject, services unreachable)', () => {
  it(`covers ${cases.length} cases`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('%s', async (_name, method, path, body, status, code, options = {}) => {
    const { headers, payload } = requestParts(body, options, TENANT_KEYS.badinput);
    const res = await app.inject({ method: method as 'GET', url: path(), headers, payload });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String) });
    expect(reached).toEqual([]);
  });

  it('a valid request does reach the services (the fence itself works)', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/payments/pay_0123456789abcdef01234567',
      headers: { authorization: `Bearer ${TENANT_KEYS.badinput}` },
    });
    expect(res.statusCode).toBe(500);
    expect(reached).toEqual(['payments.get']);
    reached.length = 0;
  });
});
