import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { StripeConnector } from '../../src/gateway/connectors/stripe/connector.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { AuthorizeRequest, GatewaySavedMethod, SaveMethodRequest } from '../../src/gateway/port.js';
import {
  authenticateSetup,
  failNext,
  intentAtStripe,
  paymentMethodAtStripe,
  setupIntentAtStripe,
  stripeEmulatorUrl,
  stripeEvent,
  stripeRejections,
  stripeRequests,
  stripeWebhooksSent,
} from '../support/stripe.js';

const stripeMockUrl = inject('stripeMockUrl');

const request = (token: string, extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
  idempotencyKey: `test-${randomUUID()}`,
  token,
  amount: 4200,
  currency: 'EUR',
  reference: `pay_${randomUUID()}`,
  capture: false,
  returnUrl: 'http://127.0.0.1:3000/v1/payments/pay_x',
  ...extra,
});

const saveRequest = (token: string, extra: Partial<SaveMethodRequest> = {}): SaveMethodRequest => ({
  idempotencyKey: `save-${randomUUID()}`,
  token,
  reference: `pm_${randomUUID()}`,
  tenantId: 'acme',
  customerId: `cus_${randomUUID()}`,
  returnUrl: 'http://127.0.0.1:3000/v1/customers/c/payment-methods/return',
  ...extra,
});

/** A charge of a saved card, with the customer there or not. */
const savedCharge = (
  method: GatewaySavedMethod,
  offSession: boolean,
  extra: Partial<AuthorizeRequest> = {},
) => request(method.id, { saved: { offSession, gatewayCustomerId: method.gatewayCustomerId }, ...extra });

