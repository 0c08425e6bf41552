/**
 * The Paysaga scenarios. Each step gets fresh order and customer ids; the untimed preparation
 * (wallet top-ups, payments to refund) happens before the step's clock starts.
 */
import { call, mapLimit, topUp, type ApiResponse, type ApiTarget } from './api.js';
import type { Fire, Outcome } from './load.js';

export interface StepContext {
  /** Unique per run, scenario and rate; part of every id the step uses. */
  tag: string;
  count: number;
}

export interface PreparedStep {
  fire: Fire;
  orderId: (index: number) => string;
  /** What the payment behind an accepted request must become. */
  expect: 'terminal' | 'refunded';
}

export interface Scenario {
  name: string;
  /** A reason to skip the scenario (e.g. its route is missing), or undefined. */
  unavailable?(): Promise<string | undefined>;
  prepare(step: StepContext): Promise<PreparedStep>;
}

export const AMOUNT = 1000; // 10.00 USD
const SPLIT_WALLET_PART = 400;
const PREP_CONCURRENCY = 8;
const TOKEN = 'tok_test_4242';

const ids = (tag: string, i: number) => ({ orderId: `ord-${tag}-${i}`, customerId: `cus-${tag}-${i}` });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

type Method = { type: 'wallet' } | { type: 'card'; token: string } | { type: 'split'; token: string };

/** 200 + succeeded is OK; 200 + anything else is a decline (an error here); 202 is accepted. */
export function paymentOutcome(response: ApiResponse, check?: (body: any) => string | undefined): Outcome {
  const base = { httpStatus: response.status, paymentStatus: response.body?.status as string | undefined };
  if (response.status === 202) return { ...base, kind: 'accepted' };
  if (response.status !== 200) return { ...base, kind: 'error', reason: httpReason(response) };
  if (response.body?.status !== 'succeeded')
    return {
      ...base,
      kind: 'error',
      reason: `declined:${response.body?.failureCode ?? response.body?.status}`,
    };
  const wrong = check?.(response.body);
  return wrong ? { ...base, kind: 'error', reason: wrong } : { ...base, kind: 'ok' };
}

function httpReason(response: ApiResponse): string {
  const code = typeof response.body?.code === 'string' ? `:${response.body.code}` : '';
  return `http_${response.status}${code}`;
}

function createPayment(target: ApiTarget, tag: string, i: number, method: Method, signal?: AbortSignal) {
  const { orderId, customerId } = ids(tag, i);
  return call(
    target,
    'POST',
    '/v1/payments',
    { orderId, customerId, amount: AMOUNT, currency: 'USD', method },
    { idempotencyKey: `pay-${orderId}`, ...(signal ? { signal } : {}) },
  );
}

/** A succeeded wallet payment, left for the refund scenario. */
interface Paid {
  paymentId: string;
  orderId: string;
}

function paymentScenario(
  target: ApiTarget,
  name: string,
  method: Method,
  walletFunding: number,
  options: { check?: (body: any) => string | undefined; paid?: Paid[] } = {},
): Scenario {
  return {
    name,
    async prepare({ tag, count }) {
      if (walletFunding > 0)
        await mapLimit(range(count), PREP_CONCURRENCY, (i) =>
          topUp(target, ids(tag, i).customerId, walletFunding),
        );
      return {
        expect: 'terminal',
        orderId: (i) => ids(tag, i).orderId,
        fire: async (i, signal) => {
          const response = await createPayment(target, tag, i, method, signal);
          const outcome = paymentOutcome(response, options.check);
          if (outcome.kind === 'ok')
            options.paid?.push({ paymentId: response.body.id as string, orderId: ids(tag, i).orderId });
          return outcome;
        },
      };
    },
  };
}

/** Full refunds of succeeded wallet payments: the wallet scenario's, else made before the step. */
function refundScenario(target: ApiTarget, paid: Paid[]): Scenario {
  return {
    name: 'refund',
    async unavailable() {
      const probe = await call(target, 'POST', '/v1/payments/pay_bench_probe/refunds', { amount: 1 });
      if (probe.status === 404 && probe.body?.code === 'route_not_found') return 'route not available';
      return undefined;
    },
    async prepare({ tag, count }) {
      // Missing payments to refund are made closed-loop before the clock starts.
      const reused = paid.splice(0, count);
      const made = await mapLimit(range(count - reused.length), PREP_CONCURRENCY, async (i) => {
        await topUp(target, ids(tag, i).customerId, AMOUNT);
        const created = await createPayment(target, tag, i, { type: 'wallet' });
        if (created.status !== 200 || created.body?.status !== 'succeeded')
          throw new Error(`refund setup: payment ${created.status} ${JSON.stringify(created.body)}`);
        return { paymentId: created.body.id as string, orderId: ids(tag, i).orderId };
      });
      const payments = [...reused, ...made];
      return {
        expect: 'refunded',
        orderId: (i) => payments[i]!.orderId,
        fire: async (i, signal) => {
          const { paymentId, orderId } = payments[i]!;
          const response = await call(
            target,
            'POST',
            `/v1/payments/${paymentId}/refunds`,
            { amount: AMOUNT },
            { signal, idempotencyKey: `refund-${orderId}` },
          );
          // 200 carries a finished refund (succeeded or failed), 202 one still pending.
          const base = { httpStatus: response.status };
          if (response.status === 202) return { ...base, kind: 'accepted' };
          if (response.status !== 200) return { ...base, kind: 'error', reason: httpReason(response) };
          const status = response.body?.status;
          if (status !== 'succeeded')
            return { ...base, kind: 'error', reason: `refund_${status}:${response.body?.failureCode ?? ''}` };
          return { ...base, kind: 'ok' };
        },
      };
    },
  };
}

export function createScenarios(target: ApiTarget): Scenario[] {
  const paid: Paid[] = [];
  const splitCheck = (body: any) =>
    body.amountFromWallet === SPLIT_WALLET_PART && body.amountFromCard === AMOUNT - SPLIT_WALLET_PART
      ? undefined
      : `wrong_split:${body.amountFromWallet}+${body.amountFromCard}`;
  return [
    paymentScenario(target, 'wallet', { type: 'wallet' }, AMOUNT, { paid }),
    paymentScenario(target, 'card', { type: 'card', token: TOKEN }, 0),
    paymentScenario(target, 'split', { type: 'split', token: TOKEN }, SPLIT_WALLET_PART, {
      check: splitCheck,
    }),
    refundScenario(target, paid),
  ];
}

/** A few untimed payments so the first step does not pay for cold caches and JIT. */
export async function warmUp(target: ApiTarget, tag: string): Promise<void> {
  await mapLimit(range(6), 3, async (i) => {
    const method: Method = i % 2 ? { type: 'card', token: TOKEN } : { type: 'wallet' };
    if (method.type === 'wallet') await topUp(target, ids(tag, i).customerId, AMOUNT);
    const outcome = paymentOutcome(await createPayment(target, tag, i, method));
    if (outcome.kind === 'error') throw new Error(`warm-up payment failed: ${outcome.reason}`);
  });
}
