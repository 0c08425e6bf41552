/**
 * What must hold once the settle window is over, per fault phase: every accepted request has a
 * terminal payment, money moved once (Paysaga's ledger and the sandbox's charges agree to the cent,
 * at most one capture per payment), no payment workflow is still running, and every event of the
 * phase's payments reached the merchant's webhook receiver and each broker. In a phase that takes
 * a broker down, the other sinks got the phase's events while it was down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowExecutionDescription } from '@temporalio/client';
import { tsToDate } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type pg from 'pg';
import { parsePaymentWorkflowId } from '../src/domain/ids.js';
import { isTerminal, PAYMENT_STATUSES, type PaymentStatus } from '../src/domain/payment.js';
import type { ReferenceStats } from '../sandbox/wire.js';
import type { RequestRecord } from './client.js';
import type { Broker } from '../tools/stack/brokers-here.js';

const { PendingWorkflowTaskState: WorkflowTaskState } = proto.temporal.api.enums.v1;

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
  /** Order ids whose payment workflow is still running, and what holds each. */
  running: Map<string, string>;
  /** Order ids visibility still listed as running though their workflow had closed. */
  staleVisibility: Set<string>;
  /** Per order id: the events the outbox holds for its payment. */
  events: Map<string, OutboxEvent[]>;
}

export interface OutboxEvent {
  id: string;
  type: string;
  /** When the workflow wrote it (ms since the epoch). */
  time: number;
}

/** Where events leave to: merchants' webhooks, and each broker the run has. */
export type SinkLabel = 'webhooks' | Broker;

/** When each sink first got each event (event id → ms since the epoch). */
export type Arrivals = Map<SinkLabel, Map<string, number>>;

/** A broker taken down during a phase: from when until when (ms since the epoch). */
export interface SinkOutage {
  broker: Broker;
  from: number;
  to: number;
}

/**
 * While a broker is down, an event the other sinks have not had this long after it was written
 * counts as held: far above the usual second or two on a busy 2-core machine, far below an outage.
 */
export const HOLD_GRACE_MS = 15_000;

export interface Latency {
  /** Of the terminal events written while the broker was down, how many the sink had before it came back. */
  received: number;
  p50Ms: number | undefined;
  maxMs: number | undefined;
}

/** What the other sinks did while a phase's broker was down. */
export interface Isolation {
  broker: Broker;
  downS: number;
  /** Terminal events of the phase's payments written while the broker was down. */
  terminalEvents: number;
  /** Of those, the ones written at least HOLD_GRACE_MS before it came back: the ones judged. */
  judged: number;
  /** From a terminal event's writing to its arrival at each other sink, before the broker came back. */
  latency: Partial<Record<SinkLabel, Latency>>;
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
  /** Events of the phase's payments the healthy webhook receiver never got. */
  webhooksMissing: number;
  /** Events of the phase's payments a broker's consumer never got, per broker. */
  eventsMissing: Partial<Record<Broker, number>>;
  /** Terminal events the other sinks had not received HOLD_GRACE_MS after writing, while a broker was down. */
  held: number;
  isolation?: Isolation;
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
  const outbox = await pool.query<{ order_id: string; id: string; type: string; time: Date }>(
    `SELECT p.order_id, e.id, e.type, e.time FROM events e
       JOIN payments p ON p.tenant_id = e.tenant_id AND e.subject = 'payments/' || p.id
      WHERE p.tenant_id = $1 AND p.order_id LIKE $2`,
    [tenantId, `${orderPrefix}%`],
  );
  const events: World['events'] = new Map();
  for (const row of outbox.rows) {
    const list = events.get(row.order_id) ?? [];
    list.push({ id: row.id, type: row.type, time: row.time.getTime() });
    events.set(row.order_id, list);
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
    ...(await runningOrders(temporalAddress, tenantId, orderPrefix)),
    events,
  };
}

/**
 * Order ids of payment workflows still running, each with what holds it (its pending workflow
 * task and its history's length). Visibility lists the candidates; each is then described,
 * since visibility is written asynchronously (a real server's visibility queue can lag after a
 * crash): a workflow visibility still lists but whose execution has closed is not running, and
 * is named in `staleVisibility` instead.
 */
export async function runningOrders(
  address: string,
  tenantId: string,
  orderPrefix: string,
): Promise<Pick<World, 'running' | 'staleVisibility'>> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const client = new Client({ connection });
    const running = new Map<string, string>();
    const staleVisibility = new Set<string>();
    for await (const execution of client.workflow.list({ query: 'ExecutionStatus="Running"' })) {
      const parsed = parsePaymentWorkflowId(execution.workflowId);
      if (parsed?.tenantId !== tenantId || !parsed.orderId.startsWith(orderPrefix)) continue;
      const described = await client.workflow.getHandle(execution.workflowId, execution.runId).describe();
      if (described.status.name === 'RUNNING') running.set(parsed.orderId, whatHolds(described));
      else staleVisibility.add(parsed.orderId);
    }
    return { running, staleVisibility };
  } finally {
    await connection.close();
  }
}

