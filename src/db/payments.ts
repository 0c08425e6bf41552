import type { SQL } from 'drizzle-orm';
import { and, desc, eq, lt, or, sql } from './orm.js';
import type { CloudEvent } from '../domain/events.js';
import type { Currency } from '../domain/money.js';
import {
  isSettled,
  type CardDetails,
  type FailureCode,
  type NextAction,
  type PaymentAttempt,
  type PaymentStatus,
  type PaymentView,
} from '../domain/payment.js';
import type { Executor } from './client.js';
import { events, payments } from './schema.js';
import { prefixed, unprefixed } from './statement.js';

type PaymentRow = typeof payments.$inferSelect;
type PaymentInsert = typeof payments.$inferInsert;
type EventInsert = typeof events.$inferInsert;

/**
 * Writes the payment's new state and its event in one statement (the outbox): an event row
 * exists exactly when its state change does. A stale write (an older version replayed by a
 * retried activity) never overwrites a newer one.
 */
export async function savePayment(db: Executor, view: PaymentView, event?: CloudEvent): Promise<void> {
  await writePayment(db, view, event ? [event] : []);
}

/** The payment row and its events in one statement, on a connection or inside a caller's transaction. */
export async function writePayment(db: Executor, view: PaymentView, events: CloudEvent[]): Promise<void> {
  const [row, ...rest] = paymentWrites(db, view, events);
  if (rest.length === 0) {
    await row;
    return;
  }
  // getSQL(): each statement itself (a query builder put in a template would be a parenthesized subquery).
  const writes = rest.map((write, i) => sql`${sql.raw(`write_${i}`)} AS (${write.getSQL()})`);
  await db.execute(sql`WITH ${sql.join(writes, sql`, `)} ${row.getSQL()}`);
}

/**
 * The statements that write a payment's state and its events, not yet run: `writePayment` runs
 * them as one statement, and a caller may instead make them part of one statement of its own
 * (the ledger's `holdAndPost`), so that they commit with it or not at all.
 */
export function paymentWrites(db: Executor, view: PaymentView, events: CloudEvent[]) {
  return rowWrites(db, toRow(view), events.map(eventRow));
}

/**
 * `paymentWrites` in a cached statement (src/db/statement.ts): its values (`paymentWriteValues`)
 * and, given their placeholders, its statements. The payment row's fields are under `payment.`,
 * each event's under `event{i}.`.
 */
export function paymentWriteValues(view: PaymentView, events: CloudEvent[]): Record<string, unknown> {
  return Object.assign(
    prefixed('payment.', toRow(view)),
    ...events.map((event, i) => prefixed(`event${i}.`, eventRow(event))),
  ) as Record<string, unknown>;
}

export function paymentWriteSlots(db: Executor, slots: Record<string, unknown>, eventCount: number) {
  return rowWrites(
    db,
    unprefixed<PaymentInsert>(slots, 'payment.'),
    Array.from({ length: eventCount }, (_, i) => unprefixed<EventInsert>(slots, `event${i}.`)),
  );
}

/**
 * For the statement of `paymentWriteSlots`: raises (migrations/0024), so that nothing of it is
 * written, when the order has a payment an earlier run stored (`earlierRunPayment`'s test, with
 * no round trip of its own). The statement sees the rows as they were before it.
 */
export function earlierRunGuard(slots: Record<string, unknown>): SQL {
  const row = unprefixed<Record<keyof PaymentInsert, unknown>>(slots, 'payment.');
  return sql`payments_refuse_earlier_run(EXISTS (SELECT 1 FROM ${payments}
    WHERE ${payments.tenantId} = ${row.tenantId} AND ${payments.orderId} = ${row.orderId}
      AND (${payments.id} <> ${row.id} OR ${payments.createdAt} <> ${row.createdAt})))`;
}

function rowWrites(db: Executor, row: PaymentInsert, eventRows: EventInsert[]) {
  const upsert = db
    .insert(payments)
    .values(row)
    .onConflictDoUpdate({
      target: payments.id,
      // The first settled time is kept: later changes (capture, refunds) do not move it.
      set: {
        ...row,
        createdAt: sql`${payments.createdAt}`,
        settledAt: sql`COALESCE(${payments.settledAt}, excluded.settled_at)`,
      },
      setWhere: lt(payments.version, row.version),
    });
  const writes: [typeof upsert, ...ReturnType<typeof eventsInsert>[]] = [upsert];
  if (eventRows.length > 0) writes.push(eventsInsert(db, eventRows));
  return writes;
}

