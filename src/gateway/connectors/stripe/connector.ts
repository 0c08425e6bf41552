import Stripe from 'stripe';
import { GatewayRequestError, GatewayUnavailableError } from '../../errors.js';
import { gatewayIdempotencyKeyFor } from '../../idempotency-key.js';
import type {
  Authorization,
  AuthorizationLookupRequest,
  AuthorizeRequest,
  CaptureRequest,
  CheckoutSessionRequest,
  DeleteMethodRequest,
  ExpireCheckoutSessionRequest,
  GatewayCheckoutSession,
  GatewayRefund,
  GatewaySavedMethod,
  PaymentGateway,
  RefundRequest,
  SavedMethodRef,
  SaveMethodRequest,
  VoidRequest,
  WebhookEvent,
} from '../../port.js';
import { WebhookSignatureError } from '../../webhook-signature.js';
import {
  AUTHORIZATION_LOOKUP_WINDOW_MS,
  fromStripeCurrency,
  isAlreadyDetached,
  isAuthorizationFor,
  PAYMENT_ID_METADATA,
  toAuthorization,
  toAuthorizationListParams,
  toAuthorizeOutcome,
  toCaptureParams,
  toCheckoutSessionParams,
  toCustomerParams,
  toGatewayCheckoutSession,
  toGatewayError,
  toPaymentIntentParams,
  toRefund,
  toRefundParams,
  toSavedMethod,
  toSavedMethodFromPaymentMethod,
  toSaveMethodOutcome,
  toSetupIntentParams,
  toWebhookEvents,
  type StripeErrorLike,
} from './transformers.js';

export interface StripeConnectorOptions {
  /** The tenant's secret key, `sk_test_...` or `sk_live_...` (or a restricted `rk_` key). */
  apiKey: string;
  /** The signing secret of the tenant's webhook endpoint, `whsec_...`. */
  webhookSecret: string;
  /** Where the API is: Stripe itself unless set (stripe-mock in the tests). */
  apiBase?: string | undefined;
  /** Per request. */
  timeoutMs?: number;
  webhookToleranceSec?: number;
  /** Clock for webhook timestamp checks, Checkout expiry and the lookup's window, in milliseconds. */
  now?: () => number;
  /** PaymentIntents per page of `findAuthorization`'s List pass: 100 (Stripe's most) unless set. */
  lookupPageSize?: number;
  /**
   * Pages `findAuthorization` reads before it gives up (unknown, not "none"): 50 unless set, so
   * at most 5,000 PaymentIntents made in the lookup window.
   */
  lookupMaxPages?: number;
}

/**
 * Stripe through its official SDK: a PaymentIntent per authorization (manual capture unless it
 * is a sale), captures, cancels as voids, Refunds, and the PaymentIntent re-read for status;
 * saved cards as a SetupIntent on a Customer, detached to delete them.
 * Every write carries the workflow's idempotency key as Stripe's `Idempotency-Key`, and the SDK
 * never retries on its own: Temporal retries the activity with the same key, and Stripe replays
 * the first answer. Every translation lives in transformers.ts.
 */
export class StripeConnector implements PaymentGateway {
  readonly name = 'stripe';
  private readonly stripe: Stripe;
  private lastPing: { at: number; error?: Error } | undefined;

