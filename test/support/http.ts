import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../../src/config.js';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  key?: string | null;
  headers?: Record<string, string>;
  /** Send this exact text as the body (for malformed JSON tests). */
  raw?: string;
}

/** Headers and body text of a test request: the key (dev key by default), JSON unless raw. */
export function requestParts(body: unknown, options: RequestOptions = {}, defaultKey: string = DEV_API_KEY) {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? defaultKey : options.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let payload: string | undefined = options.raw;
  if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  return { headers, payload };
}

/** Real HTTP to the API process the global setup started. */
export async function api<T = any>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const { headers, payload } = requestParts(body, options);
  const response = await fetch(`${inject('apiUrl')}${path}`, { method, headers, body: payload });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

export const admin = (path: string) => api('GET', path, undefined, { key: DEV_ADMIN_KEY });

export function uid(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

export async function topUp(customerId: string, amount: number, currency = 'USD') {
  const response = await api('POST', `/v1/wallets/${customerId}/top-ups`, {
    amount,
    currency,
    token: 'tok_test_4242',
  });
  if (response.status !== 200)
    throw new Error(`top-up failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

export async function expectLedgerClean(): Promise<void> {
  const response = await admin('/v1/ledger/verify');
  if (response.status !== 200 || !response.body.ok) {
    throw new Error(`ledger invariants violated: ${JSON.stringify(response.body)}`);
  }
}
