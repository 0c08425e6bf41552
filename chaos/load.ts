/**
 * The requests of one phase: wallet and card payments with fresh order ids (half of them with an
 * Idempotency-Key), 3-D Secure payments the client completes, and repeats of orders already sent.
 * Driven open loop by bench/load.ts, so a stalled stack shows up as latency and failures.
 */
import { setMaxListeners } from 'node:events';
import type { ApiTarget } from '../bench/api.js';
import type { Fire } from '../bench/load.js';
import {
  awaitAction,
  completeChallenge,
  sendPayment,
  type RequestRecord,
  type RetryPolicy,
} from './client.js';
import type { Mix } from './faults.js';

export interface PhaseLoad {
  phase: string;
  /** Unique per run and phase; starts every order id of the phase. */
  orderPrefix: string;
  mix: Mix;
  customers: string[];
  /** Share of requests that send an earlier order of the phase again, as it was sent. */
  repeatShare: number;
  random: () => number;
}

export function phaseFire(
  target: ApiTarget,
  load: PhaseLoad,
  policy: RetryPolicy,
  clock: () => number,
  records: RequestRecord[],
): Fire {
  const pick = <T>(items: T[]): T => items[Math.floor(load.random() * items.length)]!;
  return async (index, signal) => {
    // Every request of the phase listens on the loop's one signal (plus its own timeout).
    setMaxListeners(0, signal);
    const record = nextRequest(load, index, records, pick);
    records.push(record);
    const response = await sendPayment(target, record, policy, clock, signal);
    const outcome = load.random() < 0.8 ? 'succeed' : 'fail';
    let action: unknown = response?.body?.nextAction?.url;
    if (record.kind === '3ds' && record.paymentStatus === 'processing' && response?.body?.id)
      action = await awaitAction(target, String(response.body.id), signal);
    if (typeof action === 'string') record.challenge = await completeChallenge(action, outcome, signal);
    if (!record.accepted) return { kind: 'error', httpStatus: response?.status, reason: record.gaveUp };
    return {
      kind: response?.status === 200 ? 'ok' : 'accepted',
      httpStatus: response?.status,
      paymentStatus: record.paymentStatus,
    };
  };
}

function nextRequest(
  load: PhaseLoad,
  index: number,
  earlier: RequestRecord[],
  pick: <T>(items: T[]) => T,
): RequestRecord {
  const base = { phase: load.phase, attempts: [], accepted: false, paymentStatus: undefined };
  const rest = { gaveUp: undefined, challenge: undefined };
  const originals = earlier.filter((r) => r.kind !== 'repeat' && r.kind !== '3ds');
  if (originals.length > 0 && load.random() < load.repeatShare) {
    const original = pick(originals);
    return { ...base, ...rest, kind: 'repeat', body: original.body, idempotencyKey: original.idempotencyKey };
  }
  const orderId = `${load.orderPrefix}-${index}`;
  const roll = load.random() * (load.mix.wallet + load.mix.card + load.mix.threeDs);
  const kind = roll < load.mix.wallet ? 'wallet' : roll < load.mix.wallet + load.mix.card ? 'card' : '3ds';
  const token = kind === '3ds' ? 'tok_test_3333' : load.random() < 0.9 ? 'tok_test_4242' : 'tok_test_0000';
  return {
    ...base,
    ...rest,
    kind,
    body: {
      orderId,
      customerId: pick(load.customers),
      amount: 100 + Math.floor(load.random() * 1900),
      currency: 'USD',
      method: kind === 'wallet' ? { type: 'wallet' } : { type: 'card', token },
    },
    idempotencyKey: load.random() < 0.5 ? `chaos-${orderId}` : undefined,
  };
}

/** A seeded generator (mulberry32), so a run can be replayed with CHAOS_SEED. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
