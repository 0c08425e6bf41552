/**
 * The PayPal connector against PayPal's sandbox (api-m.sandbox.paypal.com). Collected only when
 * PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET of a PayPal sandbox REST app are set
 * (vitest.config.ts): `PAYPAL_CLIENT_ID=... PAYPAL_CLIENT_SECRET=... npx vitest run --project paypal-live`.
 * A sandbox app moves no real money. No buyer approves here (that needs PayPal's login page):
 * the test creates orders, reads them, and voids them.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PAYPAL_SANDBOX_API, PayPalConnector } from '../../src/gateway/connectors/paypal/connector.js';
import type { AuthorizeRequest } from '../../src/gateway/port.js';

const apiBase = process.env.PAYPAL_API_BASE ?? PAYPAL_SANDBOX_API;
if (!apiBase.includes('sandbox')) throw new Error('the live PayPal test runs only against PayPal sandbox');

const paypal = new PayPalConnector({
  clientId: process.env.PAYPAL_CLIENT_ID ?? '',
  clientSecret: process.env.PAYPAL_CLIENT_SECRET ?? '',
  webhookId: process.env.PAYPAL_WEBHOOK_ID ?? 'unused',
  apiBase,
});
const request = (extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: `paysaga-live-${randomUUID()}`,
  token: '',
  amount: 4200,
  currency: 'EUR',
  reference: `pay_live_${randomUUID().replaceAll('-', '')}`,
  capture: true,
  returnUrl: 'https://example.com/return',
  ...extra,
});

describe('the PayPal connector against PayPal sandbox', () => {
  it('gets an OAuth token, creates an order that waits for the buyer, replays a retried create, and gives it up', async () => {
    await paypal.ping();
    const req = request({ capture: false });
    const order = await paypal.authorize(req);
    expect(order).toMatchObject({ status: 'requires_action', amount: 4200, currency: 'EUR' });
    expect(order.actionUrl).toMatch(/^https:\/\/www\.sandbox\.paypal\.com\//);
    // The same PayPal-Request-Id: PayPal answers with the same order.
    expect((await paypal.authorize(req)).id).toBe(order.id);
    expect(await paypal.status(order.id)).toMatchObject({ id: order.id, status: 'requires_action' });
    // Never approved: nothing is held, and voiding it is answered without a call.
    expect(
      await paypal.void({ idempotencyKey: `${req.idempotencyKey}-void`, authorizationId: order.id }),
    ).toMatchObject({ status: 'voided' });
  });

  it('a currency PayPal does not take is refused, not retried', async () => {
    await expect(paypal.authorize(request({ currency: 'XOF' }))).rejects.toMatchObject({
      name: 'GatewayRequestError',
    });
  });
});
