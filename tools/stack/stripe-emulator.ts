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
 *
 * Saved cards: Customers, and SetupIntents confirmed on one (a test PaymentMethod becomes a new
 * `pm_...` attached to the Customer when the setup succeeds; 3-D Secure cards wait on the same
 * challenge page, then `setup_intent.succeeded` / `.setup_failed` is sent), PaymentMethods read
 * and detached, and PaymentIntents charging them: with their Customer, refused once detached, and
 * off-session (`off_session`) declined `authentication_required` when the card needs 3-D Secure
 * on every payment, however it was saved, as Stripe's `pm_card_authenticationRequired` does.
 * PaymentIntents are listed (`GET /v1/payment_intents`) from the emulator's own state, newest
 * first, by `created` range and page (`limit`, `starting_after`, `ending_before`), as Paysaga
 * reads them to find the one an authorize made when its answer was lost.
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
const THREE_DS_CARDS = new Set([
  'pm_card_authenticationRequired',
  'pm_card_threeDSecure2Required',
  'pm_card_authenticationRequiredOnSetup',
]);
/** 3-D Secure cards that need it no more once saved with it (Stripe's card ending 3155). */
const AUTHENTICATED_BY_SETUP = new Set(['pm_card_authenticationRequiredOnSetup']);
/** Stripe's off-session decline of a card that needs authentication. */
const AUTHENTICATION_REQUIRED = {
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

interface CardState {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

/** The card behind a Stripe test PaymentMethod, as its saved copy shows it (Visa 4242 unless listed). */
const TEST_CARD_NUMBERS: Record<string, { brand: string; last4: string }> = {
  pm_card_mastercard: { brand: 'mastercard', last4: '4444' },
  pm_card_amex: { brand: 'amex', last4: '8431' },
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184' },
  pm_card_threeDSecure2Required: { brand: 'visa', last4: '3220' },
  pm_card_authenticationRequiredOnSetup: { brand: 'visa', last4: '3155' },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002' },
  pm_card_chargeDeclinedInsufficientFunds: { brand: 'visa', last4: '9995' },
};
const testCard = (paymentMethod: string): CardState => ({
  ...(TEST_CARD_NUMBERS[paymentMethod] ?? { brand: 'visa', last4: '4242' }),
  expMonth: 12,
  expYear: 2034,
});

interface Intent {
  id: string;
  /** When it was made, in Unix seconds as Stripe has it. */
  created: number;
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
  customer: string | null;
  paymentMethod: string | null;
  /** A saved card's details, shown on the charge (the recorded Visa 4242 otherwise). */
  card: CardState | undefined;
  networkTransactionId: string | null;
}

interface CustomerState {
  id: string;
  metadata: Record<string, string>;
}

interface SetupState {
  id: string;
  customer: string | null;
  /** The PaymentMethod being saved; none once the setup failed, as at Stripe. */
  paymentMethod: string | null;
  status: string;
  usage: string;
  metadata: Record<string, string>;
  returnUrl: string | undefined;
  lastSetupError: Json | null;
}

interface MethodState {
  id: string;
  /** The Stripe test PaymentMethod it was made from: what it does when charged. */
  testCard: string;
  customer: string | null;
  card: CardState;
  /** 3-D Secure was done when it was saved. */
  authenticated: boolean;
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
  const customers = new Map<string, CustomerState>();
  const setups = new Map<string, SetupState>();
  const methods = new Map<string, MethodState>();
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
    const expands = (field: string) =>
      Object.entries(params).some(([k, v]) => k.startsWith('expand') && v === field);
    const expandCharge = expands('latest_charge');
    if (parts[1] === 'payment_intents' && parts.length === 2 && method === 'POST')
      return createIntent(params, mock, expandCharge);
    if (parts[1] === 'payment_intents' && parts.length === 2 && method === 'GET')
      return listIntents(params, mock, expands('data.latest_charge'));
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
    if (parts[1] === 'customers') return customerRoute(method, parts, params, mock);
    if (parts[1] === 'setup_intents')
      return setupRoute(method, parts, params, mock, expands('payment_method'));
    if (parts[1] === 'payment_methods') return methodRoute(method, parts, mock);
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

  /**
   * The PaymentIntents it has, newest first, in Stripe's list shape: `created` as a number or a
   * `gt`/`gte`/`lt`/`lte` range, `customer`, and a page of `limit` (10 unless set, 1 to 100)
   * after `starting_after` or before `ending_before` (an id it does not have is refused, as
   * Stripe refuses it). Always current: Stripe's List API is strongly consistent.
   */
  function listIntents(params: Record<string, string>, mock: Json, expandCharge: boolean): Answer {
    const limit = params.limit === undefined ? 10 : Number(params.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return invalid('parameter_invalid_integer', 'limit', 'This value must be between 1 and 100.');
    const created = createdFilter(params);
    const newestFirst = [...intents.values()].reverse();
    const cursor = (param: 'starting_after' | 'ending_before'): number | Answer => {
      const at = newestFirst.findIndex((intent) => intent.id === params[param]);
      return at < 0 ? missing('payment_intent', params[param] ?? '', param) : at;
    };
    const matches = (intent: Intent) =>
      created(intent.created) && (params.customer === undefined || intent.customer === params.customer);
    let page: Intent[];
    let hasMore: boolean;
    if (params.ending_before !== undefined) {
      // The page just before the cursor (newer ones), still newest first.
      const at = cursor('ending_before');
      if (typeof at !== 'number') return at;
      const newer = newestFirst.slice(0, at).filter(matches);
      page = newer.slice(-limit);
      hasMore = newer.length > limit;
    } else {
      let from = 0;
      if (params.starting_after !== undefined) {
        const at = cursor('starting_after');
        if (typeof at !== 'number') return at;
        from = at + 1;
      }
      const older = newestFirst.slice(from).filter(matches);
      page = older.slice(0, limit);
      hasMore = older.length > limit;
    }
    return ok({
      ...(mock.object === 'list' ? mock : {}),
      object: 'list',
      data: page.map((intent) => intentBody(intent, {}, expandCharge)),
      has_more: hasMore,
      url: '/v1/payment_intents',
    });
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

  /** Customers: create, retrieve (v1, customers, id). */
  function customerRoute(
    method: string,
    parts: string[],
    params: Record<string, string>,
    mock: Json,
  ): Answer {
    if (parts.length === 2 && method === 'POST') {
      const customer: CustomerState = { id: id('cus'), metadata: metadataOf(params) };
      customers.set(customer.id, customer);
      return ok(customerBody(customer, mock));
    }
    const customer = customers.get(parts[2] ?? '');
    if (!customer) return missing('customer', parts[2] ?? '');
    if (parts.length === 3 && method === 'GET') return ok(customerBody(customer, mock));
    return ok(mock);
  }

  function customerBody(customer: CustomerState, mock: Json): Json {
    return {
      ...(mock.object === 'customer' ? mock : {}),
      id: customer.id,
      object: 'customer',
      metadata: customer.metadata,
    };
  }

  /** SetupIntents: create (confirmed at once when asked), retrieve (v1, setup_intents, id). */
  function setupRoute(
    method: string,
    parts: string[],
    params: Record<string, string>,
    mock: Json,
    expandMethod: boolean,
  ): Answer {
    if (parts.length === 2 && method === 'POST') return createSetup(params, mock, expandMethod);
    const setup = setups.get(parts[2] ?? '');
    if (!setup) return missing('setup_intent', parts[2] ?? '');
    if (parts.length === 3 && method === 'GET') return ok(setupBody(setup, mock, expandMethod));
    return ok(mock);
  }

  function createSetup(params: Record<string, string>, mock: Json, expandMethod: boolean): Answer {
    const customer = params.customer ?? null;
    if (customer !== null && !customers.has(customer)) return missing('customer', customer, 'customer');
    const token = params.payment_method ?? '';
    let paymentMethod = methods.get(token);
    if (paymentMethod) {
      // Saving one already saved: only again for its own Customer.
      const refusal = customer === null ? undefined : savedMethodRefusal(paymentMethod, customer);
      if (refusal) return refusal;
    } else if (token.startsWith('pm_card_')) {
      // A test PaymentMethod stands for a card: saving it makes a PaymentMethod of its own.
      paymentMethod = {
        id: id('pm'),
        testCard: token,
        customer: null,
        card: testCard(token),
        authenticated: false,
      };
      methods.set(paymentMethod.id, paymentMethod);
    } else if (token !== '') {
      return { status: 400, body: fixture('error-resource-missing-payment-method') };
    }
    const setup: SetupState = {
      id: id('seti'),
      customer,
      paymentMethod: paymentMethod?.id ?? null,
      status: paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
      usage: params.usage ?? 'off_session',
      metadata: metadataOf(params),
      returnUrl: params.return_url,
      lastSetupError: null,
    };
    setups.set(setup.id, setup);
    if (!paymentMethod || params.confirm !== 'true') return ok(setupBody(setup, mock, expandMethod));
    const decline = DECLINING_TEST_CARDS[paymentMethod.testCard];
    if (decline) {
      // The card check on setup declines: the SetupIntent waits for another method.
      const error: Json = { ...cardError(decline), payment_method: methodBody(paymentMethod, {}) };
      Object.assign(setup, { status: 'requires_payment_method', paymentMethod: null, lastSetupError: error });
      return { status: 402, body: { error: { ...error, setup_intent: setupBody(setup, mock, false) } } };
    }
    if (THREE_DS_CARDS.has(paymentMethod.testCard)) setup.status = 'requires_action';
    else finishSetup(setup, true);
    return ok(setupBody(setup, mock, expandMethod));
  }

  /** The setup's outcome: the card attached to the Customer, or the setup failed (3-D Secure failed). */
  function finishSetup(setup: SetupState, succeeded: boolean): void {
    const paymentMethod = methods.get(setup.paymentMethod ?? '');
    if (!paymentMethod) return;
    if (succeeded) {
      setup.status = 'succeeded';
      paymentMethod.customer = setup.customer ?? paymentMethod.customer;
      paymentMethod.authenticated ||= THREE_DS_CARDS.has(paymentMethod.testCard);
      return;
    }
    Object.assign(setup, {
      status: 'requires_payment_method',
      paymentMethod: null,
      lastSetupError: {
        code: 'setup_intent_authentication_failure',
        doc_url: 'https://docs.stripe.com/error-codes/setup-intent-authentication-failure',
        message: 'The latest attempt to set up the payment method has failed because authentication failed.',
        payment_method: methodBody(paymentMethod, {}),
        type: 'invalid_request_error',
      },
    });
  }

  function setupBody(setup: SetupState, mock: Json, expandMethod: boolean): Json {
    const paymentMethod = methods.get(setup.paymentMethod ?? '');
    const recorded = fixture('setup-intent-succeeded');
    return {
      ...(mock.object === 'setup_intent' ? mock : recorded),
      id: setup.id,
      object: 'setup_intent',
      client_secret: `${setup.id}_secret_emulator`,
      customer: setup.customer,
      payment_method: paymentMethod
        ? expandMethod
          ? methodBody(paymentMethod, {})
          : paymentMethod.id
        : null,
      status: setup.status,
      usage: setup.usage,
      metadata: setup.metadata,
      last_setup_error: setup.lastSetupError,
      next_action:
        setup.status === 'requires_action'
          ? {
              type: 'redirect_to_url',
              redirect_to_url: {
                url: `${url}/__emulator/3ds/${setup.id}`,
                return_url: setup.returnUrl ?? null,
              },
            }
          : null,
    };
  }

  /** PaymentMethods: retrieve, detach (v1, payment_methods, id, action). */
  function methodRoute(method: string, parts: string[], mock: Json): Answer {
    const key = parts[2] ?? '';
    const paymentMethod = methods.get(key);
    if (!paymentMethod) {
      // Stripe's test PaymentMethods are read as stripe-mock has them, and were never attached.
      if (!key.startsWith('pm_card_')) return missing('PaymentMethod', key);
      if (parts[3] === 'detach') return notAttached();
      return ok(mock);
    }
    if (parts.length === 3 && method === 'GET') return ok(methodBody(paymentMethod, mock));
    if (parts[3] === 'detach' && method === 'POST') {
      if (paymentMethod.customer === null) return notAttached();
      // Detached for good: Stripe never lets it be attached or charged again.
      paymentMethod.customer = null;
      return ok(methodBody(paymentMethod, mock));
    }
    return ok(mock);
  }

  function methodBody(paymentMethod: MethodState, mock: Json): Json {
    const recorded = mock.object === 'payment_method' ? mock : fixture('payment-method-card');
    const { card } = paymentMethod;
    return {
      ...recorded,
      id: paymentMethod.id,
      object: 'payment_method',
      type: 'card',
      customer: paymentMethod.customer,
      metadata: {},
      card: {
        ...(recorded.card as Json),
        brand: card.brand,
        display_brand: card.brand,
        last4: card.last4,
        exp_month: card.expMonth,
        exp_year: card.expYear,
        networks: { available: [card.brand], preferred: null },
      },
    };
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
    const customer = params.customer ?? null;
    if (customer !== null && !customers.has(customer)) return missing('customer', customer, 'customer');
    const saved = methods.get(paymentMethod);
    if (saved) {
      const refusal = savedMethodRefusal(saved, customer);
      if (refusal) return refusal;
    } else if (!paymentMethod.startsWith('pm_card_'))
      return { status: 400, body: fixture('error-resource-missing-payment-method') };
    const intent: Intent = {
      id: id('pi'),
      created: unixNow(),
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
      customer,
      paymentMethod,
      card: saved?.card,
      networkTransactionId: null,
    };
    intents.set(intent.id, intent);
    const card = saved?.testCard ?? paymentMethod;
    const decline = DECLINING_TEST_CARDS[card];
    if (decline) return declineIntent(intent, mock, decline);
    const offSession = params.off_session !== undefined && params.off_session !== 'false';
    if (THREE_DS_CARDS.has(card) && !(saved?.authenticated && AUTHENTICATED_BY_SETUP.has(card))) {
      // Without the customer there is no one to authenticate: Stripe declines instead.
      if (offSession) return declineIntent(intent, mock, AUTHENTICATION_REQUIRED);
      intent.status = 'requires_action';
    } else {
      authorize(intent);
    }
    return ok(intentBody(intent, mock, expandCharge));
  }

  /** A saved PaymentMethod's charge that Stripe refuses: detached, or not with its Customer. */
  function savedMethodRefusal(method: MethodState, customer: string | null): Answer | undefined {
    if (method.customer === null)
      return refusal(
        'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.',
      );
    if (customer === null)
      return refusal(
        'If the payment method is attached to a Customer, you must also provide the ID of that Customer as the customer parameter of this PaymentIntent.',
        'customer',
      );
    if (customer !== method.customer)
      return refusal(
        `The PaymentMethod ${method.id} does not belong to the Customer you supplied ${customer}. Please use this PaymentMethod with the Customer that it belongs to instead.`,
        'payment_method',
      );
    return undefined;
  }

  /** The card declines: the PaymentIntent waits for another method, and Stripe answers a 402. */
  function declineIntent(
    intent: Intent,
    mock: Json,
    decline: { code: string; declineCode?: string; message: string },
  ): Answer {
    intent.chargeId = id('ch');
    const error: Json = { ...cardError(decline), charge: intent.chargeId };
    intent.lastPaymentError = error;
    return { status: 402, body: { error: { ...error, payment_intent: intentBody(intent, mock, false) } } };
  }

  function authorize(intent: Intent): void {
    intent.chargeId = id('ch');
    intent.networkTransactionId = randomDigits(15);
    if (intent.captureMethod === 'manual')
      Object.assign(intent, { status: 'requires_capture', amountCapturable: intent.amount });
    else Object.assign(intent, { status: 'succeeded', amountReceived: intent.amount });
  }

  function intentBody(intent: Intent, mock: Json, expandCharge: boolean): Json {
    const recorded = fixture('payment-intent-requires-capture');
    const recordedCharge = recorded.latest_charge as Json;
    const recordedDetails = recordedCharge.payment_method_details as Json;
    const recordedCard = recordedDetails.card as Json;
    const card = intent.card
      ? {
          brand: intent.card.brand,
          last4: intent.card.last4,
          exp_month: intent.card.expMonth,
          exp_year: intent.card.expYear,
          network: intent.card.brand,
        }
      : {};
    const charge = intent.chargeId
      ? {
          ...recordedCharge,
          payment_method_details: {
            ...recordedDetails,
            card: { ...recordedCard, ...card, network_transaction_id: intent.networkTransactionId },
          },
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
      created: intent.created,
      amount: intent.amount,
      amount_capturable: intent.amountCapturable,
      amount_received: intent.amountReceived,
      capture_method: intent.captureMethod,
      currency: intent.currency,
      status: intent.status,
      metadata: intent.metadata,
      customer: intent.customer,
      payment_method: intent.status === 'requires_payment_method' ? null : intent.paymentMethod,
      last_payment_error: intent.lastPaymentError,
      latest_charge: charge && expandCharge ? charge : intent.chargeId,
      canceled_at: intent.status === 'canceled' ? unixNow() : null,
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

  /** stripe-mock's object at `path`, the base of the bodies the control routes answer: fetched once. */
  const mockShapes = new Map<string, Promise<Json>>();
  function mockShape(path: string): Promise<Json> {
    let shape = mockShapes.get(path);
    if (!shape) {
      shape = fetch(`${stripeMockUrl}${path}`, {
        headers: { authorization: 'Bearer sk_test_emulator' },
      }).then(async (answer) => (await answer.json()) as Json);
      mockShapes.set(path, shape);
    }
    return shape;
  }
  const mockIntentShape = () => mockShape('/v1/payment_intents/pi_1');
  const mockSetupShape = () => mockShape('/v1/setup_intents/seti_1');

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
    if (method === 'POST' && parts[1] === 'setup_intents' && parts[3] === 'authenticate') {
      // The customer finishes (or fails) 3-D Secure on setup; Stripe sends the webhook.
      const setup = setups.get(parts[2] ?? '');
      if (!setup || setup.status !== 'requires_action')
        return send(response, 409, { error: 'not awaiting 3-D Secure' });
      const body = await completeSetup(setup, input.outcome !== 'failed');
      return send(response, 200, body);
    }
    if (method === 'GET' && parts[1] === 'setup_intents' && parts[2]) {
      const setup = setups.get(parts[2]);
      return setup
        ? send(response, 200, setupBody(setup, await mockSetupShape(), false))
        : send(response, 404, {});
    }
    if (method === 'GET' && parts[1] === 'payment_methods' && parts[2]) {
      const paymentMethod = methods.get(parts[2]);
      return paymentMethod ? send(response, 200, methodBody(paymentMethod, {})) : send(response, 404, {});
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
        created: unixNow(),
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
        customer: null,
        paymentMethod: 'pm_card_visa',
        card: undefined,
        networkTransactionId: null,
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
    const setup = setups.get(intentId);
    if (setup) return setupChallenge(method, setup, action, body, response);
    const intent = intents.get(intentId);
    if (!intent) return sendHtml(response, 404, '<p>No such PaymentIntent.</p>');
    if (method === 'GET' && action === undefined)
      return sendHtml(
        response,
        200,
        challengePage(
          intent.id,
          `Authorize ${intent.amount} ${escapeHtml(intent.currency.toUpperCase())} (minor units) for PaymentIntent ${escapeHtml(intent.id)}?`,
          intent.status,
        ),
      );
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

  /** The 3-D Secure page of a SetupIntent: saving the card, no amount. */
  async function setupChallenge(
    method: string,
    setup: SetupState,
    action: string | undefined,
    body: string,
    response: ServerResponse,
  ): Promise<void> {
    if (method === 'GET' && action === undefined)
      return sendHtml(
        response,
        200,
        challengePage(
          setup.id,
          `Save your card for later payments (SetupIntent ${escapeHtml(setup.id)})?`,
          setup.status,
        ),
      );
    if (method !== 'POST' || action !== 'complete') return sendHtml(response, 404, '<p>Not found.</p>');
    if (setup.status !== 'requires_action')
      return sendHtml(response, 409, `<p>This challenge is no longer pending (${setup.status}).</p>`);
    const failed = new URLSearchParams(body).get('outcome') === 'failed';
    await completeSetup(setup, !failed);
    if (setup.returnUrl) {
      response.writeHead(303, { location: setup.returnUrl });
      response.end();
      return;
    }
    sendHtml(response, 200, `<p>Authentication ${failed ? 'failed' : 'complete'}.</p>`);
  }

  /** 3-D Secure on setup finished: the outcome, then Stripe's webhook. Answers the SetupIntent. */
  async function completeSetup(setup: SetupState, succeeded: boolean): Promise<Json> {
    finishSetup(setup, succeeded);
    const body = setupBody(setup, await mockSetupShape(), false);
    await sendWebhook(succeeded ? 'setup_intent.succeeded' : 'setup_intent.setup_failed', body);
    return body;
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

const unixNow = (): number => Math.floor(Date.now() / 1000);

/** A list's `created` filter (Unix seconds): `created=...` or `created[gt|gte|lt|lte]=...`, each optional. */
function createdFilter(params: Record<string, string>): (created: number) => boolean {
  const bound = (key: string): number | undefined =>
    params[key] === undefined ? undefined : Number(params[key]);
  const exact = bound('created');
  const gt = bound('created[gt]');
  const gte = bound('created[gte]');
  const lt = bound('created[lt]');
  const lte = bound('created[lte]');
  return (created) =>
    (exact === undefined || created === exact) &&
    (gt === undefined || created > gt) &&
    (gte === undefined || created >= gte) &&
    (lt === undefined || created < lt) &&
    (lte === undefined || created <= lte);
}

const ok = (body: Json): Answer => ({ status: 200, body });

function invalid(code: string, param: string, message: string): Answer {
  return { status: 400, body: { error: { type: 'invalid_request_error', code, param, message } } };
}

function missing(kind: string, value: string, param = 'id'): Answer {
  return invalid('resource_missing', param, `No such ${kind}: '${value}'`);
}

/** A refusal Stripe sends with no code of its own. */
function refusal(message: string, param?: string): Answer {
  return {
    status: 400,
    body: { error: { type: 'invalid_request_error', message, ...(param ? { param } : {}) } },
  };
}

function notAttached(): Answer {
  return refusal(
    'The payment method you provided is not attached to a customer so detachment is impossible.',
    'payment_method',
  );
}

/** A card error body as Stripe sends it (the recorded one, with this decline's codes and message). */
function cardError(decline: { code: string; declineCode?: string; message: string }): Json {
  const {
    payment_intent: _intent,
    request_log_url: _log,
    charge: _charge,
    ...recorded
  } = fixture('error-card-declined-insufficient-funds').error as Json;
  const error: Json = { ...recorded, code: decline.code, message: decline.message };
  if (decline.declineCode) error.decline_code = decline.declineCode;
  else delete error.decline_code;
  return error;
}

/** A card network's transaction id: digits, as Visa's 15. */
const randomDigits = (count: number): string =>
  Array.from(randomBytes(count), (byte) => String(byte % 10)).join('');

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

function challengePage(objectId: string, question: string, status: string): string {
  const id = escapeHtml(objectId);
  const button = (outcome: 'succeeded' | 'failed', label: string): string =>
    `<form method="post" action="/__emulator/3ds/${id}/complete"><input type="hidden" name="outcome" value="${outcome}">` +
    `<button type="submit">${label}</button></form>`;
  const pending = status === 'requires_action';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure (Stripe emulator)</title></head>
<body>
<h1>3-D Secure</h1>
<p>${question}</p>
${pending ? button('succeeded', 'Complete authentication') + button('failed', 'Fail authentication') : `<p>This challenge is no longer pending (status: ${escapeHtml(status)}).</p>`}
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
