/**
 * What must hold once the settle window is over, per fault phase: every accepted request has a
 * terminal payment, money moved once (Paysaga's ledger and the sandbox's charges agree to the cent,
 * at most one capture per payment), and no payment workflow is still running.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { parsePaymentWorkflowId } from '../src/domain/ids.js';
import { isTerminal, PAYMENT_STATUSES, type PaymentStatus } from '../src/domain/payment.js';
import type { ReferenceStats } from '../sandbox/wire.js';
import type { RequestRecord } from './client.js';

const terminal = (status: string | undefined): boolean =>
  (PAYMENT_STATUSES as readonly string[]).includes(status ?? '') && isTerminal(status as PaymentStatus);
/** Terminal, but Paysaga could not put money back or record it: an operator has to look. */
const ATTENTION: PaymentStatus = 'requires_attention';

export interface StoredPayment {
  id: string;
  status: string;
  amountCaptured: number;
}

export interface World {
  payments: Map<string, StoredPayment>;
  /** Ledger postings per order id: wallet-post and card-capture amounts. */
  ledger: Map<string, { wallet: number; card: number; postings: number }>;
  /** The sandbox's charges per reference (= payment id). */
  charges: Map<string, ReferenceStats>;
  /** Order ids whose payment workflow is still running. */
  running: Set<string>;
}

export interface PhaseCheck {
  fault: string;
  requests: number;
  accepted: number;
  /** Accepted, but no payment or not terminal after the settle window. */
  lost: number;
  /** Charged more than once at the gateway, or more at the gateway than in the ledger. */
  double: number;
  /** Ledger, payment row and gateway disagree in any other way. */
  mismatch: number;
  /** Payment workflows of the phase still running after the settle window. */
  stuck: number;
  /** Payments that ended `requires_attention`: money may have moved that Paysaga could not settle. */
  attention: number;
  fiveXx: number;
  /** 5xx answers outside the fault's outage window: a fault the API should have absorbed. */
  unexpected5xx: number;
  /** Sends that got no answer (connection refused or reset, timeout). */
  noAnswer: number;
  /** Requests the client gave up on without an accepted answer, by reason. */
  gaveUp: Record<string, number>;
  examples: string[];
}

export async function readWorld(
  pool: pg.Pool,
  tenantId: string,
  orderPrefix: string,
  charges: Map<string, ReferenceStats>,
  temporalAddress: string,
): Promise<World> {
  const workflowPrefix = `payment:${tenantId}:`;
  const paid = await pool.query<{ order_id: string; id: string; status: string; amount_captured: string }>(
    'SELECT order_id, id, status, amount_captured FROM payments WHERE tenant_id = $1 AND order_id LIKE $2',
    [tenantId, `${orderPrefix}%`],
  );
  const transfers = await pool.query<{ id: string; amount: string }>(
    `SELECT id, amount FROM ledger_transfers WHERE id LIKE $1 AND (id LIKE '%#wallet-post' OR id LIKE '%#card-capture')`,
    [`${workflowPrefix}${orderPrefix}%`],
  );
  const ledger: World['ledger'] = new Map();
  for (const row of transfers.rows) {
    const hash = row.id.lastIndexOf('#');
    const order = row.id.slice(workflowPrefix.length, hash);
    const entry = ledger.get(order) ?? { wallet: 0, card: 0, postings: 0 };
    entry.postings += 1;
    if (row.id.endsWith('#card-capture')) entry.card += Number(row.amount);
    else entry.wallet += Number(row.amount);
    ledger.set(order, entry);
  }
  return {
    payments: new Map(
      paid.rows.map((r) => [
        r.order_id,
        { id: r.id, status: r.status, amountCaptured: Number(r.amount_captured) },
      ]),
    ),
    ledger,
    charges,
    running: await runningOrders(temporalAddress, tenantId, orderPrefix),
  };
}

/** Order ids of payment workflows still running, from Temporal's visibility. */
export async function runningOrders(
  address: string,
  tenantId: string,
  orderPrefix: string,
): Promise<Set<string>> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const client = new Client({ connection });
    const running = new Set<string>();
    for await (const execution of client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
      const parsed = parsePaymentWorkflowId(execution.workflowId);
      if (parsed?.tenantId === tenantId && parsed.orderId.startsWith(orderPrefix))
        running.add(parsed.orderId);
    }
    return running;
  } finally {
    await connection.close();
  }
}

