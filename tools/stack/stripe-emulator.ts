/**
 * Stripe for the tests and for `STRIPE_MOCK=1 npm run dev`: every request goes first to stripe-mock, Stripe's OpenAPI-driven mock,
 * so each one the connector sends is checked against Stripe's real API (a refusal is returned
 * as is, and recorded for the tests to assert there were none). stripe-mock is stateless, so
 * the answer the connector gets is stripe-mock's body with the state of a PaymentIntent or
 * Refund laid over it, declines from a recorded Stripe error body, and Stripe's idempotency:
 * the same key replays the first answer. Stripe's documented test PaymentMethods choose the
 * outcome (`pm_card_visa` authorizes, `pm_card_authenticationRequired` needs 3-D Secure,
 * `pm_card_chargeDeclinedInsufficientFunds` declines, ...), the same ones that work against a
 * Stripe test account.
 *
 * The customer's 3-D Secure page is `next_action.redirect_to_url.url` (`/__emulator/3ds/{id}`):
 * its buttons finish or fail the challenge, and the emulator then sends Stripe's webhook, signed
 * like Stripe's, to the URL set with `sendWebhooksTo`. Tests also drive it directly through
 * `/__emulator/...` on the same port: finish 3-D Secure without a webhook, settle a pending
 * refund, fail the next requests, read the request log. It keeps Checkout Sessions (create,
 * retrieve, expire) and pays or expires one as Stripe's page or clock would, sending
 * `checkout.session.completed` / `.expired`. A refund whose Paysaga reason is
 * `settle later` stays pending until it is settled that way. The recorded bodies are in
 * test/fixtures/stripe/.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Stripe from 'stripe';
import { PROJECT_ROOT } from '../../src/project-root.js';

type Json = Record<string, unknown>;

const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'stripe');
const fixture = (name: string): Json =>
  JSON.parse(readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Json;

/** Stripe's test PaymentMethods that decline, with the error code and issuer decline code Stripe sends. */
export const DECLINING_TEST_CARDS: Record<string, { code: string; declineCode?: string; message: string }> = {
  pm_card_chargeDeclined: {
    code: 'card_declined',
    declineCode: 'generic_decline',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedInsufficientFunds: {
    code: 'card_declined',
    declineCode: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  pm_card_chargeDeclinedFraudulent: {
    code: 'card_declined',
    declineCode: 'fraudulent',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedLostCard: {
    code: 'card_declined',
    declineCode: 'lost_card',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedStolenCard: {
    code: 'card_declined',
    declineCode: 'stolen_card',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedExpiredCard: { code: 'expired_card', message: 'Your card has expired.' },
  pm_card_chargeDeclinedIncorrectCvc: {
    code: 'incorrect_cvc',
    message: "Your card's security code is incorrect.",
  },
  pm_card_chargeDeclinedProcessingError: {
    code: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
  },
  pm_card_chargeDeclinedVelocityLimitExceeded: {
    code: 'card_declined',
    declineCode: 'card_velocity_exceeded',
    message:
      'Your card was declined for making repeated attempts too frequently or exceeding its amount limit.',
  },
};
const THREE_DS_CARDS = new Set(['pm_card_authenticationRequired', 'pm_card_threeDSecure2Required']);

interface Intent {
  id: string;
  amount: number;
  currency: string;
  captureMethod: string;
  status: string;
  amountCapturable: number;
  amountReceived: number;
  amountRefunded: number;
  metadata: Record<string, string>;
  returnUrl: string | undefined;
  lastPaymentError: Json | null;
  chargeId: string | null;
}

interface CheckoutState {
  id: string;
  amount: number;
  currency: string;
  status: 'open' | 'complete' | 'expired';
  params: Record<string, string>;
  metadata: Record<string, string>;
  /** The metadata its PaymentIntent gets (`payment_intent_data[metadata]`). */
  intentMetadata: Record<string, string>;
  intentId: string | null;
}

interface RefundState {
  id: string;
  intentId: string;
  amount: number;
  currency: string;
  status: string;
  metadata: Record<string, string>;
  failureReason: string | null;
}

export interface LoggedRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  params: Record<string, string>;
}

interface Answer {
  status: number;
  body: Json;
}

export interface StripeEmulator {
  url: string;
  /** Where Stripe's webhooks go after a customer finishes 3-D Secure on the emulator's page. */
  sendWebhooksTo(url: string, secret: string): void;
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

export async function startStripeEmulator(stripeMockUrl: string): Promise<StripeEmulator> {
  const intents = new Map<string, Intent>();
  const refunds = new Map<string, RefundState>();
  const checkouts = new Map<string, CheckoutState>();
  const replays = new Map<string, Answer>();
  const rejections: { method: string; path: string; status: number; body: unknown }[] = [];
  const log: LoggedRequest[] = [];
  const webhookLog: { type: string; status: number; error?: string }[] = [];
  /** Fail the next N API requests with this status, before or after doing them. */
  let faults: { remaining: number; status: number; when: 'before' | 'after' } = {
    remaining: 0,
    status: 500,
    when: 'before',
  };
  let url = '';
  let webhooks: { url: string; secret: string } | undefined;

  const server: Server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      send(response, 500, { error: { type: 'api_error', message: `emulator: ${String(error)}` } });
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const { pathname, searchParams } = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    if (pathname.startsWith('/__emulator/')) return control(method, pathname, body, response);

    const params = Object.fromEntries(new URLSearchParams(method === 'GET' ? searchParams : body));
    const idempotencyKey = header(request, 'idempotency-key');
    log.push({ method, path: pathname, idempotencyKey, params });

    // Stripe's own shape check first: a request stripe-mock refuses is refused.
    const mock = await fetch(`${stripeMockUrl}${request.url ?? ''}`, {
      method,
      headers: {
        authorization: header(request, 'authorization') ?? '',
        'content-type': header(request, 'content-type') ?? 'application/x-www-form-urlencoded',
        'stripe-version': header(request, 'stripe-version') ?? '',
      },
      body: method === 'GET' ? undefined : body,
    });
    const mockBody = (await mock.json()) as Json;
    if (!mock.ok) {
      rejections.push({ method, path: pathname, status: mock.status, body: mockBody });
      return send(response, mock.status, mockBody);
    }

    if (faults.remaining > 0 && faults.when === 'before') {
      faults.remaining--;
      return send(response, faults.status, { error: { type: 'api_error', message: 'Injected fault' } });
    }
    const replayKey = idempotencyKey && method === 'POST' ? `${pathname} ${idempotencyKey}` : undefined;
    let answer = replayKey ? replays.get(replayKey) : undefined;
    if (!answer) {
      answer = route(method, pathname, params, mockBody);
      if (replayKey && answer.status < 500) replays.set(replayKey, answer);
    }
    if (faults.remaining > 0 && faults.when === 'after') {
      faults.remaining--;
      return send(response, faults.status, { error: { type: 'api_error', message: 'Injected fault' } });
    }
    send(response, answer.status, answer.body);
  }

  function route(method: string, pathname: string, params: Record<string, string>, mock: Json): Answer {
    const parts = pathname.split('/').filter(Boolean); // v1, payment_intents, id, action
    const expandCharge = Object.entries(params).some(
      ([k, v]) => k.startsWith('expand') && v === 'latest_charge',
    );
    if (parts[1] === 'payment_intents' && parts.length === 2 && method === 'POST')
      return createIntent(params, mock, expandCharge);
    if (parts[1] === 'payment_intents' && parts[2]) {
      const intent = intents.get(parts[2]);
      if (!intent) return missing('payment_intent', parts[2]);
      if (method === 'GET' && parts.length === 3) return ok(intentBody(intent, mock, expandCharge));
      if (parts[3] === 'capture') {
        if (intent.status !== 'requires_capture') return unexpectedState(intent, 'capture');
        const amount = params.amount_to_capture ? Number(params.amount_to_capture) : intent.amountCapturable;
        if (amount > intent.amountCapturable)
          return invalid(
            'amount_too_large',
            'amount_to_capture',
            'The amount to capture is greater than the amount capturable.',
          );
        Object.assign(intent, { status: 'succeeded', amountReceived: amount, amountCapturable: 0 });
        return ok(intentBody(intent, mock, expandCharge));
      }
      if (parts[3] === 'cancel') {
        if (
          ![
            'requires_capture',
            'requires_action',
            'requires_payment_method',
            'requires_confirmation',
          ].includes(intent.status)
        )
          return unexpectedState(intent, 'cancel');
        Object.assign(intent, { status: 'canceled', amountCapturable: 0 });
        return ok(intentBody(intent, mock, expandCharge));
      }
    }
    if (parts[1] === 'checkout' && parts[2] === 'sessions') return checkoutRoute(method, parts, params, mock);
    if (parts[1] === 'refunds' && parts.length === 2 && method === 'POST') {
      const intent = intents.get(params.payment_intent ?? '');
      if (!intent) return missing('payment_intent', params.payment_intent ?? '');
      if (intent.status !== 'succeeded')
        return invalid(
          'charge_not_refundable',
          'payment_intent',
          'This PaymentIntent has no successful charge to refund.',
        );
      const amount = params.amount ? Number(params.amount) : intent.amountReceived - intent.amountRefunded;
      if (amount > intent.amountReceived - intent.amountRefunded)
        return invalid(
          'amount_too_large',
          'amount',
          'Refund amount is greater than unrefunded amount on charge.',
        );
      const metadata = metadataOf(params);
      const refund: RefundState = {
        id: id('re'),
        intentId: intent.id,
        amount,
        currency: intent.currency,
        // A refund whose reason asks for it stays pending until the test settles it.
        status: metadata.paysaga_refund_reason === 'settle later' ? 'pending' : 'succeeded',
        metadata,
        failureReason: null,
      };
      refunds.set(refund.id, refund);
      intent.amountRefunded += amount;
      return ok(refundBody(refund, mock));
    }
    return ok(mock);
  }

  /** Checkout Sessions: create, retrieve, expire (v1, checkout, sessions, id, action). */
  function checkoutRoute(
    method: string,
    parts: string[],
    params: Record<string, string>,
    mock: Json,
  ): Answer {
    if (parts.length === 3 && method === 'POST') {
      const session: CheckoutState = {
        id: `cs_test_${randomBytes(24).toString('hex')}`,
        amount: Number(params['line_items[0][price_data][unit_amount]'] ?? 0),
        currency: params['line_items[0][price_data][currency]'] ?? 'usd',
        status: 'open',
        params,
        metadata: metadataOf(params),
        intentMetadata: metadataOf(params, 'payment_intent_data[metadata]'),
        intentId: null,
      };
      checkouts.set(session.id, session);
      return ok(checkoutBody(session, mock));
    }
    const session = checkouts.get(parts[3] ?? '');
    if (!session) return missing('checkout session', parts[3] ?? '');
    if (parts.length === 4 && method === 'GET') return ok(checkoutBody(session, mock));
    if (parts[4] === 'expire' && method === 'POST') {
      if (session.status !== 'open')
        return invalid(
          'checkout_session_unexpected_state',
          'session',
          `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`,
        );
      session.status = 'expired';
      const body = checkoutBody(session, mock);
      // Stripe sends the event after answering: whoever expired it is not held by its delivery.
      setImmediate(() => void sendWebhook('checkout.session.expired', body));
      return ok(body);
    }
    return ok(mock);
  }

  function checkoutBody(session: CheckoutState, mock: Json): Json {
    const { params } = session;
    return {
      ...(mock.object === 'checkout.session' ? mock : {}),
      id: session.id,
      object: 'checkout.session',
      mode: 'payment',
      amount_subtotal: session.amount,
      amount_total: session.amount,
      currency: session.currency,
      status: session.status,
      payment_status: session.status === 'complete' ? 'paid' : 'unpaid',
      payment_intent: session.intentId,
      client_reference_id: params.client_reference_id ?? null,
      success_url: params.success_url ?? null,
      cancel_url: params.cancel_url ?? null,
      expires_at: Number(params.expires_at ?? 0),
      metadata: session.metadata,
      url: session.status === 'open' ? `${url}/__emulator/checkout/${session.id}` : null,
    };
  }

  function createIntent(params: Record<string, string>, mock: Json, expandCharge: boolean): Answer {
    const paymentMethod = params.payment_method ?? '';
    const intent: Intent = {
      id: id('pi'),
      amount: Number(params.amount),
      currency: params.currency ?? 'usd',
      captureMethod: params.capture_method ?? 'automatic',
      status: 'requires_payment_method',
      amountCapturable: 0,
      amountReceived: 0,
      amountRefunded: 0,
      metadata: metadataOf(params),
      returnUrl: params.return_url,
      lastPaymentError: null,
      chargeId: null,
    };
    if (!paymentMethod.startsWith('pm_card_'))
      return { status: 400, body: fixture('error-resource-missing-payment-method') };
    intents.set(intent.id, intent);
    const decline = DECLINING_TEST_CARDS[paymentMethod];
    if (decline) {
      intent.chargeId = id('ch');
      const {
        payment_intent: _intent,
        request_log_url: _log,
        ...recorded
      } = fixture('error-card-declined-insufficient-funds').error as Json;
      const error: Json = {
        ...recorded,
        charge: intent.chargeId,
        code: decline.code,
        message: decline.message,
      };
      if (decline.declineCode) error.decline_code = decline.declineCode;
      else delete error.decline_code;
      intent.lastPaymentError = error;
      return { status: 402, body: { error: { ...error, payment_intent: intentBody(intent, mock, false) } } };
    }
    if (THREE_DS_CARDS.has(paymentMethod)) {
      intent.status = 'requires_action';
    } else {
      authorize(intent);
    }
    return ok(intentBody(intent, mock, expandCharge));
  }

  function authorize(intent: Intent): void {
    intent.chargeId = id('ch');
    if (intent.captureMethod === 'manual')
      Object.assign(intent, { status: 'requires_capture', amountCapturable: intent.amount });
    else Object.assign(intent, { status: 'succeeded', amountReceived: intent.amount });
  }

  function intentBody(intent: Intent, mock: Json, expandCharge: boolean): Json {
    const recorded = fixture('payment-intent-requires-capture');
    const charge = intent.chargeId
      ? {
          ...(recorded.latest_charge as Json),
          id: intent.chargeId,
          amount: intent.amount,
          amount_captured: intent.amountReceived,
          amount_refunded: intent.amountRefunded,
          captured: intent.amountReceived > 0,
          currency: intent.currency,
          payment_intent: intent.id,
          metadata: intent.metadata,
        }
      : null;
    const redirect = `${url}/__emulator/3ds/${intent.id}`;
    return {
      ...(mock.object === 'payment_intent' ? mock : recorded),
      id: intent.id,
      object: 'payment_intent',
      amount: intent.amount,
      amount_capturable: intent.amountCapturable,
      amount_received: intent.amountReceived,
      capture_method: intent.captureMethod,
      currency: intent.currency,
      status: intent.status,
      metadata: intent.metadata,
      last_payment_error: intent.lastPaymentError,
      latest_charge: charge && expandCharge ? charge : intent.chargeId,
      canceled_at: intent.status === 'canceled' ? Math.floor(Date.now() / 1000) : null,
      next_action:
        intent.status === 'requires_action'
          ? {
              type: 'redirect_to_url',
              redirect_to_url: { url: redirect, return_url: intent.returnUrl ?? null },
            }
          : null,
    };
  }

  function refundBody(refund: RefundState, mock: Json): Json {
    return {
      ...(mock.object === 'refund' ? mock : fixture('refund-pending')),
      id: refund.id,
      object: 'refund',
      amount: refund.amount,
      currency: refund.currency,
      payment_intent: refund.intentId,
      charge: intents.get(refund.intentId)?.chargeId ?? null,
      status: refund.status,
      metadata: refund.metadata,
      failure_reason: refund.failureReason,
    };
  }

  /** stripe-mock's PaymentIntent, the base of the bodies the control routes answer: fetched once. */
  let mockIntentBody: Promise<Json> | undefined;
  function mockIntentShape(): Promise<Json> {
    mockIntentBody ??= fetch(`${stripeMockUrl}/v1/payment_intents/pi_1`, {
      headers: { authorization: 'Bearer sk_test_emulator' },
    }).then(async (answer) => (await answer.json()) as Json);
    return mockIntentBody;
  }

  /** What the customer or Stripe does, and what the tests read. */
  async function control(
    method: string,
    pathname: string,
    body: string,
    response: ServerResponse,
  ): Promise<void> {
    const parts = pathname.split('/').filter(Boolean); // __emulator, kind, id, action
    if (parts[1] === '3ds') return challenge(method, parts[2] ?? '', parts[3], body, response);
    const input = body ? (JSON.parse(body) as Json) : {};
    const mockIntent = await mockIntentShape();
    if (method === 'POST' && parts[1] === 'payment_intents' && parts[3] === 'authenticate') {
      const intent = intents.get(parts[2] ?? '');
      if (!intent || intent.status !== 'requires_action')
        return send(response, 409, { error: 'not awaiting 3-D Secure' });
      if (input.outcome === 'failed') {
        intent.status = 'requires_payment_method';
        intent.lastPaymentError = fixture('payment-intent-authentication-failed').last_payment_error as Json;
      } else authorize(intent);
      return send(response, 200, intentBody(intent, mockIntent, false));
    }
    if (method === 'POST' && parts[1] === 'refunds' && parts[3] === 'settle') {
      const refund = refunds.get(parts[2] ?? '');
      if (!refund) return send(response, 404, { error: 'no such refund' });
      refund.status = input.status === 'failed' ? 'failed' : 'succeeded';
      if (refund.status === 'failed') {
        refund.failureReason = 'expired_or_canceled_card';
        const intent = intents.get(refund.intentId);
        if (intent) intent.amountRefunded -= refund.amount;
      }
      return send(response, 200, refundBody(refund, {}));
    }
    if (method === 'POST' && parts[1] === 'checkout_sessions' && parts[3] === 'pay') {
      // The customer pays on Stripe's page: a captured PaymentIntent, then Stripe's webhook.
      const session = checkouts.get(parts[2] ?? '');
      if (!session || session.status !== 'open') return send(response, 409, { error: 'not an open session' });
      const intent: Intent = {
        id: id('pi'),
        amount: session.amount,
        currency: session.currency,
        captureMethod: 'automatic',
        status: 'requires_payment_method',
        amountCapturable: 0,
        amountReceived: 0,
        amountRefunded: 0,
        metadata: session.intentMetadata,
        returnUrl: undefined,
        lastPaymentError: null,
        chargeId: null,
      };
      authorize(intent);
      intents.set(intent.id, intent);
      Object.assign(session, { status: 'complete', intentId: intent.id });
      const body = checkoutBody(session, {});
      await sendWebhook('checkout.session.completed', body);
      return send(response, 200, body);
    }
    if (method === 'POST' && parts[1] === 'checkout_sessions' && parts[3] === 'expire') {
      // Stripe's own clock ends it (its `expires_at` passed).
      const session = checkouts.get(parts[2] ?? '');
      if (!session || session.status !== 'open') return send(response, 409, { error: 'not an open session' });
      session.status = 'expired';
      const body = checkoutBody(session, {});
      await sendWebhook('checkout.session.expired', body);
      return send(response, 200, body);
    }
    if (method === 'GET' && parts[1] === 'checkout_sessions' && parts[2]) {
      const session = checkouts.get(parts[2]);
      return session ? send(response, 200, checkoutBody(session, {})) : send(response, 404, {});
    }
    if (method === 'POST' && parts[1] === 'faults') {
      faults = {
        remaining: Number(input.count ?? 1),
        status: Number(input.status ?? 500),
        when: input.when === 'after' ? 'after' : 'before',
      };
      return send(response, 200, {});
    }
    if (method === 'GET' && parts[1] === 'payment_intents' && parts[2]) {
      const intent = intents.get(parts[2]);
      return intent ? send(response, 200, intentBody(intent, mockIntent, false)) : send(response, 404, {});
    }
    if (method === 'GET' && parts[1] === 'rejections') return send(response, 200, { rejections });
    if (method === 'GET' && parts[1] === 'requests') return send(response, 200, { requests: log });
    if (method === 'GET' && parts[1] === 'webhooks') return send(response, 200, { webhooks: webhookLog });
    send(response, 404, { error: `no emulator route ${method} ${pathname}` });
  }

  /** The customer's 3-D Secure page, and what its buttons do: what Stripe's hosted page does. */
  async function challenge(
    method: string,
    intentId: string,
    action: string | undefined,
    body: string,
    response: ServerResponse,
  ): Promise<void> {
    const intent = intents.get(intentId);
    if (!intent) return sendHtml(response, 404, '<p>No such PaymentIntent.</p>');
    if (method === 'GET' && action === undefined) return sendHtml(response, 200, challengePage(intent));
    if (method !== 'POST' || action !== 'complete') return sendHtml(response, 404, '<p>Not found.</p>');
    if (intent.status !== 'requires_action')
      return sendHtml(response, 409, `<p>This challenge is no longer pending (${intent.status}).</p>`);
    const failed = new URLSearchParams(body).get('outcome') === 'failed';
    if (failed) {
      intent.status = 'requires_payment_method';
      intent.lastPaymentError = fixture('payment-intent-authentication-failed').last_payment_error as Json;
    } else authorize(intent);
    const type = failed
      ? 'payment_intent.payment_failed'
      : intent.status === 'requires_capture'
        ? 'payment_intent.amount_capturable_updated'
        : 'payment_intent.succeeded';
    const mockIntent = await mockIntentShape();
    await sendWebhook(type, intentBody(intent, mockIntent, false));
    if (intent.returnUrl) {
      response.writeHead(303, { location: intent.returnUrl });
      response.end();
      return;
    }
    sendHtml(response, 200, `<p>Authentication ${failed ? 'failed' : 'complete'}.</p>`);
  }

  /** One delivery of a Stripe event, signed as Stripe signs; a failed delivery is logged, not retried. */
  async function sendWebhook(type: string, object: Json): Promise<void> {
    if (!webhooks) return;
    const payload = stripeEventPayload(type, object, id('evt'));
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: webhooks.secret });
    try {
      const answer = await fetch(webhooks.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body: payload,
        signal: AbortSignal.timeout(10_000),
      });
      webhookLog.push({ type, status: answer.status });
    } catch (error) {
      webhookLog.push({ type, status: 0, error: String(error) });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sendWebhooksTo: (target, secret) => {
      webhooks = { url: target, secret };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function metadataOf(params: Record<string, string>, prefix = 'metadata'): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (!key.startsWith(`${prefix}[`) || !key.endsWith(']')) continue;
    const name = key.slice(prefix.length + 1, -1);
    if (name && !name.includes('[')) metadata[name] = value;
  }
  return metadata;
}

const ok = (body: Json): Answer => ({ status: 200, body });

function invalid(code: string, param: string, message: string): Answer {
  return { status: 400, body: { error: { type: 'invalid_request_error', code, param, message } } };
}

function missing(kind: string, value: string): Answer {
  return invalid('resource_missing', 'id', `No such ${kind}: '${value}'`);
}

function unexpectedState(intent: Intent, action: string): Answer {
  return invalid(
    'payment_intent_unexpected_state',
    'intent',
    `This PaymentIntent could not be ${action === 'cancel' ? 'canceled' : 'captured'} because it has a status of ${intent.status}.`,
  );
}

/** A Stripe event around `object`, as Stripe sends it (the webhook's body). */
export function stripeEventPayload(type: string, object: unknown, eventId: string): string {
  return JSON.stringify({
    id: eventId,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

function challengePage(intent: Intent): string {
  const id = escapeHtml(intent.id);
  const amount = `${intent.amount} ${escapeHtml(intent.currency.toUpperCase())} (minor units)`;
  const button = (outcome: 'succeeded' | 'failed', label: string): string =>
    `<form method="post" action="/__emulator/3ds/${id}/complete"><input type="hidden" name="outcome" value="${outcome}">` +
    `<button type="submit">${label}</button></form>`;
  const pending = intent.status === 'requires_action';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure (Stripe emulator)</title></head>
<body>
<h1>3-D Secure</h1>
<p>Authorize ${amount} for PaymentIntent ${id}?</p>
${pending ? button('succeeded', 'Complete authentication') + button('failed', 'Fail authentication') : `<p>This challenge is no longer pending (status: ${escapeHtml(intent.status)}).</p>`}
</body></html>`;
}

function sendHtml(response: ServerResponse, status: number, html: string): void {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  response.end(html);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'request-id': `req_${randomBytes(6).toString('hex')}`,
  });
  response.end(text);
}
