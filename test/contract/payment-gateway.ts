/**
 * What every payment connector owes Paysaga through the port (src/gateway/port.ts), as one suite:
 * `describeGateway(name, factory)` runs it against a connector and the gateway behind it. The
 * sandbox and Stripe connectors run it against their servers
 * (test/integration/gateway-contract.test.ts), and so does the in-memory gateway the workflow
 * tests use (test/unit/in-memory-gateway.test.ts); a new connector gets the whole suite by
 * writing one factory.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Currency } from '../../src/domain/money.js';
import type { FailureCode } from '../../src/domain/payment.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { Authorization, AuthorizeRequest, PaymentGateway } from '../../src/gateway/port.js';
import { WebhookSignatureError } from '../../src/gateway/webhook-signature.js';

/** A webhook body as the gateway sends it, and the headers that carry its signature. */
export interface SignedWebhook {
  body: Buffer;
  headers: Record<string, string>;
}

/** A running gateway and the levers a test pulls on it, as a customer or the network would. */
export interface GatewayHarness {
  /** The connector under test, talking to the gateway. */
  gateway: PaymentGateway;
  /** The same connector pointed at an address nothing answers at. */
  unreachable: PaymentGateway;
  /** The gateway performs the next authorization, then its answer is lost on the way back. */
  loseNextAnswer(): Promise<void>;
  /** The customer finishes (or fails) the 3-D Secure challenge of an authorization. */
  completeChallenge?(authorizationId: string, outcome: 'succeed' | 'fail'): Promise<void>;
  /**
   * The gateway's own webhook about an authorization (made for `reference`), signed with the
   * secret the connector was given.
   */
  signedWebhook(authorizationId: string, reference: string): Promise<SignedWebhook>;
  stop?(): Promise<void>;
}

export interface GatewayFactory {
  /** The gateway's test cards (tokens or PaymentMethods) and the outcome each promises. */
  cards: {
    approved: string;
    declined: readonly { token: string; failureCode: FailureCode }[];
    /** A token the gateway never issued. */
    unknown: string;
    /** Asks for 3-D Secure; required when `capabilities.threeDS` is set. */
    threeDS?: string;
  };
  /** What the connector offers beyond the core; a capability it lacks is declared, not skipped. */
  capabilities: { threeDS: boolean };
  /** A currency the gateway takes in any amount of minor units. */
  currency: Currency;
  /** Starts or reaches the gateway; called once, before the suite. */
  start(): Promise<GatewayHarness>;
}

