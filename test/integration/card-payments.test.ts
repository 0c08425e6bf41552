import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { DEV_WEBHOOK_SECRET } from '../../src/config.js';
import { SIGNATURE_HEADER, signWebhook } from '../../src/gateway/webhook-signature.js';
import { count, testDatabase } from '../support/db.js';
import { chargesFor, complete3ds, resetFaults, setFaults } from '../support/gateway.js';
import { api, expectLedgerClean, topUp, uid, type PaymentBody } from '../support/http.js';

const db = testDatabase();
afterEach(async () => {
  await resetFaults();
});
afterAll(async () => {
  await expectLedgerClean();
  await db.close();
});

const card = (token: string, extra: Partial<PaymentBody> = {}): PaymentBody => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 4200,
  currency: 'USD',
  method: { type: 'card', token },
  ...extra,
});

async function paymentStatus(id: string) {
  return (await api('GET', `/v1/payments/${id}`)).body.status;
}

describe('card payments through the sandbox gateway', () => {
  it('charges tok_test_4242 once and keeps only brand and last four', async () => {
    const res = await api('POST', '/v1/payments', card('tok_test_4242'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'succeeded',
      amountCaptured: 4200,
      amountFromCard: 4200,
      method: { type: 'card', card: { brand: 'visa', last4: '4242' } },
    });
    expect(await chargesFor(res.body.id)).toMatchObject({
      authorizations: 1,
      captures: 1,
      capturedAmount: 4200,
    });
  });

  it.each([
    ['tok_test_0000', 'card_declined'],
    ['tok_test_1111', 'insufficient_funds'],
    ['tok_test_2222', 'expired_card'],
    ['tok_unknown_card', 'invalid_card'],
  ])(
    '%s is declined with %s, captures nothing and stays open for another attempt',
    async (token, failureCode) => {
      const res = await api('POST', '/v1/payments', card(token));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'requires_payment_method',
        failureCode,
        amountCaptured: 0,
        attempts: [{ number: 1, status: 'failed', failureCode }],
      });
      expect((await chargesFor(res.body.id)).capturedAmount).toBe(0);
    },
  );

  it('tok_test_3333 waits for 3-D Secure and succeeds after the signed webhook', async () => {
    const res = await api('POST', '/v1/payments', card('tok_test_3333'));
    expect(res.body.status).toBe('requires_action');
    expect(res.body.nextAction).toMatchObject({ type: 'redirect_to_url' });
    expect((await complete3ds(res.body.nextAction!.url, 'succeed')).status).toBe(200);
    await expect.poll(() => paymentStatus(res.body.id), { timeout: 15_000 }).toBe('succeeded');
    expect(await chargesFor(res.body.id)).toMatchObject({ captures: 1, capturedAmount: 4200 });
  });

  it('declines with authentication_failed when 3-D Secure fails, open for another attempt', async () => {
    const res = await api('POST', '/v1/payments', card('tok_test_3333'));
    await complete3ds(res.body.nextAction!.url, 'fail');
    await expect.poll(() => paymentStatus(res.body.id), { timeout: 15_000 }).toBe('requires_payment_method');
    expect((await api('GET', `/v1/payments/${res.body.id}`)).body.failureCode).toBe('authentication_failed');
  });

  it('a signed webhook that arrives before the customer finished 3-D Secure moves nothing', async () => {
    const res = await api('POST', '/v1/payments', card('tok_test_3333'));
    expect(res.body.status).toBe('requires_action');
    const [row] = (
      await db.pool.query<{ auth: string }>(
        'SELECT gateway_authorization_id AS auth FROM payments WHERE id = $1',
        [res.body.id],
      )
    ).rows;
    const authorization = (await (
      await fetch(`${inject('gatewayUrl')}/authorizations/${row!.auth}`)
    ).json()) as Record<string, unknown>;
    expect(authorization.status).toBe('requires_action');
    // Signed with the real secret, and claiming the authorization went through: the workflow
    // must believe the gateway, which still waits for the customer.
    const body = JSON.stringify({
      id: `evt_${uid('early')}`,
      created: Math.floor(Date.now() / 1000),
      type: 'authorization.updated',
      data: { authorization: { ...authorization, status: 'authorized' }, reference: res.body.id },
    });
    const early = await fetch(`${inject('apiUrl')}/v1/webhooks/sandbox`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(DEV_WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000)),
      },
      body,
    });
    expect(early.status).toBe(200);
    expect(await paymentStatus(res.body.id)).toBe('requires_action');
    expect(await chargesFor(res.body.id)).toMatchObject({ captures: 0 });

    await complete3ds(res.body.nextAction!.url, 'succeed');
    await expect.poll(() => paymentStatus(res.body.id), { timeout: 15_000 }).toBe('succeeded');
    expect(await chargesFor(res.body.id)).toMatchObject({ captures: 1, capturedAmount: 4200 });
  });

  it('survives duplicate and out-of-order webhooks', async () => {
    await setFaults({ duplicateWebhooks: true, outOfOrderWebhooks: true, outOfOrderDelayMs: 300 });
    const res = await api('POST', '/v1/payments', card('tok_test_3333'));
    await complete3ds(res.body.nextAction!.url, 'succeed');
    await expect.poll(() => paymentStatus(res.body.id), { timeout: 15_000 }).toBe('succeeded');
    expect(await chargesFor(res.body.id)).toMatchObject({ captures: 1, capturedAmount: 4200 });
  });

  it('records the connector that authorized the payment, and keeps it out of the API', async () => {
    const res = await api('POST', '/v1/payments', card('tok_test_4242', { capture: 'manual' }));
    expect(res.body.status).toBe('requires_capture');
    expect(res.body).not.toHaveProperty('connector');
    const row = await db.pool.query<{ connector: string }>('SELECT connector FROM payments WHERE id = $1', [
      res.body.id,
    ]);
    expect(row.rows[0]?.connector).toBe('sandbox');
    // The capture goes back to the connector that authorized.
    const captured = await api('POST', `/v1/payments/${res.body.id}/capture`, {});
    expect(captured.body.status).toBe('succeeded');
    expect(await chargesFor(res.body.id)).toMatchObject({ authorizations: 1, captures: 1 });
  });

  it('answers a webhook for a connector that does not exist with a 404 problem', async () => {
    const res = await api(
      'POST',
      '/v1/webhooks/nope',
      { id: 'evt_1', type: 'authorization.updated' },
      {
        key: null,
      },
    );
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 404, code: 'connector_not_found' });
  });

  it('rejects a webhook with a bad signature', async () => {
    const res = await api(
      'POST',
      '/v1/webhooks/sandbox',
      { id: 'evt_1', type: 'authorization.updated' },
      {
        key: null,
        headers: { 'paysaga-signature': `t=${Math.floor(Date.now() / 1000)},v1=deadbeef` },
      },
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_signature');
  });

  it('authorizes with manual capture, then captures part of it', async () => {
    const res = await api('POST', '/v1/payments', card('tok_test_4242', { capture: 'manual' }));
    expect(res.body.status).toBe('requires_capture');
    const tooMuch = await api('POST', `/v1/payments/${res.body.id}/capture`, { amount: 4201 });
    expect(tooMuch.status).toBe(422);
    const captured = await api('POST', `/v1/payments/${res.body.id}/capture`, { amount: 3000 });
    expect(captured.status).toBe(200);
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 3000 });
    expect(await chargesFor(res.body.id)).toMatchObject({ captures: 1, capturedAmount: 3000 });
    const again = await api('POST', `/v1/payments/${res.body.id}/capture`, {});
    expect(again.status).toBe(409);
  });

  it('captures a manual authorization in full and cancels another', async () => {
    const full = await api('POST', '/v1/payments', card('tok_test_4242', { capture: 'manual' }));
    expect((await api('POST', `/v1/payments/${full.body.id}/capture`)).body).toMatchObject({
      status: 'succeeded',
      amountCaptured: 4200,
    });

    const other = await api('POST', '/v1/payments', card('tok_test_4242', { capture: 'manual' }));
    const canceled = await api('POST', `/v1/payments/${other.body.id}/cancel`);
    expect(canceled.body).toMatchObject({ status: 'canceled', amountCaptured: 0 });
    expect(await chargesFor(other.body.id)).toMatchObject({ voids: 1, capturedAmount: 0 });
  });

  it('splits between wallet and card, wallet first', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const res = await api('POST', '/v1/payments', {
      ...card('tok_test_4242'),
      customerId,
      method: { type: 'split', token: 'tok_test_4242' },
    });
    expect(res.body).toMatchObject({
      status: 'succeeded',
      amountFromWallet: 1000,
      amountFromCard: 3200,
      amountCaptured: 4200,
    });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 0,
      pending: 0,
    });
    expect(await chargesFor(res.body.id)).toMatchObject({ capturedAmount: 3200 });
  });

  it('releases the wallet part of a split payment whose card is declined', async () => {
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const res = await api('POST', '/v1/payments', {
      ...card('tok_test_0000'),
      customerId,
      method: { type: 'split', token: 'tok_test_0000' },
    });
    expect(res.body).toMatchObject({ status: 'requires_payment_method', failureCode: 'card_declined' });
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances[0]).toMatchObject({
      available: 1000,
      pending: 0,
    });
  });

  it('tops a wallet up by card and refuses a declined card', async () => {
    const customerId = uid('cus');
    const ok = await api(
      'POST',
      `/v1/wallets/${customerId}/top-ups`,
      { amount: 2500, currency: 'EUR', token: 'tok_test_4242' },
      { headers: { 'idempotency-key': uid('key') } },
    );
    expect(ok.status).toBe(200);
    expect(ok.body.balances).toEqual([{ currency: 'EUR', available: 2500, pending: 0 }]);
    const declined = await api('POST', `/v1/wallets/${customerId}/top-ups`, {
      amount: 2500,
      currency: 'EUR',
      token: 'tok_test_0000',
    });
    expect(declined.status).toBe(402);
    expect(declined.body.code).toBe('card_declined');
    expect((await api('GET', `/v1/wallets/${customerId}`)).body.balances).toEqual([
      { currency: 'EUR', available: 2500, pending: 0 },
    ]);
    expect(
      await count(db, "SELECT 1 FROM events WHERE type = 'wallet.updated' AND subject = $1", [
        `wallets/${customerId}`,
      ]),
    ).toBe(1);
  });

  it('does not charge twice when the gateway times out after charging', async () => {
    await setFaults({ timeoutAfterChargeNext: 1, hangMs: 0 });
    const res = await api('POST', '/v1/payments', card('tok_test_4242'));
    expect(res.body.status).toBe('succeeded');
    expect(await chargesFor(res.body.id)).toMatchObject({
      authorizations: 1,
      captures: 1,
      capturedAmount: 4200,
    });
  });

  it('retries through gateway 5xx with the same idempotency key', async () => {
    await setFaults({ failNext: 2 });
    const res = await api('POST', '/v1/payments', card('tok_test_4242'));
    expect(res.body.status).toBe('succeeded');
    expect(await chargesFor(res.body.id)).toMatchObject({ authorizations: 1, capturedAmount: 4200 });
  });

  // Refund faults live here too: the sandbox's fault switches are global, so every test that
  // flips them runs in this one file, one after another.
  const refund = (
    paymentId: string,
    body: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) => api('POST', `/v1/payments/${paymentId}/refunds`, body, { headers });
  const cardPayment = async (amount: number) =>
    (await api('POST', '/v1/payments', card('tok_test_4242', { amount }))).body;
  const payment = async (id: string) => (await api('GET', `/v1/payments/${id}`)).body;

  it('answers 202 for a refund the gateway is still processing and settles it by webhook', async () => {
    await setFaults({ refundMode: 'pending', pendingRefundDelayMs: 300 });
    const paid = await cardPayment(1000);
    const res = await refund(paid.id, { amount: 600 }, { prefer: 'respond-async' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('pending');
    await expect
      .poll(async () => (await api('GET', `/v1/refunds/${res.body.id}`)).body.status, { timeout: 15_000 })
      .toBe('succeeded');
    expect(await payment(paid.id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 600 });
  });

  it('fails a refund the gateway refuses and releases the amount', async () => {
    await setFaults({ refundMode: 'fail' });
    const paid = await cardPayment(1000);
    const res = await refund(paid.id, { amount: 600 });
    expect(res.body).toMatchObject({ status: 'failed', failureCode: 'refund_failed' });
    await resetFaults();
    expect((await refund(paid.id)).body).toMatchObject({ status: 'succeeded', amount: 1000 });
  });
});
