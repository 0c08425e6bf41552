/**
 * The payment gateway contract (test/contract/payment-gateway.ts) for each real connector: the
 * sandbox connector against a sandbox server of its own, and the Stripe connector against
 * stripe-mock behind the Stripe emulator of the test stack.
 */
import Stripe from 'stripe';
import { describe } from 'vitest';
import { createSandboxServer } from '../../sandbox/server.js';
import { signWebhook } from '../../sandbox/signature.js';
import { SandboxConnector } from '../../src/gateway/connectors/sandbox/connector.js';
import { StripeConnector } from '../../src/gateway/connectors/stripe/connector.js';
import { SIGNATURE_HEADER } from '../../src/gateway/webhook-signature.js';
import { describeGateway } from '../contract/payment-gateway.js';
import { authenticate, failNext, intentAtStripe, stripeEmulatorUrl, stripeEvent } from '../support/stripe.js';

/** Nothing listens on port 1. */
const NOWHERE = 'http://127.0.0.1:1';

describeGateway('sandbox', {
  cards: {
    approved: 'tok_test_4242',
    declined: [
      { token: 'tok_test_0000', failureCode: 'card_declined' },
      { token: 'tok_test_1111', failureCode: 'insufficient_funds' },
      { token: 'tok_test_2222', failureCode: 'expired_card' },
      { token: 'tok_test_9995', failureCode: 'fraud_suspected' },
    ],
    unknown: 'tok_never_issued',
    threeDS: 'tok_test_3333',
  },
  capabilities: { threeDS: true },
  currency: 'EUR',
  async start() {
    const webhookSecret = 'whsec_contract';
    const sandbox = await createSandboxServer({ port: 0, webhookSecret });
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${sandbox.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`sandbox ${path}: ${response.status}`);
    };
    return {
      gateway: new SandboxConnector({ baseUrl: sandbox.url, webhookSecret }),
      unreachable: new SandboxConnector({ baseUrl: NOWHERE, webhookSecret, timeoutMs: 500 }),
      loseNextAnswer: async () => void sandbox.setFaults({ timeoutAfterChargeNext: 1, hangMs: 0 }),
      completeChallenge: (id, outcome) => post(`/3ds/${id}/complete`, { outcome }),
      async signedWebhook(id, reference) {
        const authorization: unknown = await (await fetch(`${sandbox.url}/authorizations/${id}`)).json();
        const body = JSON.stringify({
          id: `evt_contract_${id}`,
          type: 'authorization.updated',
          data: { authorization, reference },
        });
        const signature = signWebhook(webhookSecret, body, Math.floor(Date.now() / 1000));
        return { body: Buffer.from(body), headers: { [SIGNATURE_HEADER]: signature } };
      },
      stop: () => sandbox.close(),
    };
  },
});

describe.skipIf(!stripeEmulatorUrl)('Stripe, on a machine that runs stripe-mock', () => {
  describeGateway('Stripe', {
    // Stripe's documented test PaymentMethods, which a Stripe test account answers the same way.
    cards: {
      approved: 'pm_card_visa',
      declined: [
        { token: 'pm_card_chargeDeclined', failureCode: 'card_declined' },
        { token: 'pm_card_chargeDeclinedInsufficientFunds', failureCode: 'insufficient_funds' },
        { token: 'pm_card_chargeDeclinedExpiredCard', failureCode: 'expired_card' },
        { token: 'pm_card_chargeDeclinedFraudulent', failureCode: 'fraud_suspected' },
      ],
      unknown: 'pm_never_issued',
      threeDS: 'pm_card_authenticationRequired',
    },
    capabilities: { threeDS: true },
    currency: 'EUR',
    async start() {
      const webhookSecret = 'whsec_contract';
      const options = { apiKey: 'sk_test_contract', webhookSecret };
      return {
        gateway: new StripeConnector({ ...options, apiBase: stripeEmulatorUrl }),
        unreachable: new StripeConnector({ ...options, apiBase: NOWHERE, timeoutMs: 500 }),
        // Stripe makes the PaymentIntent, then the answer is lost (a 500 after the fact).
        loseNextAnswer: async () => void (await failNext(1, 500, 'after')),
        completeChallenge: async (id, outcome) =>
          void (await authenticate(id, outcome === 'succeed' ? 'succeeded' : 'failed')),
        async signedWebhook(id) {
          // The PaymentIntent carries the payment id in its metadata, as Stripe's webhooks do.
          const payload = stripeEvent('payment_intent.amount_capturable_updated', await intentAtStripe(id));
          const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: webhookSecret });
          return { body: Buffer.from(payload), headers: { 'stripe-signature': signature } };
        },
      };
    },
  });
});