/**
 * What the first write of a payment run found: the order was free (or already this run's), or an
 * earlier run of the same order, whose workflow Temporal has since deleted, wrote its payment.
 */
export type PaymentClaim = { claimed: true } | { claimed: false; stored: PaymentView };

/**
 * The first write of a payment run: its `created` state and event, unless the order already has
 * a payment. The row is then this run's own (a retried activity) when its creation time is this
 * run's, which a run fixes when it starts; any other row belongs to an earlier run of the order,
 * and is returned untouched. The event's id is the same in every run of the order, so an earlier
 * run's makes its insert a no-op. Only one run of an order's workflow is open at a time, so
 * nothing can claim the order between this statement and the run's next steps.
 */
export async function claimOrder(db: Executor, view: PaymentView, event: CloudEvent): Promise<PaymentClaim> {
  const row = toRow(view);
  const insert = db.insert(payments).values(row).onConflictDoNothing().returning({ id: payments.id });
  const written = await db.execute(
    sql`WITH created_event AS (${eventsInsert(db, [eventRow(event)]).getSQL()}) ${insert.getSQL()}`,
  );
  if (written.rows.length > 0) return { claimed: true };
  return claimOf(await earlierRunPayment(db, view));
}

/** The claim a run holds when the order's payment from an earlier run is `stored`, if any. */
export function claimOf(stored: PaymentView | undefined): PaymentClaim {
  return stored ? { claimed: false, stored } : { claimed: true };
}

/**
 * The order's payment as an earlier run wrote it, if one did: a stored row whose id or creation
 * time is not that of the run whose state is `view`.
 */
export async function earlierRunPayment(db: Executor, view: PaymentView): Promise<PaymentView | undefined> {
  const stored = await findPaymentByOrder(db, view.tenantId, view.orderId);
  return stored && (stored.id !== view.id || stored.createdAt !== view.createdAt) ? stored : undefined;
}

export async function insertEvent(db: Executor, event: CloudEvent): Promise<void> {
  await insertEvents(db, [event]);
}

async function insertEvents(db: Executor, list: CloudEvent[]): Promise<void> {
  await eventsInsert(db, list.map(eventRow));
}

function eventRow(event: CloudEvent): EventInsert {
  return {
    id: event.id,
    tenantId: event.tenantid,
    type: event.type,
    source: event.source,
    subject: event.subject,
    time: new Date(event.time),
    data: event.data,
  };
}

function eventsInsert(db: Executor, rows: EventInsert[]) {
  return db.insert(events).values(rows).onConflictDoNothing({ target: events.id });
}

export async function findPayment(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<PaymentView | undefined> {
  const [row] = await db
    .select()
    .from(payments)
    .where(and(eq(payments.tenantId, tenantId), eq(payments.id, id)));
  return row && toView(row);
}

/** Gateway webhooks carry only Paysaga's payment id, not the tenant. */
export async function findPaymentForWebhook(db: Executor, id: string): Promise<PaymentView | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.id, id));
  return row && toView(row);
}

export async function findPaymentByOrder(
  db: Executor,
  tenantId: string,
  orderId: string,
): Promise<PaymentView | undefined> {
  const [row] = await db
    .select()
    .from(payments)
    .where(and(eq(payments.tenantId, tenantId), eq(payments.orderId, orderId)));
  return row && toView(row);
}

/** An order's payment and, for a payer's wallet, what a new payment from it is checked against. */
export interface OrderForPayment {
  payment: PaymentView | undefined;
  /** Read when a customer's wallet was asked for. */
  wallet?: {
    /** The currencies the wallet holds (none: it was never topped up). */
    currencies: string[];
    /** The currency of the wallet's automatic top-up, when it has one. */
    autoTopUpCurrency: string | undefined;
  };
}

/**
 * The order's payment, and with `walletOf` that customer's wallet currencies and automatic top-up,
 * in one round trip: a new wallet payment's checks before its start wait for one read, not two.
 */
