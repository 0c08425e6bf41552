/** Plain HTTP to the Paysaga API (127.0.0.1 only), plus the small helpers the scenarios share. */
import { randomUUID } from 'node:crypto';

export interface ApiTarget {
  apiUrl: string;
  /** Every API process to send to, in turn (BENCH_APIS); `apiUrl` alone when absent. */
  apiUrls?: readonly string[];
  apiKey: string;
  adminKey: string;
}

export interface ApiResponse {
  status: number;
  body: any;
}

export interface CallOptions {
  admin?: boolean;
  signal?: AbortSignal;
  idempotencyKey?: string;
}

export async function call(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.admin ? target.adminKey : target.apiKey}`,
  };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  const response = await fetch(`${nextApiUrl(target)}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    // Untimed calls (setup, checks) still end: 30 s at most.
    signal: options.signal ?? AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

let sent = 0;

/** The API processes take requests in turn; they share everything else (Temporal, PostgreSQL). */
function nextApiUrl(target: ApiTarget): string {
  const urls = target.apiUrls;
  return urls && urls.length > 0 ? urls[sent++ % urls.length]! : target.apiUrl;
}

/** Funds a wallet through the public top-up route (never timed). */
export async function topUp(target: ApiTarget, customerId: string, amount: number): Promise<void> {
  const body = { amount, currency: 'USD', token: 'tok_test_4242' };
  const key = randomUUID();
  for (let attempt = 1; ; attempt++) {
    const response = await call(target, 'POST', `/v1/wallets/${customerId}/top-ups`, body, {
      idempotencyKey: key,
    });
    if (response.status === 200) return;
    if (attempt >= 3)
      throw new Error(`top-up of ${customerId} failed: ${response.status} ${JSON.stringify(response.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
  }
}

/** Runs `fn` over the items with at most `limit` in flight; the first failure rejects. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
