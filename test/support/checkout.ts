import { inject } from 'vitest';
import { apiRaw, uid } from './http.js';

/** A checkout session body with its defaults filled in by the API; `extra` overrides. */
export function checkoutBody(extra: Record<string, unknown> = {}) {
  return {
    orderId: uid('ord'),
    customerId: uid('cus'),
    amount: 1250,
    currency: 'USD',
    description: 'Ride to the airport',
    successUrl: 'https://merchant.example/rides/done?ride=42',
    cancelUrl: 'https://merchant.example/rides/cancel',
    ...extra,
  };
}

export async function createCheckout(extra: Record<string, unknown> = {}) {
  const res = await apiRaw('POST', '/v1/checkout-sessions', checkoutBody(extra));
  if (res.status !== 201)
    throw new Error(`checkout session not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as {
    id: string;
    url: string;
    orderId: string;
    customerId: string;
    successUrl: string;
    cancelUrl: string;
  };
}

/** The hosted page's form post, as a browser sends it; redirects are not followed. */
export async function postCheckoutForm(sessionId: string, fields: Record<string, string>) {
  const response = await fetch(`${inject('apiUrl')}/checkout/${sessionId}/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  return { status: response.status, location: response.headers.get('location'), text: await response.text() };
}

/** A GET of a page of the API, redirects not followed. */
export async function getPage(path: string) {
  const response = await fetch(`${inject('apiUrl')}${path}`, { redirect: 'manual' });
  return {
    status: response.status,
    headers: response.headers,
    location: response.headers.get('location'),
    text: await response.text(),
  };
}
