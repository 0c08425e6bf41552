import { afterAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../support/db.js';
import { chargesFor } from '../support/gateway.js';
import { api, expectLedgerClean, topUp, uid, type PaymentBody } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

const db = testDatabase();
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

const order = (token: string, extra: Partial<PaymentBody> = {}): PaymentBody => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 4200,
  currency: 'USD',
  method: { type: 'card', token },
  ...extra,
});

/** The payment's events in the outbox, in the order they were written. */
async function eventTypes(paymentId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ type: string }>(
    'SELECT type FROM events WHERE subject = $1 ORDER BY txid, seq',
    [`payments/${paymentId}`],
  );
  return rows.map((r) => r.type);
}

describe('attempts: a declined order can be paid again', () => {
  it('tok_test_0000 then tok_test_4242 on the same order: one payment, two attempts, one charge', async () => {
    const declinedBody = order('tok_test_0000');
    const declined = await api('POST', '/v1/payments', declinedBody);
    expect(declined.status).toBe(200);
    expect(declined.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'card_declined',
      amountCaptured: 0,
      attempts: [{ number: 1, status: 'failed', failureCode: 'card_declined', method: { type: 'card' } }],
    });

    const paid = await api('POST', '/v1/payments', {
      ...declinedBody,
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({
      id: declined.body.id,
      status: 'succeeded',
      amountCaptured: 4200,
      method: { type: 'card', card: { last4: '4242' } },
    });
    expect(paid.body.failureCode).toBeUndefined();
    expect(paid.body.attempts).toMatchObject([
      { number: 1, status: 'failed', failureCode: 'card_declined', gatewayReference: expect.any(String) },
      {
        number: 2,
        status: 'succeeded',
        method: { type: 'card', card: { last4: '4242' } },
        connector: 'sandbox',
        gatewayReference: expect.any(String),
      },
    ]);
    // Each attempt names its own authorization at the gateway.
    const [first, second] = paid.body.attempts as { gatewayReference: string }[];
    expect(first!.gatewayReference).not.toBe(second!.gatewayReference);
    // Two authorizations at the gateway (the declined one and the sale), one charge.
    expect(await chargesFor(declined.body.id)).toMatchObject({
      authorizations: 2,
      captures: 1,
      capturedAmount: 4200,
    });
    expect(await eventTypes(declined.body.id)).toEqual([
      'payment.created',
      'payment.attempt_failed',
      'payment.succeeded',
    ]);
    const read = await api('GET', `/v1/payments/${declined.body.id}`);
    expect(read.body.attempts).toHaveLength(2);

    // Succeeded: the same request is answered from the payment, another method is refused.
    const again = await api('POST', '/v1/payments', {
      ...declinedBody,
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(again.body).toMatchObject({ id: declined.body.id, status: 'succeeded' });
    const other = await api('POST', '/v1/payments', declinedBody);
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('order_already_paid');
    expect((await chargesFor(declined.body.id)).captures).toBe(1);
  });

  it('concurrent identical requests after a decline run one attempt and all get its outcome', async () => {
    const body = order('tok_test_0000');
    const declined = await api('POST', '/v1/payments', body);
    expect(declined.body.status).toBe('requires_payment_method');
    const good = { ...body, method: { type: 'card' as const, token: 'tok_test_4242' } };
    const answers = await Promise.all(Array.from({ length: 4 }, () => api('POST', '/v1/payments', good)));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: declined.body.id, status: 'succeeded' });
    }
    const read = await api('GET', `/v1/payments/${declined.body.id}`);
    expect(read.body.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);
    expect(await chargesFor(declined.body.id)).toMatchObject({ authorizations: 2, captures: 1 });
  });

  it('another amount for a declined order is another payment: 409, the payment stays open', async () => {
    const body = order('tok_test_0000');
    const declined = await api('POST', '/v1/payments', body);
    expect(declined.body.status).toBe('requires_payment_method');
    const other = await api('POST', '/v1/payments', {
      ...body,
      amount: 999,
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('order_already_paid');
    const read = await api('GET', `/v1/payments/${declined.body.id}`);
    expect(read.body).toMatchObject({ status: 'requires_payment_method', attempts: [{ status: 'failed' }] });
  });

  it('POST /v1/payments/{id}/attempts pays a declined payment by its id', async () => {
    const declined = await api('POST', '/v1/payments', order('tok_test_1111'));
    expect(declined.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'insufficient_funds',
    });
    const paid = await api('POST', `/v1/payments/${declined.body.id}/attempts`, {
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ id: declined.body.id, status: 'succeeded', amountCaptured: 4200 });
    expect(paid.body.attempts.map((a) => a.status)).toEqual(['failed', 'succeeded']);

    // Not open for an attempt any more; an unknown payment is a 404; a bad body a 400.
    const closed = await api('POST', `/v1/payments/${declined.body.id}/attempts`, {
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(closed.status).toBe(409);
    expect(closed.body.code).toBe('invalid_state');
    const unknown = await api('POST', '/v1/payments/pay_0000000000000000/attempts', {
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(unknown.status).toBe(404);
    const bad = await api('POST', `/v1/payments/${declined.body.id}/attempts`, {
      method: { type: 'card' },
    } as never);
    expect(bad.status).toBe(400);
    expect((await chargesFor(declined.body.id)).captures).toBe(1);
  });

  it('with Prefer: respond-async a new attempt answers 202 at once, then settles', async () => {
    const declined = await api('POST', '/v1/payments', order('tok_test_0000'));
    const accepted = await api(
      'POST',
      `/v1/payments/${declined.body.id}/attempts`,
      { method: { type: 'card', token: 'tok_test_4242' } },
      { headers: { prefer: 'respond-async' } },
    );
    expect(accepted.status).toBe(202);
    expect(accepted.body.attempts.at(-1)).toMatchObject({ number: 2, method: { type: 'card' } });
    await expect
      .poll(async () => (await api('GET', `/v1/payments/${declined.body.id}`)).body.status, {
        timeout: 15_000,
      })
      .toBe('succeeded');
  });

  it('a declined payment can be canceled; then it takes no attempt', async () => {
    const declined = await api('POST', '/v1/payments', order('tok_test_0000'));
    const canceled = await api('POST', `/v1/payments/${declined.body.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'canceled', amountCaptured: 0 });
    const attempt = await api('POST', `/v1/payments/${declined.body.id}/attempts`, {
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(attempt.status).toBe(409);
    expect(await eventTypes(declined.body.id)).toEqual([
      'payment.created',
      'payment.attempt_failed',
      'payment.canceled',
    ]);
  });

  it('while an attempt waits for 3-D Secure, another method for the order is refused', async () => {
    const body = order('tok_test_0000');
    const declined = await api('POST', '/v1/payments', body);
    const pending = await api('POST', '/v1/payments', {
      ...body,
      method: { type: 'card', token: 'tok_test_3333' },
    });
    expect(pending.body).toMatchObject({ id: declined.body.id, status: 'requires_action' });
    const other = await api('POST', '/v1/payments', {
      ...body,
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('order_already_paid');
    expect((await api('POST', `/v1/payments/${declined.body.id}/cancel`)).body.status).toBe('canceled');
  });

  it('an Idempotency-Key replays the first, declined answer; a new key runs the next attempt', async () => {
    const body = order('tok_test_0000');
    const key = uid('key');
    const first = await api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } });
    expect(first.body.status).toBe('requires_payment_method');
    const paid = await api(
      'POST',
      '/v1/payments',
      { ...body, method: { type: 'card', token: 'tok_test_4242' } },
      { headers: { 'idempotency-key': uid('key') } },
    );
    expect(paid.body.status).toBe('succeeded');
    const replay = await api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    // The key belongs to the first request: another body under it is refused.
    const reused = await api(
      'POST',
      '/v1/payments',
      { ...body, method: { type: 'card', token: 'tok_test_4242' } },
      { headers: { 'idempotency-key': key } },
    );
    expect(reused.status).toBe(422);
    expect((await chargesFor(first.body.id)).captures).toBe(1);
  });

  it('a wallet short of funds is paid by the identical request after a top-up', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const body = order('unused', { customerId, amount: 1500, method: { type: 'wallet' } });
    const short = await api('POST', '/v1/payments', body);
    expect(short.body).toMatchObject({
      status: 'requires_payment_method',
      failureCode: 'insufficient_funds',
    });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 1000,
      pending: 0,
    });
    await topUp(customerId, 500);
    const paid = await api('POST', '/v1/payments', body);
    expect(paid.body).toMatchObject({ id: short.body.id, status: 'succeeded', amountFromWallet: 1500 });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 0,
      pending: 0,
    });
  });

  it('a single-attempt tenant fails at the first decline and refuses another method for the order', async () => {
    const key = TENANT_KEYS.single;
    const body = order('tok_test_0000');
    const declined = await api('POST', '/v1/payments', body, { key });
    expect(declined.body).toMatchObject({
      status: 'failed',
      failureCode: 'card_declined',
      attempts: [{ number: 1, status: 'failed', failureCode: 'card_declined' }],
    });
    const other = await api(
      'POST',
      '/v1/payments',
      { ...body, method: { type: 'card', token: 'tok_test_4242' } },
      { key },
    );
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('order_already_paid');
    const attempt = await api(
      'POST',
      `/v1/payments/${declined.body.id}/attempts`,
      { method: { type: 'card', token: 'tok_test_4242' } },
      { key },
    );
    expect(attempt.status).toBe(409);
    expect(attempt.body.code).toBe('invalid_state');
    expect(await eventTypes(declined.body.id)).toEqual(['payment.created', 'payment.failed']);
  });
});
