import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuthorizeRequest } from '../../src/gateway/port.js';
import { createSandboxServer } from '../../sandbox/server.js';
import type { SandboxServer } from '../../sandbox/server.js';
import type { SandboxStats } from '../../sandbox/wire.js';
import { SandboxConnector } from '../../src/gateway/connectors/sandbox/connector.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import { verifyWebhookSignature, WebhookSignatureError } from '../../src/gateway/webhook-signature.js';

const secret = 'whsec_integration';
let sandbox: SandboxServer;
let gateway: SandboxConnector;
let receiver: Server;
const deliveries: { raw: Buffer; signature: string | undefined }[] = [];
let rejectNextDeliveries = 0;

const newRef = (): string => `PAY-${randomUUID()}`;
const newKey = (): string => `key-${randomUUID()}`;
const sale = (token: string, overrides: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: newKey(),
  token,
  amount: 2500,
  currency: 'EUR',
  reference: newRef(),
  capture: true,
  ...overrides,
});

async function control(path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${sandbox.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  expect(response.ok).toBe(true);
  return response.json();
}
const stats = async (): Promise<SandboxStats> => (await control('/_sandbox/stats')) as SandboxStats;
const faults = (body: Record<string, unknown>): Promise<unknown> => control('/_sandbox/faults', body);

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

/** Webhooks received for one payment reference, in arrival order. */
async function webhooksFor(reference: string, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const events = deliveries
      .filter((d) => d.raw.toString().includes(reference))
      .map((d) => {
        const parsed = gateway.parseWebhook(d.raw, { 'paysaga-signature': d.signature });
        // The sandbox sends one event per delivery.
        expect(parsed).toHaveLength(1);
        return { ...d, event: parsed[0]! };
      });
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (rejectNextDeliveries > 0) {
        rejectNextDeliveries -= 1;
        response.writeHead(500).end();
        return;
      }
      const signature = request.headers['paysaga-signature'];
      deliveries.push({
        raw: Buffer.concat(chunks),
        signature: Array.isArray(signature) ? signature[0] : signature,
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  sandbox = await createSandboxServer({
    port: 0,
    webhookUrl: `http://127.0.0.1:${port}/v1/webhooks/sandbox`,
    webhookSecret: secret,
    webhookRetryDelaysMs: [20, 50, 100],
  });
  gateway = new SandboxConnector({ baseUrl: sandbox.url, webhookSecret: secret, timeoutMs: 2000 });
});

afterAll(async () => {
  await sandbox?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

beforeEach(async () => {
  await control('/_sandbox/reset', {});
});

describe('tokenization', () => {
  const tokenize = (number: string, expYear = 2031) =>
    fetch(`${sandbox.url}/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ number, expMonth: 6, expYear, cvc: '123' }),
    });

  it('returns a token with brand and last four, never the number', async () => {
    const response = await tokenize('4242 4242 4242 4242');
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain('4242424242424242');
    expect(JSON.parse(text)).toEqual({
      id: expect.stringMatching(/^tok_/) as unknown,
      card: { brand: 'visa', last4: '4242', expMonth: 6, expYear: 2031 },
    });
  });

  it('rejects non-Luhn numbers and past expiry dates', async () => {
    const bad = await tokenize('4242424242424241');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_number' } });
    const expired = await tokenize('4242424242424242', 2020);
    expect(expired.status).toBe(400);
    expect(await expired.json()).toMatchObject({ error: { code: 'invalid_expiry' } });
  });

  it('gives tokenized numbers the behaviour of the test card with the same last four', async () => {
    const expiredCard = (await (await tokenize('4000000000002222')).json()) as { id: string };
    const declined = await gateway.authorize(sale(expiredCard.id));
    expect(declined).toMatchObject({ status: 'declined', failureCode: 'expired_card' });
    const other = (await (await tokenize('5555555555554444')).json()) as {
      id: string;
      card: { brand: string };
    };
    expect(other.card.brand).toBe('mastercard');
    expect(await gateway.authorize(sale(other.id))).toMatchObject({
      status: 'captured',
      amountCaptured: 2500,
    });
  });
});

describe('test cards', () => {
  it.each([
    ['4242', 'captured', undefined],
    ['0000', 'declined', 'card_declined'],
    ['1111', 'declined', 'insufficient_funds'],
    ['2222', 'declined', 'expired_card'],
    ['9995', 'declined', 'fraud_suspected'],
    ['0069', 'declined', 'invalid_card'],
    ['3333', 'requires_action', undefined],
  ])('tok_test_%s → %s %s', async (last4, status, failureCode) => {
    const auth = await gateway.authorize(sale(`tok_test_${last4}`));
    expect(auth.status).toBe(status);
    expect(auth.failureCode).toBe(failureCode);
    expect(auth.card).toMatchObject({ last4, brand: 'visa' });
    expect(auth.amountCaptured).toBe(status === 'captured' ? 2500 : 0);
    if (status === 'requires_action') expect(auth.actionUrl).toBe(`${sandbox.url}/3ds/${auth.id}`);
    expect(await gateway.status(auth.id)).toEqual(auth);
  });

  it('authorizes without capturing when capture is false', async () => {
    const auth = await gateway.authorize(sale('tok_test_4242', { capture: false }));
    expect(auth).toMatchObject({ status: 'authorized', amount: 2500, amountCaptured: 0, currency: 'EUR' });
  });

  it('maps an unknown token to a declined invalid_card without creating a charge', async () => {
    const before = await stats();
    const auth = await gateway.authorize(sale('tok_does_not_exist'));
    expect(auth).toMatchObject({ status: 'declined', failureCode: 'invalid_card', amountCaptured: 0 });
    expect((await stats()).charges).toBe(before.charges);
  });
});

describe('idempotency', () => {
  it('replays the stored result for the same key and body: one charge', async () => {
    const request = sale('tok_test_4242');
    const first = await gateway.authorize(request);
    const second = await gateway.authorize(request);
    expect(second).toEqual(first);
    expect((await stats()).byReference[request.reference]).toMatchObject({
      authorizations: 1,
      captures: 1,
      capturedAmount: 2500,
    });
  });

  it('charges once for concurrent requests with one key', async () => {
    // Latency makes all eight arrive before the first one is answered.
    await faults({ latencyMs: 30 });
    const request = sale('tok_test_4242');
    const results = await Promise.all(Array.from({ length: 8 }, () => gateway.authorize(request)));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect((await stats()).byReference[request.reference]?.authorizations).toBe(1);
  });

  it('rejects the same key with a different body (422 idempotency_key_reused)', async () => {
    const request = sale('tok_test_4242');
    await gateway.authorize(request);
    const error = await rejection(gateway.authorize({ ...request, amount: 2600 }));
    expect(error).toBeInstanceOf(GatewayRequestError);
    expect(error).toMatchObject({ code: 'idempotency_key_reused', statusCode: 422 });
  });

  it('requires an Idempotency-Key on writes', async () => {
    const response = await fetch(`${sandbox.url}/authorizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: 'tok_test_4242',
        amount: 1,
        currency: 'EUR',
        reference: 'r',
        capture: true,
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'idempotency_key_missing' } });
  });

  it('rejects floats and unknown currencies as request errors', async () => {
    const float = await rejection(gateway.authorize(sale('tok_test_4242', { amount: 10.5 })));
    expect(float).toMatchObject({ name: 'GatewayRequestError', code: 'invalid_request', statusCode: 400 });
    const currency = await rejection(gateway.authorize(sale('tok_test_4242', { currency: 'XXX' as 'EUR' })));
    expect(currency).toMatchObject({ code: 'invalid_request' });
  });
});