/** A running workflow's pending task and its history's length, in a line. */
function whatHolds(described: WorkflowExecutionDescription): string {
  const task = described.raw.pendingWorkflowTask;
  const taskLine = task
    ? `workflow task ${WorkflowTaskState[task.state ?? 0] ?? task.state}, attempt ${task.attempt ?? 1}` +
      (task.scheduledTime ? `, scheduled ${tsToDate(task.scheduledTime).toISOString()}` : '')
    : 'no pending workflow task';
  return `${taskLine}; ${described.historyLength} events`;
}

/**
 * Polls until every accepted order is terminal, nothing runs and every sink has every event of
 * the orders, or the window closes.
 */
export async function settle(
  records: RequestRecord[],
  read: () => Promise<World>,
  arrivals: () => Arrivals,
  windowMs: number,
): Promise<{ world: World; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const world = await read();
    const open = records.some((r) => r.accepted && !terminal(world.payments.get(r.body.orderId)?.status));
    const orders = new Set(records.map((r) => r.body.orderId));
    const undelivered = [...arrivals().values()].some((got) =>
      [...orders].some((order) => world.events.get(order)?.some((e) => !got.has(e.id))),
    );
    if ((!open && !undelivered && world.running.size === 0) || Date.now() - started > windowMs)
      return { world, waitedMs: Date.now() - started };
    await sleep(1000);
  }
}

export function checkPhase(
  fault: string,
  records: RequestRecord[],
  world: World,
  outages: { from: number; to: number }[],
  arrivals: Arrivals,
  sinkOutage?: SinkOutage,
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
    webhooksMissing: 0,
    eventsMissing: {},
    held: 0,
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
      example(
        `${order}: workflow still running (${world.payments.get(order)?.status ?? 'no row'}; ${world.running.get(order)})`,
      );
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
  const phaseEvents = [...orders].flatMap((order) => world.events.get(order) ?? []);
  for (const [sink, got] of arrivals) {
    const missing = phaseEvents.filter((e) => !got.has(e.id));
    if (sink === 'webhooks') check.webhooksMissing = missing.length;
    else check.eventsMissing[sink] = missing.length;
    for (const e of missing.slice(0, 2)) example(`${e.id}: never reached ${sink}`);
  }
  if (sinkOutage) {
    const { held, isolation } = judgeIsolation(phaseEvents, arrivals, sinkOutage);
    check.isolation = isolation;
    check.held = held.length;
    for (const h of held.slice(0, 3)) example(h);
  }
  return check;
}

/**
 * While `outage.broker` was down, did the other sinks keep getting the phase's payments? Each
 * terminal event written during the outage (and at least HOLD_GRACE_MS before its end) that
 * another sink had not received HOLD_GRACE_MS after it was written is held.
 */
function judgeIsolation(
  events: OutboxEvent[],
  arrivals: Arrivals,
  outage: SinkOutage,
): { held: string[]; isolation: Isolation } {
  const during = events.filter(
    (e) => isTerminalEvent(e.type) && e.time >= outage.from && e.time <= outage.to,
  );
  const held: string[] = [];
  const isolation: Isolation = {
    broker: outage.broker,
    downS: Math.round((outage.to - outage.from) / 100) / 10,
    terminalEvents: during.length,
    judged: during.filter((e) => e.time + HOLD_GRACE_MS <= outage.to).length,
    latency: {},
  };
  for (const [sink, got] of arrivals) {
    if (sink === outage.broker) continue;
    const waits: number[] = [];
    for (const e of during) {
      const at = got.get(e.id);
      if (at !== undefined && at <= outage.to) waits.push(at - e.time);
      const deadline = e.time + HOLD_GRACE_MS;
      if (deadline <= outage.to && (at === undefined || at > deadline))
        held.push(`${e.id}: not at ${sink} within ${HOLD_GRACE_MS / 1000} s while ${outage.broker} was down`);
    }
    waits.sort((a, b) => a - b);
    isolation.latency[sink] = {
      received: waits.length,
      p50Ms: waits[Math.floor((waits.length - 1) / 2)],
      maxMs: waits.at(-1),
    };
  }
  return { held, isolation };
}

const isTerminalEvent = (type: string): boolean =>
  type.startsWith('payment.') && terminal(type.slice('payment.'.length));

export const failed = (c: PhaseCheck): boolean =>
  c.lost +
    c.double +
    c.mismatch +
    c.stuck +
    c.attention +
    c.unexpected5xx +
    c.webhooksMissing +
    Object.values(c.eventsMissing).reduce((n, v) => n + v, 0) +
    c.held >
  0;

function requestOf(records: RequestRecord[], order: string): string {
  const first = records.find((r) => r.body.orderId === order);
  if (!first) return 'unknown request';
  return [first.kind, first.challenge && `challenge ${first.challenge}`].filter(Boolean).join(', ');
}