  constructor(private readonly options: StripeConnectorOptions) {
    const base = options.apiBase ? new URL(options.apiBase) : undefined;
    this.stripe = new Stripe(options.apiKey, {
      maxNetworkRetries: 0,
      timeout: options.timeoutMs ?? 10_000,
      telemetry: false,
      appInfo: { name: 'Paysaga' },
      ...(base
        ? {
            host: base.hostname,
            port: base.port || (base.protocol === 'http:' ? 80 : 443),
            protocol: base.protocol === 'http:' ? 'http' : 'https',
          }
        : {}),
    });
  }

  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const params = toPaymentIntentParams(request);
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.stripe.paymentIntents.create(params, {
        idempotencyKey: request.idempotencyKey,
      });
    } catch (error) {
      return toAuthorizeOutcome(asStripeError(error), request);
    }
    // `processing` has no outcome yet: read it again now, and if it still has none the activity
    // fails, Temporal retries, and the same key brings back the same PaymentIntent.
    if (intent.status === 'processing') intent = await this.retrieve(intent.id);
    return toAuthorization(intent);
  }

  async capture(request: CaptureRequest): Promise<Authorization> {
    // Older activity tasks carry no currency: the PaymentIntent has it.
    const currency =
      request.currency ?? fromStripeCurrency((await this.retrieve(request.authorizationId)).currency);
    const params = toCaptureParams(request.amount, currency);
    const intent = await this.call(() =>
      this.stripe.paymentIntents.capture(request.authorizationId, params, {
        idempotencyKey: request.idempotencyKey,
      }),
    );
    return toAuthorization(intent);
  }

  async void(request: VoidRequest): Promise<Authorization> {
    const intent = await this.call(() =>
      this.stripe.paymentIntents.cancel(
        request.authorizationId,
        { expand: ['latest_charge'] },
        { idempotencyKey: request.idempotencyKey },
      ),
    );
    return toAuthorization(intent);
  }

  async refund(request: RefundRequest): Promise<GatewayRefund> {
    // The PaymentIntent names the currency (for Stripe's units) and Paysaga's payment id, which
    // the refund's metadata carries so its webhooks can be traced back.
    const intent = await this.retrieve(request.authorizationId);
    const params = toRefundParams(
      request,
      fromStripeCurrency(intent.currency),
      intent.metadata?.[PAYMENT_ID_METADATA],
    );
    const refund = await this.call(() =>
      this.stripe.refunds.create(params, { idempotencyKey: request.idempotencyKey }),
    );
    return toRefund(refund);
  }

  async status(authorizationId: string): Promise<Authorization> {
    return toAuthorization(await this.retrieve(authorizationId));
  }

  /**
   * The PaymentIntent an `authorize` with this key made for this payment (both are in its
   * metadata), read as `status` reads it; undefined only when Stripe has none. A read: nothing is
   * created. It decides whether a payment whose answer was lost may be charged elsewhere, so
   * "none" has to be conclusive.
   *
   * Hence the List API, not Search: Search is eventually consistent (a new PaymentIntent is
   * searchable up to a minute later, https://docs.stripe.com/search#data-freshness), and this
   * lookup comes seconds after the lost answer. The List API is strongly consistent: every
   * PaymentIntent made in the lookup window (`AUTHORIZATION_LOOKUP_WINDOW_MS`) is read, newest
   * first, page after page until the one is found; one made moments ago is on the first page.
   * "None" only once the whole window is read: an account with more than `lookupMaxPages` pages
   * in it throws `GatewayUnavailableError` instead (the outcome is unknown, and the payment stays
   * on Stripe rather than risk a second charge), as does any page Stripe fails to answer.
   */
  async findAuthorization(lookup: AuthorizationLookupRequest): Promise<Authorization | undefined> {
    const now = (this.options.now ?? Date.now)();
    const pageSize = this.options.lookupPageSize ?? 100;
    const maxPages = this.options.lookupMaxPages ?? 50;
    let startingAfter: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const list = await this.call(() =>
        this.stripe.paymentIntents.list(toAuthorizationListParams(now, pageSize, startingAfter)),
      );
      const intent = list.data.find((candidate) => isAuthorizationFor(candidate, lookup));
      // Read again with its charge, as `status` reads it: the answer is `status`'s.
      if (intent) return this.status(intent.id);
      if (!list.has_more) return undefined;
      const last = list.data.at(-1);
      if (!last) break;
      startingAfter = last.id;
    }
    const since = new Date(now - AUTHORIZATION_LOOKUP_WINDOW_MS).toISOString();
    throw new GatewayUnavailableError(
      `The Stripe authorization lookup could not be completed: the ${maxPages * pageSize} newest PaymentIntents created since ${since} hold none of this payment's, and there are more`,
    );
  }

  /** A Stripe Checkout Session (Stripe's hosted page) for a Paysaga checkout session. */
  async createCheckoutSession(request: CheckoutSessionRequest): Promise<GatewayCheckoutSession> {
    const params = toCheckoutSessionParams(request, (this.options.now ?? Date.now)());
    const session = await this.call(() =>
      this.stripe.checkout.sessions.create(params, { idempotencyKey: request.idempotencyKey }),
    );
    return toGatewayCheckoutSession(session);
  }

  /**
   * Expires an open Checkout Session. Stripe refuses to expire one that has ended (paid, or
   * expired by its own clock or a webhook's path): that one is read and answered as it is.
   */
  async expireCheckoutSession(request: ExpireCheckoutSessionRequest): Promise<GatewayCheckoutSession> {
    try {
      const session = await this.call(() =>
        this.stripe.checkout.sessions.expire(
          request.sessionId,
          {},
          { idempotencyKey: request.idempotencyKey },
        ),
      );
      return toGatewayCheckoutSession(session);
    } catch (error) {
      if (!(error instanceof GatewayRequestError)) throw error;
      const current = toGatewayCheckoutSession(
        await this.call(() => this.stripe.checkout.sessions.retrieve(request.sessionId)),
      );
      if (current.status !== 'open') return current;
      throw error;
    }
  }

  /**
   * Saves a card: a Stripe Customer first unless the customer has one from an earlier save (its
   * own key, so a retry finds the same Customer), then a confirmed SetupIntent. A card that
   * declines on setup is a failed method, not an error.
   */
  async saveMethod(request: SaveMethodRequest): Promise<GatewaySavedMethod> {
    const gatewayCustomerId =
      request.gatewayCustomerId ??
      (
        await this.call(() =>
          this.stripe.customers.create(toCustomerParams(request), {
            idempotencyKey: gatewayIdempotencyKeyFor(`${request.idempotencyKey}:customer`),
          }),
        )
      ).id;
    let setup: Stripe.SetupIntent;
    try {
      setup = await this.stripe.setupIntents.create(toSetupIntentParams(request, gatewayCustomerId), {
        idempotencyKey: request.idempotencyKey,
      });
    } catch (error) {
      return toSaveMethodOutcome(asStripeError(error), gatewayCustomerId);
    }
    return toSavedMethod(setup);
  }

  /**
   * The SetupIntent re-read while it may still wait for 3-D Secure (its outcome, and whether its
   * PaymentMethod is still attached); without one, the PaymentMethod itself.
   */
  async savedMethod(ref: SavedMethodRef): Promise<GatewaySavedMethod> {
    const { setupId } = ref;
    if (setupId) {
      return toSavedMethod(
        await this.call(() => this.stripe.setupIntents.retrieve(setupId, { expand: ['payment_method'] })),
      );
    }
    return toSavedMethodFromPaymentMethod(await this.call(() => this.stripe.paymentMethods.retrieve(ref.id)));
  }

  /** Detaches the PaymentMethod from its Customer: Stripe never charges it again. */
  async deleteMethod(request: DeleteMethodRequest): Promise<void> {
    try {
      await this.stripe.paymentMethods.detach(request.id, {}, { idempotencyKey: request.idempotencyKey });
    } catch (error) {
      const stripeError = asStripeError(error);
      if (isAlreadyDetached(stripeError)) return;
      throw toGatewayError(stripeError);
    }
  }

  /**
   * Stripe answers an authenticated read (the account's balance). Remembered for 30 s, so a
   * readiness probe every few seconds costs Stripe one request per half minute.
   */
  async ping(): Promise<void> {
    const now = Date.now();
    if (this.lastPing && now - this.lastPing.at < 30_000) {
      if (this.lastPing.error) throw this.lastPing.error;
      return;
    }
    try {
      await this.call(() => this.stripe.balance.retrieve());
      this.lastPing = { at: now };
    } catch (error) {
      this.lastPing = { at: now, error: error as Error };
      throw error;
    }
  }

  /**
   * Verified with the SDK's `constructEvent` over the raw bytes (the signature covers them, and a
   * timestamp outside the tolerance is refused), then mapped; events that move nothing map to none.
   */
  parseWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): WebhookEvent[] {
    const value = headers['stripe-signature'];
    const header = Array.isArray(value) ? value[0] : value;
    if (header === undefined || header === '')
      throw new WebhookSignatureError('missing_header', 'Missing Stripe-Signature header');
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(
        rawBody,
        header,
        this.options.webhookSecret,
        this.options.webhookToleranceSec,
        undefined,
        this.options.now ? Math.floor(this.options.now() / 1000) : undefined,
      );
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError)
        throw new WebhookSignatureError('signature_mismatch', error.message);
      throw new GatewayRequestError('invalid_webhook_payload', 'Webhook body is not a Stripe event', 400);
    }
    return toWebhookEvents(event);
  }

  private retrieve(id: string): Promise<Stripe.PaymentIntent> {
    return this.call(() => this.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toGatewayError(asStripeError(error));
    }
  }
}

function asStripeError(error: unknown): StripeErrorLike {
  if (error instanceof Stripe.errors.StripeError) return error;
  // Not from the SDK's request path (a bug or a runtime fault): no answer was read, so the
  // outcome is unknown and the activity retries.
  return { type: 'StripeConnectionError', message: error instanceof Error ? error.message : String(error) };
}