describe('faults', () => {
  it('503 → GatewayUnavailableError, then the retry with the same key charges once', async () => {
    await faults({ failNext: 1 });
    const request = sale('tok_test_4242');
    const error = await rejection(gateway.authorize(request));
    expect(error).toBeInstanceOf(GatewayUnavailableError);
    expect(error).toMatchObject({ name: 'GatewayUnavailableError', statusCode: 503 });
    expect((await stats()).byReference[request.reference]).toBeUndefined();
    expect(await gateway.authorize(request)).toMatchObject({ status: 'captured' });
    expect((await stats()).byReference[request.reference]?.authorizations).toBe(1);
  });

  it('timeout after charging → client times out, the retry returns the original charge', async () => {
    await faults({ timeoutAfterChargeNext: 1, hangMs: 10_000 });
    const impatient = new SandboxConnector({ baseUrl: sandbox.url, webhookSecret: secret, timeoutMs: 300 });
    const request = sale('tok_test_4242');
    const error = await rejection(impatient.authorize(request));
    expect(error).toBeInstanceOf(GatewayUnavailableError);
    expect((await stats()).byReference[request.reference]?.authorizations).toBe(1);
    const retried = await impatient.authorize(request);
    expect(retried).toMatchObject({ status: 'captured', amountCaptured: 2500 });
    expect((await stats()).byReference[request.reference]).toMatchObject({ authorizations: 1, captures: 1 });
  });

  it('a dropped connection after a capture is retried safely', async () => {
    const auth = await gateway.authorize(sale('tok_test_4242', { capture: false }));
    await faults({ timeoutAfterChargeNext: 1, hangMs: 0 });
    const capture = { idempotencyKey: newKey(), authorizationId: auth.id, amount: 1000 };
    expect(await rejection(gateway.capture(capture))).toBeInstanceOf(GatewayUnavailableError);
    expect(await gateway.capture(capture)).toMatchObject({ status: 'captured', amountCaptured: 1000 });
    expect((await stats()).captures).toBeGreaterThan(0);
  });

  it('an unreachable gateway is a GatewayUnavailableError', async () => {
    const dead = new SandboxConnector({
      baseUrl: 'http://127.0.0.1:1',
      webhookSecret: secret,
      timeoutMs: 500,
    });
    expect(await rejection(dead.status('auth_x'))).toBeInstanceOf(GatewayUnavailableError);
  });
});