export function describeGateway(name: string, factory: GatewayFactory): void {
  const offered = factory.capabilities.threeDS ? '3-D Secure' : 'no 3-D Secure';
  describe(`the ${name} connector honours the payment gateway port (${offered})`, () => {
    let harness: GatewayHarness;
    const gateway = () => harness.gateway;

    beforeAll(async () => {
      harness = await factory.start();
    });
    afterAll(async () => {
      await harness?.stop?.();
    });

    const key = (step: string) => `contract-${step}-${randomUUID()}`;
    const request = (token: string, extra: Partial<AuthorizeRequest> = {}): AuthorizeRequest => ({
      idempotencyKey: key('authorize'),
      token,
      amount: 2000,
      currency: factory.currency,
      reference: `pay_${randomUUID().replaceAll('-', '')}`,
      capture: false,
      returnUrl: 'https://shop.example/return',
      ...extra,
    });
    const authorized = async (extra: Partial<AuthorizeRequest> = {}): Promise<Authorization> => {
      const auth = await gateway().authorize(request(factory.cards.approved, extra));
      expect(auth.status).toBe(extra.capture ? 'captured' : 'authorized');
      return auth;
    };
    /** A refusal the gateway made for good: a `GatewayRequestError`, never one Temporal retries. */
    const refused = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(GatewayRequestError);
    };

    describe('authorize', () => {
      it('authorizes a good card without capturing it, under the gateway reference it answers', async () => {
        const auth = await gateway().authorize(request(factory.cards.approved));
        expect(auth).toMatchObject({
          status: 'authorized',
          amount: 2000,
          amountCaptured: 0,
          amountRefunded: 0,
          currency: factory.currency,
        });
        expect(auth.id).not.toBe('');
        expect(auth.failureCode).toBeUndefined();
        expect(await gateway().status(auth.id)).toMatchObject({
          id: auth.id,
          status: 'authorized',
          amount: 2000,
        });
      });

      it('charges a good card at once when asked for a sale', async () => {
        const auth = await gateway().authorize(request(factory.cards.approved, { capture: true }));
        expect(auth).toMatchObject({ status: 'captured', amount: 2000, amountCaptured: 2000 });
        expect(await gateway().status(auth.id)).toMatchObject({ status: 'captured', amountCaptured: 2000 });
      });

      it.each(factory.cards.declined)(
        'declines $token with $failureCode as a value, not a thrown error',
        async ({ token, failureCode }) => {
          const auth = await gateway().authorize(request(token, { capture: true }));
          expect(auth).toMatchObject({ status: 'declined', failureCode, amountCaptured: 0 });
          expect(auth.failureMessage).toEqual(expect.any(String));
        },
      );

      it('declines a token the gateway never issued as invalid_card', async () => {
        const auth = await gateway().authorize(request(factory.cards.unknown));
        expect(auth).toMatchObject({ status: 'declined', failureCode: 'invalid_card', amountCaptured: 0 });
      });

      it('answers the same idempotency key with the same authorization, and charges once', async () => {
        const sale = request(factory.cards.approved, { capture: true });
        const first = await gateway().authorize(sale);
        const again = await gateway().authorize(sale);
        expect(again.id).toBe(first.id);
        expect(await gateway().status(first.id)).toMatchObject({ amountCaptured: 2000 });
        // Had the second call charged again, the first sale would not be the whole of it.
        const other = await gateway().authorize({ ...sale, idempotencyKey: key('authorize') });
        expect(other.id).not.toBe(first.id);
      });

      it('a retry with the same key after a lost answer finds the authorization the gateway made', async () => {
        const sale = request(factory.cards.approved, { capture: true });
        await harness.loseNextAnswer();
        const lost = await gateway()
          .authorize(sale)
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(lost).toBeInstanceOf(GatewayUnavailableError);
        const retried = await gateway().authorize(sale);
        expect(retried).toMatchObject({ status: 'captured', amountCaptured: 2000 });
        expect(await gateway().authorize(sale)).toMatchObject({ id: retried.id });
      });

      it('refuses to read an authorization it never made, for good', async () => {
        await refused(gateway().status(`auth_missing_${randomUUID().replaceAll('-', '')}`));
      });
    });

    describe('capture and void', () => {
      it('captures part of an authorization, once for one key', async () => {
        const auth = await authorized();
        const capture = { idempotencyKey: key('capture'), authorizationId: auth.id, amount: 1500 };
        const captured = await gateway().capture({ ...capture, currency: factory.currency });
        expect(captured).toMatchObject({
          id: auth.id,
          status: 'captured',
          amount: 2000,
          amountCaptured: 1500,
        });
        expect(await gateway().capture({ ...capture, currency: factory.currency })).toMatchObject({
          amountCaptured: 1500,
        });
        expect(await gateway().status(auth.id)).toMatchObject({ status: 'captured', amountCaptured: 1500 });
      });

      it('captures the whole authorization', async () => {
        const auth = await authorized();
        expect(
          await gateway().capture({
            idempotencyKey: key('capture'),
            authorizationId: auth.id,
            amount: 2000,
            currency: factory.currency,
          }),
        ).toMatchObject({ status: 'captured', amountCaptured: 2000 });
      });

      it('refuses to capture more than was authorized', async () => {
        const auth = await authorized();
        await refused(
          gateway().capture({
            idempotencyKey: key('capture'),
            authorizationId: auth.id,
            amount: 2001,
            currency: factory.currency,
          }),
        );
        expect(await gateway().status(auth.id)).toMatchObject({ status: 'authorized', amountCaptured: 0 });
      });

      it('voids an authorization, after which it cannot be captured', async () => {
        const auth = await authorized();
        const voided = await gateway().void({ idempotencyKey: key('void'), authorizationId: auth.id });
        expect(voided).toMatchObject({ id: auth.id, status: 'voided', amountCaptured: 0 });
        expect(await gateway().status(auth.id)).toMatchObject({ status: 'voided' });
        await refused(
          gateway().capture({
            idempotencyKey: key('capture'),
            authorizationId: auth.id,
            amount: 2000,
            currency: factory.currency,
          }),
        );
      });
    });

    describe('refunds', () => {
      const refund = (authorizationId: string, amount: number, idempotencyKey = key('refund')) =>
        gateway().refund({ idempotencyKey, authorizationId, amount, reason: 'requested_by_customer' });

      it('refunds part of a charge, then the rest, and refuses a refund over what is left', async () => {
        const sale = await authorized({ capture: true });
        const part = await refund(sale.id, 500);
        expect(part).toMatchObject({ authorizationId: sale.id, status: 'succeeded', amount: 500 });
        expect(part.id).not.toBe('');
        await refused(refund(sale.id, 1501));
        expect(await refund(sale.id, 1500)).toMatchObject({ status: 'succeeded', amount: 1500 });
        expect(await gateway().status(sale.id)).toMatchObject({ amountCaptured: 2000, amountRefunded: 2000 });
        await refused(refund(sale.id, 1));
      });

      it('answers the same idempotency key with the same refund, and refunds once', async () => {
        const sale = await authorized({ capture: true });
        const idempotencyKey = key('refund');
        const first = await refund(sale.id, 800, idempotencyKey);
        const again = await refund(sale.id, 800, idempotencyKey);
        expect(again.id).toBe(first.id);
        expect(await gateway().status(sale.id)).toMatchObject({ amountRefunded: 800 });
        // Had the second call refunded again, only 400 would be left.
        expect(await refund(sale.id, 1200)).toMatchObject({ status: 'succeeded', amount: 1200 });
      });

      it('refunds no more than was captured of a partial capture', async () => {
        const auth = await authorized();
        await gateway().capture({
          idempotencyKey: key('capture'),
          authorizationId: auth.id,
          amount: 1200,
          currency: factory.currency,
        });
        await refused(refund(auth.id, 1201));
        expect(await refund(auth.id, 1200)).toMatchObject({ status: 'succeeded', amount: 1200 });
      });

      it('refuses to refund an authorization nothing was captured of', async () => {
        const auth = await authorized();
        await refused(refund(auth.id, 100));
      });
    });

    if (factory.capabilities.threeDS) {
      describe('3-D Secure', () => {
        const challenged = async (capture: boolean) => {
          const token = factory.cards.threeDS;
          if (!token || !harness.completeChallenge)
            throw new Error(`${name} declares 3-D Secure: give its test card and completeChallenge`);
          const auth = await gateway().authorize(request(token, { capture }));
          expect(auth).toMatchObject({ status: 'requires_action', amountCaptured: 0 });
          expect(auth.actionUrl).toMatch(/^https?:\/\//);
          expect(await gateway().status(auth.id)).toMatchObject({ status: 'requires_action' });
          return { auth, complete: harness.completeChallenge.bind(harness) };
        };

        it('asks for the customer, then authorizes once the challenge is passed', async () => {
          const { auth, complete } = await challenged(false);
          await complete(auth.id, 'succeed');
          expect(await gateway().status(auth.id)).toMatchObject({ status: 'authorized', amount: 2000 });
        });

        it('captures a sale once the challenge is passed', async () => {
          const { auth, complete } = await challenged(true);
          await complete(auth.id, 'succeed');
          expect(await gateway().status(auth.id)).toMatchObject({ status: 'captured', amountCaptured: 2000 });
        });

        it('declines with authentication_failed when the challenge fails', async () => {
          const { auth, complete } = await challenged(false);
          await complete(auth.id, 'fail');
          expect(await gateway().status(auth.id)).toMatchObject({
            status: 'declined',
            failureCode: 'authentication_failed',
            amountCaptured: 0,
          });
        });

        it('voids an authorization still waiting for the customer', async () => {
          const { auth } = await challenged(false);
          expect(
            await gateway().void({ idempotencyKey: key('void'), authorizationId: auth.id }),
          ).toMatchObject({ status: 'voided' });
        });
      });
    }

    describe('webhooks', () => {
      const signedAbout = async () => {
        const req = request(factory.cards.approved);
        const auth = await gateway().authorize(req);
        return {
          auth,
          reference: req.reference,
          webhook: await harness.signedWebhook(auth.id, req.reference),
        };
      };
      const signatureError = async (body: Buffer, headers: Record<string, string>) => {
        try {
          await gateway().parseWebhook(body, headers);
        } catch (error) {
          return error;
        }
        return undefined;
      };

      it('reads a well-signed webhook as the authorization it is about', async () => {
        const { auth, reference, webhook } = await signedAbout();
        expect(await gateway().parseWebhook(webhook.body, webhook.headers)).toEqual([
          expect.objectContaining({
            type: 'authorization.updated',
            reference,
            authorization: expect.objectContaining({ id: auth.id, status: 'authorized' }) as unknown,
          }),
        ]);
      });

      it('refuses a tampered body', async () => {
        const { webhook } = await signedAbout();
        const tampered = Buffer.from(webhook.body.toString('utf8').replace('2000', '2001'));
        expect(tampered.equals(webhook.body)).toBe(false);
        expect(await signatureError(tampered, webhook.headers)).toBeInstanceOf(WebhookSignatureError);
      });

      it('refuses a body whose signature headers are missing', async () => {
        const { webhook } = await signedAbout();
        expect(await signatureError(webhook.body, {})).toBeInstanceOf(WebhookSignatureError);
      });
    });

    describe('health', () => {
      it('answers a ping while the gateway is up', async () => {
        await expect(gateway().ping()).resolves.toBeUndefined();
      });

      it('fails a ping, and every call, as unavailable when nothing answers', async () => {
        await expect(harness.unreachable.ping()).rejects.toThrow();
        await expect(harness.unreachable.authorize(request(factory.cards.approved))).rejects.toBeInstanceOf(
          GatewayUnavailableError,
        );
      });
    });
  });
}
