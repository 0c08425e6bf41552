import { and, eq, ne } from './orm.js';
import type { CheckoutGatewaySession, CheckoutMethod, CheckoutSessionView } from '../domain/checkout.js';
import type { CloudEvent } from '../domain/events.js';
import type { Currency } from '../domain/money.js';
import type { Executor } from './client.js';
import { insertEvent } from './payments.js';
import { checkoutSessions } from './schema.js';

type SessionRow = typeof checkoutSessions.$inferSelect;

/** A new open session; false when the order already has one open or complete (nothing written). */
export async function insertCheckoutSession(db: Executor, view: CheckoutSessionView): Promise<boolean> {
  const rows = await db
    .insert(checkoutSessions)
    .values({
      id: view.id,
      tenantId: view.tenantId,
      orderId: view.orderId,
      customerId: view.customerId,
      amount: view.amount,
      currency: view.currency,
      description: view.description ?? null,
      successUrl: view.successUrl,
      cancelUrl: view.cancelUrl,
      allowedMethods: view.allowedMethods,
      status: view.status,
      paymentLinkId: view.paymentLinkId ?? null,
      expiresAt: new Date(view.expiresAt),
      createdAt: new Date(view.createdAt),
      updatedAt: new Date(view.updatedAt),
    })
    .onConflictDoNothing()
    .returning({ id: checkoutSessions.id });
  return rows.length > 0;
}

/** The session's page on its connector, recorded before anyone is sent to it. */
export async function setCheckoutGatewaySession(
  db: Executor,
  id: string,
  gateway: CheckoutGatewaySession,
): Promise<void> {
  await db
    .update(checkoutSessions)
    .set({ connector: gateway.connector, gatewaySessionId: gateway.sessionId, gatewayUrl: gateway.url })
    .where(eq(checkoutSessions.id, id));
}

/** Only for a session whose workflow never started: nobody has seen it. */
export async function deleteCheckoutSession(db: Executor, id: string): Promise<void> {
  await db.delete(checkoutSessions).where(eq(checkoutSessions.id, id));
}

export async function findCheckoutSession(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<CheckoutSessionView | undefined> {
  const [row] = await db
    .select()
    .from(checkoutSessions)
    .where(and(eq(checkoutSessions.tenantId, tenantId), eq(checkoutSessions.id, id)));
  return row && toView(row);
}

/** The hosted page knows only the session id (its capability), not the tenant. */
export async function findCheckoutSessionById(
  db: Executor,
  id: string,
): Promise<CheckoutSessionView | undefined> {
  const [row] = await db.select().from(checkoutSessions).where(eq(checkoutSessions.id, id));
  return row && toView(row);
}

/** The order's session that is open or complete, if any. */
export async function findLiveCheckoutSession(
  db: Executor,
  tenantId: string,
  orderId: string,
): Promise<CheckoutSessionView | undefined> {
  const [row] = await db
    .select()
    .from(checkoutSessions)
    .where(
      and(
        eq(checkoutSessions.tenantId, tenantId),
        eq(checkoutSessions.orderId, orderId),
        ne(checkoutSessions.status, 'expired'),
      ),
    );
  return row && toView(row);
}

export interface SessionEnd {
  tenantId: string;
  id: string;
  status: 'complete' | 'expired';
  paymentId?: string | undefined;
  at: string;
}

/**
 * Ends an open session and writes its event in one transaction. A retried call finds it ended
 * already and returns it as it is (its event was committed with it); so does a session that
 * ended the other way.
 */
export async function endCheckoutSession(
  db: Executor,
  end: SessionEnd,
  event: (view: CheckoutSessionView) => CloudEvent,
): Promise<CheckoutSessionView> {
  return db.transaction(async (tx) => {
    const at = new Date(end.at);
    const [updated] = await tx
      .update(checkoutSessions)
      .set({
        status: end.status,
        updatedAt: at,
        ...(end.status === 'complete'
          ? { paymentId: end.paymentId ?? null, completedAt: at }
          : { expiredAt: at }),
      })
      .where(
        and(
          eq(checkoutSessions.tenantId, end.tenantId),
          eq(checkoutSessions.id, end.id),
          eq(checkoutSessions.status, 'open'),
        ),
      )
      .returning();
    if (updated) {
      const view = toView(updated);
      await insertEvent(tx, event(view));
      return view;
    }
    const stored = await findCheckoutSession(tx, end.tenantId, end.id);
    if (!stored) throw new Error(`checkout session ${end.id} is not stored`);
    return stored;
  });
}

const iso = (date: Date | null) => (date ? date.toISOString() : undefined);

function toView(row: SessionRow): CheckoutSessionView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    orderId: row.orderId,
    customerId: row.customerId,
    amount: row.amount,
    currency: row.currency as Currency,
    description: row.description ?? undefined,
    successUrl: row.successUrl,
    cancelUrl: row.cancelUrl,
    allowedMethods: row.allowedMethods as CheckoutMethod[],
    status: row.status,
    paymentId: row.paymentId ?? undefined,
    paymentLinkId: row.paymentLinkId ?? undefined,
    ...(row.connector && row.gatewaySessionId && row.gatewayUrl
      ? { gateway: { connector: row.connector, sessionId: row.gatewaySessionId, url: row.gatewayUrl } }
      : {}),
    expiresAt: row.expiresAt.toISOString(),
    completedAt: iso(row.completedAt),
    expiredAt: iso(row.expiredAt),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