describe('finding an authorization by its idempotency key', () => {
  it('finds what an authorize with the key made, as it is now', async () => {
    const request = sale('tok_test_4242', { capture: false });
    const auth = await gateway.authorize(request);
    const lookup = { idempotencyKey: request.idempotencyKey, reference: request.reference };
    expect(await gateway.findAuthorization(lookup)).toEqual(auth);
    await gateway.capture({ idempotencyKey: newKey(), authorizationId: auth.id, amount: 2500 });
    const found = await gateway.findAuthorization(lookup);
    expect(found).toMatchObject({ id: auth.id, status: 'captured', amountCaptured: 2500 });
    expect(found).toEqual(await gateway.status(auth.id));
    // A read: nothing more was charged.
    expect((await stats()).byReference[request.reference]?.authorizations).toBe(1);
  });

  it('finds nothing for a key never used, or used by another payment', async () => {
    expect(
      await gateway.findAuthorization({ idempotencyKey: newKey(), reference: newRef() }),
    ).toBeUndefined();
    const request = sale('tok_test_4242');
    await gateway.authorize(request);
    expect(
      await gateway.findAuthorization({ idempotencyKey: request.idempotencyKey, reference: newRef() }),
    ).toBeUndefined();
    // An authorize refused before any charge (an unknown token) made none to find.
    const refused = sale('tok_does_not_exist');
    expect(await gateway.authorize(refused)).toMatchObject({ status: 'declined', id: '' });
    expect(
      await gateway.findAuthorization({
        idempotencyKey: refused.idempotencyKey,
        reference: refused.reference,
      }),
    ).toBeUndefined();
  });

  it('answers while every write fails (failNext hits writes only)', async () => {
    const request = sale('tok_test_4242');
    const auth = await gateway.authorize(request);
    await faults({ failNext: 100 });
    expect(await rejection(gateway.authorize(sale('tok_test_4242')))).toBeInstanceOf(GatewayUnavailableError);
    const lookup = { idempotencyKey: request.idempotencyKey, reference: request.reference };
    expect(await gateway.findAuthorization(lookup)).toMatchObject({ id: auth.id, status: 'captured' });
    expect(
      await gateway.findAuthorization({ idempotencyKey: newKey(), reference: request.reference }),
    ).toBeUndefined();
  });

  it('finds the charge of an authorize whose answer never came', async () => {
    await faults({ timeoutAfterChargeNext: 1, hangMs: 0 });
    const request = sale('tok_test_4242');
    expect(await rejection(gateway.authorize(request))).toBeInstanceOf(GatewayUnavailableError);
    const found = await gateway.findAuthorization({
      idempotencyKey: request.idempotencyKey,
      reference: request.reference,
    });
    expect(found).toMatchObject({ status: 'captured', amount: 2500, amountCaptured: 2500 });
    expect(found?.id).toMatch(/^auth_/);
    expect((await stats()).byReference[request.reference]).toMatchObject({ authorizations: 1, captures: 1 });
  });

  it('is slowed by latencyMs like any other request, and a transient failure is GatewayUnavailableError', async () => {
    await faults({ latencyMs: 500 });
    const impatient = new SandboxConnector({ baseUrl: sandbox.url, webhookSecret: secret, timeoutMs: 200 });
    const error = await rejection(
      impatient.findAuthorization({ idempotencyKey: newKey(), reference: newRef() }),
    );
    expect(error).toBeInstanceOf(GatewayUnavailableError);
  });

  it('refuses a lookup without a key as a request error', async () => {
    const response = await fetch(`${sandbox.url}/authorizations`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } });
  });
});