describe.skipIf(!stripeEmulatorUrl)('the Stripe connector against stripe-mock', () => {
  const stripe = new StripeConnector({
    apiKey: 'sk_test_connector',
    webhookSecret: 'whsec_x',
    apiBase: stripeEmulatorUrl,
  });

  afterAll(async () => {
    // Every request the connector sent matched Stripe's OpenAPI (stripe-mock refused none).
    expect(await stripeRejections()).toEqual([]);
  });

  it('authorizes with manual capture, captures part, and refunds, each write with its own idempotency key', async () => {
    const auth = await stripe.authorize(request('pm_card_visa'));
    expect(auth).toMatchObject({ status: 'authorized', amount: 4200, amountCaptured: 0, currency: 'EUR' });
    expect(auth.card).toMatchObject({ brand: 'visa', last4: '4242' });
    const captured = await stripe.capture({
      idempotencyKey: `cap-${auth.id}`,
      authorizationId: auth.id,
      amount: 3000,
      currency: 'EUR',
    });
    expect(captured).toMatchObject({ status: 'captured', amountCaptured: 3000 });
    const refund = await stripe.refund({
      idempotencyKey: `ref-${auth.id}`,
      authorizationId: auth.id,
      amount: 1000,
      reason: 'damaged',
    });
    expect(refund).toMatchObject({ status: 'succeeded', amount: 1000, authorizationId: auth.id });
    expect(await stripe.status(auth.id)).toMatchObject({
      status: 'captured',
      amountCaptured: 3000,
      amountRefunded: 1000,
    });

    const writes = (await stripeRequests()).filter(
      (r) => r.method === 'POST' && (r.path.includes(auth.id) || r.params.payment_intent === auth.id),
    );
    const keys = writes.map((r) => r.idempotencyKey);
    expect(keys).toEqual([`cap-${auth.id}`, `ref-${auth.id}`]);
    const refundRequest = writes.find((r) => r.path === '/v1/refunds');
    expect(refundRequest?.params).toMatchObject({
      'metadata[paysaga_refund_reason]': 'damaged',
      amount: '1000',
    });
  });

  it('sends the PaymentIntent Stripe expects: card only, confirmed, manual capture, the payment id in metadata', async () => {
    const req = request('pm_card_visa');
    await stripe.authorize(req);
    const sent = (await stripeRequests()).find((r) => r.idempotencyKey === req.idempotencyKey);
    expect(sent?.params).toMatchObject({
      amount: '4200',
      currency: 'eur',
      capture_method: 'manual',
      confirm: 'true',
      payment_method: 'pm_card_visa',
      'allowed_payment_method_types[0]': 'card',
      'metadata[paysaga_payment_id]': req.reference,
      'metadata[paysaga_idempotency_key]': req.idempotencyKey,
    });
  });

  it("finds the PaymentIntent an authorize made right after it (Stripe's List API), as status reads it", async () => {
    const req = request('pm_card_visa');
    const auth = await stripe.authorize(req);
    const lookup = { idempotencyKey: req.idempotencyKey, reference: req.reference };
    const before = (await stripeRequests()).length;
    const startedAt = Math.floor(Date.now() / 1000);
    expect(await stripe.findAuthorization(lookup)).toEqual(auth);
    expect(await stripe.findAuthorization(lookup)).toEqual(await stripe.status(auth.id));
    // Newest first, it is on the first page of the last 24 hours; then read as `status` reads it.
    const reads = (await stripeRequests())
      .slice(before)
      .filter((r) => r.path.startsWith('/v1/payment_intents'));
    const list = reads.find((r) => r.path === '/v1/payment_intents' && r.method === 'GET');
    expect(list).toMatchObject({ method: 'GET', params: { limit: '100' } });
    expect(list?.params).not.toHaveProperty('starting_after');
    expect(Number(list?.params['created[gte]'])).toBeGreaterThanOrEqual(startedAt - 24 * 3600 - 1);
    expect(Number(list?.params['created[gte]'])).toBeLessThanOrEqual(startedAt - 24 * 3600 + 1);
    expect(reads).toContainEqual(
      expect.objectContaining({
        method: 'GET',
        path: `/v1/payment_intents/${auth.id}`,
        params: { 'expand[0]': 'latest_charge' },
      }),
    );
    await stripe.capture({ idempotencyKey: `cap-${auth.id}`, authorizationId: auth.id, amount: 4200 });
    expect(await stripe.findAuthorization(lookup)).toEqual(await stripe.status(auth.id));
    expect(await stripe.findAuthorization(lookup)).toMatchObject({ id: auth.id, status: 'captured' });
    // A declined authorization is found declined, as `status` reads it.
    const declinedReq = request('pm_card_chargeDeclined');
    const declined = await stripe.authorize(declinedReq);
    expect(
      await stripe.findAuthorization({
        idempotencyKey: declinedReq.idempotencyKey,
        reference: declinedReq.reference,
      }),
    ).toMatchObject({ id: declined.id, status: 'declined', failureCode: 'card_declined' });
  });

  it('finds nothing for a key no authorize used, or a key with another payment id', async () => {
    const req = request('pm_card_visa');
    await stripe.authorize(req);
    expect(
      await stripe.findAuthorization({ idempotencyKey: `test-${randomUUID()}`, reference: req.reference }),
    ).toBeUndefined();
    expect(
      await stripe.findAuthorization({
        idempotencyKey: req.idempotencyKey,
        reference: `pay_${randomUUID()}`,
      }),
    ).toBeUndefined();
    // A key that reads like a query clause is only a key.
    expect(
      await stripe.findAuthorization({
        idempotencyKey: `x' OR metadata['paysaga_payment_id']:'${req.reference}`,
        reference: req.reference,
      }),
    ).toBeUndefined();
  });

  it("finds the charge of an authorize whose answer was lost, and the List API's own failures are transient", async () => {
    const req = request('pm_card_visa');
    await failNext(1, 500, 'after');
    await expect(stripe.authorize(req)).rejects.toBeInstanceOf(GatewayUnavailableError);
    const found = await stripe.findAuthorization({
      idempotencyKey: req.idempotencyKey,
      reference: req.reference,
    });
    expect(found).toMatchObject({ status: 'authorized', amount: 4200 });
    expect((await intentAtStripe(found!.id)).status).toBe('requires_capture');
    await failNext(1, 503);
    await expect(
      stripe.findAuthorization({ idempotencyKey: req.idempotencyKey, reference: req.reference }),
    ).rejects.toBeInstanceOf(GatewayUnavailableError);
  });

  it('reads page after page until it finds the authorization, and only the last 24 hours', async () => {
    const paged = new StripeConnector({
      apiKey: 'sk_test_connector',
      webhookSecret: 'whsec_x',
      apiBase: stripeEmulatorUrl,
      lookupPageSize: 2,
    });
    const req = request('pm_card_visa');
    const auth = await stripe.authorize(req);
    // Five newer ones: it is on the third page of two at the earliest.
    for (let i = 0; i < 5; i++) await stripe.authorize(request('pm_card_visa'));
    const lookup = { idempotencyKey: req.idempotencyKey, reference: req.reference };
    const before = (await stripeRequests()).length;
    expect(await paged.findAuthorization(lookup)).toEqual(await stripe.status(auth.id));
    const pages = (await stripeRequests())
      .slice(before)
      .filter((r) => r.path === '/v1/payment_intents' && r.params.limit === '2');
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages[0]?.params).not.toHaveProperty('starting_after');
    // Each page after the last one of the page before, the window the same on every page.
    for (const [i, page] of pages.slice(1).entries()) {
      expect(page.params.starting_after).toMatch(/^pi_/);
      expect(page.params['created[gte]']).toBe(pages[i]?.params['created[gte]']);
    }
    // A day later it is out of the window: not read, not found.
    const dayLater = new StripeConnector({
      apiKey: 'sk_test_connector',
      webhookSecret: 'whsec_x',
      apiBase: stripeEmulatorUrl,
      now: () => Date.now() + 24 * 3600_000 + 60_000,
    });
    expect(await dayLater.findAuthorization(lookup)).toBeUndefined();
  });

  it('throws, never answers none, when the page bound is reached before the end of the window', async () => {
    const bounded = new StripeConnector({
      apiKey: 'sk_test_connector',
      webhookSecret: 'whsec_x',
      apiBase: stripeEmulatorUrl,
      lookupPageSize: 1,
      lookupMaxPages: 2,
    });
    const older = request('pm_card_visa');
    await stripe.authorize(older);
    const newest = request('pm_card_visa');
    for (let i = 0; i < 2; i++) await stripe.authorize(request('pm_card_visa'));
    const newestAuth = await stripe.authorize(newest);
    // Within the bound it is found...
    expect(
      await bounded.findAuthorization({ idempotencyKey: newest.idempotencyKey, reference: newest.reference }),
    ).toEqual(await stripe.status(newestAuth.id));
    // ...beyond it the answer is unknown, whether Stripe has it or not.
    for (const lookup of [
      { idempotencyKey: older.idempotencyKey, reference: older.reference },
      { idempotencyKey: `test-${randomUUID()}`, reference: `pay_${randomUUID()}` },
    ]) {
      const error = await bounded.findAuthorization(lookup).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(GatewayUnavailableError);
      expect((error as Error).message).toMatch(/lookup could not be completed/);
    }
    // With the default bound the same lookups are conclusive.
    expect(
      await stripe.findAuthorization({ idempotencyKey: older.idempotencyKey, reference: older.reference }),
    ).toMatchObject({ status: 'authorized' });
    expect(
      await stripe.findAuthorization({ idempotencyKey: `test-${randomUUID()}`, reference: older.reference }),
    ).toBeUndefined();
  });

  it('voids (cancels) an authorization, and a second void is refused as final', async () => {
    const auth = await stripe.authorize(request('pm_card_visa'));
    expect(await stripe.void({ idempotencyKey: `void-${auth.id}`, authorizationId: auth.id })).toMatchObject({
      status: 'voided',
    });
    await expect(
      stripe.void({ idempotencyKey: `void2-${auth.id}`, authorizationId: auth.id }),
    ).rejects.toBeInstanceOf(GatewayRequestError);
  });

  it('returns 3-D Secure as requires_action with the redirect URL', async () => {
    const auth = await stripe.authorize(request('pm_card_authenticationRequired'));
    expect(auth.status).toBe('requires_action');
    expect(auth.actionUrl).toBe(`${stripeEmulatorUrl}/__emulator/3ds/${auth.id}`);
  });

  it.each([
    ['pm_card_chargeDeclined', 'card_declined'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_chargeDeclinedFraudulent', 'fraud_suspected'],
    ['pm_card_chargeDeclinedLostCard', 'fraud_suspected'],
    ['pm_card_chargeDeclinedStolenCard', 'fraud_suspected'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
    ['pm_card_chargeDeclinedIncorrectCvc', 'invalid_card'],
    ['pm_card_chargeDeclinedProcessingError', 'processing_error'],
    ['pm_card_chargeDeclinedVelocityLimitExceeded', 'insufficient_funds'],
    ['pm_does_not_exist', 'invalid_card'],
  ])('declines %s (a 402 through the SDK) as %s', async (token, failureCode) => {
    const auth = await stripe.authorize(request(token));
    expect(auth).toMatchObject({ status: 'declined', failureCode, amountCaptured: 0 });
  });

  it('retries a 5xx with the same key: Stripe replays the first PaymentIntent, so one authorization', async () => {
    const req = request('pm_card_visa');
    // Stripe took the request, then the answer was lost (a 500 after the fact).
    await failNext(1, 500, 'after');
    await expect(stripe.authorize(req)).rejects.toBeInstanceOf(GatewayUnavailableError);
    const first = await stripe.authorize(req);
    const again = await stripe.authorize(req);
    expect(again.id).toBe(first.id);
    expect((await intentAtStripe(first.id)).status).toBe('requires_capture');
    await failNext(1, 429);
    await expect(stripe.status(first.id)).rejects.toBeInstanceOf(GatewayUnavailableError);
  });

  it('refuses a key Stripe does not accept as final, without the key in the error', async () => {
    const apiKey = 'sk_test_not_a_valid_looking_Key_0123456789';
    const badKey = new StripeConnector({ apiKey, webhookSecret: 'whsec_x', apiBase: stripeMockUrl });
    const error = await badKey.status('pi_1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayRequestError);
    // stripe-mock echoes the Authorization header; the connector masks it.
    expect((error as Error).message).toMatch(/authenticate/);
    expect((error as Error).message).not.toContain(apiKey);
  });

  it('every call it makes is valid against stripe-mock itself, without the emulator', async () => {
    // stripe-mock answers with its fixtures; what matters here is that it accepts each request.
    const direct = new StripeConnector({
      apiKey: 'sk_test_direct',
      webhookSecret: 'whsec_x',
      apiBase: stripeMockUrl,
    });
    await expect(direct.authorize(request('pm_card_visa'))).resolves.toMatchObject({ status: 'declined' });
    await expect(
      direct.capture({ idempotencyKey: 'd-cap', authorizationId: 'pi_1', amount: 100, currency: 'EUR' }),
    ).resolves.toBeDefined();
    await expect(direct.void({ idempotencyKey: 'd-void', authorizationId: 'pi_1' })).resolves.toBeDefined();
    await expect(
      direct.refund({ idempotencyKey: 'd-ref', authorizationId: 'pi_1', amount: 100, reason: 'r' }),
    ).resolves.toMatchObject({ status: 'succeeded' });
    await expect(direct.status('pi_1')).resolves.toBeDefined();
    // stripe-mock lists one fixture PaymentIntent, not this payment's.
    await expect(
      direct.findAuthorization({ idempotencyKey: 'd-auth', reference: 'pay_direct' }),
    ).resolves.toBeUndefined();
    // stripe-mock's SetupIntent never succeeds, and its PaymentMethod has no Customer: both failed.
    await expect(direct.saveMethod(saveRequest('pm_card_visa'))).resolves.toMatchObject({ status: 'failed' });
    await expect(direct.savedMethod({ id: 'pm_1', setupId: 'seti_1' })).resolves.toMatchObject({
      status: 'failed',
    });
    await expect(direct.savedMethod({ id: 'pm_1' })).resolves.toMatchObject({ status: 'failed' });
    await expect(direct.deleteMethod({ idempotencyKey: 'd-del', id: 'pm_1' })).resolves.toBeUndefined();
    await expect(
      direct.authorize(request('pm_1', { saved: { offSession: true, gatewayCustomerId: 'cus_1' } })),
    ).resolves.toMatchObject({ status: 'declined' });
  });

  describe('saved cards', () => {
    const webhookSecret = 'whsec_x';
    const sign = (payload: string) =>
      Stripe.webhooks.generateTestHeaderString({ payload, secret: webhookSecret });
    const webhooksOf = async (type: string) =>
      (await stripeWebhooksSent()).filter((hook) => hook.type === type).length;

    it("saves a card on a new Customer that carries Paysaga's ids only, with a confirmed off-session SetupIntent", async () => {
      const req = saveRequest('pm_card_visa');
      const saved = await stripe.saveMethod(req);
      expect(saved).toMatchObject({
        status: 'active',
        card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2034 },
      });
      // Stripe's test PaymentMethod stands for a card: the saved one is a PaymentMethod of its own.
      expect(saved.id).toMatch(/^pm_/);
      expect(saved.id).not.toBe('pm_card_visa');
      expect(saved.gatewayCustomerId).toMatch(/^cus_/);
      expect(saved.setupId).toMatch(/^seti_/);
      expect((await paymentMethodAtStripe(saved.id)).customer).toBe(saved.gatewayCustomerId);

      const requests = await stripeRequests();
      const customer = requests.find((r) => r.idempotencyKey === `${req.idempotencyKey}:customer`);
      expect(customer).toMatchObject({ method: 'POST', path: '/v1/customers' });
      expect(customer?.params).toEqual({
        'metadata[paysaga_tenant]': 'acme',
        'metadata[paysaga_customer]': req.customerId,
      });
      const setup = requests.find((r) => r.idempotencyKey === req.idempotencyKey);
      expect(setup).toMatchObject({ method: 'POST', path: '/v1/setup_intents' });
      expect(setup?.params).toMatchObject({
        customer: saved.gatewayCustomerId,
        payment_method: 'pm_card_visa',
        confirm: 'true',
        usage: 'off_session',
        return_url: req.returnUrl,
        'allowed_payment_method_types[0]': 'card',
        'metadata[paysaga_payment_method]': req.reference,
        'metadata[paysaga_tenant]': 'acme',
      });

      expect(await stripe.savedMethod({ id: saved.id, setupId: saved.setupId })).toEqual(saved);
      expect(await stripe.savedMethod({ id: saved.id })).toEqual({
        id: saved.id,
        status: 'active',
        card: saved.card,
        gatewayCustomerId: saved.gatewayCustomerId,
      });
    });

    it("reuses the customer's Stripe Customer, and a repeated save replays the first", async () => {
      const firstRequest = saveRequest('pm_card_visa');
      const first = await stripe.saveMethod(firstRequest);
      expect(await stripe.saveMethod(firstRequest)).toEqual(first);

      const req = saveRequest('pm_card_mastercard', {
        customerId: firstRequest.customerId,
        gatewayCustomerId: first.gatewayCustomerId,
      });
      const second = await stripe.saveMethod(req);
      expect(second).toMatchObject({
        status: 'active',
        gatewayCustomerId: first.gatewayCustomerId,
        card: { brand: 'mastercard', last4: '4444' },
      });
      expect(second.id).not.toBe(first.id);
      expect(await stripe.saveMethod(req)).toEqual(second);
      const requests = await stripeRequests();
      expect(
        requests.filter(
          (r) => r.path === '/v1/customers' && r.idempotencyKey?.startsWith(req.idempotencyKey),
        ),
      ).toEqual([]);
      // The first save's Customer, asked for twice with one key: one Customer.
      const customers = requests.filter(
        (r) => r.idempotencyKey === `${firstRequest.idempotencyKey}:customer`,
      );
      expect(customers).toHaveLength(2);
    });

    it('retries a lost SetupIntent answer with the same key: Stripe replays the first', async () => {
      const first = await stripe.saveMethod(saveRequest('pm_card_visa'));
      const req = saveRequest('pm_card_visa', { gatewayCustomerId: first.gatewayCustomerId });
      await failNext(1, 500, 'after');
      await expect(stripe.saveMethod(req)).rejects.toBeInstanceOf(GatewayUnavailableError);
      const saved = await stripe.saveMethod(req);
      expect(saved.status).toBe('active');
      expect(await stripe.saveMethod(req)).toEqual(saved);
    });

    it('charges a saved card off-session with its Customer, carrying the network transaction id', async () => {
      const saved = await stripe.saveMethod(saveRequest('pm_card_visa'));
      const req = savedCharge(saved, true);
      const auth = await stripe.authorize(req);
      expect(auth).toMatchObject({ status: 'authorized', card: { brand: 'visa', last4: '4242' } });
      expect(auth.networkTransactionId).toMatch(/^\d{15}$/);
      const sent = (await stripeRequests()).find((r) => r.idempotencyKey === req.idempotencyKey);
      expect(sent?.params).toMatchObject({
        customer: saved.gatewayCustomerId,
        payment_method: saved.id,
        off_session: 'true',
        confirm: 'true',
      });
      // No customer to send back anywhere.
      expect(sent?.params).not.toHaveProperty('return_url');

      const onSession = savedCharge(saved, false, { capture: true });
      expect(await stripe.authorize(onSession)).toMatchObject({ status: 'captured', amountCaptured: 4200 });
      const sentOnSession = (await stripeRequests()).find(
        (r) => r.idempotencyKey === onSession.idempotencyKey,
      );
      expect(sentOnSession?.params).toMatchObject({
        customer: saved.gatewayCustomerId,
        return_url: onSession.returnUrl,
      });
      expect(sentOnSession?.params).not.toHaveProperty('off_session');

      // Stripe refuses an attached PaymentMethod charged without its Customer.
      await expect(stripe.authorize(request(saved.id))).rejects.toBeInstanceOf(GatewayRequestError);
    });

    it('saves a 3-D Secure card once the customer authenticates; off-session Stripe still declines it authentication_required', async () => {
      const req = saveRequest('pm_card_authenticationRequired');
      const pending = await stripe.saveMethod(req);
      expect(pending).toMatchObject({
        status: 'requires_action',
        actionUrl: `${stripeEmulatorUrl}/__emulator/3ds/${pending.setupId}`,
        card: { last4: '3184' },
      });
      const ref = { id: pending.id, setupId: pending.setupId };
      expect(await stripe.savedMethod(ref)).toMatchObject({ status: 'requires_action' });
      // Attached only once the setup succeeds.
      expect((await paymentMethodAtStripe(pending.id)).customer).toBeNull();

      const sentBefore = await webhooksOf('setup_intent.succeeded');
      const setup = await authenticateSetup(pending.setupId!, 'succeeded');
      expect(await webhooksOf('setup_intent.succeeded')).toBe(sentBefore + 1);
      const active = await stripe.savedMethod(ref);
      expect(active).toMatchObject({
        id: pending.id,
        status: 'active',
        gatewayCustomerId: pending.gatewayCustomerId,
        card: { brand: 'visa', last4: '3184' },
      });
      expect(active.actionUrl).toBeUndefined();

      // Stripe's webhook, as the connector reads it: the method, by Paysaga's id.
      const payload = stripeEvent('setup_intent.succeeded', setup);
      expect(stripe.parseWebhook(Buffer.from(payload), { 'stripe-signature': sign(payload) })).toEqual([
        {
          type: 'payment_method.updated',
          eventId: expect.stringMatching(/^evt_/) as unknown,
          reference: req.reference,
          method: {
            id: pending.id,
            status: 'active',
            card: undefined,
            gatewayCustomerId: pending.gatewayCustomerId,
            setupId: pending.setupId,
          },
        },
      ]);

      // This card needs 3-D Secure on every payment, however it was saved.
      const offSession = await stripe.authorize(savedCharge(active, true));
      expect(offSession).toMatchObject({ status: 'declined', failureCode: 'authentication_required' });
      expect(await intentAtStripe(offSession.id)).toMatchObject({
        status: 'requires_payment_method',
        last_payment_error: {
          type: 'card_error',
          code: 'authentication_required',
          decline_code: 'authentication_required',
        },
      });
      expect(await stripe.authorize(savedCharge(active, false))).toMatchObject({ status: 'requires_action' });
    });

    it('charges off-session a card that needs 3-D Secure only when it is saved', async () => {
      const req = saveRequest('pm_card_authenticationRequiredOnSetup');
      const pending = await stripe.saveMethod(req);
      expect(pending.status).toBe('requires_action');
      // The customer authenticates on the page Stripe sends them to, and returns to the shop.
      const page = await fetch(pending.actionUrl!);
      expect(await page.text()).toContain('Complete authentication');
      const done = await fetch(`${pending.actionUrl}/complete`, {
        method: 'POST',
        body: new URLSearchParams({ outcome: 'succeeded' }),
        redirect: 'manual',
      });
      expect(done.status).toBe(303);
      expect(done.headers.get('location')).toBe(req.returnUrl);
      const active = await stripe.savedMethod({ id: pending.id, setupId: pending.setupId });
      expect(await stripe.authorize(savedCharge(active, true))).toMatchObject({ status: 'authorized' });
    });

    it('fails the method when 3-D Secure on setup fails, and Stripe says so', async () => {
      const pending = await stripe.saveMethod(saveRequest('pm_card_threeDSecure2Required'));
      const sentBefore = await webhooksOf('setup_intent.setup_failed');
      await authenticateSetup(pending.setupId!, 'failed');
      expect(await webhooksOf('setup_intent.setup_failed')).toBe(sentBefore + 1);
      expect(await stripe.savedMethod({ id: pending.id, setupId: pending.setupId })).toMatchObject({
        id: pending.id,
        status: 'failed',
        failureCode: 'authentication_failed',
      });
      expect((await setupIntentAtStripe(pending.setupId!)).status).toBe('requires_payment_method');
      expect((await paymentMethodAtStripe(pending.id)).customer).toBeNull();
    });

    it.each([
      ['pm_card_chargeDeclined', 'card_declined'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
      ['pm_does_not_exist', 'invalid_card'],
    ])('fails to save %s (declined on setup) as %s', async (token, failureCode) => {
      const failed = await stripe.saveMethod(saveRequest(token));
      expect(failed).toMatchObject({ status: 'failed', failureCode });
      expect(failed.gatewayCustomerId).toMatch(/^cus_/);
      if (token !== 'pm_does_not_exist') expect(failed.setupId).toMatch(/^seti_/);
    });

    it('deletes (detaches) a saved card: it reads failed, Stripe will not charge it, and deleting again is fine', async () => {
      const saved = await stripe.saveMethod(saveRequest('pm_card_visa'));
      const key = `del-${saved.id}`;
      await failNext(1, 503);
      await expect(stripe.deleteMethod({ idempotencyKey: key, id: saved.id })).rejects.toBeInstanceOf(
        GatewayUnavailableError,
      );
      await stripe.deleteMethod({ idempotencyKey: key, id: saved.id });
      expect((await paymentMethodAtStripe(saved.id)).customer).toBeNull();
      expect(await stripe.savedMethod({ id: saved.id })).toMatchObject({
        status: 'failed',
        failureCode: 'invalid_card',
      });
      expect(await stripe.savedMethod({ id: saved.id, setupId: saved.setupId })).toMatchObject({
        status: 'failed',
      });

      await expect(stripe.deleteMethod({ idempotencyKey: key, id: saved.id })).resolves.toBeUndefined();
      await expect(
        stripe.deleteMethod({ idempotencyKey: `del2-${saved.id}`, id: saved.id }),
      ).resolves.toBeUndefined();
      await expect(
        stripe.deleteMethod({ idempotencyKey: `del3-${saved.id}`, id: 'pm_never_issued' }),
      ).resolves.toBeUndefined();

      // Stripe refuses a detached PaymentMethod for good: a card that can no longer be charged.
      expect(await stripe.authorize(savedCharge(saved, true))).toMatchObject({
        status: 'declined',
        failureCode: 'invalid_card',
      });
    });
  });
});
