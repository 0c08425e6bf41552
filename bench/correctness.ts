/**
 * After each step: every request the API accepted (200/202) must be exactly one payment that
 * reaches a terminal state within a bounded wait, and what a 200 said must be what is stored.
 * Requests that got no answer may or may not have made a payment; any they made must be terminal.
 */
import type pg from 'pg';
import type { Sample } from './load.js';

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'partially_refunded', 'refunded']);

export interface Correctness {
  /** Requests answered 200 or 202. */
  accepted: number;
  /** Of those, payments found in a terminal (or, for refunds, refunded) state. */
  settled: number;
  missing: number;
  notSettled: number;
  /** A 200 answer whose payment status differs from the stored one. */
  mismatched: number;
  /** Unanswered or failed requests that still made a payment, and those of them not terminal. */
  unansweredWithPayment: number;
  unansweredNotTerminal: number;
  waitedMs: number;
  ok: boolean;
  examples: string[];
}

export async function checkStep(
  pool: pg.Pool,
  tenantId: string,
  samples: Sample[],
  orderId: (index: number) => string,
  expect: 'terminal' | 'refunded',
  waitMs: number,
): Promise<Correctness> {
  const started = Date.now();
  const isAccepted = (s: Sample) => s.httpStatus === 200 || s.httpStatus === 202 || s.httpStatus === 201;
  const done = (status: string | undefined) =>
    status !== undefined && (expect === 'refunded' ? status === 'refunded' : TERMINAL.has(status));
  const orders = samples.map((s) => orderId(s.index));
  let stored = new Map<string, string>();
  for (;;) {
    const result = await pool.query<{ order_id: string; status: string }>(
      'SELECT order_id, status FROM payments WHERE tenant_id = $1 AND order_id = ANY($2::text[])',
      [tenantId, orders],
    );
    stored = new Map(result.rows.map((r) => [r.order_id, r.status]));
    const waiting = samples.some((s) => {
      const status = stored.get(orderId(s.index));
      return isAccepted(s) ? !done(status) : status !== undefined && !TERMINAL.has(status);
    });
    if (!waiting || Date.now() - started > waitMs) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  const c: Correctness = {
    accepted: 0,
    settled: 0,
    missing: 0,
    notSettled: 0,
    mismatched: 0,
    unansweredWithPayment: 0,
    unansweredNotTerminal: 0,
    waitedMs: Date.now() - started,
    ok: true,
    examples: [],
  };
  const example = (text: string) => c.examples.length < 5 && c.examples.push(text);
  for (const s of samples) {
    const order = orderId(s.index);
    const status = stored.get(order);
    if (!isAccepted(s)) {
      if (status !== undefined) c.unansweredWithPayment++;
      if (status !== undefined && !TERMINAL.has(status)) {
        c.unansweredNotTerminal++;
        example(`${order}: unanswered, payment ${status}`);
      }
      continue;
    }
    c.accepted++;
    if (status === undefined) {
      c.missing++;
      example(`${order}: answered ${s.httpStatus}, no payment stored`);
    } else if (!done(status)) {
      c.notSettled++;
      example(`${order}: answered ${s.httpStatus}, still ${status}`);
    } else {
      c.settled++;
    }
    if (expect === 'terminal' && s.httpStatus === 200 && status !== undefined && s.paymentStatus !== status) {
      c.mismatched++;
      example(`${order}: answered ${s.paymentStatus}, stored ${status}`);
    }
  }
  c.ok = c.missing === 0 && c.notSettled === 0 && c.mismatched === 0 && c.unansweredNotTerminal === 0;
  return c;
}

export function mergeCorrectness(parts: Correctness[]): Correctness | undefined {
  if (parts.length === 0) return undefined;
  const sum = (key: keyof Correctness) => parts.reduce((n, p) => n + (p[key] as number), 0);
  return {
    accepted: sum('accepted'),
    settled: sum('settled'),
    missing: sum('missing'),
    notSettled: sum('notSettled'),
    mismatched: sum('mismatched'),
    unansweredWithPayment: sum('unansweredWithPayment'),
    unansweredNotTerminal: sum('unansweredNotTerminal'),
    waitedMs: sum('waitedMs'),
    ok: parts.every((p) => p.ok),
    examples: parts.flatMap((p) => p.examples).slice(0, 5),
  };
}