describe('capture, void and refunds', () => {
  it('captures partially, once, never more than authorized', async () => {
    const auth = await gateway.authorize(sale('tok_test_4242', { capture: false, amount: 1000 }));
    const tooMuch = await rejection(
      gateway.capture({ idempotencyKey: newKey(), authorizationId: auth.id, amount: 1001 }),
    );
    expect(tooMuch).toMatchObject({ name: 'GatewayRequestError', code: 'amount_too_large', statusCode: 400 });
    const captured = await gateway.capture({
      idempotencyKey: newKey(),
      authorizationId: auth.id,
      amount: 600,
    });
    expect(captured).toMatchObject({ status: 'captured', amount: 1000, amountCaptured: 600 });
    const again = await rejection(
      gateway.capture({ idempotencyKey: newKey(), authorizationId: auth.id, amount: 100 }),
    );
    expect(again).toMatchObject({ code: 'invalid_state', statusCode: 409 });
  });

  it('voids an authorization; capturing or voiding it afterwards is invalid_state', async () => {
    const auth = await gateway.authorize(sale('tok_test_4242', { capture: false }));
    expect(await gateway.void({ idempotencyKey: newKey(), authorizationId: auth.id })).toMatchObject({
      status: 'voided',
    });
    const capture = await rejection(
      gateway.capture({ idempotencyKey: newKey(), authorizationId: auth.id, amount: 1 }),
    );
    expect(capture).toMatchObject({ code: 'invalid_state' });
    const declined = await gateway.authorize(sale('tok_test_0000', { capture: false }));
    const voidDeclined = await rejection(
      gateway.void({ idempotencyKey: newKey(), authorizationId: declined.id }),
    );
    expect(voidDeclined).toMatchObject({ code: 'invalid_state' });
  });

  it('refunds up to the captured amount and rejects over-refunds', async () => {
    const auth = await gateway.authorize(sale('tok_test_4242', { amount: 1000 }));
    const refund = (amount: number) =>
      gateway.refund({
        idempotencyKey: newKey(),
        authorizationId: auth.id,
        amount,
        reason: 'requested_by_customer',
      });
    expect(await refund(400)).toMatchObject({ status: 'succeeded', amount: 400, authorizationId: auth.id });
    expect(await rejection(refund(601))).toMatchObject({ code: 'amount_too_large', statusCode: 400 });
    await refund(600);
    expect(await gateway.status(auth.id)).toMatchObject({ amountCaptured: 1000, amountRefunded: 1000 });
    expect(await rejection(refund(1))).toMatchObject({ code: 'amount_too_large' });
    const uncaptured = await gateway.authorize(sale('tok_test_4242', { capture: false }));
    const early = await rejection(
      gateway.refund({ idempotencyKey: newKey(), authorizationId: uncaptured.id, amount: 1 }),
    );
    expect(early).toMatchObject({ code: 'invalid_state' });
  });

  it('failed refunds move no money; pending refunds settle later with a refund.updated webhook', async () => {
    const auth = await gateway.authorize(sale('tok_test_4242', { amount: 1000 }));
    await faults({ refundMode: 'fail' });
    const failed = await gateway.refund({ idempotencyKey: newKey(), authorizationId: auth.id, amount: 1000 });
    expect(failed).toMatchObject({ status: 'failed', failureMessage: expect.any(String) as unknown });
    await faults({ refundMode: 'pending', pendingRefundDelayMs: 50 });
    const pending = await gateway.refund({
      idempotencyKey: newKey(),
      authorizationId: auth.id,
      amount: 1000,
    });
    expect(pending.status).toBe('pending');
    const events = await webhooksFor(pending.id, 2);
    expect(events.map((e) => e.event.type === 'refund.updated' && e.event.refund.status)).toEqual([
      'pending',
      'succeeded',
    ]);
    expect(await gateway.status(auth.id)).toMatchObject({ amountRefunded: 1000 });
  });
});

