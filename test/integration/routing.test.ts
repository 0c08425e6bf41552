import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { chargesFor, resetFaults, setFaults } from '../support/gateway.js';
import { apiRaw, expectLedgerClean, uid, until } from '../support/http.js';
import { stripeEmulatorUrl, stripeRequests } from '../support/stripe.js';
import { ROUTED_RULES, TENANT_KEYS } from '../support/tenants.js';

/**
 * Tenant `routed` sends EUR cards to the sandbox first and to Stripe second (ROUTING_RULES). A
 * payment moves to Stripe only when the sandbox fails on its own side before money moved, and
 * only with the card's Stripe token (`method.tokens`); a decline is final, an authorization
 * whose answer never came is looked up first, and what follows the authorization (capture,
 * refund) goes to the connector that authorized.
 */
const routed = <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  apiRaw<T>(method, path, body, { key: TENANT_KEYS.routed, ...(headers ? { headers } : {}) });
/** Tenant `outage`: the same rules, and a circuit of its own (each tenant's is its own). */
const outage = <T = any>(method: string, path: string, body?: unknown) =>
  apiRaw<T>(method, path, body, { key: TENANT_KEYS.outage });

const eurCard = (token: string, extra: Record<string, unknown> = {}) => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 4200,
  currency: 'EUR',
  method: { type: 'card', token, tokens: { stripe: 'pm_card_visa' } },
  ...extra,
});

/** Stripe requests made for a payment (its id is in the PaymentIntent's metadata). */
const stripeCallsFor = async (paymentId: string) =>
  (await stripeRequests()).filter((r) => Object.values(r.params).includes(paymentId));

async function workerCounter(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(inject('workerMetricsUrl'))).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (wanted.every((label) => line.includes(label))) total += Number(line.split(' ').at(-1));
  }
  return total;
}

