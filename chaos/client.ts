/**
 * A client that behaves like a careful merchant: a request that fails for a reason that may pass
 * (no connection, 5xx, 429, an Idempotency-Key still in flight) is sent again with the same body and
 * key, a bounded number of times. Every attempt is recorded so the checks can judge each answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { call, type ApiResponse, type ApiTarget } from '../bench/api.js';
import { errorReason } from '../bench/load.js';

export type RequestKind = 'wallet' | 'card' | '3ds' | 'repeat';

export interface PaymentBody {
  orderId: string;
  customerId: string;
  amount: number;
  currency: 'USD';
  method: { type: 'wallet' } | { type: 'card'; token: string };
}

export interface Attempt {
  /** ms since the run started. */
  at: number;
  /** HTTP status, or 0 when no answer came back. */
  status: number;
  /** problem+json `code`, or the payment status of a 2xx, or why the send failed. */
  detail: string;
}

export interface RequestRecord {
  phase: string;
  kind: RequestKind;
  body: PaymentBody;
  idempotencyKey: string | undefined;
  attempts: Attempt[];
  /** Some attempt was answered 200/201/202: the API took the payment on. */
  accepted: boolean;
  paymentStatus: string | undefined;
  /** Why the client stopped without an accepted answer. */
  gaveUp: string | undefined;
  /** For 3-D Secure: what the challenge completion answered. */
  challenge: string | undefined;
}

export interface RetryPolicy {
  maxAttempts: number;
  /** Per-attempt limit; the API answers 202 after SYNC_WAIT_MS, so this only catches hangs. */
  attemptTimeoutMs: number;
  maxDelayMs: number;
}

const ACCEPTED = new Set([200, 201, 202]);

export function isRetryable(response: ApiResponse): boolean {
  if (response.status >= 500 || response.status === 429) return true;
  return response.status === 409 && response.body?.code === 'idempotency_key_in_flight';
}

export async function sendPayment(
  target: ApiTarget,
  record: RequestRecord,
  policy: RetryPolicy,
  clock: () => number,
  signal: AbortSignal,
): Promise<ApiResponse | undefined> {
  for (let attempt = 1; attempt <= policy.maxAttempts && !signal.aborted; attempt++) {
    let response: ApiResponse | undefined;
    try {
      response = await call(target, 'POST', '/v1/payments', record.body, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(policy.attemptTimeoutMs)]),
        ...(record.idempotencyKey ? { idempotencyKey: record.idempotencyKey } : {}),
      });
    } catch (error) {
      record.attempts.push({ at: clock(), status: 0, detail: errorReason(error) });
    }
    if (response) {
      const detail = ACCEPTED.has(response.status)
        ? String(response.body?.status)
        : String(response.body?.code ?? response.status);
      record.attempts.push({ at: clock(), status: response.status, detail });
      if (ACCEPTED.has(response.status)) {
        record.accepted = true;
        record.paymentStatus = response.body?.status as string | undefined;
        return response;
      }
      if (!isRetryable(response)) {
        record.gaveUp = `http_${response.status}:${detail}`;
        return response;
      }
    }
    // bench/api.ts hands back no headers, so Retry-After is approximated by the same backoff.
    await sleep(Math.min(policy.maxDelayMs, 250 * 2 ** attempt), undefined, { signal }).catch(
      () => undefined,
    );
  }
  record.gaveUp ??= signal.aborted ? 'cut_off' : 'attempts_exhausted';
  return undefined;
}

/**
 * A 202 carries no challenge yet: poll the payment, as a checkout page would, until it asks for
 * the customer or settles. Answers the challenge URL, if one came.
 */
export async function awaitAction(
  target: ApiTarget,
  paymentId: string,
  signal: AbortSignal,
  waitMs = 30_000,
): Promise<string | undefined> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && !signal.aborted) {
    const response = await call(target, 'GET', `/v1/payments/${paymentId}`, undefined, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
    }).catch(() => undefined);
    const status = response?.body?.status as string | undefined;
    if (response?.status === 200 && status !== 'processing') {
      const url = response.body?.nextAction?.url;
      return status === 'requires_action' && typeof url === 'string' ? url : undefined;
    }
    await sleep(500, undefined, { signal }).catch(() => undefined);
  }
  return undefined;
}

/** Completes (or fails) the customer's 3-D Secure challenge at the sandbox, as a browser would. */
export async function completeChallenge(
  actionUrl: string,
  outcome: 'succeed' | 'fail',
  signal: AbortSignal,
): Promise<string> {
  for (let attempt = 1; attempt <= 5 && !signal.aborted; attempt++) {
    try {
      const response = await fetch(`${actionUrl}/complete`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ outcome }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
      });
      if (response.status < 500) return `${outcome}:${response.status}`;
    } catch {
      // the gateway may be restarting: try again
    }
    await sleep(500 * attempt, undefined, { signal }).catch(() => undefined);
  }
  return `${outcome}:unreachable`;
}