export async function findOrderForPayment(
  db: Executor,
  tenantId: string,
  orderId: string,
  walletOf: string | undefined,
): Promise<OrderForPayment> {
  if (walletOf === undefined) return { payment: await findPaymentByOrder(db, tenantId, orderId) };
  const [row] = await db
    .select({
      payment: payments,
      currencies: sql<string[] | null>`(SELECT array_agg(currency ORDER BY currency) FROM ledger_accounts
        WHERE tenant_id = ${tenantId} AND kind = 'wallet' AND customer_id = ${walletOf})`,
      autoTopUpCurrency: sql<string | null>`(SELECT currency FROM wallet_auto_top_ups
        WHERE tenant_id = ${tenantId} AND customer_id = ${walletOf})`,
    })
    .from(sql`(SELECT 1) AS one`)
    .leftJoin(payments, and(eq(payments.tenantId, tenantId), eq(payments.orderId, orderId)));
  return {
    payment: row?.payment ? toView(row.payment) : undefined,
    wallet: {
      currencies: row?.currencies ?? [],
      autoTopUpCurrency: row?.autoTopUpCurrency ?? undefined,
    },
  };
}

export interface PaymentListQuery {
  customerId?: string | undefined;
  status?: PaymentStatus | undefined;
  limit: number;
  /** Keyset cursor: the (createdAt, id) of the last row of the previous page. */
  after?: { createdAt: string; id: string } | undefined;
}

export async function listPayments(
  db: Executor,
  tenantId: string,
  query: PaymentListQuery,
): Promise<PaymentView[]> {
  const after = query.after;
  const rows = await db
    .select()
    .from(payments)
    .where(
      and(
        eq(payments.tenantId, tenantId),
        query.customerId ? eq(payments.customerId, query.customerId) : undefined,
        query.status ? eq(payments.status, query.status) : undefined,
        after
          ? or(
              lt(payments.createdAt, new Date(after.createdAt)),
              and(eq(payments.createdAt, new Date(after.createdAt)), lt(payments.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(payments.createdAt), desc(payments.id))
    .limit(query.limit);
  return rows.map(toView);
}

function toRow(view: PaymentView): PaymentInsert {
  return {
    id: view.id,
    tenantId: view.tenantId,
    orderId: view.orderId,
    customerId: view.customerId,
    workflowId: view.workflowId,
    amount: view.amount,
    currency: view.currency,
    status: view.status,
    methodType: view.method.type,
    captureMethod: view.capture,
    card: view.method.card ?? null,
    amountCaptured: view.amountCaptured,
    amountRefunded: view.amountRefunded,
    amountFromWallet: view.amountFromWallet,
    amountFromCard: view.amountFromCard,
    failureCode: view.failureCode ?? null,
    failureMessage: view.failureMessage ?? null,
    nextAction: view.nextAction ?? null,
    description: view.description ?? null,
    metadata: view.metadata ?? null,
    returnUrl: view.returnUrl ?? null,
    attempts: view.attempts,
    reference: view.reference,
    requestHash: view.requestHash,
    gatewayAuthorizationId: view.gatewayAuthorizationId ?? null,
    connector: view.connector,
    country: view.country ?? null,
    version: view.version,
    createdAt: new Date(view.createdAt),
    updatedAt: new Date(view.updatedAt),
    settledAt: isSettled(view.status) ? new Date(view.updatedAt) : null,
  };
}

function toView(row: PaymentRow): PaymentView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    orderId: row.orderId,
    customerId: row.customerId,
    workflowId: row.workflowId,
    amount: row.amount,
    currency: row.currency as Currency,
    status: row.status as PaymentStatus,
    method: {
      type: row.methodType as PaymentView['method']['type'],
      card: (row.card as CardDetails | null) ?? undefined,
    },
    capture: row.captureMethod as PaymentView['capture'],
    amountCaptured: row.amountCaptured,
    amountRefunded: row.amountRefunded,
    amountFromWallet: row.amountFromWallet,
    amountFromCard: row.amountFromCard,
    failureCode: (row.failureCode as FailureCode | null) ?? undefined,
    failureMessage: row.failureMessage ?? undefined,
    nextAction: (row.nextAction as NextAction | null) ?? undefined,
    description: row.description ?? undefined,
    metadata: (row.metadata as Record<string, string> | null) ?? undefined,
    returnUrl: row.returnUrl ?? undefined,
    attempts: row.attempts as PaymentAttempt[],
    reference: row.reference,
    requestHash: row.requestHash,
    gatewayAuthorizationId: row.gatewayAuthorizationId ?? undefined,
    connector: row.connector,
    ...(row.country ? { country: row.country } : {}),
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