/** Polls until every accepted order is terminal and nothing runs, or the window closes. */
export async function settle(
  records: RequestRecord[],
  read: () => Promise<World>,
  windowMs: number,
): Promise<{ world: World; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const world = await read();
    const open = records.some((r) => r.accepted && !terminal(world.payments.get(r.body.orderId)?.status));
    if ((!open && world.running.size === 0) || Date.now() - started > windowMs)
      return { world, waitedMs: Date.now() - started };
    await sleep(1000);
  }
}

export function checkPhase(
  fault: string,
  records: RequestRecord[],
  world: World,
  outages: { from: number; to: number }[],
): PhaseCheck {
  const check: PhaseCheck = {
    fault,
    requests: records.length,
    accepted: 0,
    lost: 0,
    double: 0,
    mismatch: 0,
    stuck: 0,
    attention: 0,
    fiveXx: 0,
    unexpected5xx: 0,
    noAnswer: 0,
    gaveUp: {},
    examples: [],
  };
  const example = (text: string) => check.examples.length < 8 && check.examples.push(text);
  const inOutage = (at: number) => outages.some((w) => at >= w.from && at <= w.to);
  for (const r of records) {
    for (const a of r.attempts) {
      if (a.status === 0) check.noAnswer++;
      if (a.status < 500) continue;
      check.fiveXx++;
      if (!inOutage(a.at)) {
        check.unexpected5xx++;
        example(
          `${r.body.orderId}: ${a.status} ${a.detail} at +${(a.at / 1000).toFixed(1)}s, outside an outage`,
        );
      }
    }
    if (!r.accepted) {
      const why = r.gaveUp ?? 'unknown';
      check.gaveUp[why] = (check.gaveUp[why] ?? 0) + 1;
      continue;
    }
    check.accepted++;
    const payment = world.payments.get(r.body.orderId);
    if (!payment || !terminal(payment.status)) {
      check.lost++;
      example(
        `${r.body.orderId} (${r.kind}): answered ${r.paymentStatus}, stored ${payment?.status ?? 'nothing'}`,
      );
    }
  }
  // Money is judged per order, once, whoever asked for it.
  const orders = new Set(records.map((r) => r.body.orderId));
  for (const order of orders) {
    if (world.running.has(order)) {
      check.stuck++;
      example(`${order}: workflow still running (${world.payments.get(order)?.status ?? 'no row'})`);
    }
    const payment = world.payments.get(order);
    if (payment?.status === ATTENTION) {
      check.attention++;
      example(`${order}: ${ATTENTION} (${requestOf(records, order)})`);
    }
    const ledger = world.ledger.get(order) ?? { wallet: 0, card: 0, postings: 0 };
    const psp = payment ? world.charges.get(payment.id) : undefined;
    const pspNet = psp ? psp.capturedAmount - psp.refundedAmount : 0;
    if ((psp?.captures ?? 0) > 1 || pspNet > ledger.card || ledger.postings > 2) {
      check.double++;
      example(
        `${order}: gateway ${psp?.captures ?? 0} captures net ${pspNet}, ledger card ${ledger.card} (${ledger.postings} postings)`,
      );
    } else if (
      pspNet !== ledger.card ||
      (payment && ledger.wallet + ledger.card !== payment.amountCaptured)
    ) {
      check.mismatch++;
      example(
        `${order}: payment ${payment?.status} captured ${payment?.amountCaptured}, ledger wallet ${ledger.wallet} card ${ledger.card}, gateway net ${pspNet}`,
      );
    }
  }
  return check;
}

export const failed = (c: PhaseCheck): boolean =>
  c.lost + c.double + c.mismatch + c.stuck + c.attention + c.unexpected5xx > 0;

function requestOf(records: RequestRecord[], order: string): string {
  const first = records.find((r) => r.body.orderId === order);
  if (!first) return 'unknown request';
  return [first.kind, first.challenge && `challenge ${first.challenge}`].filter(Boolean).join(', ');
}
