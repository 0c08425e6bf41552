import { and, desc, eq, lt, or, sql } from './orm.js';
import type { CheckoutMethod } from '../domain/checkout.js';
import type { Currency } from '../domain/money.js';
import type { PaymentLinkView } from '../domain/payment-link.js';
import type { Executor } from './client.js';
import { paymentLinks } from './schema.js';

type LinkRow = typeof paymentLinks.$inferSelect;

export async function insertPaymentLink(db: Executor, view: PaymentLinkView): Promise<void> {
  await db.insert(paymentLinks).values({
    id: view.id,
    tenantId: view.tenantId,
    amount: view.amount,
    currency: view.currency,
    description: view.description ?? null,
    successUrl: view.successUrl,
    cancelUrl: view.cancelUrl,
    allowedMethods: view.allowedMethods,
    sessionExpiresInSeconds: view.expiresInSeconds,
    active: view.active,
    createdAt: new Date(view.createdAt),
    updatedAt: new Date(view.updatedAt),
  });
}

export async function findPaymentLink(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<PaymentLinkView | undefined> {
  const [row] = await db
    .select()
    .from(paymentLinks)
    .where(and(eq(paymentLinks.tenantId, tenantId), eq(paymentLinks.id, id)));
  return row && toView(row);
}

/** A visit knows only the link id, not the tenant. */
export async function findPaymentLinkById(db: Executor, id: string): Promise<PaymentLinkView | undefined> {
  const [row] = await db.select().from(paymentLinks).where(eq(paymentLinks.id, id));
  return row && toView(row);
}

/** The tenant's links, newest first, after the cursor's position. */
export async function listPaymentLinks(
  db: Executor,
  tenantId: string,
  query: {
    active?: boolean | undefined;
    limit: number;
    after?: { createdAt: string; id: string } | undefined;
  },
): Promise<PaymentLinkView[]> {
  const { after } = query;
  const rows = await db
    .select()
    .from(paymentLinks)
    .where(
      and(
        eq(paymentLinks.tenantId, tenantId),
        query.active === undefined ? undefined : eq(paymentLinks.active, query.active),
        after
          ? or(
              lt(paymentLinks.createdAt, new Date(after.createdAt)),
              and(eq(paymentLinks.createdAt, new Date(after.createdAt)), lt(paymentLinks.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(paymentLinks.createdAt), desc(paymentLinks.id))
    .limit(query.limit);
  return rows.map(toView);
}

/** Active → inactive; an inactive link stays as it is. Undefined for an unknown link. */
export async function deactivatePaymentLink(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<PaymentLinkView | undefined> {
  const [updated] = await db
    .update(paymentLinks)
    .set({ active: false, updatedAt: new Date() })
    .where(and(eq(paymentLinks.tenantId, tenantId), eq(paymentLinks.id, id), eq(paymentLinks.active, true)))
    .returning();
  return updated ? toView(updated) : findPaymentLink(db, tenantId, id);
}

/** A slot of the link's minute, or why none was taken. */
export type LinkSlot =
  | { taken: true }
  | { taken: false; reason: 'inactive' | 'not_found' }
  | { taken: false; reason: 'limited'; retryAfterSeconds: number };

/**
 * Takes one of the link's session slots of the current minute: one conditional UPDATE, so
 * concurrent visits (in any number of API processes) never take more than `perMinute`. When
 * none is taken nothing changes, and the answer says why (with the seconds left in the minute).
 */
export async function takePaymentLinkSlot(db: Executor, id: string, perMinute: number): Promise<LinkSlot> {
  const windowOver = sql`${paymentLinks.windowStartedAt} <= now() - interval '1 minute'`;
  const rows = await db
    .update(paymentLinks)
    .set({
      windowStartedAt: sql`CASE WHEN ${windowOver} THEN now() ELSE ${paymentLinks.windowStartedAt} END`,
      windowSessions: sql`CASE WHEN ${windowOver} THEN 1 ELSE ${paymentLinks.windowSessions} + 1 END`,
    })
    .where(
      and(
        eq(paymentLinks.id, id),
        eq(paymentLinks.active, true),
        or(windowOver, lt(paymentLinks.windowSessions, perMinute)),
      ),
    )
    .returning({ id: paymentLinks.id });
  if (rows.length > 0) return { taken: true };
  const [row] = await db
    .select({
      active: paymentLinks.active,
      left: sql<string>`ceil(extract(epoch from ${paymentLinks.windowStartedAt} + interval '1 minute' - now()))`,
    })
    .from(paymentLinks)
    .where(eq(paymentLinks.id, id));
  if (!row) return { taken: false, reason: 'not_found' };
  if (!row.active) return { taken: false, reason: 'inactive' };
  return { taken: false, reason: 'limited', retryAfterSeconds: Math.min(60, Math.max(1, Number(row.left))) };
}

function toView(row: LinkRow): PaymentLinkView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    amount: row.amount,
    currency: row.currency as Currency,
    description: row.description ?? undefined,
    successUrl: row.successUrl,
    cancelUrl: row.cancelUrl,
    allowedMethods: row.allowedMethods as CheckoutMethod[],
    expiresInSeconds: row.sessionExpiresInSeconds,
    active: row.active,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
