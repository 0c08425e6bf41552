import Stripe from 'stripe';
import { inject } from 'vitest';
import { STRIPECO_STRIPE } from './tenants.js';
import { stripeEventPayload, type LoggedRequest } from '../../tools/stack/stripe-emulator.js';

/** The Stripe emulator of the test stack (undefined on a machine without Go: the tests skip). */
export const stripeEmulatorUrl = inject('stripeEmulatorUrl');

async function control<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${stripeEmulatorUrl}/__emulator${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`emulator ${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** The customer finishes (or fails) 3-D Secure; returns the PaymentIntent as Stripe then has it. */
export const authenticate = (intentId: string, outcome: 'succeeded' | 'failed') =>
  control<Stripe.PaymentIntent>('POST', `/payment_intents/${intentId}/authenticate`, { outcome });
export const settleRefund = (refundId: string, status: 'succeeded' | 'failed') =>
  control<Stripe.Refund>('POST', `/refunds/${refundId}/settle`, { status });
export const intentAtStripe = (intentId: string) =>
  control<Stripe.PaymentIntent>('GET', `/payment_intents/${intentId}`);
/**
 * The customer finishes (or fails) 3-D Secure on a SetupIntent; Stripe sends
 * `setup_intent.succeeded` (or `.setup_failed`). Returns the SetupIntent as Stripe then has it.
 */
export const authenticateSetup = (setupIntentId: string, outcome: 'succeeded' | 'failed') =>
  control<Stripe.SetupIntent>('POST', `/setup_intents/${setupIntentId}/authenticate`, { outcome });
export const setupIntentAtStripe = (setupIntentId: string) =>
  control<Stripe.SetupIntent>('GET', `/setup_intents/${setupIntentId}`);
export const paymentMethodAtStripe = (paymentMethodId: string) =>
  control<Stripe.PaymentMethod>('GET', `/payment_methods/${paymentMethodId}`);
/** The next `count` API requests fail with `status`, before Stripe acts on them or after. */
export const failNext = (count: number, status = 500, when: 'before' | 'after' = 'before') =>
  control('POST', '/faults', { count, status, when });
export const stripeRequests = async () =>
  (await control<{ requests: LoggedRequest[] }>('GET', '/requests')).requests;
/** Requests stripe-mock refused as not matching Stripe's OpenAPI: there must be none. */
export const stripeRejections = async () =>
  (await control<{ rejections: unknown[] }>('GET', '/rejections')).rejections;

let eventSeq = 0;
/** A Stripe event around `object`, as Stripe sends it. */
export function stripeEvent(type: string, object: unknown, id = `evt_test_${Date.now()}_${++eventSeq}`) {
  return stripeEventPayload(type, object, id);
}

/** POSTs a Stripe webhook to the API, signed with the SDK's test helper (tenant stripeco's secret by default). */
export async function sendStripeWebhook(payload: string, secret: string = STRIPECO_STRIPE.webhookSecret) {
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret });
  const response = await fetch(`${inject('apiUrl')}/v1/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** The customer pays a Checkout Session on Stripe's page; Stripe sends `checkout.session.completed`. */
export const payCheckoutAtStripe = (sessionId: string) =>
  control<Stripe.Checkout.Session>('POST', `/checkout_sessions/${sessionId}/pay`);
/** Stripe's own clock expires a Checkout Session; Stripe sends `checkout.session.expired`. */
export const expireCheckoutAtStripe = (sessionId: string) =>
  control<Stripe.Checkout.Session>('POST', `/checkout_sessions/${sessionId}/expire`);
export const checkoutAtStripe = (sessionId: string) =>
  control<Stripe.Checkout.Session>('GET', `/checkout_sessions/${sessionId}`);
/** The webhooks the emulator sent, with the API's answer. */
export const stripeWebhooksSent = async () =>
  (await control<{ webhooks: { type: string; status: number }[] }>('GET', '/webhooks')).webhooks;
