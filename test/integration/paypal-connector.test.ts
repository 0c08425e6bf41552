import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayPalConnector } from '../../src/gateway/connectors/paypal/connector.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { AuthorizeRequest, WebhookEvent } from '../../src/gateway/port.js';
import { WebhookSignatureError } from '../../src/gateway/webhook-signature.js';
import { startPayPalEmulator, type PayPalEmulator } from '../../tools/stack/paypal-emulator.js';

/** A webhook as the merchant's endpoint got it, and what the connector made of it. */
interface Received {
  eventType: string;
  body: Buffer;
  headers: IncomingHttpHeaders;
  events?: WebhookEvent[];
  error?: unknown;
}

/** The merchant's webhook endpoint: verifies each delivery with the connector, as Paysaga's would. */
async function startReceiver(
  verify: (body: Buffer, headers: IncomingHttpHeaders) => Promise<WebhookEvent[]>,
) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const record: Received = {
        eventType: String((JSON.parse(body.toString()) as { event_type?: string }).event_type),
        body,
        headers: request.headers,
      };
      received.push(record);
      verify(body, request.headers).then(
        (events) => {
          record.events = events;
          response.writeHead(200).end();
        },
        (error: unknown) => {
          record.error = error;
          response.writeHead(400).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/paypal`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function eventually<T>(read: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** PayPal's published schemas (test/fixtures/paypal/openapi), by document and schema name. */
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true, unicodeRegExp: false });
for (const doc of ['checkout_orders_v2', 'payments_payment_v2', 'notifications_webhooks_v1']) {
  const file = path.join(import.meta.dirname, '..', 'fixtures', 'paypal', 'openapi', `${doc}.json`);
  ajv.addSchema({ $id: doc, components: JSON.parse(readFileSync(file, 'utf8')).components });
}
const specErrors = (doc: string, schema: string, value: unknown) => {
  const validate = ajv.getSchema(`${doc}#/components/schemas/${schema}`)!;
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${schema}${e.instancePath} ${e.message}`);
};
/** The schema of each webhook resource type the emulator sends. */
const RESOURCE_SCHEMAS: Record<string, [string, string]> = {
  'checkout-order': ['checkout_orders_v2', 'order'],
  authorization: ['payments_payment_v2', 'authorization-2'],
  capture: ['payments_payment_v2', 'capture-2'],
  refund: ['payments_payment_v2', 'refund'],
};

const request = (extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: `test-${randomUUID()}`,
  token: 'paypal',
  amount: 4200,
  currency: 'EUR',
  reference: `pay_${randomUUID().replaceAll('-', '')}`,
  capture: true,
  returnUrl: 'http://127.0.0.1:3000/v1/payments/return',
  ...extra,
});

describe('the PayPal connector against the PayPal emulator', () => {
  let emulator: PayPalEmulator;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let paypal: PayPalConnector;
  const connectorFor = (extra: Partial<ConstructorParameters<typeof PayPalConnector>[0]> = {}) =>
    new PayPalConnector({
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      webhookId: emulator.webhookId,
      apiBase: emulator.url,
      extraCertHosts: [emulator.host],
      ...extra,
    });
  const webhook = (eventType: string, reference: string) =>
    eventually(
      () =>
        receiver.received.find(
          (r) => r.eventType === eventType && (r.events ?? []).some((e) => e.reference === reference),
        ),
      `${eventType} for ${reference}`,
    );

  beforeAll(async () => {
    emulator = await startPayPalEmulator({ webhookId: 'WH-PAYSAGA-TEST' });
    paypal = connectorFor();
    receiver = await startReceiver((body, headers) => paypal.parseWebhook(body, headers));
    emulator.sendWebhooksTo(receiver.url);
  });

  afterAll(async () => {
    await emulator?.close();
    await receiver?.close();
  });

  it('a sale waits for the buyer on PayPal; approving on its page sends a signed webhook; the re-read captures', async () => {
    const req = request();
    const auth = await paypal.authorize(req);
    expect(auth).toMatchObject({
      status: 'requires_action',
      amount: 4200,
      amountCaptured: 0,
      currency: 'EUR',
    });
    expect(auth.actionUrl).toBe(`${emulator.url}/checkoutnow?token=${auth.id}`);

    // The buyer's browser: the page, then its Approve form posted.
    const page = await (await fetch(auth.actionUrl!)).text();
    const approve = /<form method="post" action="([^"]+)"><button type="submit">Approve/.exec(page)?.[1];
    expect(approve).toBeDefined();
    const approved = await fetch(new URL(approve!, emulator.url), { method: 'POST', redirect: 'manual' });
    expect(approved.status).toBe(303);
    const back = new URL(approved.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(req.returnUrl);
    expect(back.searchParams.get('token')).toBe(auth.id);

    const delivery = await webhook('CHECKOUT.ORDER.APPROVED', req.reference);
    expect(delivery.headers['paypal-cert-url']).toBe(emulator.certUrl);
    expect(delivery.events).toEqual([
      expect.objectContaining({
        type: 'authorization.updated',
        reference: req.reference,
        authorization: expect.objectContaining({ id: auth.id, status: 'captured' }),
      }),
    ]);

    // The workflow's re-read after the webhook: the server's capture call, once.
    expect(await paypal.status(auth.id)).toMatchObject({ status: 'captured', amountCaptured: 4200 });
    expect(await paypal.status(auth.id)).toMatchObject({ status: 'captured', amountCaptured: 4200 });
    expect(emulator.stats().captures[req.reference]).toBe(1);
    const captured = await webhook('PAYMENT.CAPTURE.COMPLETED', req.reference);
    expect(captured.events?.[0]).toMatchObject({ authorization: { id: auth.id, status: 'captured' } });
    // Every write carried a PayPal-Request-Id.
    const writes = emulator.requests().filter((r) => r.method === 'POST' && r.path !== '/v1/oauth2/token');
    expect(writes.every((r) => r.requestId !== undefined)).toBe(true);
  });

  it('refuses a delivery whose body was changed after signing', async () => {
    const delivery = receiver.received.find((r) => r.events !== undefined)!;
    const tampered = Buffer.from(
      delivery.body.toString().replace('"event_version":"1.0"', '"event_version":"1.1"'),
    );
    await expect(paypal.parseWebhook(tampered, delivery.headers)).rejects.toBeInstanceOf(
      WebhookSignatureError,
    );
    const otherHook = connectorFor({ webhookId: 'WH-SOMEONE-ELSE' });
    await expect(otherHook.parseWebhook(delivery.body, delivery.headers)).rejects.toBeInstanceOf(
      WebhookSignatureError,
    );
    const noEmulatorTrust = connectorFor({ extraCertHosts: [] });
    await expect(noEmulatorTrust.parseWebhook(delivery.body, delivery.headers)).rejects.toBeInstanceOf(
      WebhookSignatureError,
    );
    expect(receiver.received.filter((r) => r.error !== undefined)).toEqual([]);
  });

  it('manual capture: authorized after approval, captured in part, then refunded in part', async () => {
    const req = request({ capture: false });
    const auth = await paypal.authorize(req);
    expect(auth.status).toBe('requires_action');
    await emulator.approve(auth.id);
    await webhook('CHECKOUT.ORDER.APPROVED', req.reference);
    expect(await paypal.status(auth.id)).toMatchObject({
      status: 'authorized',
      amount: 4200,
      amountCaptured: 0,
    });

    const captured = await paypal.capture({
      idempotencyKey: `cap-${auth.id}`,
      authorizationId: auth.id,
      amount: 3000,
      currency: 'EUR',
    });
    expect(captured).toMatchObject({ id: auth.id, status: 'captured', amount: 4200, amountCaptured: 3000 });

    const refund = await paypal.refund({
      idempotencyKey: `ref-${auth.id}`,
      authorizationId: auth.id,
      amount: 1000,
      reason: 'damaged',
    });
    expect(refund).toMatchObject({ status: 'succeeded', amount: 1000, authorizationId: auth.id });
    expect(await paypal.status(auth.id)).toMatchObject({
      status: 'captured',
      amountCaptured: 3000,
      amountRefunded: 1000,
    });
    const refunded = await webhook('PAYMENT.CAPTURE.REFUNDED', req.reference);
    expect(refunded.events?.[0]).toMatchObject({
      type: 'refund.updated',
      refund: { id: refund.id, status: 'succeeded' },
    });
    // Refunding more than is left is final.
    await expect(
      paypal.refund({ idempotencyKey: `ref2-${auth.id}`, authorizationId: auth.id, amount: 2500 }),
    ).rejects.toMatchObject({ name: 'GatewayRequestError', code: 'REFUND_AMOUNT_EXCEEDED' });
    expect(emulator.stats()).toMatchObject({
      orders: { [req.reference]: 1 },
      authorizations: { [req.reference]: 1 },
      captures: { [req.reference]: 1 },
      refunds: { [req.reference]: 1 },
    });
  });

  it('voids an authorization (a second void is final); an order never approved is voided without a call', async () => {
    const req = request({ capture: false });
    const auth = await paypal.authorize(req);
    await emulator.approve(auth.id);
    expect((await paypal.status(auth.id)).status).toBe('authorized');
    expect(await paypal.void({ idempotencyKey: `void-${auth.id}`, authorizationId: auth.id })).toMatchObject({
      status: 'voided',
      amountCaptured: 0,
    });
    const voided = await webhook('PAYMENT.AUTHORIZATION.VOIDED', req.reference);
    expect(voided.events?.[0]).toMatchObject({ authorization: { id: auth.id, status: 'voided' } });
    await expect(
      paypal.void({ idempotencyKey: `void2-${auth.id}`, authorizationId: auth.id }),
    ).rejects.toMatchObject({
      name: 'GatewayRequestError',
      code: 'PREVIOUSLY_VOIDED',
    });
    await expect(
      paypal.capture({ idempotencyKey: `cap-${auth.id}`, authorizationId: auth.id, amount: 100 }),
    ).rejects.toMatchObject({ code: 'AUTHORIZATION_VOIDED' });

    const pending = await paypal.authorize(request({ capture: false }));
    expect(
      await paypal.void({ idempotencyKey: `void-${pending.id}`, authorizationId: pending.id }),
    ).toMatchObject({
      status: 'voided',
    });
  });

  it('the same idempotency key twice makes one order; another body under it is refused', async () => {
    const req = request();
    const first = await paypal.authorize(req);
    const second = await paypal.authorize(req);
    expect(second.id).toBe(first.id);
    expect(emulator.stats().orders[req.reference]).toBe(1);
    await expect(paypal.authorize({ ...req, amount: 4300 })).rejects.toBeInstanceOf(GatewayRequestError);
  });

  it.each([
    ['instrument-declined@buyer.example', 'card_declined'],
    ['payer-cannot-pay@buyer.example', 'card_declined'],
    ['refused@buyer.example', 'card_declined'],
    ['capture-denied@buyer.example', 'card_declined'],
  ])('a sale by %s is declined %s when the server completes it', async (buyer, failureCode) => {
    const auth = await paypal.authorize(request({ token: buyer }));
    await emulator.approve(auth.id);
    const status = await paypal.status(auth.id);
    expect(status).toMatchObject({ id: auth.id, status: 'declined', failureCode, amountCaptured: 0 });
    expect(status.failureMessage).toMatch(/PayPal/);
  });

  it('a buyer PayPal sends back is requires_action again, with the payer-action link', async () => {
    const auth = await paypal.authorize(request({ token: 'payer-action@buyer.example' }));
    await emulator.approve(auth.id);
    expect(await paypal.status(auth.id)).toMatchObject({
      status: 'requires_action',
      actionUrl: `${emulator.url}/checkoutnow?token=${auth.id}`,
    });
  });

  it.each([500, 503, 429])(
    'HTTP %i is GatewayUnavailableError, and the retry with the same key goes through',
    async (status) => {
      const req = request();
      emulator.failNext(1, status);
      await expect(paypal.authorize(req)).rejects.toBeInstanceOf(GatewayUnavailableError);
      expect((await paypal.authorize(req)).status).toBe('requires_action');
      expect(emulator.stats().orders[req.reference]).toBe(1);
    },
  );

  it('amounts cross in each currency’s decimals: zero-decimal JPY', async () => {
    const auth = await paypal.authorize(request({ amount: 500, currency: 'JPY' }));
    expect(await paypal.status(auth.id)).toMatchObject({ amount: 500, currency: 'JPY' });
  });

  it('fetches one token for many calls, and a new one once after a 401', async () => {
    const connector = connectorFor();
    const before = emulator.stats().tokensIssued;
    const auths = await Promise.all([connector.authorize(request()), connector.authorize(request())]);
    await connector.status(auths[0].id);
    await connector.status(auths[1].id);
    expect(emulator.stats().tokensIssued - before).toBe(1);

    emulator.expireTokens();
    expect((await connector.status(auths[0].id)).status).toBe('requires_action');
    expect(emulator.stats().tokensIssued - before).toBe(2);
  });

  it('ping fetches a token; bad credentials are final and never echoed', async () => {
    await expect(paypal.ping()).resolves.toBeUndefined();
    const wrong = connectorFor({ clientSecret: 'not-the-secret-42' });
    const error = await wrong.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayRequestError);
    expect(error).toMatchObject({ code: 'authentication_failed' });
    expect(String((error as Error).message)).not.toContain('not-the-secret-42');
    await expect(wrong.authorize(request())).rejects.toBeInstanceOf(GatewayRequestError);
  });

  it('an unreachable PayPal is transient', async () => {
    const down = connectorFor({ apiBase: 'http://127.0.0.1:9', timeoutMs: 2_000 });
    await expect(down.authorize(request())).rejects.toBeInstanceOf(GatewayUnavailableError);
  });

  it("the emulator's answers and webhooks match PayPal's OpenAPI schemas", async () => {
    const auth = await paypal.authorize(request({ capture: false }));
    await emulator.approve(auth.id);
    await paypal.status(auth.id);
    await paypal.capture({ idempotencyKey: `cap-${auth.id}`, authorizationId: auth.id, amount: 4200 });
    const refund = await paypal.refund({
      idempotencyKey: `ref-${auth.id}`,
      authorizationId: auth.id,
      amount: 100,
    });
    const token = (await (
      await fetch(`${emulator.url}/v1/oauth2/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${emulator.clientId}:${emulator.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      })
    ).json()) as { access_token: string };
    const get = async (p: string): Promise<any> =>
      (
        await fetch(`${emulator.url}${p}`, { headers: { authorization: `Bearer ${token.access_token}` } })
      ).json();
    const order = await get(`/v2/checkout/orders/${auth.id}`);
    const payments = order.purchase_units[0].payments;
    expect([
      ...specErrors('checkout_orders_v2', 'order', order),
      ...specErrors(
        'payments_payment_v2',
        'authorization-2',
        await get(`/v2/payments/authorizations/${payments.authorizations[0].id}`),
      ),
      ...specErrors(
        'payments_payment_v2',
        'capture-2',
        await get(`/v2/payments/captures/${payments.captures[0].id}`),
      ),
      ...specErrors('payments_payment_v2', 'refund', await get(`/v2/payments/refunds/${refund.id}`)),
      ...specErrors('checkout_orders_v2', 'error_404', await get('/v2/checkout/orders/NOSUCHORDER')),
    ]).toEqual([]);
    await webhook('PAYMENT.CAPTURE.REFUNDED', order.purchase_units[0].custom_id);

    const events = emulator.webhooksSent().map((sent) => JSON.parse(sent.body));
    expect(new Set(events.map((e) => e.resource_type))).toEqual(new Set(Object.keys(RESOURCE_SCHEMAS)));
    const errors = events.flatMap((e) => {
      const [doc, schema] = RESOURCE_SCHEMAS[e.resource_type]!;
      return [...specErrors('notifications_webhooks_v1', 'event', e), ...specErrors(doc, schema, e.resource)];
    });
    expect(errors).toEqual([]);
  });
});
