import { afterAll, describe, expect, it } from 'vitest';
import { count, testDatabase } from '../support/db.js';
import { chargesFor } from '../support/gateway.js';
import { canonicalJson, sha256 } from '../../src/hash.js';
import { api, expectLedgerClean, topUp, uid, type PaymentBody } from '../support/http.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

const N = 50;

describe('exactly once under concurrency', () => {
  it(`${N} identical payment requests at once make one payment and one ledger posting`, async () => {
    const customerId = uid('cus');
    await topUp(customerId, 10_000);
    const body: PaymentBody = {
      orderId: uid('ord'),
      customerId,
      amount: 700,
      currency: 'USD',
      method: { type: 'wallet' },
    };
    const answers = await Promise.all(Array.from({ length: N }, () => api('POST', '/v1/payments', body)));
    expect(answers.map((a) => a.status)).toEqual(Array(N).fill(200));
    for (const answer of answers) expect(answer.body).toEqual(answers[0]!.body);
    expect(answers[0]!.body.status).toBe('succeeded');
    expect(
      await count(db, 'SELECT 1 FROM payments WHERE tenant_id = $1 AND order_id = $2', [
        'default',
        body.orderId,
      ]),
    ).toBe(1);
    expect(
      await count(db, "SELECT 1 FROM ledger_transfers WHERE id LIKE $1 AND kind IN ('single', 'post')", [
        `payment:default:${body.orderId}#%`,
      ]),
    ).toBe(1);
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 9300,
      pending: 0,
    });
  });

  it(`${N} requests sharing one Idempotency-Key charge the card once`, async () => {
    const key = uid('idem');
    const body: PaymentBody = {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 1500,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    };
    const answers = await Promise.all(
      Array.from({ length: N }, () =>
        api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } }),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    const inFlight = answers.filter((a) => a.status === 409);
    expect(ok.length + inFlight.length).toBe(N);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const answer of ok) expect(answer.body).toEqual(ok[0]!.body);
    for (const answer of inFlight) {
      expect(answer.body.code).toBe('idempotency_key_in_flight');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    const id = ok[0]!.body.id;
    expect(await chargesFor(id)).toMatchObject({ authorizations: 1, captures: 1, capturedAmount: 1500 });

    const replay = await api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(ok[0]!.body);

    const reused = await api(
      'POST',
      '/v1/payments',
      { ...body, amount: 1501 },
      { headers: { 'idempotency-key': key } },
    );
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
  });

  it('keeps tenants apart: another tenant cannot see or capture a payment', async () => {
    const res = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 100,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
      capture: 'manual',
    });
    const other = { key: 'sk_test_other' };
    expect((await api('GET', `/v1/payments/${res.body.id}`, undefined, other)).status).toBe(404);
    expect((await api('POST', `/v1/payments/${res.body.id}/capture`, {}, other)).status).toBe(404);
    expect(
      (await api('GET', '/v1/payments?limit=100', undefined, other)).body.data.some(
        (p: any) => p.id === res.body.id,
      ),
    ).toBe(false);
    expect((await api('POST', `/v1/payments/${res.body.id}/cancel`)).body.status).toBe('canceled');
  });

  it('lets a retry take over a key whose holder crashed (lease expired), and not before', async () => {
    const body: PaymentBody = {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 300,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    };
    const key = uid('idem');
    const hash = sha256(canonicalJson({ params: {}, body: { ...body, capture: 'automatic' } }));
    // A request that claimed the key and died: its row stays in_flight.
    await db.pool.query(
      `INSERT INTO idempotency_keys (tenant_id, route, key, request_hash, state, locked_until, expires_at)
       VALUES ('default', 'POST /v1/payments', $1, $2, 'in_flight', now() + interval '30 seconds', now() + interval '1 day')`,
      [key, hash],
    );
    const early = await api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('idempotency_key_in_flight');

    await db.pool.query(
      "UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = $1",
      [key],
    );
    const retried = await api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } });
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('succeeded');
    expect(
      (await db.pool.query('SELECT state FROM idempotency_keys WHERE key = $1', [key])).rows[0].state,
    ).toBe('done');
  });
});
