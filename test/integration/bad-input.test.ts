import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, testDatabase } from '../support/db.js';
import { api, expectLedgerClean, uid } from '../support/http.js';
import { badInputCases, DOOR_CODES, validPayment } from '../support/bad-input-cases.js';
import { TENANT_KEYS } from '../support/tenants.js';

/**
 * Bad input gets a 4xx problem response and changes nothing. The cases run as the `badinput`
 * tenant, so "nothing changed" can be checked on rows only this file can write.
 */
const db = testDatabase();
const key = TENANT_KEYS.badinput;
const customerId = uid('cus');
let manualPaymentId: string;

const snapshot = async () => ({
  payments: await count(db, "SELECT 1 FROM payments WHERE tenant_id = 'badinput'"),
  transfers: await count(db, "SELECT 1 FROM ledger_transfers WHERE tenant_id = 'badinput'"),
  keys: await count(db, "SELECT 1 FROM idempotency_keys WHERE tenant_id = 'badinput'"),
  customers: await count(db, "SELECT 1 FROM customers WHERE tenant_id = 'badinput'"),
});

beforeAll(async () => {
  const top = await api(
    'POST',
    `/v1/wallets/${customerId}/top-ups`,
    { amount: 5000, currency: 'USD', token: 'tok_test_4242' },
    { key },
  );
  expect(top.status).toBe(200);
  const manual = await api(
    'POST',
    '/v1/payments',
    { ...validPayment(customerId), capture: 'manual' },
    { key },
  );
  expect(manual.body.status).toBe('requires_capture');
  manualPaymentId = manual.body.id;
});
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

const pay = '/v1/payments';
const cases = badInputCases({ customerId, manualPaymentId: () => manualPaymentId });
// The cases the unit layer cannot answer alone (a payment's state, an unknown id), and every
// fifth of the others, go over real HTTP to the whole stack with rows counted around them.
const endToEnd = cases.filter(([, , , , , code], i) => !DOOR_CODES.has(code) || i % 5 === 0);

describe('bad input gets a 4xx problem and changes nothing', () => {
  it(`covers ${endToEnd.length} of the ${cases.length} cases end to end`, () => {
    expect(endToEnd.length).toBeGreaterThanOrEqual(15);
  });

  it.each(endToEnd)('%s', async (_name, method, path, body, status, code, options = {}) => {
    const before = await snapshot();
    const res = await api(method, path(), body, { key, ...options });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String) });
    expect(await snapshot()).toEqual(before);
  });

  it('leaves the manual payment capturable after all of that', async () => {
    const res = await api('POST', `${pay}/${manualPaymentId}/capture`, { amount: 1000 }, { key });
    expect(res.body).toMatchObject({ status: 'succeeded', amountCaptured: 1000 });
  });
});