describe('3-D Secure and webhooks', () => {
  const complete = (id: string, outcome: 'succeed' | 'fail') =>
    fetch(`${sandbox.url}/3ds/${id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outcome }),
    });

  it('completing the challenge authorizes and sends a signed authorization.updated webhook', async () => {
    const request = sale('tok_test_3333', { capture: false, returnUrl: 'https://shop.example/return' });
    const auth = await gateway.authorize(request);
    expect(auth.status).toBe('requires_action');
    const page = await fetch(auth.actionUrl ?? '');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`/3ds/${auth.id}/complete`);
    expect((await complete(auth.id, 'succeed')).status).toBe(200);

    const [delivery] = await webhooksFor(request.reference, 1);
    if (!delivery) throw new Error('no webhook received');
    expect(() =>
      verifyWebhookSignature(secret, delivery.raw, delivery.signature, Math.floor(Date.now() / 1000)),
    ).not.toThrow();
    expect(delivery.event).toMatchObject({
      type: 'authorization.updated',
      eventId: expect.stringMatching(/^evt_/) as unknown,
      reference: request.reference,
      authorization: { id: auth.id, status: 'authorized' },
    });
    expect(await gateway.status(auth.id)).toMatchObject({ status: 'authorized' });
    expect((await complete(auth.id, 'succeed')).status).toBe(409);
  });

  it('a failed challenge declines with authentication_failed', async () => {
    const request = sale('tok_test_3333');
    const auth = await gateway.authorize(request);
    await complete(auth.id, 'fail');
    const [delivery] = await webhooksFor(request.reference, 1);
    expect(delivery?.event).toMatchObject({
      authorization: { status: 'declined', failureCode: 'authentication_failed' },
    });
    expect(await gateway.status(auth.id)).toMatchObject({
      status: 'declined',
      failureCode: 'authentication_failed',
    });
  });

  it('a sale completed through 3-D Secure is captured', async () => {
    const auth = await gateway.authorize(sale('tok_test_3333', { capture: true }));
    expect(await (await complete(auth.id, 'succeed')).json()).toMatchObject({
      status: 'captured',
      amountCaptured: 2500,
    });
  });

  it('duplicate mode delivers every event twice with the same id', async () => {
    await faults({ duplicateWebhooks: true });
    const request = sale('tok_test_3333');
    const auth = await gateway.authorize(request);
    await complete(auth.id, 'succeed');
    await sandbox.webhooksIdle();
    const events = await webhooksFor(request.reference, 2);
    expect(events).toHaveLength(2);
    expect(events[0]?.event.eventId).toBe(events[1]?.event.eventId);
  });

  it('out-of-order mode delivers the newer event first', async () => {
    await faults({ outOfOrderWebhooks: true, refundMode: 'pending', pendingRefundDelayMs: 50 });
    const auth = await gateway.authorize(sale('tok_test_4242'));
    const refund = await gateway.refund({ idempotencyKey: newKey(), authorizationId: auth.id, amount: 2500 });
    const events = await webhooksFor(refund.id, 2);
    expect(events.map((e) => e.event.type === 'refund.updated' && e.event.refund.status)).toEqual([
      'succeeded',
      'pending',
    ]);
  });

  it('retries deliveries that Paysaga rejects, and parseWebhook rejects tampered bodies', async () => {
    rejectNextDeliveries = 2;
    const request = sale('tok_test_3333');
    const auth = await gateway.authorize(request);
    await complete(auth.id, 'succeed');
    const [delivery] = await webhooksFor(request.reference, 1);
    if (!delivery) throw new Error('no webhook received after retries');
    expect(rejectNextDeliveries).toBe(0);
    const tampered = Buffer.from(delivery.raw.toString().replace('"amount":2500', '"amount":1'));
    expect(tampered.equals(delivery.raw)).toBe(false);
    const error = await rejection(
      Promise.resolve().then(() =>
        gateway.parseWebhook(tampered, { 'Paysaga-Signature': delivery.signature }),
      ),
    );
    expect(error).toBeInstanceOf(WebhookSignatureError);
    expect(error).toMatchObject({ reason: 'signature_mismatch' });
  });
});