describe.skipIf(!stripeEmulatorUrl)('routing across connectors', () => {
  afterEach(async () => {
    await resetFaults();
  });
  afterAll(async () => {
    await expectLedgerClean();
  });

  it('GET /v1/routing shows the rules, checked at start, and the connectors they name', async () => {
    const res = await routed('GET', '/v1/routing');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      defaultConnector: 'sandbox',
      connectors: expect.arrayContaining([
        { name: 'sandbox', methods: ['card'] },
        { name: 'stripe', methods: ['card'] },
      ]),
      rules: ROUTED_RULES,
    });
  });

  it('a healthy primary takes the payment: one attempt, on the sandbox, nothing sent to Stripe', async () => {
    const res = await routed('POST', '/v1/payments', eurCard('tok_test_4242'));
    expect(res.body).toMatchObject({ status: 'succeeded', attempts: [{ connector: 'sandbox' }] });
    expect(await stripeCallsFor(res.body.id)).toEqual([]);
  });

  it('a card_declined on the primary is final: never tried on Stripe', async () => {
    const res = await routed('POST', '/v1/payments', eurCard('tok_test_0000'));
    expect(res.body).toMatchObject({ status: 'requires_payment_method', failureCode: 'card_declined' });
    expect(res.body.attempts).toEqual([
      expect.objectContaining({ connector: 'sandbox', status: 'failed', failureCode: 'card_declined' }),
    ]);
    expect(await stripeCallsFor(res.body.id)).toEqual([]);
  });

  it("the primary's processing_error moves the payment to Stripe, as a second attempt", async () => {
    const res = await routed('POST', '/v1/payments', eurCard('tok_test_0119'));
    expect(res.body).toMatchObject({ status: 'succeeded', amountCaptured: 4200 });
    expect(res.body.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        connector: 'sandbox',
        status: 'failed',
        failureCode: 'processing_error',
      }),
      expect.objectContaining({ number: 2, connector: 'stripe', status: 'succeeded' }),
    ]);
  });

  it("without the card's token at Stripe a payment has no fallback", async () => {
    const res = await routed('POST', '/v1/payments', {
      ...eurCard('tok_test_0119'),
      method: { type: 'card', token: 'tok_test_0119' },
    });
    expect(res.body).toMatchObject({ status: 'failed', failureCode: 'processing_error' });
    expect(res.body.attempts).toHaveLength(1);
  });

  it('an authorization whose answer never came is looked up on its connector: found, it is the payment, never a second charge', async () => {
    // The sandbox charges, then never answers; every later write to it fails.
    await setFaults({ timeoutAfterChargeNext: 1, hangMs: 30_000 });
    const body = eurCard('tok_test_4242');
    const started = await routed('POST', '/v1/payments', body, { prefer: 'respond-async' });
    const id: string = started.body.id;
    await until(
      () => chargesFor(id),
      (charges) => charges.authorizations === 1,
      'the sandbox to record the charge',
      45_000,
    );
    await setFaults({ failNext: 1000 });
    const paid = await until(
      async () => (await routed('GET', `/v1/payments/${id}`)).body,
      (payment) => payment.status !== 'processing',
      'the payment to settle',
      45_000,
    );
    expect(paid).toMatchObject({
      status: 'succeeded',
      attempts: [{ connector: 'sandbox', status: 'succeeded' }],
    });
    expect(paid.attempts).toHaveLength(1);
    expect((await chargesFor(id)).authorizations).toBe(1);
    expect(await stripeCallsFor(id)).toEqual([]);
    // The stored status is written by a local activity, whose marker (with the lookup's) reaches
    // the history when its workflow task completes: the timeline may come a moment after it.
    const steps = await until(
      async () =>
        (await routed('GET', `/v1/payments/${id}/timeline`)).body.steps.map((s: { step: string }) => s.step),
      (names: string[]) => names.includes('authorization lookup'),
      'the lookup in the timeline',
      15_000,
    );
    expect(steps).toContain('authorization lookup');
  });

  it('with the sandbox failing every call, a EUR card payment succeeds on Stripe with two attempts shown; capture and refund go to Stripe', async () => {
    await setFaults({ failNext: 100_000 });
    const before = await workerCounter('paysaga_gateway_requests_total', {
      connector: 'stripe',
      operation: 'authorizeCard',
    });
    const res = await outage('POST', '/v1/payments', eurCard('tok_test_4242', { capture: 'manual' }));
    expect(res.body).toMatchObject({ status: 'requires_capture' });
    expect(res.body.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        connector: 'sandbox',
        status: 'failed',
        failureCode: 'processing_error',
      }),
      expect.objectContaining({ number: 2, connector: 'stripe', status: 'succeeded' }),
    ]);
    expect((await chargesFor(res.body.id)).authorizations).toBe(0);
    const captured = await outage('POST', `/v1/payments/${res.body.id}/capture`, { amount: 3000 });
    expect(captured.body).toMatchObject({ status: 'succeeded', amountCaptured: 3000 });
    const refund = await outage('POST', `/v1/payments/${res.body.id}/refunds`, { amount: 1000 });
    expect(refund.body).toMatchObject({ status: 'succeeded' });
    const intentId: string = res.body.attempts[1].gatewayReference;
    const stripePaths = (await stripeRequests())
      .filter(
        (r) =>
          r.path.includes(intentId) ||
          Object.values(r.params).some((value) => value === res.body.id || value === intentId),
      )
      .map((r) => `${r.method} ${r.path}`);
    expect(stripePaths).toContain('POST /v1/payment_intents');
    expect(stripePaths).toContain(`POST /v1/payment_intents/${intentId}/capture`);
    expect(stripePaths).toContain('POST /v1/refunds');
    expect((await chargesFor(res.body.id)).captures).toBe(0);
    expect(
      await workerCounter('paysaga_gateway_requests_total', {
        connector: 'stripe',
        operation: 'authorizeCard',
      }),
    ).toBeGreaterThan(before);

    // The timeline names the route: the authorization that failed, the lookup that found nothing
    // there, then the authorization on Stripe.
    const timeline = await outage('GET', `/v1/payments/${res.body.id}/timeline`);
    const steps: string[] = timeline.body.steps.map((s: { step: string }) => s.step);
    expect(steps.filter((s) => s === 'authorize').length).toBeGreaterThanOrEqual(2);
    expect(steps).toContain('authorization lookup');
    expect(res.body.attempts[0].failureMessage).toContain('no answer');
    expect(timeline.body.route).toEqual([
      { attempt: 1, connector: 'sandbox', status: 'failed', failureCode: 'processing_error' },
      { attempt: 2, connector: 'stripe', status: 'succeeded' },
    ]);
  });

  it("once the sandbox's circuit opens, payments move to Stripe without waiting out its retries", async () => {
    await setFaults({ failNext: 100_000 });
    // A few payments open the circuit (half of the calls in the window failed).
    for (let i = 0; i < 3; i++) {
      const res = await outage('POST', '/v1/payments', eurCard('tok_test_4242'));
      expect(res.body).toMatchObject({
        status: 'succeeded',
        attempts: [{ connector: 'sandbox' }, { connector: 'stripe' }],
      });
    }
    const refusedBefore = await workerCounter('paysaga_gateway_requests_total', {
      connector: 'sandbox',
      outcome: 'circuit_open',
    });
    const res = await outage('POST', '/v1/payments', eurCard('tok_test_4242'));
    expect(res.body).toMatchObject({ status: 'succeeded' });
    expect(res.body.attempts[0]).toMatchObject({ connector: 'sandbox', status: 'failed' });
    expect(res.body.attempts[0].failureMessage).toContain('circuit open');
    expect(
      await workerCounter('paysaga_gateway_requests_total', {
        connector: 'sandbox',
        outcome: 'circuit_open',
      }),
    ).toBeGreaterThan(refusedBefore);
    // Tenants without a fallback are not held back by it: the default tenant's circuit is its own.
    await resetFaults();
    const other = await apiRaw('POST', '/v1/payments', {
      ...eurCard('tok_test_4242'),
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(other.body).toMatchObject({ status: 'succeeded' });
  });
});
